import { In, type SelectQueryBuilder } from "typeorm";
import { badInput, conflict, DomainError, notFound } from "../domain/errors.js";
import { SkipReason } from "../domain/effective-hooks.js";
import { hookPointInfo, HookPoint } from "../domain/hook-points.js";
import { AuditEvent } from "../entities/audit-event.entity.js";
import { ExecutionLogLine, LogStream } from "../entities/execution-log-line.entity.js";
import { Execution, ExecutionStatus, isFinished } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { User } from "../entities/user.entity.js";
import type { ExecutionQueue } from "../executor/execution-queue.js";
import { publishExecution } from "../executor/hook-executor.js";
import { findHookProcesses, groupIsRun, groupRunsExecution, type HookProcess } from "../executor/process-group.js";
import { killProcessGroup } from "../executor/process-runner.js";
import { samplePayload } from "../executor/sample-payloads.js";
import type { Logger } from "../logger.js";
import type { PubSub } from "../pubsub/pubsub.js";
import type { EffectiveHook } from "../schema/effective-hook.type.js";
import { KeysetPager, type Page } from "../store/keyset-page.js";
import type { Store } from "../store/store.js";
import { uuidV7 } from "../store/uuid-v7.js";
import { HOOKD_VERSION } from "../version.js";
import type { Actor, AuditService } from "./audit.service.js";
import type { HookConfigService } from "./hook-config.service.js";

export interface TriggerHook {
  hook: HookPoint;
  payload?: JsonObject;
  queue?: string | null;
  executionServer?: string | null;
  wait?: boolean;
}

/** Where a run comes from, recorded on its executions. */
export interface RunContext {
  jobId?: string | null;
  publishId?: string | null;
  triggeredBy?: User | null;
  /** Record what would run as SKIPPED with this reason instead (client hooks of STANDARD users). */
  skip?: { reason: SkipReason; message: string };
  /** Record what would run as QUEUED, waiting for this execution server to connect, without dispatching it here. */
  waitFor?: string;
}

export interface ExecutionFilter {
  hook?: HookPoint;
  status?: ExecutionStatus;
  queue?: string;
  job?: string;
  since?: Date;
}

export const MAX_LOG_PAGE = 10_000;

interface RecordOptions {
  /** Audit events stored with each execution. */
  audit?: (execution: Execution) => AuditEvent[];
  /** Also return a promise of the executions once they finished. */
  wait?: boolean;
}

/** Reasons that leave a trace: the entry was meant to run but could not (SPEC §1/§2 SKIPPED). */
const RECORDED_SKIPS: readonly SkipReason[] = [SkipReason.HOOKS_DISABLED, SkipReason.NO_COMMAND_FOR_OS, SkipReason.NO_EXECUTION_SERVER];


/**
 * Ends a run's leftover processes (all of one execution, found by findHookProcesses): each of
 * their process groups whole (SIGTERM, then SIGKILL after the grace) when every live member
 * belongs to the run, else only the run's own processes in it, with SIGKILL. True if any was
 * still there.
 */
async function endHookProcesses(processes: HookProcess[], marker: string): Promise<boolean> {
  let any = false;
  for (const pgid of new Set(processes.map((p) => p.pgid))) {
    if (await groupIsRun(pgid, marker, processes[0].executionId)) {
      if (await killProcessGroup(pgid).catch(() => false)) any = true;
      continue;
    }
    for (const p of processes.filter((q) => q.pgid === pgid)) {
      try {
        process.kill(p.pid, "SIGKILL");
        any = true;
      } catch {
        // already gone
      }
    }
  }
  return any;
}

export class ExecutionService {
  constructor(
    private readonly store: Store,
    private readonly hookConfigs: HookConfigService,
    private readonly queue: ExecutionQueue,
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
    private readonly audit: AuditService,
    /** This store's HOOKD_STORE_ID, which every hook's processes carry (storeMarker). */
    private readonly storeMarker: string,
  ) {}

  /**
   * Runs what effectiveHooks resolves for (queue, hook) with `input`: one execution per entry
   * that runs, QUEUED then dispatched, and a SKIPPED one per entry that was meant to run but
   * cannot here. Returns them in order.
   */
  async run(hook: HookPoint, input: JsonObject, queueCode: string | null, context: RunContext = {}, executionServerId: string | null = null): Promise<Execution[]> {
    return (await this.record(hook, input, queueCode, context, executionServerId)).executions;
  }

