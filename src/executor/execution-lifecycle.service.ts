import type { EntityManager, SelectQueryBuilder } from "typeorm";
import type { AuditEvent } from "../entities/audit-event.entity.js";
import type { ExecutionServer } from "../entities/execution-server.entity.js";
import type { Execution } from "../entities/execution.entity.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { Logger } from "../logger.js";
import type { LogLineEvent, PubSub } from "../pubsub/pubsub.js";
import { type ChangeSource, EntityCache } from "../store/entity-cache.js";
import type { Store, WriteOp } from "../store/store.js";
import { ChainFollowUp } from "./chain-follow-up.js";
import type { ExecutionQueue } from "./execution-queue.js";
import { RecoverySweeps } from "./execution-recovery.js";
import { ExecutionTransitions, type FinishLog, type NewExecution, type Renewal, type RunOutcome } from "./execution-transitions.js";
import { leaseMarginMs } from "./lease-fence.js";
import { RetryPlanner } from "./retry-planner.js";
import { StartRules } from "./start-rules.js";

// The life of an execution, put together from one module per responsibility:
// - execution-transitions.ts: the only writer of its status, every write guarded by the expected state;
// - retry-planner.ts: whether and when a failed run is tried again;
// - start-rules.ts: when a QUEUED run may start (concurrency keys, maxConcurrent, waiting);
// - chain-follow-up.ts: what follows a final outcome (next attempts, APPEND entries, free slots);
// - execution-recovery.ts: the sweeps that end what no runner will finish.
// Runners (embedded-runner.ts, the agent gateway) and services use this facade only.

export { embeddedRunnerId } from "./execution-recovery.js";
export { type FinishLog, type NewExecution, RemoteRunLog, type Renewal, type RunOutcome } from "./execution-transitions.js";
export { formatSeconds, nextAttemptOf } from "./retry-planner.js";

export interface LifecycleOptions {
  /** How long a claim or renewal holds an execution. */
  leaseMs: number;
  /** Between SIGTERM and SIGKILL on the runner's side: part of the deadline of a RUNNING execution. */
  killGraceMs: number;
  /**
   * Fencing: a runner ends its hooks this long before its lease runs out (its own clock), and a
   * lease counts as expired only this long after it ran out (default: leaseMarginMs()). From
   * then on nothing of that attempt runs.
   */
  leaseMarginMs?: number;
  /** True when a runner for this server can take work now (this process's, or a connected one). */
  servedNow(server: ExecutionServer): boolean;
  now?: () => Date;
  /** Where the settings cache hears of writes (default: this process's store). */
  changes?: ChangeSource;
  /** For the jitter of retry backoffs (tests may fix it). */
  random?: () => number;
}

export class ExecutionLifecycle {
  private readonly transitions: ExecutionTransitions;
  private readonly rules: StartRules;
  private readonly chains: ChainFollowUp;
  private readonly sweeps: RecoverySweeps;
  constructor(store: Store, pubsub: PubSub, queue: ExecutionQueue, logger: Logger, options: LifecycleOptions) {
    const settingsCache = new EntityCache<WorkspaceSettings>(options.changes ?? store, [WorkspaceSettings], 1);
    const settings = () => settingsCache.get("settings", async () => (await store.manager.findOneBy(WorkspaceSettings, { id: WorkspaceSettings.ID })) ?? new WorkspaceSettings());
    const now = options.now ?? (() => new Date());
    const marginMs = options.leaseMarginMs ?? leaseMarginMs(options.leaseMs, options.killGraceMs);
    this.rules = new StartRules(store, now);
    const retries = new RetryPlanner(store, now, settings, options.random);
    this.transitions = new ExecutionTransitions(store, pubsub, queue, logger, this.rules, retries, {
      leaseMs: options.leaseMs,
      killGraceMs: options.killGraceMs,
      marginMs,
      servedNow: options.servedNow,
      now,
      settings,
    });
    this.chains = new ChainFollowUp(store, this.transitions, queue, logger, now, settings);
    this.transitions.followUp = (done, next) => this.chains.after(done, next);
    this.sweeps = new RecoverySweeps(store, this.transitions, queue, logger, now, options.leaseMs, marginMs);
  }

  // ---- creation and claims ----

  create(items: NewExecution[], alsoStore: WriteOp[] = []): Promise<Execution[]> {
    return this.transitions.create(items, alsoStore);
  }

  claim(id: string, runnerId: string): Promise<Execution | null> {
    return this.transitions.claim(id, runnerId);
  }

  claimNext(serverIds: string[], runnerId: string, limit: number): Promise<Execution[]> {
    return this.transitions.claimNext(serverIds, runnerId, limit);
  }

  claimable(em: EntityManager, serverIds: string[]): SelectQueryBuilder<Execution> {
    return this.rules.claimable(em, serverIds);
  }

  claimableIds(serverIds: string[], limit: number): Promise<string[]> {
    return this.rules.claimableIds(serverIds, limit);
  }

  whyWaiting(e: Execution, em?: EntityManager): Promise<string | null> {
    return this.rules.whyWaiting(e, em);
  }

  // ---- the holder's side ----

  started(id: string, runnerId: string, fields: { pid: number | null; argv: string[] | null }): void {
    this.transitions.started(id, runnerId, fields);
  }

  renew(runnerId: string, ids: string[]): Promise<Renewal> {
    return this.transitions.renew(runnerId, ids);
  }

  /** A holder's outcome with its log: the embedded runner's ExecutionLog, an agent's RemoteRunLog (see ExecutionTransitions.finish). */
  finish(id: string, runnerId: string, outcome: RunOutcome, log: FinishLog): Promise<Execution | null> {
    return this.transitions.finish(id, runnerId, outcome, log);
  }

  appendWhileHeld(id: string, runnerId: string, lines: LogLineEvent[]): Promise<boolean> {
    return this.transitions.appendWhileHeld(id, runnerId, lines);
  }

  // ---- control ----

  requestCancel(id: string, audit: (e: Execution) => AuditEvent[]): Promise<Execution> {
    return this.transitions.requestCancel(id, audit);
  }

  failAfterTheFact(id: string, error: string): Promise<void> {
    return this.transitions.failAfterTheFact(id, error);
  }

  nextAttemptNotBefore(previous: Execution): Date | null {
    return this.transitions.nextAttemptNotBefore(previous);
  }

  // ---- recovery ----

  interrupted(id: string, runnerId: string | null, leftoverEnded: boolean): Promise<boolean> {
    return this.sweeps.interrupted(id, runnerId, leftoverEnded);
  }

  expireLeases(): Promise<number> {
    return this.sweeps.expireLeases();
  }

  expireDeadlines(): Promise<number> {
    return this.sweeps.expireDeadlines();
  }

  resumeChains(): Promise<void> {
    return this.chains.resume();
  }

  /** Stops the backoff timers (the attempts stay stored, QUEUED) and the tries to store refused outcomes. */
  close(): void {
    this.chains.close();
    this.transitions.close();
  }

  get(id: string): Promise<Execution | null> {
    return this.transitions.get(id);
  }
}
