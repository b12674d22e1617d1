import { type EntityManager, In, IsNull, LessThan, Not, type SelectQueryBuilder } from "typeorm";
import { conflict, notFound } from "../domain/errors.js";
import { SkipReason } from "../domain/effective-hooks.js";
import { backoffMs, type FailureKind, retryable } from "../domain/hook-policy.js";
import { hookPointInfo } from "../domain/hook-points.js";
import { Agent } from "../entities/agent.entity.js";
import { AuditEvent } from "../entities/audit-event.entity.js";
import { ExecutionLogLine, LogStream } from "../entities/execution-log-line.entity.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus, isFinished } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { Logger } from "../logger.js";
import type { LogLineEvent, PubSub } from "../pubsub/pubsub.js";
import { type ChangeSource, EntityCache } from "../store/entity-cache.js";
import { StaleWriteError, type Store, type WriteOp } from "../store/store.js";
import { uuidV7 } from "../store/uuid-v7.js";
import type { ExecutionLog } from "./execution-log.js";
import type { ExecutionQueue } from "./execution-queue.js";
import { LEASE_NOT_RENEWED, leaseMarginMs } from "./lease-fence.js";

// The life of an execution, and the only code that writes its status:
//
//   QUEUED ──claim──▶ RUNNING ──finish──▶ SUCCEEDED | FAILED | TIMED_OUT | CANCELLED
//     │                  └─ lease expired / deadline passed ─▶ FAILED | TIMED_OUT
//     └─ cancel ─▶ CANCELLED;  no runner in time ─▶ FAILED;  (created) SKIPPED
//
// A runner moves an execution on only while it holds its lease; every such write is
// conditional on the status and holder the runner expects, so a runner that lost its lease
// (or a second runner) cannot overwrite what happened meanwhile.

/** How a runner reports the end of a run it held. */
export interface RunOutcome {
  status: ExecutionStatus.SUCCEEDED | ExecutionStatus.FAILED | ExecutionStatus.TIMED_OUT | ExecutionStatus.CANCELLED;
  exitCode?: number | null;
  signal?: string | null;
  error?: string | null;
  output?: JsonObject | null;
  /** The argv that ran, when the runner did not record it with started(). */
  argv?: string[] | null;
}

/** A new execution and the execution server it must run on (null: none could be resolved). */
export interface NewExecution {
  execution: Execution;
  server: ExecutionServer | null;
}

export interface LifecycleOptions {
  /** How long a claim or renewal holds an execution. */
  leaseMs: number;
  /** Between SIGTERM and SIGKILL on the runner's side: part of the deadline of a RUNNING execution. */
  killGraceMs: number;
  /**
   * Fencing: a runner ends its hooks this long before its lease runs out (its own clock), and a
   * lease counts as expired only this long after it ran out; default: leaseMarginMs(). From then
   * on nothing of that attempt runs.
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

/** The answer to a lease renewal: what the runner must stop. */
export interface Renewal {
  /** No longer held by this runner (expired and recorded, or never held): stop them, their outcome is not wanted. */
  lost: string[];
  /** Still held, and a cancel was asked for: end them. */
  cancel: string[];
}

const RUNNER_PREFIX = "hookd:";
/** Agents' runner ids: `agent:<agent id>`. */
const AGENT_PREFIX = "agent:";
/** Executions kept in memory at most (see `known`). */
const MAX_KNOWN = 10_000;

/**
 * The runner id of a hookd's embedded runner for its own execution server. Several instances on
 * one host share that server; each then runs under its own id (`instance`), so one instance's
 * restart never takes the other's runs for its own.
 */
export const embeddedRunnerId = (serverId: string, instance?: string) => `${RUNNER_PREFIX}${serverId}${instance ? `/${instance}` : ""}`;

export function formatSeconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

const clockTime = (d: Date) => `${d.toISOString().slice(11, 19)} UTC`;

export class ExecutionLifecycle {
  /**
   * The executions this process created or holds, exactly as stored, so a transition can publish
   * the whole row (waiters take it as it is) without reading it back. Entries leave when the
   * execution finishes; a row another process changed is caught by the conditional writes.
   */
  private readonly known = new Map<string, Execution>();
  private readonly settingsCache: EntityCache<WorkspaceSettings>;
  private readonly now: () => Date;
  private readonly wakeTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: Store,
    private readonly pubsub: PubSub,
    private readonly queue: ExecutionQueue,
    private readonly logger: Logger,
    private readonly options: LifecycleOptions,
  ) {
    this.settingsCache = new EntityCache(options.changes ?? store, [WorkspaceSettings], 1);
    this.now = options.now ?? (() => new Date());
    this.marginMs = options.leaseMarginMs ?? leaseMarginMs(options.leaseMs, options.killGraceMs);
  }

  private readonly marginMs: number;

  /**
   * When a new attempt after `previous` may start: null at once; else the end of its lease plus the
   * margin, when hookd recorded its end while its runner could still be ending it (the runner did
   * not report it: a deadline or a cancel recorded here). By then that runner has fenced itself.
   */
  nextAttemptNotBefore(previous: Execution): Date | null {
    if (previous.leaseExpiresAt === null) return null;
    const at = new Date(previous.leaseExpiresAt.getTime() + this.marginMs);
    return at > this.now() ? at : null;
  }

  // ---- creation ----

