import path from "node:path";
import { badInput, conflict, notFound } from "../domain/errors.js";
import { OS_NAMES, type OsName } from "../domain/os.js";
import type { MetadataInputFields } from "../entities/metadata.embedded.js";
import { Volume } from "../entities/volume.entity.js";
import type { Store } from "../store/store.js";
import { snapshot, type Actor, type AuditService } from "./audit.service.js";
import { applyMetadata, assertCode, assertName } from "./validation.js";
import type { ConfigurationService } from "./configuration.service.js";

export interface ResolvedPath {
  path: string;
  volume: Volume | null;
  /** Relative to the volume's root, with / separators. */
  relativePath: string | null;
}

export interface PathResolverOptions {
  /** Name the known volumes when one is unknown (for callers who may read them all). */
  listVolumes?: boolean;
}

/** A path without trailing separators, except a root (`/`, `C:\\`). */
function stripSeparators(value: string, sep: string): string {
  const stripped = value.replace(sep === "\\" ? /\\+$/ : /\/+$/, "");
  return stripped === "" || /^[A-Za-z]:$/.test(stripped) ? stripped + sep : stripped;
}

export type OsPathsInput = Partial<Record<(typeof OS_NAMES)[number], string | null>>;

export interface VolumeFields {
  code?: string;
  name?: string;
  paths?: OsPathsInput;
  metadata?: MetadataInputFields;
}

export class VolumeService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly history: ConfigurationService,
  ) {}

  list(): Promise<Volume[]> {
    return this.store.manager.find(Volume, { order: { code: "ASC" } });
  }

  async get(code: string): Promise<Volume> {
    const volume = await this.store.manager.findOneBy(Volume, { code });
    if (!volume) throw notFound("volume", code);
    return volume;
  }

  async create(input: VolumeFields & { code: string }, actor: Actor): Promise<Volume> {
    this.checkFields(input);
    return this.store.transaction(async (em) => {
      if (await em.existsBy(Volume, { code: input.code })) throw conflict("input.code", `a volume with code '${input.code}' already exists`);
      const volume = em.create(Volume, { code: input.code, name: input.name?.trim() || input.code });
      this.apply(volume, input);
      const saved = await em.save(volume);
      await this.audit.record(em, actor, "volume.create", "volume", saved.id, null, saved);
      await this.history.record(em, actor, "volume.create", saved.code);
      return saved;
    });
  }

  async update(code: string, input: VolumeFields, actor: Actor): Promise<Volume> {
    this.checkFields(input);
    return this.store.transaction(async (em) => {
      const volume = await em.findOneBy(Volume, { code });
      if (!volume) throw notFound("volume", code);
      const before = snapshot(volume);
      if (input.code !== undefined && input.code !== volume.code) {
        if (await em.existsBy(Volume, { code: input.code })) throw conflict("input.code", `a volume with code '${input.code}' already exists`);
        volume.code = input.code;
      }
      if (input.name !== undefined) volume.name = input.name.trim();
      this.apply(volume, input);
      const saved = await em.save(volume);
      await this.audit.record(em, actor, "volume.update", "volume", saved.id, before, saved);
      await this.history.record(em, actor, "volume.update", saved.code);
      return saved;
    });
  }

  async delete(code: string, actor: Actor): Promise<Volume> {
    return this.store.transaction(async (em) => {
      const volume = await em.findOneBy(Volume, { code });
      if (!volume) throw notFound("volume", code);
      const id = volume.id;
      const before = snapshot(volume);
      await em.remove(volume);
      volume.id = id;
      await this.audit.record(em, actor, "volume.delete", "volume", id, before, null);
      await this.history.record(em, actor, "volume.delete", code);
      return volume;
    });
  }

  /**
   * Resolves a path for an OS: `volume=<code>/<relative>` through the volume's prefix, or an
   * absolute path, recognised as lying on a volume when it starts with one's prefix.
   */
  async resolvePath(field: string, value: string, os: OsName, options: PathResolverOptions = {}): Promise<ResolvedPath> {
    return (await this.pathResolver(os, options))(field, value);
  }

  /**
   * A resolver for many paths: the volumes are read once, then every path resolves without a
   * query (a 14k-task job read them 28k times, holding up every other request meanwhile).
   * One rule for both notations: a '..' step is refused, never resolved (resolved, it made
   * `/srv/projects/../../etc/x` reach a script as `/etc/x`); `.` and repeated separators are
   * normalised, then absolute paths are checked for containment. Relative paths and NUL
   * characters are refused.
   */
  async pathResolver(os: OsName, options: PathResolverOptions = {}): Promise<(field: string, value: string) => ResolvedPath> {
    const volumes = await this.list();
    const flavour = os === "windows" ? path.win32 : path.posix;
    const sep = flavour.sep;
    const same = os === "windows" ? (a: string, b: string) => a.toLowerCase() === b.toLowerCase() : (a: string, b: string) => a === b;
    const prefixes = volumes
      .map((volume) => ({ volume, prefix: volume.paths[os] ? stripSeparators(flavour.normalize(volume.paths[os]!), sep) : null }))
      .filter((v): v is { volume: Volume; prefix: string } => v.prefix !== null);
    return (field, raw) => {
      const value = raw.trim();
      if (value.includes("\0")) throw badInput(field, "must not contain a NUL character");
      const notation = /^volume=([^/\\]+)(?:[/\\](.*))?$/.exec(value);
      if (notation) {
        const [, code, rest = ""] = notation;
        const volume = volumes.find((v) => v.code === code);
        if (!volume) throw badInput(field, `unknown volume '${code}' in '${value}'` + (options.listVolumes ? ` (volumes: ${volumes.map((v) => v.code).join(", ") || "none"})` : ""));
        const prefix = volume.paths[os];
        if (!prefix) throw badInput(field, `volume '${code}' has no path prefix for ${os}; set paths.${os} on it`);
        const relative = rest.split(/[/\\]+/).filter((part) => part !== "" && part !== ".");
        refuseParentSteps(field, value, relative);
        const full = relative.length ? prefix.replace(/[/\\]+$/, "") + sep + relative.join(sep) : prefix;
        return { path: full, volume, relativePath: relative.join("/") };
      }
      const absolute = os === "windows" ? /^([A-Za-z]:[\\/]|\\\\[^\\]+\\[^\\]+)/.test(value) : value.startsWith("/");
      if (!absolute) {
        throw badInput(field, `must be an absolute path (${os === "windows" ? "D:\\... or \\\\server\\share\\..." : "/..."}) or in volume notation (volume=<code>/<relative path>) (got '${value}')`);
      }
      refuseParentSteps(field, value, value.split(os === "windows" ? /[/\\]+/ : /\/+/));
      // Only '.' and repeated separators are left to normalise: they change nothing the path names.
      const normalized = stripSeparators(flavour.normalize(value), sep);
      for (const { volume, prefix } of prefixes) {
        if (same(normalized, prefix)) return { path: normalized, volume, relativePath: "" };
        if (normalized.length > prefix.length && same(normalized.slice(0, prefix.length + 1), prefix + sep)) {
          return {
            path: normalized,
            volume,
            relativePath: normalized
              .slice(prefix.length + 1)
              .split(/[/\\]+/)
              .join("/"),
          };
        }
      }
      return { path: normalized, volume: null, relativePath: null };
    };
  }

  async find(id: string): Promise<Volume | null> {
    return this.store.manager.findOneBy(Volume, { id });
  }

  private apply(volume: Volume, input: VolumeFields): void {
    for (const os of OS_NAMES) {
      const value = input.paths?.[os];
      if (value !== undefined) volume.paths[os] = value === null ? null : value.trim();
    }
    applyMetadata("input.metadata", volume.metadata, input.metadata);
  }

  private checkFields(input: VolumeFields): void {
    if (input.code !== undefined) assertCode("input.code", input.code);
    if (input.name !== undefined) assertName("input.name", input.name);
    if (input.paths) checkVolumePaths("input.paths", input.paths);
  }
}

