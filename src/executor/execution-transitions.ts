import { type EntityManager, In } from "typeorm";
import { conflict, notFound } from "../domain/errors.js";
import type { FailureKind } from "../domain/hook-policy.js";
import { hookPointInfo } from "../domain/hook-points.js";
import { AuditEvent } from "../entities/audit-event.entity.js";
import { ExecutionLogLine, type LogStream, LogStream as Stream } from "../entities/execution-log-line.entity.js";
import type { ExecutionServer } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus, isFinished } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { Logger } from "../logger.js";
import type { LogLineEvent, PubSub } from "../pubsub/pubsub.js";
import { StaleWriteError, type Store, type WriteOp } from "../store/store.js";
import { LogLinesLost } from "./execution-log.js";
import type { ExecutionQueue } from "./execution-queue.js";
import { failureOf, NO_RETRY, type RetryPlan, type RetryPlanner } from "./retry-planner.js";
import { hasStartRules, type StartRules, waitingForEarlier, waitingText } from "./start-rules.js";

// The only writer of an execution's status. Every write is conditional on the state the writer
// expects (status, and the holder for a RUNNING one), so a runner that lost its lease, a second
// runner or a second sweeper cannot overwrite what happened meanwhile:
//
//   QUEUED ──claim──▶ RUNNING ──finish──▶ SUCCEEDED | FAILED | TIMED_OUT | CANCELLED
//     │                  └─ ended by hookd (lease expired + margin, deadline passed) ─▶ FAILED | TIMED_OUT
//     └─ cancel ─▶ CANCELLED;  no runner in time ─▶ FAILED;  (created) SKIPPED
//
// What to write is decided elsewhere (retry-planner.ts, start-rules.ts, chain-follow-up.ts,
// execution-recovery.ts); test/status-writers.test.ts keeps every other file from writing it.

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

/** The answer to a lease renewal: what the runner must stop. */
export interface Renewal {
  /** No longer held by this runner (expired and recorded, or never held): stop them, their outcome is not wanted. */
  lost: string[];
  /** Still held, and a cancel was asked for: end them. */
  cancel: string[];
}

/**
 * How a run's log ends, for finish(): the embedded runner's ExecutionLog, or an agent's lines
 * (RemoteRunLog). The outcome and the last lines are stored in one write.
 */
export interface FinishLog {
  /** One more system line after the runner's own (the error, the retry note). */
  system(text: string): void;
  /** The last seq, once no more output comes. */
  seal(): number;
  /**
   * Stores the last lines with `final(lines stored, failure)` in one write. Throws LogLinesLost
   * when lines were lost but the final state was stored; any other error: the final state was not.
   */
  close(final: (storedLines: number, failure?: unknown) => WriteOp[]): Promise<void>;
  readonly lineCount: number;
  /** Output bytes past the cap, not stored. */
  readonly dropped: number;
  /** Bytes of lines a failed write lost. */
  readonly unstoredBytes: number;
}

/**
 * An agent's finish: its lines 1..`lastSeq` are stored through its own appends, the last of them
 * (and what the receiver held back of a partial piece) come with the outcome.
 */
export class RemoteRunLog implements FinishLog {
  private seq: number;
  private readonly lines: LogLineEvent[];

  constructor(
    private readonly store: Store,
    private readonly pubsub: PubSub,
    private readonly executionId: string,
    log: { lastSeq: number; droppedBytes: number; lines?: LogLineEvent[]; held?: { stream: LogStream; text: string; at: Date }[] },
    private readonly now: () => Date,
  ) {
    this.seq = log.lastSeq;
    // Lines before these came with the agent's own appends: stored already.
    this.stored = (log.lines?.[0]?.seq ?? log.lastSeq + 1) - 1;
    this.lines = [...(log.lines ?? [])];
    this.dropped = log.droppedBytes;
    // Output the receiver held back (a partial piece's end, masked): stored first, as the runner's.
    for (const h of log.held ?? []) this.lines.push({ executionId: executionId, seq: ++this.seq, stream: h.stream, at: h.at, text: h.text });
  }

  readonly dropped: number;
  unstoredBytes = 0;
  private readonly stored: number;

  get lineCount(): number {
    return this.seq;
  }

  system(text: string): void {
    this.lines.push({ executionId: this.executionId, seq: ++this.seq, stream: Stream.SYSTEM, at: this.now(), text });
  }

  seal(): number {
    return this.seq;
  }

