import type Database from "better-sqlite3";
import type { DataSource } from "typeorm";
import { JobStatus } from "../entities/job.entity.js";
import { PublishState } from "../entities/publish.entity.js";

/** A job or publish in one of these still needs its executions (a retry, the ingest). */
const OPEN_JOB = [JobStatus.SUBMITTED, JobStatus.RUNNING];
const OPEN_PUBLISH = [PublishState.VALIDATED, PublishState.SUBMITTED];
const OPEN_RUN = ["QUEUED", "RUNNING"];

export interface PruneLimits {
  /** Executions looked at per transaction. */
  batchSize: number;
  /** Log lines deleted per transaction (about: whole executions go while they fit). */
  lineBatchSize: number;
}

/** What one transaction deleted; `done` once nothing past the cutoff is left to delete. */
export interface PruneStep {
  executions: number;
  logLines: number;
  auditEvents: number;
  done: boolean;
}

interface Candidate {
  id: string;
  createdAt: unknown;
  retryOfId: string | null;
  afterId: string | null;
  nextAttemptId: string | null;
  logLineCount: number;
}

interface OpenRun {
  id: string;
  retryOfId: string | null;
  afterId: string | null;
}

/**
 * Whether a finished execution belongs to the chain of a QUEUED or RUNNING one (the first attempt
 * it retries, a sibling attempt, the run it waits for or follows): those stay whatever their age,
 * so a retry or an APPEND entry never loses what it links to.
 */
function chainGuard(open: OpenRun[]): (e: Candidate) => boolean {
  const ids = new Set<string>();
  const roots = new Set<string>();
  for (const o of open) {
    ids.add(o.id);
    roots.add(o.retryOfId ?? o.id);
    if (o.afterId) ids.add(o.afterId);
  }
  return (e) => ids.has(e.id) || roots.has(e.id) || roots.has(e.retryOfId ?? e.id) || (e.nextAttemptId !== null && ids.has(e.nextAttemptId)) || (e.afterId !== null && ids.has(e.afterId));
}

const list = (values: readonly string[]) => values.map((v) => `'${v}'`).join(", ");

/**
 * Finished, past the cutoff by creation and finish, no open job or publish: in (createdAt, id) order
 * from a key on. The key as a row value starts the index scan there; an OR of the two columns made
 * PostgreSQL walk every dead index entry the prune had left so far, on every step (50 a second).
 * Status as NOT IN (the two open ones): an IN list of the finished ones led PostgreSQL to the
 * (status, createdAt, id) index, reading and sorting every old row on each step.
 */
const candidatesSql = (p: (name: string) => string, first: boolean) => `
  SELECT e."id" AS "id", e."createdAt" AS "createdAt", e."retryOfId" AS "retryOfId", e."afterId" AS "afterId", e."nextAttemptId" AS "nextAttemptId", e."logLineCount" AS "logLineCount"
  FROM "execution" e
  WHERE e."createdAt" < ${p("cutoff")}
    ${first ? "" : `AND (e."createdAt", e."id") > (${p("afterAt")}, ${p("afterId")})`}
    AND e."status" NOT IN (${list(OPEN_RUN)})
    AND COALESCE(e."finishedAt", e."createdAt") < ${p("cutoff")}
    AND NOT EXISTS (SELECT 1 FROM "job" j WHERE j."id" = e."jobId" AND j."status" IN (${list(OPEN_JOB)}))
    AND NOT EXISTS (SELECT 1 FROM "publish" p WHERE p."id" = e."publishId" AND p."state" IN (${list(OPEN_PUBLISH)}))
  ORDER BY e."createdAt", e."id"
  LIMIT ${p("limit")}`;

const OPEN_RUNS_SQL = `SELECT "id", "retryOfId", "afterId" FROM "execution" WHERE "status" IN (${list(OPEN_RUN)})`;

/** What one transaction deletes: whole executions while their lines fit, or the first lines of a long one. */
interface Plan {
  /** Executions deleted whole (their lines first). */
  whole: string[];
  /** A long log, deleted a slice at a time across transactions. */
  slice: Candidate | null;
  /** The key the next transaction starts after. */
  next: { at: unknown; id: string } | null;
}

function plan(candidates: Candidate[], guard: (e: Candidate) => boolean, lineBatchSize: number): Plan {
  const whole: string[] = [];
  let lines = 0;
  let next: Plan["next"] = null;
  for (const e of candidates) {
    if (guard(e)) {
      next = { at: e.createdAt, id: e.id };
      continue;
    }
    if (whole.length > 0 && lines + e.logLineCount > lineBatchSize) break;
    if (whole.length === 0 && e.logLineCount > lineBatchSize) return { whole, slice: e, next };
    whole.push(e.id);
    lines += e.logLineCount;
    next = { at: e.createdAt, id: e.id };
  }
  return { whole, slice: null, next };
}

/**
 * Retention's deletes on SQLite: one short write transaction per step, on a connection of its own
 * (a worker thread's, so the main thread never runs them). Log lines go by their key's range
 * (executionId, seq), executions by id, audit events by their (at, id) index.
 */
export class SqlitePruner {
  private after: { at: unknown; id: string } | null = null;
  private executionsDone = false;
  private readonly step_: () => PruneStep;