  /**
   * Stores new executions (QUEUED, or SKIPPED when they will not run) with `alsoStore` in one
   * write, publishes them, and offers the QUEUED ones to the runners of their execution servers.
   * Nothing runs before this resolves.
   */
  async create(items: NewExecution[], alsoStore: WriteOp[] = []): Promise<Execution[]> {
    const now = this.now();
    // Columns a caller may leave out: no policy, no link, no rule.
    for (const { execution: e } of items) {
      e.policy ??= null;
      e.afterId ??= null;
      e.notBefore ??= null;
      e.nextAttemptAt ??= null;
      e.nextAttemptId ??= null;
      e.concurrencyKey ??= null;
    }
    const queued = items.filter((i) => i.execution.status === ExecutionStatus.QUEUED);
    const limit = queued.length > 0 ? (await this.settings()).scheduleToStartSeconds : 0;
    for (const { execution, server } of queued) {
      // Blocking hooks keep their caller waiting: they may wait for a runner only as long as they may run.
      const wait = hookPointInfo(execution.hook).blocking ? execution.timeoutSeconds : limit;
      // An entry that waits for the one before it starts its wait for a runner once that one has finished.
      execution.deadlineAt = execution.afterId ? null : new Date((execution.notBefore ?? now).getTime() + wait * 1000);
      execution.waitingFor = execution.afterId ? waitingForEarlier(execution.afterId) : server === null ? "no execution server" : this.options.servedNow(server) ? null : waitingText(server);
      execution.executionServerId = server?.id ?? null;
    }
    const rows = items.map((i) => i.execution);
    await this.store.write([{ insert: Execution, rows }, ...alsoStore]);
    for (const e of rows) {
      if (!isFinished(e.status)) this.remember(e);
      this.announce(e);
    }
    const byServer = new Map<string, string[]>();
    for (const { execution } of queued) {
      if (execution.executionServerId === null || execution.afterId !== null) continue;
      const ids = byServer.get(execution.executionServerId) ?? [];
      ids.push(execution.id);
      byServer.set(execution.executionServerId, ids);
    }
    for (const [serverId, ids] of byServer) this.queue.offer(serverId, ids);
    return rows;
  }

  // ---- the runner's side ----

  /** Takes a QUEUED execution for `runnerId`: RUNNING, with a lease. Null when it is no longer QUEUED. */
  async claim(id: string, runnerId: string): Promise<Execution | null> {
    const row = this.known.get(id) ?? (await this.store.findById(Execution, id));
    if (!row || row.status !== ExecutionStatus.QUEUED) return null;
    let running: Execution;
    if (hasStartRules(row)) {
      // Checked and taken in one transaction, so two runners cannot both take the last slot.
      const taken = await this.claimChecked(id, runnerId);
      if (taken === null) return null;
      running = taken;
    } else {
      const set = this.claimColumns(row, runnerId, this.now());
      if (!(await this.conditional(id, set, { status: ExecutionStatus.QUEUED }))) {
        this.known.delete(id);
        return null;
      }
      running = Object.assign(new Execution(), row, set);
    }
    this.remember(running);
    this.announce(running);
    return Object.assign(new Execution(), running);
  }

  /** A claim under start rules: the rules are read and the claim written in one transaction; null (with the reason stored) when it must wait. */
  private async claimChecked(id: string, runnerId: string): Promise<Execution | null> {
    const result = await this.store.transaction(async (em): Promise<{ waiting?: Execution; running?: Execution } | null> => {
      const row = await em.findOneBy(Execution, { id });
      if (!row || row.status !== ExecutionStatus.QUEUED) return null;
      // Where transactions run concurrently (PostgreSQL), the count-then-claim of one entry's runs
      // takes that entry's lock first (held to commit), so two claimers cannot both take its last slot.
      await this.store.lockInTransaction(em, `hookd:claim:${row.hook}:${row.configId}`);
      const reason = await this.whyWaiting(row, em);
      if (reason !== null) {
        if (row.waitingFor === reason) return null;
        await em.update(Execution, { id, status: ExecutionStatus.QUEUED }, { waitingFor: reason });
        return { waiting: Object.assign(row, { waitingFor: reason }) };
      }
      const set = this.claimColumns(row, runnerId, this.now());
      const { affected } = await em.update(Execution, { id, status: ExecutionStatus.QUEUED }, set);
      return affected === 1 ? { running: Object.assign(row, set) } : null;
    });
    if (result?.waiting) {
      if (this.known.has(id)) this.remember(result.waiting);
      this.announce(result.waiting);
      return null;
    }
    return result?.running ?? null;
  }

  /**
   * Which QUEUED executions may be claimed now: null when `e` may start, else why it waits. A
   * queue's APPEND entry waits for the entry before it, a retry for its backoff, a run for its
   * entry's maxConcurrent and for older runs with the same concurrency key (one at a time, in order).
   */
  async whyWaiting(e: Execution, em: EntityManager = this.store.manager): Promise<string | null> {
    if (e.afterId !== null) return waitingForEarlier(e.afterId);
    if (e.notBefore !== null && e.notBefore > this.now()) return `attempt ${e.attempt} waits for its retry backoff until ${clockTime(e.notBefore)}`;
    const same = { configId: e.configId, hook: e.hook };
    const max = e.policy?.maxConcurrent ?? null;
    if (max !== null) {
      const running = await em.count(Execution, { where: { ...same, status: ExecutionStatus.RUNNING } });
      if (running >= max) return `${running} runs of this entry are running; its maxConcurrent is ${max}`;
    }
    if (e.concurrencyKey !== null) {
      const key = { ...same, concurrencyKey: e.concurrencyKey };
      // uuid v7 ids sort by creation: "older" without a tie on equal timestamps.
      const ahead = await em.findOne(Execution, {
        select: { id: true, status: true },
        where: [
          { ...key, status: ExecutionStatus.RUNNING },
          { ...key, status: ExecutionStatus.QUEUED, id: LessThan(e.id) },
        ],
        order: { id: "ASC" },
      });
      if (ahead) return `waits for execution ${ahead.id} (${ahead.status}), which has the same concurrency key '${e.concurrencyKey}'`;
    }
    return null;
  }

