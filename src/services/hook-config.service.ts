import { notFound, badInput } from "../domain/errors.js";
import { HOOK_POINTS, hookPointInfo, HookPoint } from "../domain/hook-points.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import type { HookCommands } from "../entities/hook-commands.embedded.js";
import { HookConfig } from "../entities/hook-config.entity.js";
import { QueueHook, QueueHookMode } from "../entities/queue-hook.entity.js";
import { Queue } from "../entities/queue.entity.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import { HookSource, SkipReason, type EffectiveHookEntry } from "../domain/effective-hooks.js";
import { type HookPolicy, type HookPolicyInput, NO_POLICY, parseHookPolicy } from "../domain/hook-policy.js";
import { type ChangeSource, EntityCache } from "../store/entity-cache.js";
import type { Store } from "../store/store.js";
import { applyCommands, type CommandsInput } from "./hook-commands.js";
import { snapshot, type Actor, type AuditService } from "./audit.service.js";
import type { QueueService } from "./queue.service.js";
import type { SettingsService } from "./settings.service.js";
import { assertTimeout } from "./validation.js";
import type { ConfigurationService } from "./configuration.service.js";

export interface SetHookConfig {
  hook: HookPoint;
  enabled?: boolean;
  commands?: CommandsInput;
  timeoutSeconds?: number | null;
  executionServer?: string | null;
  /** Replaces the whole policy; null removes it. */
  policy?: HookPolicyInput | null;
}

/** Resolutions kept at most; past it the cache starts over (keys include caller-given client ids). */
const MAX_CACHED = 1000;

export class HookConfigService {
  /**
   * effective() resolutions: every hook run needs one, and they change only when the
   * configuration does.
   */
  private readonly cache: EntityCache<EffectiveHookEntry[]>;

  constructor(
    private readonly store: Store,
    private readonly settings: SettingsService,
    private readonly queues: QueueService,
    private readonly audit: AuditService,
    private readonly history: ConfigurationService,
    changes: ChangeSource = store,
  ) {
    this.cache = new EntityCache(changes, [WorkspaceSettings, Queue, HookConfig, QueueHook, ExecutionServer], MAX_CACHED);
  }

  /** One entry per hook point; points never configured come back disabled with no commands. */
  async list(): Promise<HookConfig[]> {
    const rows = await this.store.manager.find(HookConfig);
    const byHook = new Map(rows.map((r) => [r.hook, r]));
    return HOOK_POINTS.map((hook) => byHook.get(hook) ?? this.unconfigured(hook));
  }

  async get(hook: HookPoint): Promise<HookConfig> {
    return (await this.store.manager.findOneBy(HookConfig, { hook })) ?? this.unconfigured(hook);
  }

  async set(input: SetHookConfig, actor: Actor): Promise<HookConfig> {
    assertTimeout("input.timeoutSeconds", input.timeoutSeconds);
    const policy = input.policy === undefined || input.policy === null ? input.policy : parseHookPolicy("input.policy", input.policy);
    return this.store.transaction(async (em) => {
      const existing = await em.findOneBy(HookConfig, { hook: input.hook });
      const before = snapshot(existing);
      const config = existing ?? this.unconfigured(input.hook);
      if (input.commands !== undefined) config.commands = applyCommands("input.commands", input.hook, input.commands, config.commands);
      if (input.enabled !== undefined) config.enabled = input.enabled;
      if (input.timeoutSeconds !== undefined) config.timeoutSeconds = input.timeoutSeconds;
      if (policy !== undefined) config.policy = policy;
      if (input.executionServer !== undefined) {
        if (input.executionServer !== null) {
          if (hookPointInfo(input.hook).client) {
            throw badInput("input.executionServer", `${input.hook} runs on the job's client; an execution server override applies only to *_SERVER hooks`);
          }
          const server = await em.findOneBy(ExecutionServer, { id: input.executionServer });
          if (!server) throw badInput("input.executionServer", `no execution server has id '${input.executionServer}'`);
          if (server.kind !== ExecutionServerKind.SERVER) throw badInput("input.executionServer", `'${server.name}' is a client, not a site server`);
        }
        config.executionServerId = input.executionServer;
      }
      const saved = await em.save(config);
      await this.audit.record(em, actor, "hookConfig.set", "hookConfig", input.hook, before, saved);
      await this.history.record(em, actor, "hookConfig.set", input.hook);
      return saved;
    });
  }