  private async record(hook: HookPoint, input: JsonObject, queueCode: string | null, context: RunContext, executionServerId: string | null, options: RecordOptions = {}) {
    const entries = await this.hookConfigs.effective(queueCode, hook, executionServerId);
    const recorded = entries.filter((e) => e.willRun || (e.enabled && e.skipReason !== null && RECORDED_SKIPS.includes(e.skipReason)));
    if (recorded.length === 0) return { entries, executions: [] };
    const executions = recorded.map((entry) => Object.assign(new Execution(), this.fromEntry(entry, input, queueCode ?? entry.queue, context)));
    const audit = (e: Execution) => options.audit?.(e) ?? [];
    // What runs here goes to the queue, which stores each execution with its audit events (the
    // hot path of every hook run); what is SKIPPED or waits for its client is stored here.
    const dispatched = executions.filter((e) => e.status === ExecutionStatus.QUEUED && e.waitingFor === null);
    const kept = executions.filter((e) => !dispatched.includes(e));
    // Listen before dispatch, so a finish cannot be missed.
    const stop = options.wait ? new AbortController() : null;
    const finished = stop && executions.map((e) => this.waitFor(e.id, (e.timeoutSeconds + 60) * 1000, { known: e, signal: stop.signal }));
    try {
      // What will not run is stored first: if that fails, nothing has started.
      if (kept.length > 0) {
        await this.store.write([{ insert: Execution, rows: kept }, { insert: AuditEvent, rows: kept.flatMap(audit) }]);
        for (const e of kept) publishExecution(this.pubsub, e);
      }
      if (dispatched.length > 0) await this.queue.submit(dispatched.map((e) => ({ execution: e, alsoStore: [{ insert: AuditEvent, rows: audit(e) }] })));
    } catch (err) {
      // Nothing will be returned to wait on: let the waiters go.
      stop?.abort(err);
      if (finished) void Promise.allSettled(finished);
      throw err;
    }
    return { entries, executions, finished: finished && Promise.all(finished) };
  }

  /** An administrator's test run with a sample payload (triggerHook). */
  async trigger(input: TriggerHook, actor: User): Promise<Execution[]> {
    const payload = { ...samplePayload(input.hook, HOOKD_VERSION), ...(input.payload ?? {}), hook: hookPointInfo(input.hook).dashed };
    const audit = (e: Execution) => [this.audit.event(actor, "execution.trigger", "execution", e.id, null, { hook: e.hook, queue: e.queue, source: e.source, command: e.command, status: e.status })];
    const { entries, executions, finished } = await this.record(input.hook, payload, input.queue ?? null, { triggeredBy: actor }, input.executionServer ?? null, { audit, wait: input.wait ?? false });
    if (executions.length === 0) {
      const why = entries.map((e) => e.skipMessage).filter(Boolean).join("; ");
      throw badInput("input.hook", `nothing runs for ${input.hook}${input.queue ? ` in queue '${input.queue}'` : ""}: ${why}`);
    }
    return finished ?? executions;
  }

  /** A new execution with the same input and configuration, attempt + 1, linked to the first. */
  async retry(id: string, actor: User): Promise<Execution> {
    const retried = await this.store.transaction(async (em) => {
      const previous = await em.findOneBy(Execution, { id });
      if (!previous) throw notFound("execution", id);
      if (!isFinished(previous.status)) throw conflict("id", `execution ${id} is still ${previous.status}; cancel it or wait for it before retrying`);
      if (previous.status === ExecutionStatus.SKIPPED) throw conflict("id", `execution ${id} was SKIPPED (${previous.error ?? previous.skipReason}); nothing ran, so there is nothing to retry`);
      const latest = await em.findOne(Execution, { where: [{ retryOfId: previous.retryOfId ?? previous.id }, { id: previous.retryOfId ?? previous.id }], order: { attempt: "DESC" } });
      const next = em.create(Execution, {
        id: uuidV7(),
        ...this.copyConfiguration(previous),
        status: ExecutionStatus.QUEUED,
        attempt: (latest?.attempt ?? previous.attempt) + 1,
        retryOfId: previous.retryOfId ?? previous.id,
        triggeredById: actor.id,
        createdAt: new Date(),
      });
      const saved = await em.save(next);
      await this.audit.record(em, actor, "execution.retry", "execution", saved.id, { retryOf: id, status: previous.status }, { attempt: saved.attempt, status: saved.status });
      return saved;
    });
    publishExecution(this.pubsub, retried);
    this.queue.enqueue(retried.id, retried);
    return retried;
  }

  async cancel(id: string, actor: Actor): Promise<Execution> {
    const execution = await this.get(id);
    if (isFinished(execution.status)) throw conflict("id", `execution ${id} already finished: ${execution.status}`);
    await this.store.transaction((em) => this.audit.record(em, actor, "execution.cancel", "execution", id, { status: execution.status }, { status: ExecutionStatus.CANCELLED }));
    if (!this.queue.cancel(id)) {
      // Not in this process's queue (interrupted, or owned by another worker): record it here.
      await this.markCancelled(id, "cancelled");
    }
    return this.waitFor(id, 30_000).catch(() => this.get(id));
  }

