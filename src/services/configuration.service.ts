import { Brackets, type EntityManager } from "typeorm";
import { badInput, notFound } from "../domain/errors.js";
import { CONFIGURATION_FORMAT, childPath, diffConfigurations, type ConfigurationChange, type ConfigurationDocument, type HookDoc, type QueueHookDoc } from "../domain/configuration-document.js";
import { HOOK_POINTS, type HookPoint } from "../domain/hook-points.js";
import type { UserRole } from "../domain/roles.js";
import { ConfigurationVersion } from "../entities/configuration-version.entity.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { HookConfig } from "../entities/hook-config.entity.js";
import { Job } from "../entities/job.entity.js";
import { QueueHook, type QueueHookMode } from "../entities/queue-hook.entity.js";
import { Queue, type QueueStatus } from "../entities/queue.entity.js";
import { Secret } from "../entities/secret.entity.js";
import { Volume } from "../entities/volume.entity.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { PubSub } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import type { Actor, AuditService } from "./audit.service.js";
import { parseConfigurationDocument } from "./configuration-parser.js";

/** lockInTransaction's key: version numbers are taken one at a time, in commit order. */
const HISTORY_LOCK = "hookd:configuration-history";
export const MAX_HISTORY_PAGE = 200;

export interface ApplyOutcome {
  dryRun: boolean;
  changes: ConfigurationChange[];
  version: number | null;
}

/**
 * Configuration history and configuration as code (issue 37). Every service that changes
 * configuration calls `record` inside its own transaction, so a version exists exactly when its
 * change does. Versions store the whole document, so a diff or a rollback never replays a chain.
 */
