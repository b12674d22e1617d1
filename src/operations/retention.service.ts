import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from "typeorm";
import { AuditEvent } from "../entities/audit-event.entity.js";
import { Execution, FINISHED_STATUSES } from "../entities/execution.entity.js";
import { ExecutionLogLine } from "../entities/execution-log-line.entity.js";
import { JobStatus } from "../entities/job.entity.js";
import { PublishState } from "../entities/publish.entity.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";

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

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
  ) {
    this.batchSize = options.batchSize ?? 200;
    this.lineBatchSize = options.lineBatchSize ?? 5000;
    this.intervalMs = options.intervalMs ?? 60 * 60 * 1000;
    this.now = options.now ?? (() => new Date());
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

  /** Deletes what is older than the retention, batch by batch; returns what went. */
  async prune(): Promise<PruneCounts> {
    const cutoff = this.cutoff();
    const counts: PruneCounts = { cutoff, executions: 0, logLines: 0, auditEvents: 0 };
    if (!this.enabled) return counts;
    for (;;) {
      if (this.stopped) return counts;
      const ids = (await this.expired(this.store.manager, cutoff).select("e.id", "id").orderBy("e.createdAt", "ASC").limit(this.batchSize).getRawMany<{ id: string }>()).map((r) => r.id);
      if (ids.length === 0) break;
      // Lines first, in bounded transactions: one execution may have hundreds of thousands.
      for (;;) {
        const deleted = await this.store.transaction(async (em) => {
          // The first lines in key order: of each execution met, every line up to the last seq met.
          const keys = await em
            .createQueryBuilder(ExecutionLogLine, "l")
            .select("l.executionId", "executionId")
            .addSelect("l.seq", "seq")
            .where("l.executionId IN (:...ids)", { ids })
            .orderBy("l.executionId", "ASC")
            .addOrderBy("l.seq", "ASC")
            .limit(this.lineBatchSize)
            .getRawMany<{ executionId: string; seq: number }>();
          const upTo = new Map<string, number>();
          for (const k of keys) upTo.set(k.executionId, Number(k.seq));
          for (const [executionId, seq] of upTo) {
            await em.createQueryBuilder().delete().from(ExecutionLogLine).where('"executionId" = :executionId AND "seq" <= :seq', { executionId, seq }).execute();
          }
          return keys.length;
        });
        counts.logLines += deleted;
        if (deleted < this.lineBatchSize) break;
        await yieldTurn();
      }
      counts.executions += await this.store.transaction(async (em) => (await em.createQueryBuilder().delete().from(Execution).whereInIds(ids).execute()).affected ?? ids.length);
      await yieldTurn();
    }
    for (;;) {
      if (this.stopped) return counts;
      const deleted = await this.store.transaction(async (em) => {
        const ids = (
          await em
            .createQueryBuilder(AuditEvent, "a")
            .select("a.id", "id")
            .where("a.at < :cutoff", { cutoff: this.param(em, AuditEvent, "at", cutoff) })
            .limit(this.batchSize)
            .getRawMany<{ id: string }>()
        ).map((r) => r.id);
        if (ids.length > 0) await em.createQueryBuilder().delete().from(AuditEvent).whereInIds(ids).execute();
        return ids.length;
      });
      counts.auditEvents += deleted;
      if (deleted < this.batchSize) break;
      await yieldTurn();
    }
    return counts;
  }

  /** Finished executions older than the cutoff that no open job or publish still refers to. */
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
    );
  }

  /** A date as the driver stores it in that column, so comparing with it in SQL is exact. */
  private param<T extends ObjectLiteral>(em: EntityManager, entity: new () => T, property: string, value: Date): unknown {
    const column = em.connection.getMetadata(entity).findColumnWithPropertyName(property)!;
    return em.connection.driver.preparePersistentValue(value, column);
  }
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