  /** Why nothing runs for a hook point in the default queue, in words. */
  async explain(hook: HookPoint): Promise<string> {
    const entries = await this.hookConfigs.effective(null, hook);
    return entries.map((e) => e.skipMessage ?? `${e.source} entry would run`).join("; ");
  }

  /**
   * Fails an execution that exited 0 but whose output broke the rules checked afterwards (the
   * pre-publish answer): the reason is recorded on it and as the last line of its log.
   */
  async failAfterTheFact(id: string, error: string): Promise<void> {
    const execution = await this.store.transaction(async (em) => {
      const e = await em.findOneByOrFail(Execution, { id });
      await em.insert(ExecutionLogLine, { executionId: id, seq: e.logLineCount + 1, stream: LogStream.SYSTEM, at: new Date(), text: error });
      Object.assign(e, { status: ExecutionStatus.FAILED, error, logLineCount: e.logLineCount + 1 });
      return em.save(e);
    });
    publishExecution(this.pubsub, execution);
  }

  /** Records the cancel of an execution that never started. */
  async markCancelled(id: string, error = "cancelled before it started"): Promise<void> {
    const execution = await this.store.transaction(async (em) => {
      const e = await em.findOneBy(Execution, { id });
      if (!e || isFinished(e.status)) return null;
      Object.assign(e, { status: ExecutionStatus.CANCELLED, error, finishedAt: new Date() });
      return em.save(e);
    });
    if (execution) publishExecution(this.pubsub, execution);
  }

  async get(id: string): Promise<Execution> {
    const execution = await this.store.findById(Execution, id);
    if (!execution) throw notFound("execution", id);
    return execution;
  }

  private readonly pager = new KeysetPager<Execution>("createdAt");

  cursorOf(execution: Execution): string {
    return this.pager.cursorOf(execution);
  }

  list(filter: ExecutionFilter, first = 50, after?: string | null): Promise<Page<Execution>> {
    const qb: SelectQueryBuilder<Execution> = this.store.manager.createQueryBuilder(Execution, "e");
    if (filter.hook) qb.andWhere("e.hook = :hook", { hook: filter.hook });
    if (filter.status) qb.andWhere("e.status = :status", { status: filter.status });
    if (filter.queue) qb.andWhere("e.queue = :queue", { queue: filter.queue });
    if (filter.job) qb.andWhere("e.jobId = :job", { job: filter.job });
    if (filter.since) qb.andWhere("e.createdAt >= :since", { since: this.pager.dbValue(qb, filter.since) });
    return this.pager.page(qb, first, after);
  }