export class ConfigurationService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly pubsub: PubSub,
  ) {}

  /** The running configuration as a document (what `hookd config export` writes). */
  export(): Promise<ConfigurationDocument> {
    return this.read(this.store.manager);
  }

  async read(em: EntityManager): Promise<ConfigurationDocument> {
    const settings = (await em.findOneBy(WorkspaceSettings, { id: WorkspaceSettings.ID })) ?? new WorkspaceSettings();
    const servers = await em.find(ExecutionServer, { where: { kind: ExecutionServerKind.SERVER }, order: { name: "ASC" } });
    const serverName = (id: string | null) => (id === null ? null : (servers.find((s) => s.id === id)?.name ?? null));
    const hooks = await em.find(HookConfig);
    const queues = await em.find(Queue, { order: { code: "ASC" } });
    const queueHooks = await em.find(QueueHook);
    const volumes = await em.find(Volume, { order: { code: "ASC" } });
    const secrets = await em.find(Secret);
    const byPoint = <T extends { hook: HookPoint }>(rows: T[]) => HOOK_POINTS.map((p) => rows.find((r) => r.hook === p)).filter((r): r is T => r !== undefined);
    const commands = (c: { linux: string | null; mac: string | null; windows: string | null }) => ({ linux: c.linux, mac: c.mac, windows: c.windows });
    const metadata = (m: { external: Record<string, unknown>; internal: Record<string, unknown> }) => ({ external: m.external, internal: m.internal });
    return {
      format: CONFIGURATION_FORMAT,
      settings: {
        hooksEnabled: settings.hooksEnabled,
        defaultExecutionServer: serverName(settings.defaultExecutionServerId),
        scheduleToStartSeconds: settings.scheduleToStartSeconds,
        auditRoles: [...settings.auditRoles],
        metadata: metadata(settings.metadata),
      },
      hooks: Object.fromEntries(
        byPoint(hooks).map((h): [string, HookDoc] => [
          h.hook,
          { enabled: h.enabled, commands: commands(h.commands), timeoutSeconds: h.timeoutSeconds, executionServer: serverName(h.executionServerId), policy: h.policy },
        ]),
      ),
      queues: Object.fromEntries(
        queues.map((q) => [
          q.code,
          {
            name: q.name,
            priority: q.priority,
            default: q.isDefault,
            status: q.status,
            description: q.description,
            metadata: metadata(q.metadata),
            hooks: Object.fromEntries(
              byPoint(queueHooks.filter((qh) => qh.queueId === q.id)).map((qh): [string, QueueHookDoc] => [
                qh.hook,
                { mode: qh.mode, enabled: qh.enabled, commands: commands(qh.commands), timeoutSeconds: qh.timeoutSeconds, policy: qh.policy },
              ]),
            ),
          },
        ]),
      ),
      volumes: Object.fromEntries(volumes.map((v) => [v.code, { name: v.name, paths: commands(v.paths), metadata: metadata(v.metadata) }])),
      executionServers: Object.fromEntries(servers.map((s) => [s.name, { os: s.os }])),
      secrets: secrets.map((s) => s.name).sort(),
    };
  }

  /**
   * Records a version of the configuration as it is inside `em`'s transaction, after a change.
   * A change that left the document as it was records nothing, unless `always` (a secret's value
   * changed: the document holds names only, but that was still a change).
   */
  async record(em: EntityManager, actor: Actor, action: string, target: string, always = false): Promise<ConfigurationVersion | null> {
    await this.store.lockInTransaction(em, HISTORY_LOCK);
    const document = await this.read(em);
    const [last] = await em.find(ConfigurationVersion, { order: { version: "DESC" }, take: 1 });
    const changes = diffConfigurations(last?.document ?? {}, document);
    if (last && changes.length === 0 && !always) return null;
    return this.insert(em, (last?.version ?? 0) + 1, actor, action, target, changes, document);
  }

  /** Version 1 at start-up when there is none: what was configured before history began, so it can be restored. */
  async ensureBaseline(): Promise<void> {
    if ((await this.store.manager.count(ConfigurationVersion)) > 0) return;
    await this.store.transaction(async (em) => {
      await this.store.lockInTransaction(em, HISTORY_LOCK);
      // No changes: there is no version before it to differ from.
      if ((await em.count(ConfigurationVersion)) === 0) await this.insert(em, 1, "hookd", "configuration.baseline", "configuration", [], await this.read(em));
    });
  }

  private insert(em: EntityManager, version: number, actor: Actor, action: string, target: string, changes: ConfigurationChange[], document: ConfigurationDocument): Promise<ConfigurationVersion> {
    const user = typeof actor === "string" ? null : actor;
    const row = Object.assign(new ConfigurationVersion(), {
      version,
      at: new Date(),
      actorId: user?.id ?? null,
      actor: user ? user.email : actor,
      action,
      target: target.slice(0, 255),
      changes,
      document,
    });
    return em.save(row);
  }

  /** Newest first; `path` keeps versions whose changes touch that path or lie under it. */
  history(first: number, before: number | null, path: string | null): Promise<ConfigurationVersion[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_HISTORY_PAGE) throw badInput("first", `must be a whole number from 1 to ${MAX_HISTORY_PAGE} (got ${first})`);
    const qb = this.store.manager.createQueryBuilder(ConfigurationVersion, "v").orderBy("v.version", "DESC").take(first);
    if (before !== null) qb.andWhere("v.version < :before", { before });
    if (path) {
      // changes is JSON text: match `"path":"<path>` followed by its end, a `.` or a `[` (the path itself, or below it).
      const like = (suffix: string) => `%${`${JSON.stringify({ path }).slice(1, -2)}${suffix}`.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.andWhere(
        new Brackets((w) =>
          w
            .where("v.changes LIKE :exact ESCAPE '\\'", { exact: like('"') })
            .orWhere("v.changes LIKE :dot ESCAPE '\\'", { dot: like(".") })
            .orWhere("v.changes LIKE :bracket ESCAPE '\\'", { bracket: like("[") }),
        ),
      );
    }
    return qb.getMany();
  }

  async version(version: number): Promise<ConfigurationVersion> {
    const found = await this.store.manager.findOneBy(ConfigurationVersion, { version });
    if (!found) throw notFound("configuration version", String(version));
    return found;
  }

  /** What changed from version `from` to version `to` (either order). */
  async diff(from: number, to: number): Promise<ConfigurationChange[]> {
    const [a, b] = await Promise.all([this.version(from), this.version(to)]);
    return diffConfigurations(a.document, b.document);
  }

  /** Applies a whole document atomically (or, on a dry run, only says what would change). */
  async apply(raw: unknown, dryRun: boolean, actor: Actor): Promise<ApplyOutcome> {
    return this.applyDocument(raw, { dryRun, lenient: false, action: "configuration.apply", target: "configuration" }, actor);
  }

  /** Restores version `version` as a new version; secrets and servers that are gone stay gone. */
  async rollback(version: number, actor: Actor): Promise<ApplyOutcome> {
    const target = await this.version(version);
    return this.applyDocument(target.document, { dryRun: false, lenient: true, action: "configuration.rollback", target: `version ${version}`, always: true }, actor);
  }

  private async applyDocument(raw: unknown, how: { dryRun: boolean; lenient: boolean; action: string; target: string; always?: boolean }, actor: Actor): Promise<ApplyOutcome> {
    let auditRolesChanged = false;
    const outcome = await this.store.transaction(async (em): Promise<ApplyOutcome> => {
      await this.store.lockInTransaction(em, HISTORY_LOCK);
      const servers = await em.find(ExecutionServer, { where: { kind: ExecutionServerKind.SERVER } });
      const secrets = await em.find(Secret);
      const names = servers.map((s) => s.name);
      const ambiguous = new Set(names.filter((name, i) => names.indexOf(name) !== i));
      const wanted = parseConfigurationDocument(raw, { servers: new Set(names), ambiguous, secrets: new Set(secrets.map((s) => s.name)), lenient: how.lenient });
      const current = await this.read(em);
      // Servers register themselves and secret values never travel: a document only refers to them.
      wanted.executionServers = current.executionServers;
      wanted.secrets = current.secrets;
      const changes = diffConfigurations(current, wanted);
      if (how.dryRun || (changes.length === 0 && !how.always)) return { dryRun: how.dryRun, changes, version: null };
      await this.write(em, current, wanted, servers);
      auditRolesChanged = changes.some((c) => c.path.startsWith("settings.auditRoles"));
      const recorded = await this.record(em, actor, how.action, how.target, true);
      await this.audit.record(em, actor, how.action, "configuration", String(recorded!.version), null, { changes });
      return { dryRun: false, changes, version: recorded!.version };
    });
    if (auditRolesChanged) this.pubsub.publish("accessChanged", "*", { reason: "audit roles changed" });
    return outcome;
  }

  /** Writes `wanted` over `current` inside the transaction: rows not in the document are removed. */
  private async write(em: EntityManager, current: ConfigurationDocument, wanted: ConfigurationDocument, servers: ExecutionServer[]): Promise<void> {
    const serverId = (path: string, name: string | null): string | null => {
      if (name === null) return null;
      const matching = servers.filter((s) => s.name === name);
      if (matching.length === 0) throw badInput(path, `no site server (kind SERVER) is named '${name}'`);
      if (matching.length > 1) throw badInput(path, `${matching.length} site servers are named '${name}'; rename one so the name says which`);
      return matching[0].id;
    };

    const settings = (await em.findOneBy(WorkspaceSettings, { id: WorkspaceSettings.ID })) ?? new WorkspaceSettings();
    const s = wanted.settings;
    Object.assign(settings, {
      hooksEnabled: s.hooksEnabled,
      scheduleToStartSeconds: s.scheduleToStartSeconds,
      auditRoles: s.auditRoles as UserRole[],
      defaultExecutionServerId: serverId("settings.defaultExecutionServer", s.defaultExecutionServer),
    });
    settings.metadata.external = s.metadata.external;
    settings.metadata.internal = s.metadata.internal;
    await em.save(settings);

    for (const point of HOOK_POINTS) {
      const doc = wanted.hooks[point];
      if (!doc) {
        if (current.hooks[point]) await em.delete(HookConfig, { hook: point });
        continue;
      }
      const row = (await em.findOneBy(HookConfig, { hook: point })) ?? Object.assign(new HookConfig(), { hook: point });
      Object.assign(row, {
        enabled: doc.enabled,
        timeoutSeconds: doc.timeoutSeconds,
        policy: doc.policy,
        executionServerId: serverId(childPath(childPath("hooks", point), "executionServer"), doc.executionServer),
      });
      Object.assign(row.commands, doc.commands);
      await em.save(row);
    }

    // The default moves first, so a queue that stops being the default can then be removed.
    await em.update(Queue, { isDefault: true }, { isDefault: false });
    const rows = new Map((await em.find(Queue)).map((q) => [q.code, q]));
    for (const [code, doc] of Object.entries(wanted.queues)) {
      const row = rows.get(code) ?? em.create(Queue, { code });
      Object.assign(row, { name: doc.name, priority: doc.priority, isDefault: doc.default, status: doc.status as QueueStatus, description: doc.description });
      row.metadata.external = doc.metadata.external;
      row.metadata.internal = doc.metadata.internal;
      const saved = await em.save(row);
      const entries = await em.find(QueueHook, { where: { queueId: saved.id } });
      for (const entry of entries) if (!doc.hooks[entry.hook]) await em.remove(entry);
      for (const [point, h] of Object.entries(doc.hooks)) {
        const entry = entries.find((e) => e.hook === point) ?? em.create(QueueHook, { queueId: saved.id, hook: point as HookPoint });
        Object.assign(entry, { mode: h.mode as QueueHookMode, enabled: h.enabled, timeoutSeconds: h.timeoutSeconds, policy: h.policy });
        Object.assign(entry.commands, h.commands);
        await em.save(entry);
      }
    }
    const defaultQueue = await em.findOneByOrFail(Queue, { isDefault: true });
    for (const [code, row] of rows) {
      if (wanted.queues[code]) continue;
      // As deleteQueue does: the queue's jobs move to the default queue.
      await em.update(Job, { queueId: row.id }, { queueId: defaultQueue.id });
      await em.remove(row);
    }

    const volumes = new Map((await em.find(Volume)).map((v) => [v.code, v]));
    for (const [code, doc] of Object.entries(wanted.volumes)) {
      const row = volumes.get(code) ?? em.create(Volume, { code });
      row.name = doc.name;
      Object.assign(row.paths, doc.paths);
      row.metadata.external = doc.metadata.external;
      row.metadata.internal = doc.metadata.internal;
      await em.save(row);
    }
    for (const [code, row] of volumes) if (!wanted.volumes[code]) await em.remove(row);
  }
}