  /**
   * The QUEUED executions of `serverIds` that a runner may claim now, oldest first: the one place
   * that says which may be claimed (eligibility conditions go here, for every runner and store).
   */
  claimable(em: EntityManager, serverIds: string[]): SelectQueryBuilder<Execution> {
    return (
      em
        .createQueryBuilder(Execution, "e")
        .where("e.status = :queued", { queued: ExecutionStatus.QUEUED })
        .andWhere("e.executionServerId IN (:...servers)", { servers: serverIds })
        // Not what waits for an earlier entry or for its retry backoff: they are offered when their time comes.
        .andWhere("e.afterId IS NULL")
        .andWhere("(e.notBefore IS NULL OR e.notBefore <= :now)", { now: this.now() })
        .orderBy("e.createdAt", "ASC")
    );
  }

  /** Ids of up to `limit` claimable executions of `serverIds` (they may be claimed by another runner meanwhile). */
  async claimableIds(serverIds: string[], limit: number): Promise<string[]> {
    if (serverIds.length === 0 || limit <= 0) return [];
    const rows = await this.claimable(this.store.manager, serverIds).select("e.id", "id").limit(limit).getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  /**
   * Claims up to `limit` claimable executions of `serverIds` for `runnerId` at once, on PostgreSQL:
   * `FOR UPDATE SKIP LOCKED` on the executions table, so runners of several instances take
   * different rows instead of racing for the same ones. The same transition as claim(). On SQLite
   * (one process) it claims the claimable ids one by one.
   */
  async claimNext(serverIds: string[], runnerId: string, limit: number): Promise<Execution[]> {
    if (serverIds.length === 0 || limit <= 0) return [];
    if (this.store.kind !== "postgres") {
      const claimed: Execution[] = [];
      for (const id of await this.claimableIds(serverIds, limit)) {
        const e = await this.claim(id, runnerId);
        if (e) claimed.push(e);
      }
      return claimed;
    }
    const now = this.now();
    const ruled: string[] = [];
    const running = await this.store.transaction(async (em) => {
      const rows = await this.claimable(em, serverIds).limit(limit).setLock("pessimistic_write").setOnLocked("skip_locked").getMany();
      const out: Execution[] = [];
      for (const row of rows) {
        // maxConcurrent and concurrency keys are checked under their entry's lock: claim() below.
        if (hasStartRules(row)) {
          ruled.push(row.id);
          continue;
        }
        const set = this.claimColumns(row, runnerId, now);
        await em.update(Execution, { id: row.id, status: ExecutionStatus.QUEUED }, set);
        out.push(Object.assign(new Execution(), row, set));
      }
      return out;
    });
    for (const e of running) {
      this.remember(e);
      this.announce(e);
    }
    const claimed = running.map((e) => Object.assign(new Execution(), e));
    for (const id of ruled) {
      const e = await this.claim(id, runnerId);
      if (e) claimed.push(e);
    }
    return claimed;
  }

  /** What a claim writes: RUNNING for `runnerId`, with a lease and the deadline of its timeout. */
  private claimColumns(row: Execution, runnerId: string, now: Date) {
    return {
      status: ExecutionStatus.RUNNING,
      runnerId,
      startedAt: now,
      leaseExpiresAt: new Date(now.getTime() + this.options.leaseMs),
      deadlineAt: new Date(now.getTime() + row.timeoutSeconds * 1000 + this.options.killGraceMs + this.options.leaseMs),
      waitingFor: null,
    };
  }

  /** The holder started the hook: its process group and argv, so a restart can end what is left. */
  started(id: string, runnerId: string, fields: { pid: number | null; argv: string[] | null }): void {
    const row = this.known.get(id);
    if (row) Object.assign(row, fields);
    this.store.write([{ update: Execution, id, set: fields, expect: { status: ExecutionStatus.RUNNING, runnerId } }]).catch((err) => {
      if (!(err instanceof StaleWriteError)) this.logger.error(`could not record the start of execution ${id}`, err);
    });
  }

  /** Extends the leases of what `runnerId` runs; says which it lost and which to cancel. */
  async renew(runnerId: string, ids: string[]): Promise<Renewal> {
    if (ids.length === 0) return { lost: [], cancel: [] };
    const until = new Date(this.now().getTime() + this.options.leaseMs);
    await this.store.transaction((em) =>
      em
        .createQueryBuilder()
        .update(Execution)
        .set({ leaseExpiresAt: until })
        .where({ id: In(ids), runnerId, status: ExecutionStatus.RUNNING })
        .execute(),
    );
    const rows = await this.store.manager.find(Execution, { select: { id: true, status: true, runnerId: true, cancelRequestedAt: true }, where: { id: In(ids) } });
    const held = rows.filter((r) => r.status === ExecutionStatus.RUNNING && r.runnerId === runnerId);
    const heldIds = new Set(held.map((r) => r.id));
    for (const r of held) {
      const known = this.known.get(r.id);
      if (known) known.leaseExpiresAt = until;
    }
    return { lost: ids.filter((id) => !heldIds.has(id)), cancel: held.filter((r) => r.cancelRequestedAt !== null).map((r) => r.id) };
  }

  /**
   * The holder's outcome, stored with the last log lines in one write. Null when the runner no
   * longer held it (the outcome is dropped: the record already says what happened).
   */
  async finish(id: string, runnerId: string, outcome: RunOutcome, log: ExecutionLog): Promise<Execution | null> {
    if (outcome.status !== ExecutionStatus.SUCCEEDED && outcome.error) log.system(outcome.error);
    const before = this.known.get(id) ?? (await this.store.findById(Execution, id).catch(() => null));
    const plan = before ? await this.planRetry(before, outcome.status, failureOf(outcome)) : NO_RETRY;
    if (plan.note) log.system(plan.note);
    const set = {
      ...outcomeColumns(outcome),
      ...plan.columns,
      finishedAt: this.now(),
      logLineCount: log.seal(),
      droppedBytes: log.dropped,
      pid: null,
      leaseExpiresAt: null,
      deadlineAt: null,
    };
    let stored = true;
    try {
      // The count is what the store holds, also when a log write failed.
      await log.close((lines, failure) => {
        set.logLineCount = lines;
        if (failure !== undefined && !(failure instanceof StaleWriteError)) {
          // The loss shows: in the error and in the bytes not stored.
          const lost = `${log.lineCount - lines} log lines could not be stored (${failure instanceof Error ? failure.message : String(failure)})`;
          set.error = set.error ? `${set.error}; ${lost}` : lost;
          set.droppedBytes = log.dropped + log.unstoredBytes;
        }
        return [{ update: Execution, id, set, expect: { status: ExecutionStatus.RUNNING, runnerId } }, ...plan.ops];
      });
    } catch (err) {
      if (err instanceof StaleWriteError) {
        this.known.delete(id);
        this.logger.warn(`execution ${id}: runner ${runnerId} finished it (${outcome.status}) after losing its lease; the outcome was not stored`);
        return null;
      }
      stored = false;
      this.logger.error(`could not store the log of execution ${id}`, err);
    }
    const row = this.known.get(id) ?? before;
    this.known.delete(id);
    const finished = Object.assign(new Execution(), row ?? { id }, set);
    this.announce(finished, stored);
    await this.followUp(finished, plan.next);
    return finished;
  }

  /**
   * A remote runner's outcome (an agent): its log lines 1..`log.lastSeq` are stored through the
   * agent's own appends, or the last of them come in `log.lines` (stored in this write); the error
   * becomes one more line. Conditional on the holder, like finish. Null when the runner no longer held it.
   */
  async finishRemote(
    id: string,
    runnerId: string,
    outcome: RunOutcome,
    log: { lastSeq: number; droppedBytes: number; lines?: LogLineEvent[]; held?: { stream: LogStream; text: string; at: Date }[] },
  ): Promise<Execution | null> {
    const now = this.now();
    const lines: LogLineEvent[] = [...(log.lines ?? [])];
    let seq = log.lastSeq;
    // Output the receiver held back (a partial piece's end, masked): stored first, as the runner's.
    for (const h of log.held ?? []) lines.push({ executionId: id, seq: ++seq, stream: h.stream, at: h.at, text: h.text });
    if (outcome.status !== ExecutionStatus.SUCCEEDED && outcome.error) lines.push({ executionId: id, seq: ++seq, stream: LogStream.SYSTEM, at: now, text: outcome.error });
    const before = this.known.get(id) ?? (await this.store.findById(Execution, id).catch(() => null));
    const plan = before ? await this.planRetry(before, outcome.status, failureOf(outcome)) : NO_RETRY;
    if (plan.note) lines.push({ executionId: id, seq: ++seq, stream: LogStream.SYSTEM, at: now, text: plan.note });
    const set = {
      ...outcomeColumns(outcome),
      ...plan.columns,
      finishedAt: now,
      logLineCount: seq,
      droppedBytes: log.droppedBytes,
      pid: null,
      leaseExpiresAt: null,
      deadlineAt: null,
    };
    if (!(await this.conditional(id, set, { status: ExecutionStatus.RUNNING, runnerId }, [{ logLines: lines }, ...plan.ops]))) {
      this.known.delete(id);
      this.logger.warn(`execution ${id}: runner ${runnerId} finished it (${outcome.status}) after losing its lease; the outcome was not stored`);
      return null;
    }
    if (lines.length > 0) this.pubsub.publish("executionLog", id, lines);
    const row = this.known.get(id) ?? before;
    this.known.delete(id);
    const finished = Object.assign(new Execution(), row ?? { id }, set);
    this.announce(finished);
    await this.followUp(finished, plan.next);
    return finished;
  }

  // ---- control ----

  /**
   * A cancel: a QUEUED execution is CANCELLED at once; for a RUNNING one the request is stored and
   * its holder told, and the holder ends the hook and records CANCELLED.
   */
  async requestCancel(id: string, audit: (e: Execution) => AuditEvent[]): Promise<Execution> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.store.findById(Execution, id);
      if (!current) throw notFound("execution", id);
      // Cancelling a failed attempt whose retry waits cancels the retry: the chain stops.
      if (isFinished(current.status) && current.nextAttemptId !== null) {
        const next = await this.store.findById(Execution, current.nextAttemptId);
        if (next && !isFinished(next.status)) return this.requestCancel(next.id, audit);
      }
      if (isFinished(current.status)) throw conflict("id", `execution ${id} already finished: ${current.status}`);
      const events = [{ insert: AuditEvent, rows: audit(current) }];
      if (current.status === ExecutionStatus.QUEUED) {
        const set = { status: ExecutionStatus.CANCELLED, error: "cancelled before it started", finishedAt: this.now(), deadlineAt: null, waitingFor: null };
        if (!(await this.conditional(id, set, { status: ExecutionStatus.QUEUED }, events))) continue; // claimed meanwhile
        this.known.delete(id);
        const cancelled = Object.assign(current, set);
        this.announce(cancelled, true);
        this.queue.cancel(id);
        await this.followUp(cancelled, null);
        return cancelled;
      }
      if (!(await this.conditional(id, { cancelRequestedAt: this.now() }, { status: ExecutionStatus.RUNNING, runnerId: current.runnerId }, events))) continue;
      this.queue.cancel(id);
      return current;
    }
    throw conflict("id", `execution ${id} kept changing; try again`);
  }

  /**
   * Fails an execution that exited 0 but whose output broke the rules checked afterwards (the
   * pre-publish answer): the reason is recorded on it and as the last line of its log.
   */
  async failAfterTheFact(id: string, error: string): Promise<void> {
    const execution = await this.store.transaction(async (em) => {
      const e = await em.findOneByOrFail(Execution, { id });
      if (e.status !== ExecutionStatus.SUCCEEDED) return null;
      await em.insert(ExecutionLogLine, { executionId: id, seq: e.logLineCount + 1, stream: LogStream.SYSTEM, at: this.now(), text: error });
      Object.assign(e, { status: ExecutionStatus.FAILED, error, logLineCount: e.logLineCount + 1 });
      return em.save(e);
    });
    if (execution) this.announce(execution);
  }

  // ---- recovery: what nobody will finish ----

  /**
   * A RUNNING execution that `runnerId` held when its process stopped (the runner's own restart):
   * FAILED, saying whether its leftover processes were ended.
   */
  async interrupted(id: string, runnerId: string | null, leftoverEnded: boolean): Promise<boolean> {
    const error = `interrupted: hookd stopped while this execution was running${leftoverEnded ? "; its leftover process group was ended" : ""}`;
    return this.end(id, { status: ExecutionStatus.RUNNING, runnerId }, { status: ExecutionStatus.FAILED, error }, { kind: "runner-lost" });
  }

  /** RUNNING executions whose holder stopped renewing: FAILED, the outcome unknown. Returns how many. */
  async expireLeases(): Promise<number> {
    const now = this.now();
    // Only past the margin: by then a runner that could not renew has ended the hook itself.
    const rows = await this.store.manager.find(Execution, { where: { status: ExecutionStatus.RUNNING, leaseExpiresAt: LessThan(new Date(now.getTime() - this.marginMs)) } });
    let n = 0;
    for (const e of rows) {
      const renewed = new Date(e.leaseExpiresAt!.getTime() - this.options.leaseMs);
      const error = `runner ${await this.runnerName(e)} stopped renewing its lease at ${clockTime(renewed)}; the hook's outcome is unknown`;
      if (await this.end(e.id, { status: ExecutionStatus.RUNNING, runnerId: e.runnerId, leaseExpiresAt: e.leaseExpiresAt }, { status: ExecutionStatus.FAILED, error }, { kind: "runner-lost" })) {
        this.logger.warn(`execution ${e.id} (${e.hook}): ${error}`);
        n++;
      }
    }
    return n;
  }

  /**
   * Deadlines passed: QUEUED ones no runner took in time are FAILED; RUNNING ones whose runner
   * renews its lease but did not end the hook in its timeout are TIMED_OUT here, and the runner
   * is told to end them. Returns how many.
   */
  async expireDeadlines(): Promise<number> {
    const now = this.now();
    const rows = await this.store.manager.find(Execution, { where: { status: In([ExecutionStatus.QUEUED, ExecutionStatus.RUNNING]), deadlineAt: LessThan(now) } });
    let n = 0;
    for (const e of rows) {
      if (e.status === ExecutionStatus.QUEUED) {
        const blocking = hookPointInfo(e.hook).blocking;
        const waited = Math.round((e.deadlineAt!.getTime() - e.createdAt.getTime()) / 1000);
        const error =
          e.waitingFor !== null && hasStartRules(e) && e.executionServerId !== null
            ? `did not start within ${formatSeconds(waited)}: ${e.waitingFor}${blocking ? " (a blocking hook waits at most its timeout)" : ""}`
            : `no runner for ${await this.serverName(e.executionServerId)} came online within ${formatSeconds(waited)}${blocking ? " (a blocking hook waits at most its timeout)" : ""}`;
        if (await this.end(e.id, { status: ExecutionStatus.QUEUED }, { status: ExecutionStatus.FAILED, error })) {
          this.queue.cancel(e.id);
          n++;
        }
      } else {
        const error = `timed out after ${formatSeconds(e.timeoutSeconds)}; runner ${await this.runnerName(e)} did not end it in time, so hookd recorded the timeout and told the runner to end its process group`;
        if (await this.end(e.id, { status: ExecutionStatus.RUNNING, runnerId: e.runnerId }, { status: ExecutionStatus.TIMED_OUT, error }, { kind: "timed-out" })) {
          this.queue.cancel(e.id);
          n++;
        }
      }
    }
    return n;
  }

  /** Moves an execution to a final status if it still is as `expect` says; the reason becomes its last log line. */
  private async end(id: string, expect: Partial<Execution>, outcome: { status: ExecutionStatus; error: string }, failure: FailureKind | null = null): Promise<boolean> {
    const row = await this.store.findById(Execution, id);
    if (!row) return false;
    // Ended here while its runner may still be ending it: the lease stays recorded, and no next attempt starts before it ran out.
    const leaseExpiresAt = row.status === ExecutionStatus.RUNNING && this.nextAttemptNotBefore(row) !== null ? row.leaseExpiresAt : null;
    const plan = failure ? await this.planRetry(row, outcome.status, failure) : NO_RETRY;
    // Lines a holder stored while running are counted only when it finishes: count what is there.
    const { last } = (await this.store.manager.createQueryBuilder(ExecutionLogLine, "l").select("MAX(l.seq)", "last").where("l.executionId = :id", { id }).getRawOne<{ last: number | null }>()) ?? {
      last: null,
    };
    const seq = Math.max(Number(last ?? 0), row.logLineCount) + 1;
    const lines = [{ executionId: id, seq, stream: LogStream.SYSTEM, at: this.now(), text: outcome.error }];
    if (plan.note) lines.push({ executionId: id, seq: seq + 1, stream: LogStream.SYSTEM, at: this.now(), text: plan.note });
    const set = { ...outcome, ...plan.columns, finishedAt: this.now(), pid: null, leaseExpiresAt, deadlineAt: null, waitingFor: null, logLineCount: seq + lines.length - 1 };
    if (!(await this.conditional(id, set, expect, [{ logLines: lines }, ...plan.ops]))) return false;
    this.known.delete(id);
    const ended = Object.assign(row, set);
    this.announce(ended, true);
    await this.followUp(ended, plan.next);
    return true;
  }

  // ---- what follows a final outcome: the next attempt, the entries waiting for this one ----

  /**
   * The next attempt under the execution's retry policy, stored with its outcome (so a restart
   * between attempts loses nothing): QUEUED, not before its backoff, linked to the first attempt.
   */
  private async planRetry(row: Execution, status: ExecutionStatus, failure: FailureKind | null): Promise<RetryPlan> {
    const policy = row.policy?.retry ?? null;
    if (policy === null || failure === null || (status !== ExecutionStatus.FAILED && status !== ExecutionStatus.TIMED_OUT)) return NO_RETRY;
    // A chain continued by hand (retryExecution, retryJob) starts the policy's attempts afresh there.
    const start = row.attempt < policy.maxAttempts ? 1 : (await this.runStart(row)).attempt;
    const n = row.attempt - start + 1;
    const of = start === 1 ? `attempt ${row.attempt} of ${policy.maxAttempts}` : `attempt ${row.attempt} (${n} of ${policy.maxAttempts} since attempt ${start}, run again by hand)`;
    const { retry, why } = retryable(policy, failure);
    if (!retry) return { ...NO_RETRY, note: `${of}: not retried: ${why}` };
    if (n >= policy.maxAttempts) return { ...NO_RETRY, note: `${of}: ${why}; no attempts left` };
    const now = this.now();
    const backoff = new Date(now.getTime() + backoffMs(policy, n + 1, this.options.random));
    const fenced = this.nextAttemptNotBefore(row);
    const notBefore = fenced !== null && fenced > backoff ? fenced : backoff;
    let timeoutSeconds = row.timeoutSeconds;
    if (hookPointInfo(row.hook).blocking) {
      // The caller waits: every attempt must end within the first attempt's timeout.
      const first = row.retryOfId === null ? row : ((await this.store.findById(Execution, row.retryOfId)) ?? row);
      const left = Math.floor((first.createdAt.getTime() + first.timeoutSeconds * 1000 - notBefore.getTime()) / 1000);
      if (left < 1) return { ...NO_RETRY, note: `${of}: ${why}; not retried: no time is left within the hook's timeout of ${formatSeconds(first.timeoutSeconds)}, which its caller waits for` };
      timeoutSeconds = Math.min(timeoutSeconds, left);
    }
    const wait = hookPointInfo(row.hook).blocking ? timeoutSeconds : (await this.settings()).scheduleToStartSeconds;
    const next = Object.assign(new Execution(), nextAttemptOf(row), {
      id: uuidV7(),
      attempt: row.attempt + 1,
      retryOfId: row.retryOfId ?? row.id,
      timeoutSeconds,
      notBefore,
      deadlineAt: new Date(notBefore.getTime() + wait * 1000),
      waitingFor: `attempt ${row.attempt + 1} waits for its retry backoff until ${clockTime(notBefore)}`,
      createdAt: now,
    });
    return {
      next,
      note: `${of}: ${why}; attempt ${next.attempt} (execution ${next.id}) at ${clockTime(notBefore)}`,
      columns: { nextAttemptAt: notBefore, nextAttemptId: next.id },
      ops: [{ insert: Execution, rows: [next] }],
    };
  }

  /**
   * The attempt that began the automatic retries `row` is part of: the latest at or before it that
   * no retry policy created (the first run, or one run again by hand); policy-made attempts wait
   * for a backoff (notBefore), the others do not.
   */
  private async runStart(row: Execution): Promise<Execution> {
    if (row.notBefore === null || row.retryOfId === null) return row;
    const started = await this.store.manager.findOne(Execution, {
      select: { id: true, attempt: true },
      where: [
        { retryOfId: row.retryOfId, attempt: LessThan(row.attempt), notBefore: IsNull() },
        { id: row.retryOfId, attempt: LessThan(row.attempt) },
      ],
      order: { attempt: "DESC" },
    });
    return started ?? row;
  }

  /**
   * After `done` reached a final status: its next attempt is announced and woken at its time; the
   * entries that waited for it run (or, when a blocking hook's entry refused, are SKIPPED: the
   * chain stops); runs that waited for its concurrency slot are offered again.
   */
  private async followUp(done: Execution, next: Execution | null): Promise<void> {
    try {
      if (next) {
        this.remember(next);
        this.announce(next);
        this.wake(next);
      }
      // Most runs have nothing waiting for them: their ids first (a prepared statement on SQLite), rows only for what is found.
      for (const id of await this.store.findIdsBy(Execution, { afterId: done.id, status: ExecutionStatus.QUEUED })) {
        const w = await this.store.findById(Execution, id);
        if (w?.status === ExecutionStatus.QUEUED && w.afterId === done.id) await this.settleWaiting(w, done, next);
      }
      if (done.policy?.maxConcurrent || done.concurrencyKey !== null) {
        const where = { configId: done.configId, hook: done.hook, status: ExecutionStatus.QUEUED, afterId: IsNull() };
        const rows = await this.store.manager.find(Execution, {
          select: { id: true, executionServerId: true },
          where: done.concurrencyKey !== null && !done.policy?.maxConcurrent ? { ...where, concurrencyKey: done.concurrencyKey } : where,
          order: { id: "ASC" },
          take: Math.max(1, done.policy?.maxConcurrent ?? 1),
        });
        for (const r of rows) if (r.executionServerId !== null) this.queue.offer(r.executionServerId, [r.id]);
      }
    } catch (err) {
      this.logger.error(`could not start what follows execution ${done.id}`, err);
    }
  }

  private async settleWaiting(w: Execution, done: Execution, next: Execution | null): Promise<void> {
    const expect = { status: ExecutionStatus.QUEUED, afterId: done.id };
    let set: Partial<Execution>;
    if (next) set = { afterId: next.id, waitingFor: waitingForEarlier(next.id) };
    else if (hookPointInfo(w.hook).blocking && done.status !== ExecutionStatus.SUCCEEDED) {
      const error = `not run: the entry before it (execution ${done.id}) ended ${done.status}${done.error ? `: ${done.error}` : ""}`;
      set = { status: ExecutionStatus.SKIPPED, skipReason: SkipReason.EARLIER_ENTRY_FAILED, error, afterId: null, waitingFor: null, deadlineAt: null, finishedAt: this.now() };
    } else {
      const wait = hookPointInfo(w.hook).blocking ? w.timeoutSeconds : (await this.settings()).scheduleToStartSeconds;
      set = { afterId: null, waitingFor: null, deadlineAt: new Date(this.now().getTime() + wait * 1000) };
    }
    if (!(await this.conditional(w.id, set, expect))) return; // cancelled meanwhile
    const row = Object.assign(this.known.get(w.id) ?? w, set);
    if (isFinished(row.status)) this.known.delete(w.id);
    this.announce(row);
    if (row.afterId === null && !isFinished(row.status) && row.executionServerId !== null) this.queue.offer(row.executionServerId, [row.id]);
  }

  /** Offers an attempt to its runners once its backoff is over (the runners' poll finds it too, after a restart). */
  private wake(e: Execution): void {
    if (e.executionServerId === null || e.notBefore === null) return;
    const serverId = e.executionServerId;
    const timer = setTimeout(
      () => {
        this.wakeTimers.delete(timer);
        this.queue.offer(serverId, [e.id]);
      },
      Math.max(0, e.notBefore.getTime() - this.now().getTime()),
    );
    timer.unref();
    this.wakeTimers.add(timer);
  }

  /**
   * Start-up: entries left waiting for an execution that finished while no hookd was there to
   * follow up (a stop between the two writes) are settled now.
   */
  async resumeChains(): Promise<void> {
    const waiting = await this.store.manager.find(Execution, { where: { status: ExecutionStatus.QUEUED, afterId: Not(IsNull()) } });
    for (const w of waiting) {
      const before = await this.store.findById(Execution, w.afterId!);
      if (before && isFinished(before.status)) await this.settleWaiting(w, before, before.nextAttemptId ? await this.store.findById(Execution, before.nextAttemptId) : null);
    }
    const retries = await this.store.manager.find(Execution, { where: { status: ExecutionStatus.QUEUED, notBefore: Not(IsNull()) } });
    for (const r of retries) this.wake(r);
  }

  /** Stops the backoff timers (the attempts stay stored, QUEUED). */
  close(): void {
    for (const t of this.wakeTimers) clearTimeout(t);
    this.wakeTimers.clear();
  }

  // ---- reads and helpers ----

  /** Bounded: work that waits long (another server's) or that another process finishes must not pile up here. */
  private remember(e: Execution): void {
    if (this.known.size >= MAX_KNOWN) this.known.delete(this.known.keys().next().value as string);
    this.known.set(e.id, e);
  }

  /** An execution as this process knows it (its creator or holder), else from the store. */
  async get(id: string): Promise<Execution | null> {
    const known = this.known.get(id);
    return known ? Object.assign(new Execution(), known) : this.store.findById(Execution, id);
  }

  private async conditional(id: string, set: Partial<Execution>, expect: Partial<Execution>, alsoStore: WriteOp[] = []): Promise<boolean> {
    try {
      await this.store.write([{ update: Execution, id, set, expect }, ...alsoStore]);
      return true;
    } catch (err) {
      if (err instanceof StaleWriteError) return false;
      throw err;
    }
  }

  private settings(): Promise<WorkspaceSettings> {
    return this.settingsCache.get("settings", async () => (await this.store.manager.findOneBy(WorkspaceSettings, { id: WorkspaceSettings.ID })) ?? new WorkspaceSettings());
  }

  private async serverName(id: string | null): Promise<string> {
    if (id === null) return "no execution server";
    const server = await this.store.manager.findOneBy(ExecutionServer, { id });
    if (!server) return `execution server ${id}`;
    return `${server.kind === ExecutionServerKind.CLIENT ? "client" : "execution server"} ${server.name}`;
  }

  private async runnerName(e: Execution): Promise<string> {
    const id = e.runnerId;
    if (id?.startsWith(RUNNER_PREFIX)) {
      const [serverId, instance] = id.slice(RUNNER_PREFIX.length).split("/");
      const server = await this.store.manager.findOneBy(ExecutionServer, { id: serverId });
      if (server) return instance ? `${server.name} (hookd instance ${instance.slice(0, 8)})` : server.name;
    }
    if (id?.startsWith(AGENT_PREFIX)) {
      const agent = await this.store.manager.findOneBy(Agent, { id: id.slice(AGENT_PREFIX.length) });
      if (agent) return `${agent.name} (agent)`;
    }
    return id ?? "(unknown)";
  }

  /** Publishes an execution's status to live readers; `stored`: `e` is exactly what the store holds. */
  private announce(e: Execution, stored = true): void {
    this.pubsub.publish("executionUpdated", e.id, {
      id: e.id,
      hook: e.hook,
      queue: e.queue,
      jobId: e.jobId,
      publishId: e.publishId,
      executionServerId: e.executionServerId,
      status: e.status,
      exitCode: e.exitCode,
      error: e.error,
      ...(stored ? { stored: Object.assign(new Execution(), e) } : {}),
    });
  }
}