  /**
   * What runs for a job in `queueCode` (the default queue when null) at `hook`, in order: the
   * workspace entry, then the queue's APPEND entry, or only the queue's OVERRIDE entry. Entries that
   * do not run are listed too, with the reason, so an administrator sees exactly why.
   * `executionServerId` names the client for *_CLIENT hooks (their OS picks the command).
   */
  async effective(queueCode: string | null, hook: HookPoint, executionServerId: string | null = null): Promise<EffectiveHookEntry[]> {
    const key = `${queueCode ?? ""}\u0000${hook}\u0000${executionServerId ?? ""}`;
    const entries = await this.cache.get(key, () => this.resolve(queueCode, hook, executionServerId));
    // Copies: callers may adjust an entry for their run.
    return entries.map((e) => ({ ...e }));
  }

  private async resolve(queueCode: string | null, hook: HookPoint, executionServerId: string | null): Promise<EffectiveHookEntry[]> {
    const settings = await this.settings.get();
    const queue: Queue = queueCode === null ? await this.queues.getDefault() : await this.queues.get(queueCode);
    const workspace = await this.store.manager.findOneBy(HookConfig, { hook });
    const queueHook = await this.store.manager.findOneBy(QueueHook, { queueId: queue.id, hook });
    const server = await this.resolveServer(hook, workspace, settings.defaultExecutionServerId, executionServerId);
    const overriding = queueHook?.enabled && queueHook.mode === QueueHookMode.OVERRIDE ? queueHook : null;

    const entries: EffectiveHookEntry[] = [];
    const base = (source: HookSource, configId: string, enabled: boolean, commands: HookCommands, timeout: number | null, policy: HookPolicy | null) => {
      const entry: EffectiveHookEntry = {
        hook,
        source,
        configId,
        enabled,
        commands,
        mode: null,
        queue: null,
        executionServer: server,
        os: server?.os ?? null,
        command: server ? commands[server.os] : null,
        timeoutSeconds: timeout ?? hookPointInfo(hook).defaultTimeoutSeconds,
        policy: policy ?? NO_POLICY,
        willRun: true,
        skipReason: null,
        skipMessage: null,
      };
      return entry;
    };
    const skip = (entry: EffectiveHookEntry, reason: SkipReason, message: string) => {
      if (entry.willRun) Object.assign(entry, { willRun: false, skipReason: reason, skipMessage: message });
    };
    // First reason wins, most general first.
    const check = (entry: EffectiveHookEntry) => {
      if (!settings.hooksEnabled) skip(entry, SkipReason.HOOKS_DISABLED, "hooks are disabled in the workspace settings");
      if (entry.source === HookSource.WORKSPACE && overriding) skip(entry, SkipReason.OVERRIDDEN, `overridden by the OVERRIDE entry of queue '${queue.code}'`);
      if (!entry.enabled) {
        skip(entry, SkipReason.HOOK_DISABLED, entry.source === HookSource.QUEUE ? `the queue '${queue.code}' entry for ${hook} is disabled` : `${hook} is disabled`);
      }
      if (!server) {
        if (hookPointInfo(hook).client) {
          entry.os = null;
          entry.command = null;
        } else {
          skip(entry, SkipReason.NO_EXECUTION_SERVER, "no execution server: set a default execution server in the settings");
        }
      } else if (entry.command === null) {
        skip(entry, SkipReason.NO_COMMAND_FOR_OS, `no command line for ${server.os} (the OS of '${server.name}')`);
      }
    };

    if (workspace) {
      const entry = base(HookSource.WORKSPACE, workspace.hook, workspace.enabled, workspace.commands, workspace.timeoutSeconds, workspace.policy);
      check(entry);
      entries.push(entry);
    } else {
      const entry = base(HookSource.WORKSPACE, hook, false, this.unconfigured(hook).commands, null, null);
      if (!settings.hooksEnabled) skip(entry, SkipReason.HOOKS_DISABLED, "hooks are disabled in the workspace settings");
      skip(entry, SkipReason.NOT_CONFIGURED, `${hook} is not configured in the workspace`);
      entries.push(entry);
    }
    if (queueHook) {
      const entry = base(HookSource.QUEUE, queueHook.id, queueHook.enabled, queueHook.commands, queueHook.timeoutSeconds, queueHook.policy ?? workspace?.policy ?? null);
      entry.mode = queueHook.mode;
      entry.queue = queue.code;
      check(entry);
      entries.push(entry);
    }
    return entries;
  }

  private async resolveServer(hook: HookPoint, config: HookConfig | null, defaultId: string | null, requestedId: string | null): Promise<ExecutionServer | null> {
    const id = requestedId ?? (hookPointInfo(hook).client ? null : (config?.executionServerId ?? defaultId));
    if (id === null) return null;
    const server = await this.store.manager.findOneBy(ExecutionServer, { id });
    if (!server && requestedId !== null) throw notFound("execution server", requestedId);
    return server;
  }

  private unconfigured(hook: HookPoint): HookConfig {
    const config = new HookConfig();
    config.hook = hook;
    return config;
  }
}