  async close(final: (storedLines: number, failure?: unknown) => WriteOp[]): Promise<void> {
    try {
      await this.store.write([...final(this.seq), { logLines: this.lines }]);
    } catch (err) {
      // Not stored: the outcome may still be (finish's storeOutcome), with the count of the lines the
      // agent's appends did store and the loss said in its error, as ExecutionLog does.
      this.unstoredBytes = this.lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0);
      final(this.stored, err);
      throw err;
    }
    if (this.lines.length > 0) this.pubsub.publish("executionLog", this.executionId, this.lines);
  }
}

export interface TransitionOptions {
  leaseMs: number;
  killGraceMs: number;
  marginMs: number;
  servedNow(server: ExecutionServer): boolean;
  now: () => Date;
  settings(): Promise<{ scheduleToStartSeconds: number }>;
}

/** Executions kept in memory at most (see `known`). */
const MAX_KNOWN = 10_000;

export class ExecutionTransitions {
  /**
   * The executions this process created or holds, exactly as stored, so a transition can publish
   * the whole row (waiters take it as it is) without reading it back. Entries leave when the
   * execution finishes; a row another process changed is caught by the conditional writes.
   */
  private readonly known = new Map<string, Execution>();
  /** Runs whose outcome this process holds and has not stored yet (storeOutcome): they have a live holder. */
  private readonly unstored = new Set<string>();
  private readonly pauses = new Set<() => void>();
  private closed = false;
  /** What follows a final outcome (chain-follow-up.ts); set once by the lifecycle. */
  followUp: (done: Execution, next: Execution | null) => Promise<void> = async () => undefined;

  constructor(
    private readonly store: Store,
    private readonly pubsub: PubSub,
    private readonly queue: ExecutionQueue,
    private readonly logger: Logger,
    private readonly rules: StartRules,
    private readonly retries: RetryPlanner,
    private readonly options: TransitionOptions,
  ) {}