/** A runner's outcome as the execution's columns. */
function outcomeColumns(outcome: RunOutcome) {
  return {
    status: outcome.status,
    exitCode: outcome.exitCode ?? null,
    signal: outcome.signal ?? null,
    error: outcome.error ?? (null as string | null),
    output: outcome.output ?? null,
    ...(outcome.argv !== undefined ? { argv: outcome.argv } : {}),
  };
}

function waitingText(server: ExecutionServer): string {
  return server.kind === ExecutionServerKind.CLIENT
    ? `client '${server.name}' (${server.hostname}): it is not connected`
    : `execution server '${server.name}' (${server.hostname}): no runner for it is online`;
}

interface RetryPlan {
  next: Execution | null;
  /** A system log line saying whether and when it is retried. */
  note: string | null;
  columns: { nextAttemptAt: Date | null; nextAttemptId: string | null } | Record<string, never>;
  ops: WriteOp[];
}

const NO_RETRY: RetryPlan = { next: null, note: null, columns: {}, ops: [] };

/** Rules that may hold a QUEUED execution back (see whyWaiting); most have none, and claim on the fast path. */
function hasStartRules(e: Execution): boolean {
  return (e.afterId ?? null) !== null || (e.notBefore ?? null) !== null || (e.policy?.maxConcurrent ?? null) !== null || (e.concurrencyKey ?? null) !== null;
}

