import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from "typeorm";
import { AuditEvent } from "../entities/audit-event.entity.js";
import { Execution, ExecutionStatus, FINISHED_STATUSES } from "../entities/execution.entity.js";
import { ExecutionLogLine } from "../entities/execution-log-line.entity.js";
import { JobStatus } from "../entities/job.entity.js";
import { PublishState } from "../entities/publish.entity.js";
import type { Logger } from "../logger.js";
import { sqliteConnection } from "../store/native-rows.js";
import type { Store } from "../store/store.js";
import { PostgresPruner, type PruneLimits, type PruneStep, SqlitePruner, sqliteDate } from "./retention-pruner.js";
import type { WorkerMessage } from "./retention-prune.worker.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/** A job or publish in one of these still needs its executions (a retry, the ingest). */
const OPEN_JOB = [JobStatus.SUBMITTED, JobStatus.RUNNING];
const OPEN_PUBLISH = [PublishState.VALIDATED, PublishState.SUBMITTED];

export interface RetentionOptions {
  /** Older than this many days goes; 0 keeps everything. */
  days: number;
  /** Executions (or audit events) per transaction. */
  batchSize?: number;
  /** Log lines per transaction. */
  lineBatchSize?: number;
  /** Between two runs on the timer. */
  intervalMs?: number;
  /** The time, for tests that move it. */
  now?: () => Date;
  /** Idempotency keys past their 24 h: pruned on the same timer, whatever `days` says. */
  idempotency?: { prune(): Promise<number> };
  /** Where the prune's progress is counted (GET /metrics). */
  metrics?: RetentionMetrics | null;
  /** How often a running prune logs its progress. */
  progressEveryMs?: number;
}

/** The prune's side of the metrics (see MetricsService). */
export interface RetentionMetrics {
  retentionDeleted(step: { executions: number; logLines: number; auditEvents: number }): void;
  readonly retentionRunning: { set(value: number): void };
  readonly retentionLastSeconds: { set(value: number): void };
}

export interface PruneCounts {
  cutoff: Date;
  executions: number;
  logLines: number;
  auditEvents: number;
}

/**
 * Deletes finished executions, their log lines and audit events older than the retention, in
 * small transactions that take their turn with every other write, so no request waits long.
 * An execution still referenced by an open job or publish is kept. SQLite reuses the freed
 * pages, so under a steady load the file stops growing once the first prune has run.
 */
