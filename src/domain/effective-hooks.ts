import type { ExecutionServer } from "../entities/execution-server.entity.js";
import type { HookCommands } from "../entities/hook-commands.embedded.js";
import type { HookPolicy } from "./hook-policy.js";
import type { QueueHookMode } from "../entities/queue-hook.entity.js";
import type { HookPoint } from "./hook-points.js";
import type { OsName } from "./os.js";

/** Where an effective hook entry comes from. */
export enum HookSource {
  WORKSPACE = "WORKSPACE",
  QUEUE = "QUEUE",
  /** A replay of a past execution's input against a candidate command (replayExecutions): no job, publish, chain or retry. */
  REPLAY = "REPLAY",
}

/** Why an effective hook entry does not run (also recorded on SKIPPED executions). */
export enum SkipReason {
  HOOKS_DISABLED = "HOOKS_DISABLED",
  NOT_CONFIGURED = "NOT_CONFIGURED",
  HOOK_DISABLED = "HOOK_DISABLED",
  OVERRIDDEN = "OVERRIDDEN",
  NO_COMMAND_FOR_OS = "NO_COMMAND_FOR_OS",
  NO_EXECUTION_SERVER = "NO_EXECUTION_SERVER",
  /** A *_CLIENT hook for a client whose user is STANDARD: never run, for privacy and security. */
  CLIENT_NOT_ELEVATED = "CLIENT_NOT_ELEVATED",
  /** A queue's APPEND entry of a blocking hook whose workspace entry refused (or failed): the chain stops. */
  EARLIER_ENTRY_FAILED = "EARLIER_ENTRY_FAILED",
}

/** One entry of what runs for a hook point in a queue, in order, and why an entry does not run. */
export interface EffectiveHookEntry {
  hook: HookPoint;
  source: HookSource;
  /** For QUEUE entries: OVERRIDE or APPEND. */
  mode: QueueHookMode | null;
  /** For QUEUE entries: the queue's code. */
  queue: string | null;
  /** Id of the workspace hook config (its hook point) or of the queue hook, for the execution record. */
  configId: string;
  enabled: boolean;
  commands: HookCommands;
  /** Where it runs; null for client hooks evaluated without a client. */
  executionServer: ExecutionServer | null;
  /** The OS whose command line is used. */
  os: OsName | null;
  /** The command line for that OS, as configured. */
  command: string | null;
  timeoutSeconds: number;
  /** Retries, concurrency and secrets for this entry (a queue entry without its own takes the workspace's). */
  policy: HookPolicy;
  willRun: boolean;
  skipReason: SkipReason | null;
  /** The reason in words, for an administrator. */
  skipMessage: string | null;
}