  constructor(
    db: Database.Database,
    /** The cutoff as SQLite stores dates (TypeORM's "YYYY-MM-DD HH:MM:SS.sss", UTC). */
    cutoff: string,
    limits: PruneLimits,
  ) {
    const p = (name: string) => `@${name}`;
    const firstPage = db.prepare(candidatesSql(p, true));
    const nextPage = db.prepare(candidatesSql(p, false));
    const openRuns = db.prepare(OPEN_RUNS_SQL);
    const deleteLines = db.prepare(`DELETE FROM "execution_log_line" WHERE "executionId" = ?`);
    const deleteSlice = db.prepare(
      `DELETE FROM "execution_log_line" WHERE "executionId" = @id AND "seq" <= COALESCE((SELECT "seq" FROM "execution_log_line" WHERE "executionId" = @id ORDER BY "seq" LIMIT 1 OFFSET @n), 2147483647)`,
    );
    const deleteExecution = db.prepare(`DELETE FROM "execution" WHERE "id" = ?`);
    const deleteAudit = db.prepare(`DELETE FROM "audit_event" WHERE "id" IN (SELECT "id" FROM "audit_event" WHERE "at" < ? ORDER BY "at", "id" LIMIT ?)`);
    this.step_ = db.transaction((): PruneStep => {
      const result: PruneStep = { executions: 0, logLines: 0, auditEvents: 0, done: false };
      if (!this.executionsDone) {
        const page = (
          this.after ? nextPage.all({ cutoff, afterAt: this.after.at, afterId: this.after.id, limit: limits.batchSize }) : firstPage.all({ cutoff, limit: limits.batchSize })
        ) as Candidate[];
        if (page.length === 0) this.executionsDone = true;
        else {
          // Read inside the write transaction: no run can start a chain meanwhile.
          const work = plan(page, chainGuard(openRuns.all() as OpenRun[]), limits.lineBatchSize);
          if (work.next) this.after = work.next;
          if (work.slice) {
            const sliced = deleteSlice.run({ id: work.slice.id, n: limits.lineBatchSize - 1 }).changes;
            result.logLines += sliced;
            // Fewer than a slice were left: that was the last of them.
            if (sliced < limits.lineBatchSize) {
              result.executions += deleteExecution.run(work.slice.id).changes;
              this.after = { at: work.slice.createdAt, id: work.slice.id };
            }
          }
          for (const id of work.whole) {
            result.logLines += deleteLines.run(id).changes;
            result.executions += deleteExecution.run(id).changes;
          }
          return result;
        }
      }
      result.auditEvents = deleteAudit.run(cutoff, limits.batchSize).changes;
      result.done = result.auditEvents < limits.batchSize;
      return result;
    });
  }

  /** One transaction's worth (BEGIN IMMEDIATE outside another transaction; a savepoint inside one). */
  step(): PruneStep {
    return (this.step_ as unknown as { immediate: () => PruneStep }).immediate();
  }
}

/**
 * The same deletes on PostgreSQL, one short transaction per step through the pool: its row locks
 * let every other write go on meanwhile. A run started in the very moment a step reads the open
 * runs may still lose an old first attempt it links to; links are plain columns, nothing breaks.
 */
export class PostgresPruner {
  private after: { at: unknown; id: string } | null = null;
  private executionsDone = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly cutoff: Date,
    private readonly limits: PruneLimits,
  ) {}

  async step(): Promise<PruneStep> {
    return this.dataSource.transaction(async (em) => {
      const result: PruneStep = { executions: 0, logLines: 0, auditEvents: 0, done: false };
      const count = async (sql: string, params: unknown[]) => Number((await em.query(`WITH d AS (${sql} RETURNING 1) SELECT COUNT(*) AS n FROM d`, params))[0].n);
      if (!this.executionsDone) {
        const names = ["cutoff", "limit", "afterAt", "afterId"];
        const p = (name: string) => `$${names.indexOf(name) + 1}`;
        const params: unknown[] = [this.cutoff, this.limits.batchSize];
        if (this.after) params.push(this.after.at, this.after.id);
        const page = ((await em.query(candidatesSql(p, this.after === null), params)) as Candidate[]).map((c) => ({ ...c, logLineCount: Number(c.logLineCount) }));
        if (page.length === 0) this.executionsDone = true;
        else {
          const work = plan(page, chainGuard(await em.query(OPEN_RUNS_SQL)), this.limits.lineBatchSize);
          if (work.next) this.after = work.next;
          if (work.slice) {
            const sliced = await count(
              `DELETE FROM "execution_log_line" WHERE "executionId" = $1 AND "seq" <= COALESCE((SELECT "seq" FROM "execution_log_line" WHERE "executionId" = $1 ORDER BY "seq" LIMIT 1 OFFSET $2), 2147483647)`,
              [work.slice.id, this.limits.lineBatchSize - 1],
            );
            result.logLines += sliced;
            if (sliced < this.limits.lineBatchSize) {
              result.executions += await count(`DELETE FROM "execution" WHERE "id" = $1`, [work.slice.id]);
              this.after = { at: work.slice.createdAt, id: work.slice.id };
            }
          }
          if (work.whole.length > 0) {
            result.logLines += await count(`DELETE FROM "execution_log_line" WHERE "executionId" = ANY($1::varchar[])`, [work.whole]);
            result.executions += await count(`DELETE FROM "execution" WHERE "id" = ANY($1::varchar[])`, [work.whole]);
          }
          return result;
        }
      }
      result.auditEvents = await count(`DELETE FROM "audit_event" WHERE "id" IN (SELECT "id" FROM "audit_event" WHERE "at" < $1 ORDER BY "at", "id" LIMIT $2)`, [this.cutoff, this.limits.batchSize]);
      result.done = result.auditEvents < this.limits.batchSize;
      return result;
    });
  }
}

/** A Date as TypeORM stores it on SQLite. */
export const sqliteDate = (d: Date) => d.toISOString().replace("T", " ").replace("Z", "");
