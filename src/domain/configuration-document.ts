import type { HookPolicy } from "./hook-policy.js";

// The configuration as one document (issue 37): what `hookd config export` writes, what `apply`
// reads, and what each history version stores. Keyed by natural keys (hook point, queue code,
// volume code), never by database ids, so a document means the same thing in another workspace.

export const CONFIGURATION_FORMAT = "hookd-configuration/1";

export interface CommandsDoc {
  linux: string | null;
  mac: string | null;
  windows: string | null;
}

export interface MetadataDoc {
  external: Record<string, unknown>;
  internal: Record<string, unknown>;
}

export interface HookDoc {
  enabled: boolean;
  commands: CommandsDoc;
  timeoutSeconds: number | null;
  /** An execution server's name; null: the workspace default. */
  executionServer: string | null;
  policy: HookPolicy | null;
}

export interface QueueHookDoc {
  mode: "OVERRIDE" | "APPEND";
  enabled: boolean;
  commands: CommandsDoc;
  timeoutSeconds: number | null;
  policy: HookPolicy | null;
}

export interface QueueDoc {
  name: string;
  priority: number;
  default: boolean;
  status: "WAITING" | "PAUSED";
  description: string | null;
  metadata: MetadataDoc;
  hooks: Record<string, QueueHookDoc>;
}

export interface VolumeDoc {
  name: string;
  paths: CommandsDoc;
  metadata: MetadataDoc;
}

export interface SettingsDoc {
  hooksEnabled: boolean;
  defaultExecutionServer: string | null;
  scheduleToStartSeconds: number;
  auditRoles: string[];
  metadata: MetadataDoc;
}

export interface ConfigurationDocument {
  format: typeof CONFIGURATION_FORMAT;
  settings: SettingsDoc;
  hooks: Record<string, HookDoc>;
  queues: Record<string, QueueDoc>;
  volumes: Record<string, VolumeDoc>;
  /** Site servers by name, with their OS: they register themselves, so apply only checks they exist. */
  executionServers: Record<string, { os: string }>;
  /** Secret names: values never leave hookd; apply only checks they are set. */
  secrets: string[];
}

export interface ConfigurationChange {
  path: string;
  kind: "ADDED" | "REMOVED" | "CHANGED";
  before: unknown;
  after: unknown;
}

const METADATA_HALF = /\.metadata\.(external|internal)$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `a.b` for identifier keys, `a["vfx.2"]` otherwise (queue and volume codes may hold dots). */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  if (IDENTIFIER.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Stable JSON: keys sorted, so equal values compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v) =>
    isObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}

/**
 * The leaf-level differences from `before` to `after`: objects are compared key by key (a key
 * only on one side is one ADDED or REMOVED change carrying its whole value); arrays and scalars
 * compare whole. Metadata objects are values, not structure, so they compare whole too.
 */
export function diffDocuments(before: unknown, after: unknown, path = ""): ConfigurationChange[] {
  if (isObject(before) && isObject(after) && !METADATA_HALF.test(path)) {
    const changes: ConfigurationChange[] = [];
    const keys = [...Object.keys(before), ...Object.keys(after).filter((k) => !(k in before))];
    for (const key of keys) {
      const at = childPath(path, key);
      if (!(key in after)) changes.push({ path: at, kind: "REMOVED", before: before[key], after: null });
      else if (!(key in before)) changes.push({ path: at, kind: "ADDED", before: null, after: after[key] });
      else changes.push(...diffDocuments(before[key], after[key], at));
    }
    return changes;
  }
  if (canonical(before) === canonical(after)) return [];
  return [{ path, kind: "CHANGED", before, after }];
}

/**
 * The changes between two versions of the configuration. Execution servers are left out: they
 * register themselves (hookd at start, agents at enrolment), so no one's change adds or removes
 * one, and a version must not be credited with a server that appeared meanwhile.
 */
export function diffConfigurations(before: Partial<ConfigurationDocument>, after: Partial<ConfigurationDocument>): ConfigurationChange[] {
  const { executionServers: _a, ...a } = before;
  const { executionServers: _b, ...b } = after;
  return diffDocuments(a, b);
}

/** One line per change, for a terminal or a CI log: `~ path: before -> after`, `+ path: value`, `- path: value`. */
export function formatChanges(changes: readonly ConfigurationChange[]): string {
  if (changes.length === 0) return "no changes: the document matches the running configuration";
  const show = (v: unknown) => JSON.stringify(v);
  return changes
    .map((c) => (c.kind === "ADDED" ? `+ ${c.path}: ${show(c.after)}` : c.kind === "REMOVED" ? `- ${c.path}: ${show(c.before)}` : `~ ${c.path}: ${show(c.before)} -> ${show(c.after)}`))
    .join("\n");
}