  private now(): Date {
    return this.options.now();
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
    const limit = queued.length > 0 ? (await this.options.settings()).scheduleToStartSeconds : 0;
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
      const reason = await this.rules.whyWaiting(row, em);
      if (reason !== null) {
        if (row.waitingFor === reason) return null;
        await em.update(Execution, { id, status: ExecutionStatus.QUEUED }, { waitingFor: reason });
        return { waiting: Object.assign(row, { waitingFor: reason }) };
      }
      const set = await this.claimIn(em, row, runnerId, this.now());
      return set ? { running: Object.assign(row, set) } : null;
    });
    if (result?.waiting) {
      if (this.known.has(id)) this.remember(result.waiting);
      this.announce(result.waiting);
      return null;
    }
    return result?.running ?? null;
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
      for (const id of await this.rules.claimableIds(serverIds, limit)) {
        const e = await this.claim(id, runnerId);
        if (e) claimed.push(e);
      }
      return claimed;
    }
    const now = this.now();
    const ruled: string[] = [];
    const running = await this.store.transaction(async (em) => {
      const rows = await this.rules.claimable(em, serverIds).limit(limit).setLock("pessimistic_write").setOnLocked("skip_locked").getMany();
      const out: Execution[] = [];
      for (const row of rows) {
        // maxConcurrent and concurrency keys are checked under their entry's lock: claim() below.
        if (hasStartRules(row)) {
          ruled.push(row.id);
          continue;
        }
        const set = await this.claimIn(em, row, runnerId, now);
        if (set) out.push(Object.assign(new Execution(), row, set));
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
   * A holder's outcome (the embedded runner's or an agent's), stored with the last log lines and
   * the next attempt in one write, conditional on the holder. Null when the runner no longer held
   * it (the outcome is dropped: the record already says what happened). An outcome the store
   * refuses (a full disk, a database away) is tried again while the runner holds the run, and
   * announced only once stored (storeOutcome).
   */
  async finish(id: string, runnerId: string, outcome: RunOutcome, log: FinishLog): Promise<Execution | null> {
    if (outcome.status !== ExecutionStatus.SUCCEEDED && outcome.error) log.system(outcome.error);
    const before = this.known.get(id) ?? (await this.store.findById(Execution, id).catch(() => null));
    const plan = before ? await this.retries.plan(before, outcome.status, failureOf(outcome)) : NO_RETRY;
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
    let next = plan.next;
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
        return [{ update: Execution, id, set, expect: { status: ExecutionStatus.RUNNING, runnerId } }, ...nextAttempt(plan)];
      });
    } catch (err) {
      if (err instanceof StaleWriteError || (err instanceof LogLinesLost && err.failure instanceof StaleWriteError)) {
        this.known.delete(id);
        this.logger.warn(`execution ${id}: runner ${runnerId} finished it (${outcome.status}) after losing its lease; the outcome was not stored`);
        return null;
      }
      if (err instanceof LogLinesLost) {
        // Lines were lost, but the outcome is stored (saying so): it counts as finished.
        this.logger.error(`could not store the log of execution ${id}`, err.failure);
      } else {
        this.logger.error(`could not store the outcome of execution ${id} (${outcome.status}); trying again while runner ${runnerId} holds the run`, err);
        const stored = await this.storeOutcome(id, runnerId, set, nextAttempt(plan), err);
        if (stored === null) {
          this.known.delete(id);
          this.logger.warn(`execution ${id}: its outcome (${outcome.status}) was not stored: ${this.closed ? "hookd stopped first" : `runner ${runnerId} no longer held it`}`);
          return null;
        }
        this.logger.warn(`execution ${id}: stored ${stored === "outcome" ? "its outcome" : "FAILED instead of its outcome"} once the store took it`);
        if (stored === "failed") next = null;
      }
    }
    const row = this.known.get(id) ?? before;
    this.known.delete(id);
    const finished = Object.assign(new Execution(), row ?? { id }, set);
    this.announce(finished);
    await this.followUp(finished, next);
    return finished;
  }

  /**
   * An outcome the store refused, stored once it takes it: tried again every third of a lease
   * while the runner holds the run (it keeps renewing the lease meanwhile, and the sweeps leave
   * the run alone: isUnstored). When the store takes a write but not this outcome, the run is
   * FAILED with the reason in words instead (`set` says so then). Null when the run is no longer
   * the runner's, or hookd stops (its next start records the run interrupted).
   */
  private async storeOutcome(id: string, runnerId: string, set: Partial<Execution>, ops: WriteOp[], refused: unknown): Promise<"outcome" | "failed" | null> {
    const expect = { status: ExecutionStatus.RUNNING, runnerId };
    this.unstored.add(id);
    try {
      while (await this.pause(Math.max(50, Math.floor(this.options.leaseMs / 3)))) {
        try {
          await this.store.write([{ update: Execution, id, set, expect }, ...ops]);
          return "outcome";
        } catch (err) {
          if (err instanceof StaleWriteError) return null;
          refused = err;
        }
        const why = refused instanceof Error ? refused.message : String(refused);
        const failed = {
          status: ExecutionStatus.FAILED,
          error: `hookd could not store this run's outcome (${set.status}${set.exitCode != null ? `, exit code ${set.exitCode}` : ""}): ${why}`,
          output: null,
          nextAttemptAt: null,
          nextAttemptId: null,
        };
        try {
          await this.store.write([{ update: Execution, id, set: { ...set, ...failed }, expect }]);
          Object.assign(set, failed);
          return "failed";
        } catch (err) {
          if (err instanceof StaleWriteError) return null;
        }
      }
      return null;
    } finally {
      this.unstored.delete(id);
    }
  }

  /** True while this process holds `id`'s outcome, not stored yet: the run has a live holder. */
  isUnstored(id: string): boolean {
    return this.unstored.has(id);
  }

  /** Waits `ms`; false once close() was called (which ends the wait at once). */
  private pause(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.pauses.delete(end);
        resolve(!this.closed);
      };
      const timer = setTimeout(end, ms);
      this.pauses.add(end);
    });
  }

  /** Stops the tries to store refused outcomes. */
  close(): void {
    this.closed = true;
    for (const end of [...this.pauses]) end();
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
        this.announce(cancelled);
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
    const e = await this.store.findById(Execution, id);
    if (!e || e.status !== ExecutionStatus.SUCCEEDED) return;
    const line = { executionId: id, seq: e.logLineCount + 1, stream: Stream.SYSTEM, at: this.now(), text: error };
    const set = { status: ExecutionStatus.FAILED, error, logLineCount: e.logLineCount + 1 };
    if (!(await this.conditional(id, set, { status: ExecutionStatus.SUCCEEDED, logLineCount: e.logLineCount }, [{ logLines: [line] }]))) return;
    this.announce(Object.assign(e, set));
  }

  /**
   * Moves an execution to a final status recorded by hookd (not by its runner), if it still is as
   * `expect` says; the reason becomes its last log line. `runnerGone`: the caller saw to it that
   * nothing of the run is left (its own restart); else, for a RUNNING one whose lease may still be
   * live, the lease stays on the record and no next attempt starts before it ran out plus the margin.
   */
  async end(id: string, expect: Partial<Execution>, outcome: { status: ExecutionStatus; error: string }, failure: FailureKind | null = null, runnerGone = false): Promise<boolean> {
    const row = await this.store.findById(Execution, id);
    if (!row) return false;
    const fenced = row.status === ExecutionStatus.RUNNING && !runnerGone ? this.nextAttemptNotBefore(row) : null;
    const plan: RetryPlan = failure ? await this.retries.plan(row, outcome.status, failure, fenced) : NO_RETRY;
    // Lines a holder stored while running are counted only when it finishes: count what is there.
    const { last } = (await this.store.manager.createQueryBuilder(ExecutionLogLine, "l").select("MAX(l.seq)", "last").where("l.executionId = :id", { id }).getRawOne<{ last: number | null }>()) ?? {
      last: null,
    };
    const seq = Math.max(Number(last ?? 0), row.logLineCount) + 1;
    const lines = [{ executionId: id, seq, stream: Stream.SYSTEM, at: this.now(), text: outcome.error }];
    if (plan.note) lines.push({ executionId: id, seq: seq + 1, stream: Stream.SYSTEM, at: this.now(), text: plan.note });
    const leaseExpiresAt = fenced !== null ? row.leaseExpiresAt : null;
    const set = { ...outcome, ...plan.columns, finishedAt: this.now(), pid: null, leaseExpiresAt, deadlineAt: null, waitingFor: null, logLineCount: seq + lines.length - 1 };
    if (!(await this.conditional(id, set, expect, [{ logLines: lines }, ...nextAttempt(plan)]))) return false;
    this.known.delete(id);
    const ended = Object.assign(row, set);
    this.announce(ended);
    await this.followUp(ended, plan.next);
    return true;
  }

  /**
   * When a new attempt after `previous` may start: null at once; else the end of its lease plus the
   * margin, when hookd recorded its end while its runner could still be ending it (the runner did
   * not report it: a deadline recorded here). By then that runner has fenced itself.
   */
  nextAttemptNotBefore(previous: Execution): Date | null {
    if (previous.leaseExpiresAt === null) return null;
    const at = new Date(previous.leaseExpiresAt.getTime() + this.options.marginMs);
    return at > this.now() ? at : null;
  }

  /**
   * A QUEUED execution's waiting changed (chain-follow-up.ts): `set` written if it still is as
   * `expect` says. The row as now stored, announced; null when it changed meanwhile.
   */
  async move(row: Execution, set: Partial<Execution>, expect: Partial<Execution> & { status: ExecutionStatus }): Promise<Execution | null> {
    if (!(await this.conditional(row.id, set, expect))) return null;
    const moved = Object.assign(this.known.get(row.id) ?? row, set);
    if (isFinished(moved.status)) this.known.delete(row.id);
    this.announce(moved);
    return moved;
  }

  /** Log lines a holder sends while it runs, stored only while it still holds the execution (in one transaction). */
  async appendWhileHeld(id: string, runnerId: string, lines: LogLineEvent[]): Promise<boolean> {
    // The no-op update makes the insert conditional on the lease.
    return this.conditional(id, { runnerId }, { status: ExecutionStatus.RUNNING, runnerId }, [{ logLines: lines }]);
  }

  // ---- reads and helpers ----

  /** A next attempt stored with an outcome: known here, and announced. */
  adopt(e: Execution): void {
    this.remember(e);
    this.announce(e);
  }

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

  /** A claim inside a caller's transaction: RUNNING for `runnerId` if it still is QUEUED. The columns written, or null. */
  private async claimIn(em: EntityManager, row: Execution, runnerId: string, now: Date): Promise<ReturnType<ExecutionTransitions["claimColumns"]> | null> {
    const set = this.claimColumns(row, runnerId, now);
    const { affected } = await em.update(Execution, { id: row.id, status: ExecutionStatus.QUEUED }, set);
    return affected === 1 ? set : null;
  }

  /** Publishes an execution's status to live readers: `e` is exactly what the store holds. */
  private announce(e: Execution): void {
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
      stored: Object.assign(new Execution(), e),
    });
  }
}

/** The insert of a retry plan's next attempt, stored in the same write as the outcome. */
function nextAttempt(plan: RetryPlan): WriteOp[] {
  return plan.next ? [{ insert: Execution, rows: [plan.next] }] : [];
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
