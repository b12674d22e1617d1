import { In, type SelectQueryBuilder } from "typeorm";
import { badInput, conflict, DomainError, notFound } from "../domain/errors.js";
import { SkipReason, type EffectiveHookEntry } from "../domain/effective-hooks.js";
import { hookPointInfo, HookPoint } from "../domain/hook-points.js";
import { AuditEvent } from "../entities/audit-event.entity.js";
import { ExecutionLogLine } from "../entities/execution-log-line.entity.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus, isFinished } from "../entities/execution.entity.js";
import { QueueHookMode } from "../entities/queue-hook.entity.js";
import { NO_POLICY, renderConcurrencyKey } from "../domain/hook-policy.js";
import { HookSource } from "../domain/effective-hooks.js";
import type { HookCommands } from "../entities/hook-commands.embedded.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { User } from "../entities/user.entity.js";
import { type ExecutionLifecycle, nextAttemptOf } from "../executor/execution-lifecycle.service.js";
import { samplePayload } from "./sample-payload.js";
import { ExecutionLogStream, unbrokenAfter } from "../pubsub/execution-log-stream.js";
import type { PubSub } from "../pubsub/pubsub.js";
import { KeysetPager, type Page } from "../store/keyset-page.js";
import type { Store } from "../store/store.js";
import { uuidV7 } from "../store/uuid-v7.js";
import { HOOKD_VERSION } from "../version.js";
import type { Actor, AuditService } from "./audit.service.js";
import type { HookConfigService } from "./hook-config.service.js";
import type { IdempotencyService } from "./idempotency.service.js";

export interface TriggerHook {
  hook: HookPoint;
  payload?: JsonObject;
  queue?: string | null;
  executionServer?: string | null;
  wait?: boolean;
  /** A repeat with the same key within 24 h answers with the first executions and runs nothing again. */
  idempotencyKey?: string | null;
}

/** Where a run comes from, recorded on its executions. */
export interface RunContext {
  jobId?: string | null;
  publishId?: string | null;
  triggeredBy?: User | null;
  /** Record what would run as SKIPPED with this reason instead (client hooks of STANDARD users). */
  skip?: { reason: SkipReason; message: string };
  /**
   * Earlier, finished runs of the same hook that this run tries again (retryJob's publish-server):
   * each entry's new execution is the next attempt of that entry's latest one (retryOf, attempt + 1).
   */
  continues?: Execution[];
}

/** One replay: the past execution, where its hook point runs now, and the candidate's commands. */
export interface ReplayRun {
  of: Execution;
  server: ExecutionServer | null;
  commands: HookCommands;
  timeoutSeconds: number;
  /** The secrets the hook point's policy gives its runs: the candidate gets them as a real run would. */
  env: string[];
  /** Recorded SKIPPED with this reason instead (nowhere to run, or no command for that OS). */
  skip: { reason: SkipReason; message: string } | null;
}