/** Path prefixes: absolute for their OS, or null for none (also used by configuration apply). */
export function checkVolumePaths(field: string, paths: OsPathsInput): void {
  for (const os of OS_NAMES) {
    const value = paths[os];
    if (value === undefined || value === null) continue;
    const at = `${field}.${os}`;
    const prefix = value.trim();
    if (prefix.length === 0) throw badInput(at, "is empty; give an absolute path, or null for no path on this OS");
    if (prefix.includes("\0")) throw badInput(at, "must not contain a NUL character");
    refuseParentSteps(at, prefix, prefix.split(os === "windows" ? /[/\\]+/ : /\/+/));
    // Relative prefixes would resolve against hookd's working directory: never what was meant.
    const absolute = os === "windows" ? /^([A-Za-z]:[\\/]|\\\\[^\\]+\\[^\\]+)/.test(prefix) : prefix.startsWith("/");
    if (!absolute) {
      throw badInput(at, os === "windows" ? `must be an absolute path like D:\\projects or \\\\server\\share (got '${prefix}')` : `must be an absolute path starting with / (got '${prefix}')`);
    }
  }
}

/**
 * The one rule for '..' in every path hookd takes (volume notation, absolute paths, volume
 * prefixes): refused, naming the field. Resolving it would store and hand to scripts a path that
 * is not what the caller wrote, and one a script checking the path's start would misjudge.
 */
function refuseParentSteps(field: string, value: string, parts: readonly string[]): void {
  if (parts.includes("..")) throw badInput(field, `must not contain '..' (a step up to the parent folder): write the path without it (got '${value}')`);
}