export class RetentionService {
  private readonly batchSize: number;
  private readonly lineBatchSize: number;
  private readonly intervalMs: number;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  private worker: Worker | null = null;
  private pruning: Promise<PruneCounts> | null = null;
  private readonly progressEveryMs: number;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
  ) {
    // About 10 ms of SQLite's time per transaction at 1 M executions: a write of the server waits
    // at most that long (5,000 lines held the lock ~45 ms and cut trigger throughput to 0.22x).
    this.batchSize = options.batchSize ?? 200;
    this.lineBatchSize = options.lineBatchSize ?? 1000;
    this.intervalMs = options.intervalMs ?? 60 * 60 * 1000;
    this.now = options.now ?? (() => new Date());
    this.progressEveryMs = options.progressEveryMs ?? 10_000;
  }

  get enabled(): boolean {
    return this.options.days > 0;
  }

  cutoff(): Date {
    return new Date(this.now().getTime() - this.options.days * DAY_MS);
  }

  /** Runs a prune soon after start-up and then every interval; the timer never keeps the process alive. */
  start(): void {
    if ((!this.enabled && !this.options.idempotency) || this.timer) return;
    const tick = () => {
      if (this.stopped || this.running) return;
      this.running = (this.options.idempotency?.prune() ?? Promise.resolve(0))
        .then((keys) => {
          if (keys > 0) this.logger.info("retention: pruned expired idempotency keys", { idempotencyKeys: keys });
        })
        .catch((err) => this.logger.error("retention: pruning idempotency keys failed", err))
        .then(() => this.prune())
        .then((counts) => {
          if (counts.executions + counts.auditEvents > 0) this.logger.info("retention: pruned old history", { ...counts, cutoff: counts.cutoff.toISOString(), days: this.options.days });
        })
        .catch((err) => this.logger.error("retention: prune failed", err))
        .finally(() => (this.running = null));
    };
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
    setImmediate(tick).unref();
  }

  /** Stops the timer and lets a running prune finish its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.worker?.postMessage({ stop: true });
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** What a prune would delete now, without deleting anything. */
  async dryRun(): Promise<PruneCounts> {
    const cutoff = this.cutoff();
    if (!this.enabled) return { cutoff, executions: 0, logLines: 0, auditEvents: 0 };
    const em = this.store.manager;
    const executions = await this.expired(em, cutoff).getCount();
    const logLines = await em
      .createQueryBuilder(ExecutionLogLine, "l")
      .where(`l.executionId IN (${this.expired(em, cutoff).select("e.id").getQuery()})`)
      .setParameters(this.expired(em, cutoff).getParameters())
      .getCount();
    const auditEvents = await em
      .createQueryBuilder(AuditEvent, "a")
      .where("a.at < :cutoff", { cutoff: this.param(em, AuditEvent, "at", cutoff) })
      .getCount();
    return { cutoff, executions, logLines, auditEvents };
  }

  /**
   * Deletes what is older than the retention, one short transaction at a time; returns what went.
   * On a SQLite file the deletes run in a worker thread on a connection of its own (better-sqlite3
   * runs every statement on the calling thread: on the main one, each would hold up every request).
   */
  prune(): Promise<PruneCounts> {
    // One prune at a time: a call while one runs (the timer's, the CLI's) gets that one's outcome.
    this.pruning ??= this.pruneOnce().finally(() => (this.pruning = null));
    return this.pruning;
  }

  private async pruneOnce(): Promise<PruneCounts> {
    const cutoff = this.cutoff();
    const counts: PruneCounts = { cutoff, executions: 0, logLines: 0, auditEvents: 0 };
    if (!this.enabled) return counts;
    const limits = { batchSize: this.batchSize, lineBatchSize: this.lineBatchSize };
    const started = performance.now();
    let logged = started;
    const add = (step: { executions: number; logLines: number; auditEvents: number }) => {
      counts.executions += step.executions;
      counts.logLines += step.logLines;
      counts.auditEvents += step.auditEvents;
      this.options.metrics?.retentionDeleted(step);
      const now = performance.now();
      if (now - logged >= this.progressEveryMs) {
        logged = now;
        const seconds = (now - started) / 1000;
        this.logger.info("retention: pruning", { ...counts, cutoff: cutoff.toISOString(), seconds: Math.round(seconds), executionsPerSecond: Math.round(counts.executions / seconds) });
      }
    };
    this.options.metrics?.retentionRunning.set(1);
    try {
      const file = this.sqliteFile();
      if (file) await this.pruneInWorker(file, cutoff, limits, add);
      else {
        const step = this.stepper(cutoff, limits);
        for (;;) {
          if (this.stopped) break;
          const result = await step();
          add(result);
          if (result.done) break;
          await yieldTurn();
        }
      }
    } finally {
      this.options.metrics?.retentionRunning.set(0);
      this.options.metrics?.retentionLastSeconds.set((performance.now() - started) / 1000);
    }
    return counts;
  }

  /** One transaction of the prune at a time, on the store's own connections. */
  private stepper(cutoff: Date, limits: PruneLimits): () => Promise<PruneStep> {
    const db = sqliteConnection(this.store.dataSource);
    if (!db) {
      const pruner = new PostgresPruner(this.store.dataSource, cutoff, limits);
      return () => pruner.step();
    }
    // An in-memory SQLite has no second connection: its steps take turns on the write chain.
    const pruner = new SqlitePruner(db as unknown as Database.Database, sqliteDate(cutoff), limits);
    return () => this.store.transaction(async () => pruner.step());
  }

  /** The database file of a SQLite store (null for PostgreSQL or an in-memory one). */
  private sqliteFile(): string | null {
    const options = this.store.dataSource.options;
    if (options.type !== "better-sqlite3" || options.database === ":memory:") return null;
    return options.database;
  }

  private pruneInWorker(databasePath: string, cutoff: Date, limits: PruneLimits, add: (step: PruneStep) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL("./retention-prune.worker.js", import.meta.url), { workerData: { databasePath, cutoff: sqliteDate(cutoff), limits, busyTimeoutMs: 5000 } });
      this.worker = worker;
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        this.worker = null;
        // 'done' comes after every progress message (one port, in order): nothing is left to read.
        void worker.terminate();
        if (err) reject(err);
        else resolve();
      };
      worker.on("message", (m: WorkerMessage) => {
        if ("progress" in m) add({ ...m.progress, done: false });
        else if ("done" in m) settle();
        else settle(new Error(`the retention worker failed: ${m.error}`));
      });
      worker.on("error", (err) => settle(err));
      // 'exit' may come before the last messages are read: those (and 'done') still arrive.
      worker.on("exit", (code) => {
        if (code !== 0) settle(new Error(`the retention worker exited with code ${code}`));
        else setTimeout(() => settle(new Error("the retention worker exited before it finished")), 5000).unref();
      });
      if (this.stopped) worker.postMessage({ stop: true });
    });
  }

  /** Finished executions older than the cutoff that no open job, publish or run still refers to (for dryRun). */
  private expired(em: EntityManager, cutoff: Date): SelectQueryBuilder<Execution> {
    return (
      em
        .createQueryBuilder(Execution, "e")
        // createdAt (never later than finishedAt) bounds the scan to the old end of its index.
        .where("e.createdAt < :cutoff", { cutoff: this.param(em, Execution, "createdAt", cutoff) })
        .andWhere("e.status IN (:...finished)", { finished: FINISHED_STATUSES })
        .andWhere("COALESCE(e.finishedAt, e.createdAt) < :cutoff")
        .andWhere(`NOT EXISTS (SELECT 1 FROM "job" j WHERE j."id" = e."jobId" AND j."status" IN (:...openJob))`, { openJob: OPEN_JOB })
        .andWhere(`NOT EXISTS (SELECT 1 FROM "publish" p WHERE p."id" = e."publishId" AND p."state" IN (:...openPublish))`, { openPublish: OPEN_PUBLISH })
        // The chains of QUEUED and RUNNING runs stay (the prune's chainGuard, in SQL: a count only).
        .andWhere(
          `NOT EXISTS (SELECT 1 FROM "execution" o WHERE o."status" IN (:...openRun) AND (o."id" IN (e."id", e."nextAttemptId", e."afterId", e."retryOfId") OR o."afterId" = e."id" OR COALESCE(o."retryOfId", o."id") IN (e."id", COALESCE(e."retryOfId", e."id"))))`,
          { openRun: [ExecutionStatus.QUEUED, ExecutionStatus.RUNNING] },
        )
    );
  }

  /** A date as the driver stores it in that column, so comparing with it in SQL is exact. */
  private param<T extends ObjectLiteral>(em: EntityManager, entity: new () => T, property: string, value: Date): unknown {
    const column = em.connection.getMetadata(entity).findColumnWithPropertyName(property)!;
    return em.connection.driver.preparePersistentValue(value, column);
  }
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