export interface ExecutionFilter {
  hook?: HookPoint;
  status?: ExecutionStatus;
  queue?: string;
  job?: string;
  executionServer?: string;
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

export class ExecutionService {
  constructor(
    private readonly store: Store,
    private readonly hookConfigs: HookConfigService,
    private readonly lifecycle: ExecutionLifecycle,
    private readonly pubsub: PubSub,
    private readonly audit: AuditService,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * Runs what effectiveHooks resolves for (queue, hook) with `input`: one execution per entry
   * that runs, stored QUEUED for its execution server's runner, and a SKIPPED one per entry that
   * was meant to run but cannot. Returns them in order, as stored.
   */
  async run(hook: HookPoint, input: JsonObject, queueCode: string | null, context: RunContext = {}, executionServerId: string | null = null): Promise<Execution[]> {
    return (await this.record(hook, input, queueCode, context, executionServerId)).executions;
  }

  private async record(hook: HookPoint, input: JsonObject, queueCode: string | null, context: RunContext, executionServerId: string | null, options: RecordOptions = {}) {
    const entries = await this.hookConfigs.effective(queueCode, hook, executionServerId);
    const recorded = entries.filter((e) => e.willRun || (e.enabled && e.skipReason !== null && RECORDED_SKIPS.includes(e.skipReason)));
    if (recorded.length === 0) return { entries, executions: [] };
    const executions = recorded.map((entry) => ({ execution: Object.assign(new Execution(), this.fromEntry(entry, input, queueCode ?? entry.queue, context)), server: entry.executionServer }));
    if (context.continues?.length) for (const { execution } of executions) continueChain(execution, context.continues);
    // A queue's APPEND entry runs after the workspace entry (and, for a blocking hook, only if that one succeeds).
    for (let i = 1; i < executions.length; i++) {
      const before = executions[i - 1].execution;
      const e = executions[i].execution;
      if (e.mode === QueueHookMode.APPEND && e.status === ExecutionStatus.QUEUED && before.status === ExecutionStatus.QUEUED) e.afterId = before.id;
    }
    const audit = (e: Execution) => options.audit?.(e) ?? [];
    // Listen before anything is stored, so a finish cannot be missed.
    const stop = options.wait ? new AbortController() : null;
    let limit = 0;
    const finished =
      stop &&
      executions.map(({ execution: e }) => {
        // One that runs after another waits for that one too.
        limit = e.afterId ? limit + this.waitLimitMs(e) : this.waitLimitMs(e);
        return this.waitFor(e.id, limit, { known: e, signal: stop.signal });
      });
    try {
      await this.lifecycle.create(executions, [{ insert: AuditEvent, rows: executions.flatMap((i) => audit(i.execution)) }]);
    } catch (err) {
      // Nothing will be returned to wait on: let the waiters go.
      stop?.abort(err);
      if (finished) void Promise.allSettled(finished);
      throw err;
    }
    return { entries, executions: executions.map((i) => i.execution), finished: finished && Promise.all(finished) };
  }

  /** An administrator's test run with a sample payload (triggerHook). */
  /** The realistic payload a test run of `hook` starts from (built like a real one). */
  sample(hook: HookPoint): JsonObject {
    return samplePayload(hook, HOOKD_VERSION);
  }

  async trigger(input: TriggerHook, actor: User): Promise<Execution[]> {
    const { idempotencyKey, ...request } = input;
    return this.idempotency.once({
      userId: actor.id,
      operation: "triggerHook",
      key: idempotencyKey,
      input: request,
      run: () => this.triggerOnce(request, actor),
      ids: (executions) => executions.map((e) => e.id),
      load: (ids) => this.getAll(ids),
    });
  }

  /** Executions by id, in the order of `ids`. */
  private async getAll(ids: string[]): Promise<Execution[]> {
    const rows = new Map((await this.store.manager.find(Execution, { where: { id: In(ids) } })).map((e) => [e.id, e]));
    return ids.map((id) => rows.get(id)).filter((e): e is Execution => e !== undefined);
  }

  private async triggerOnce(input: TriggerHook, actor: User): Promise<Execution[]> {
    const payload = { ...this.sample(input.hook), ...(input.payload ?? {}), hook: hookPointInfo(input.hook).dashed };
    const audit = (e: Execution) => [this.audit.event(actor, "execution.trigger", "execution", e.id, null, { hook: e.hook, queue: e.queue, source: e.source, command: e.command, status: e.status })];
    const { entries, executions, finished } = await this.record(input.hook, payload, input.queue ?? null, { triggeredBy: actor }, input.executionServer ?? null, { audit, wait: input.wait ?? false });
    if (executions.length === 0) {
      const why = entries
        .map((e) => e.skipMessage)
        .filter(Boolean)
        .join("; ");
      throw badInput("input.hook", `nothing runs for ${input.hook}${input.queue ? ` in queue '${input.queue}'` : ""}: ${why}`);
    }
    return finished ?? executions;
  }

  /**
   * Replays (issue 37): runs each candidate command on a past execution's input, with
   * `"replay": true` added, through the normal creation path so it runs where the hook point
   * runs (agents included). Marked REPLAY, with no job, publish, chain, retry policy or
   * concurrency key, so nothing follows from it. Resolves once all have finished.
   */
  async replay(runs: ReplayRun[], actor: User): Promise<Execution[]> {
    if (runs.length === 0) return [];
    const executions = runs.map((run) => {
      const entry: EffectiveHookEntry = {
        hook: run.of.hook,
        source: HookSource.REPLAY,
        configId: `replay:${run.of.id}`,
        enabled: true,
        commands: run.commands,
        mode: null,
        queue: run.of.queue,
        executionServer: run.server,
        os: run.server?.os ?? null,
        command: run.server ? run.commands[run.server.os] : null,
        timeoutSeconds: run.timeoutSeconds,
        // No retries or concurrency rules: a replay is one attempt, apart from the live runs.
        policy: { ...NO_POLICY, env: run.env },
        willRun: run.skip === null,
        skipReason: run.skip?.reason ?? null,
        skipMessage: run.skip?.message ?? null,
      };
      const execution = Object.assign(new Execution(), this.fromEntry(entry, { ...run.of.input, replay: true }, run.of.queue, { triggeredBy: actor }));
      return { execution, server: run.server };
    });
    const events = executions.map(({ execution: e }) =>
      this.audit.event(actor, "execution.replay", "execution", e.id, null, { replayOf: e.configId.slice("replay:".length), hook: e.hook, command: e.command, status: e.status }),
    );
    const created = await this.lifecycle.create(executions, [{ insert: AuditEvent, rows: events }]);
    return this.waitForAll(created);
  }

  /** A new execution with the same input and configuration, attempt + 1, linked to the first. */
  async retry(id: string, actor: User): Promise<Execution> {
    const previous = await this.get(id);
    if (!isFinished(previous.status)) throw conflict("id", `execution ${id} is still ${previous.status}; cancel it or wait for it before retrying`);
    if (previous.status === ExecutionStatus.SKIPPED) throw conflict("id", `execution ${id} was SKIPPED (${previous.error ?? previous.skipReason}); nothing ran, so there is nothing to retry`);
    // Never two attempts at once: hookd recorded this one's end while its runner may still be ending it.
    const fenced = this.lifecycle.nextAttemptNotBefore(previous);
    if (fenced !== null)
      throw conflict("id", `execution ${id} was ended by hookd, not by its runner, which may still be ending the hook until ${fenced.toISOString()} (its lease plus the margin); retry after that`);
    const first = previous.retryOfId ?? previous.id;
    const latest = await this.store.manager.findOne(Execution, { where: [{ retryOfId: first }, { id: first }], order: { attempt: "DESC" } });
    const next = Object.assign(new Execution(), {
      id: uuidV7(),
      ...nextAttemptOf(previous),
      attempt: (latest?.attempt ?? previous.attempt) + 1,
      retryOfId: first,
      triggeredById: actor.id,
      createdAt: new Date(),
    });
    const server = previous.executionServerId ? await this.store.manager.findOneBy(ExecutionServer, { id: previous.executionServerId }) : null;
    const event = this.audit.event(actor, "execution.retry", "execution", next.id, { retryOf: id, status: previous.status }, { attempt: next.attempt, status: next.status });
    const [retried] = await this.lifecycle.create([{ execution: next, server }], [{ insert: AuditEvent, rows: [event] }]);
    return retried;
  }

  /** Cancels a QUEUED execution at once, or asks the runner of a RUNNING one to end it and waits for that. */
  async cancel(id: string, actor: Actor): Promise<Execution> {
    const requested = await this.lifecycle.requestCancel(id, (e) => [this.audit.event(actor, "execution.cancel", "execution", id, { status: e.status }, { status: ExecutionStatus.CANCELLED })]);
    if (isFinished(requested.status)) return requested;
    return this.waitFor(id, 30_000).catch(() => this.get(id));
  }

  /** Why nothing runs for a hook point in the default queue, in words. */
  async explain(hook: HookPoint): Promise<string> {
    const entries = await this.hookConfigs.effective(null, hook);
    return entries.map((e) => e.skipMessage ?? `${e.source} entry would run`).join("; ");
  }

  /** The pre-publish answer broke the rules checked after the hook exited 0: the execution fails with the reason. */
  failAfterTheFact(id: string, error: string): Promise<void> {
    return this.lifecycle.failAfterTheFact(id, error);
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
    if (filter.executionServer) qb.andWhere("e.executionServerId = :server", { server: filter.executionServer });
    if (filter.since) qb.andWhere("e.createdAt >= :since", { since: this.pager.dbValue(qb, filter.since) });
    return this.pager.page(qb, first, after);
  }

  /** An execution's log from `after` on: the stored lines, then live ones, then the outcome (executionLog). */
  async logStream(executionId: string, after: number, authorize: () => Promise<void>): Promise<ExecutionLogStream> {
    await this.get(executionId); // NOT_FOUND before anything is streamed
    return new ExecutionLogStream(this.store, this.pubsub, executionId, after, { authorize });
  }

  /** `running`: the caller saw the run unfinished, so its writes may still commit out of order; only the unbroken lines are answered. */
  async logLines(executionId: string, after = 0, first = 1000, running = false): Promise<ExecutionLogLine[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_LOG_PAGE) throw badInput("first", `must be a whole number from 1 to ${MAX_LOG_PAGE} (got ${first})`);
    if (!Number.isInteger(after) || after < 0) throw badInput("after", `must be a sequence number, 0 or more (got ${after})`);
    const rows = await this.store.manager
      .createQueryBuilder(ExecutionLogLine, "l")
      .where("l.executionId = :executionId AND l.seq > :after", { executionId, after })
      .orderBy("l.seq", "ASC")
      .take(first)
      .getMany();
    return running ? unbrokenAfter(after, rows) : rows;
  }