  async logLines(executionId: string, after = 0, first = 1000): Promise<ExecutionLogLine[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_LOG_PAGE) throw badInput("first", `must be a whole number from 1 to ${MAX_LOG_PAGE} (got ${first})`);
    if (!Number.isInteger(after) || after < 0) throw badInput("after", `must be a sequence number, 0 or more (got ${after})`);
    return this.store.manager
      .createQueryBuilder(ExecutionLogLine, "l")
      .where("l.executionId = :executionId AND l.seq > :after", { executionId, after })
      .orderBy("l.seq", "ASC")
      .take(first)
      .getMany();
  }

  /**
   * Resolves once the execution has finished (from the store, then from live events). `known`:
   * the caller holds the execution as just created and subscribes before dispatching it, so there
   * is nothing to read first.
   */
  waitFor(id: string, timeoutMs: number, options: { known?: Execution; signal?: AbortSignal } = {}): Promise<Execution> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        options.signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const onAbort = () => done(() => reject(options.signal!.reason));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      // Subscribe before reading, so a finish between the two is not missed.
      const unsubscribe = this.pubsub.subscribe("executionUpdated", id, (event) => {
        if (!isFinished(event.status)) return;
        if (event.stored) done(() => resolve(event.stored!));
        else this.get(id).then((e) => done(() => resolve(e)), (err) => done(() => reject(err)));
      });
      const timer = setTimeout(() => done(() => reject(new DomainError("CONFLICT", `execution ${id} did not finish within ${Math.round(timeoutMs / 1000)} s`))), timeoutMs);
      if (options.known) {
        if (isFinished(options.known.status)) done(() => resolve(options.known!));
        return;
      }
      this.get(id).then(
        (e) => {
          if (isFinished(e.status)) done(() => resolve(e));
        },
        (err) => done(() => reject(err)),
      );
    });
  }

  /** Waits for each execution to finish, allowing each its timeout plus the kill grace. */
  waitForAll(executions: Execution[]): Promise<Execution[]> {
    return Promise.all(executions.map((e) => this.waitFor(e.id, (e.timeoutSeconds + 60) * 1000)));
  }

  /**
   * Start-up: executions a crash or restart left QUEUED or RUNNING are failed with the reason, and
   * the processes they left are ended: the process group each recorded, and any process that
   * carries this store's HOOKD_STORE_ID and their execution id (one that was started but not yet
   * recorded RUNNING with its group, or left its group). A run is first stored just after its
   * process started (README, "When a run is stored"), so a crash in between leaves a hook with no
   * record at all: its processes carry an execution id the store does not know, and are ended too.
   * Processes of runs that finished are left alone (their groups were ended when they finished;
   * a daemon that left its group on purpose is not hookd's to end at a restart).
   */
  async recoverInterrupted(): Promise<number> {
    const stale = await this.store.manager.findBy(Execution, { status: In([ExecutionStatus.QUEUED, ExecutionStatus.RUNNING]) });
    const marked = findHookProcesses(this.storeMarker) ?? [];
    for (const execution of stale) {
      let killed = false;
      // The recorded group by its HOOKD_EXECUTION_ID alone: hooks started before HOOKD_STORE_ID
      // existed carry no store marker.
      if (execution.pid !== null && (await groupRunsExecution(execution.pid, execution.id))) killed = await killProcessGroup(execution.pid).catch(() => false);
      if (await endHookProcesses(marked.filter((p) => p.executionId === execution.id), this.storeMarker)) killed = true;
      const was = execution.status === ExecutionStatus.RUNNING ? "running" : "queued";
      Object.assign(execution, {
        status: ExecutionStatus.FAILED,
        error: `interrupted: hookd stopped while this execution was ${was}${killed ? "; its leftover process group was ended" : ""}`,
        finishedAt: new Date(),
        pid: null,
      });
      await this.store.transaction((em) => em.save(execution));
      publishExecution(this.pubsub, execution);
      this.logger.warn(`execution ${execution.id} (${execution.hook}) was ${was} when hookd stopped; marked FAILED`);
    }
    const ids = [...new Set(marked.map((p) => p.executionId))];
    if (ids.length > 0) {
      const known = new Set((await this.store.manager.find(Execution, { select: { id: true }, where: { id: In(ids) } })).map((e) => e.id));
      for (const id of ids.filter((i) => !known.has(i))) {
        const processes = marked.filter((p) => p.executionId === id);
        await endHookProcesses(processes, this.storeMarker);
        this.logger.warn(`a ${processes[0].hook ?? "hook"} run (execution ${id}) started just before hookd stopped and was never recorded; its processes were ended`);
      }
    }
    return stale.length;
  }

  private fromEntry(entry: EffectiveHook, input: JsonObject, queue: string | null, context: RunContext): Partial<Execution> {
    if (entry.willRun && context.skip) entry = Object.assign(Object.create(entry), { willRun: false, skipReason: context.skip.reason, skipMessage: context.skip.message });
    const runs = entry.willRun;
    return {
      id: uuidV7(),
      waitingFor: runs ? (context.waitFor ?? null) : null,
      hook: entry.hook,
      source: entry.source,
      mode: entry.mode,
      configId: entry.configId,
      queue,
      command: entry.command,
      argv: null,
      os: entry.os,
      executionServerId: entry.executionServer?.id ?? null,
      jobId: context.jobId ?? null,
      publishId: context.publishId ?? null,
      input,
      output: null,
      status: runs ? ExecutionStatus.QUEUED : ExecutionStatus.SKIPPED,
      skipReason: runs ? null : entry.skipReason,
      error: runs ? null : entry.skipMessage,
      exitCode: null,
      signal: null,
      timeoutSeconds: entry.timeoutSeconds,
      attempt: 1,
      retryOfId: null,
      triggeredById: context.triggeredBy?.id ?? null,
      pid: null,
      logLineCount: 0,
      droppedBytes: 0,
      createdAt: new Date(),
      startedAt: null,
      finishedAt: runs ? null : new Date(),
    };
  }

  private copyConfiguration(e: Execution): Partial<Execution> {
    const { hook, source, mode, configId, queue, command, os, executionServerId, jobId, publishId, input, timeoutSeconds } = e;
    return { hook, source, mode, configId, queue, command, os, executionServerId, jobId, publishId, input, timeoutSeconds, waitingFor: null, argv: null, output: null, exitCode: null, signal: null, error: null, skipReason: null, pid: null, logLineCount: 0, droppedBytes: 0, startedAt: null, finishedAt: null };
  }
}