const waitingForEarlier = (id: string) => `waits for execution ${id} (the entry before it) to finish`;

/** How a runner's failed outcome counts for the retry rules. */
function failureOf(outcome: RunOutcome): FailureKind | null {
  if (outcome.status === ExecutionStatus.TIMED_OUT) return { kind: "timed-out" };
  if (outcome.status !== ExecutionStatus.FAILED) return null;
  if (outcome.exitCode !== undefined && outcome.exitCode !== null && outcome.exitCode !== 0) return { kind: "exit", exitCode: outcome.exitCode };
  if (outcome.signal) return { kind: "signal" };
  if (outcome.error?.startsWith("hookd lost track") || outcome.error?.startsWith(LEASE_NOT_RENEWED)) return { kind: "runner-lost" };
  return { kind: "other" };
}

/**
 * A new attempt of `e` (an automatic retry or one asked for by hand): the same configuration, input
 * and policy, QUEUED, nothing of the previous run. The caller sets id, attempt, retryOfId, createdAt.
 */
export function nextAttemptOf(e: Execution): Partial<Execution> {
  const { hook, source, mode, configId, queue, command, os, executionServerId, jobId, publishId, input, timeoutSeconds, triggeredById, policy, concurrencyKey } = e;
  return {
    hook,
    source,
    mode,
    configId,
    queue,
    command,
    os,
    executionServerId,
    jobId,
    publishId,
    input,
    timeoutSeconds,
    triggeredById,
    policy,
    concurrencyKey,
    status: ExecutionStatus.QUEUED,
    afterId: null,
    notBefore: null,
    nextAttemptAt: null,
    nextAttemptId: null,
    waitingFor: null,
    argv: null,
    output: null,
    exitCode: null,
    signal: null,
    error: null,
    skipReason: null,
    pid: null,
    runnerId: null,
    leaseExpiresAt: null,
    deadlineAt: null,
    cancelRequestedAt: null,
    logLineCount: 0,
    droppedBytes: 0,
    startedAt: null,
    finishedAt: null,
  };
}