  /**
   * Resolves once the execution has finished (from the store, then from live events). `known`:
   * the caller holds the execution as just created and subscribes before dispatching it, so there
   * is nothing to read first.
   */
  async waitFor(id: string, timeoutMs: number, options: { known?: Execution; signal?: AbortSignal } = {}): Promise<Execution> {
    const until = Date.now() + timeoutMs;
    let e = await this.waitForOne(id, timeoutMs, options);
    // A failed attempt with a retry to come: the outcome is the last attempt's.
    while (e.nextAttemptId !== null) e = await this.waitForOne(e.nextAttemptId, Math.max(1, until - Date.now()), { signal: options.signal });
    return e;
  }

  private waitForOne(id: string, timeoutMs: number, options: { known?: Execution; signal?: AbortSignal } = {}): Promise<Execution> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(recheck);
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
        else
          this.get(id).then(
            // Only what the store holds as final: an outcome announced but not (yet) stored is no answer.
            (e) => isFinished(e.status) && done(() => resolve(e)),
            (err) => done(() => reject(err)),
          );
      });
      const timer = setTimeout(() => done(() => reject(new DomainError("CONFLICT", `gave up waiting: execution ${id} did not finish within ${Math.round(timeoutMs / 1000)} s`))), timeoutMs);
      // Through a broker the finish may be lost (a reconnect): the store says so too.
      const recheck = this.pubsub.distributed
        ? setInterval(
            () =>
              void this.store.findById(Execution, id).then(
                (e) => {
                  if (e && isFinished(e.status)) done(() => resolve(e));
                },
                () => undefined,
              ),
            2000,
          )
        : undefined;
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

  /** Waits for each execution to finish (or to fail for want of a runner). */
  waitForAll(executions: Execution[]): Promise<Execution[]> {
    let limit = 0;
    return Promise.all(
      executions.map((e) => {
        limit = e.afterId ? limit + this.waitLimitMs(e) : this.waitLimitMs(e);
        return this.waitFor(e.id, limit);
      }),
    );
  }

  /** A blocking hook may wait its timeout for a runner, then run its timeout; a minute more for the rest. */
  private waitLimitMs(e: Execution): number {
    return (2 * e.timeoutSeconds + 60) * 1000;
  }

  private fromEntry(entry: EffectiveHookEntry, input: JsonObject, queue: string | null, context: RunContext): Partial<Execution> {
    if (entry.willRun && context.skip) entry = { ...entry, willRun: false, skipReason: context.skip.reason, skipMessage: context.skip.message };
    // Nowhere to run (a client hook tried without a client): recorded, never left waiting.
    if (entry.willRun && entry.executionServer === null)
      entry = { ...entry, willRun: false, skipReason: SkipReason.NO_EXECUTION_SERVER, skipMessage: `${entry.hook} runs on a job's client; name the client to run it on (executionServer)` };
    const runs = entry.willRun;
    return {
      id: uuidV7(),
      waitingFor: null,
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
      policy: entry.policy,
      concurrencyKey: runs && entry.policy.concurrencyKey !== null ? renderConcurrencyKey(entry.policy.concurrencyKey, input).slice(0, 500) : null,
      afterId: null,
      notBefore: null,
      nextAttemptAt: null,
      nextAttemptId: null,
      attempt: 1,
      retryOfId: null,
      triggeredById: context.triggeredBy?.id ?? null,
      pid: null,
      runnerId: null,
      leaseExpiresAt: null,
      deadlineAt: null,
      cancelRequestedAt: null,
      logLineCount: 0,
      droppedBytes: 0,
      createdAt: new Date(),
      startedAt: null,
      finishedAt: runs ? null : new Date(),
    };
  }
}

/** Makes `e` the next attempt of the latest earlier run of its entry (same hook and configuration entry), if there is one. */
function continueChain(e: Execution, earlier: readonly Execution[]): void {
  let latest: Execution | null = null;
  for (const x of earlier) if (x.hook === e.hook && x.configId === e.configId && x.source === e.source && (latest === null || x.attempt > latest.attempt)) latest = x;
  if (latest === null) return;
  e.attempt = latest.attempt + 1;
  e.retryOfId = latest.retryOfId ?? latest.id;
}
