import "reflect-metadata";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { AuditEvent } from "../src/entities/audit-event.entity.js";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { ExecutionLogLine, LogStream } from "../src/entities/execution-log-line.entity.js";
import { Queue } from "../src/entities/queue.entity.js";
import { silentLogger } from "../src/logger.js";
import { RetentionService } from "../src/operations/retention.service.js";
import { AuditService } from "../src/services/audit.service.js";
import { ConfigurationService } from "../src/services/configuration.service.js";
import { QueueService } from "../src/services/queue.service.js";
import { InProcessPubSub } from "../src/pubsub/pubsub.js";
import type { Store } from "../src/store/store.js";
import { openTestStore, sampleExecution, seedHistory } from "./helpers/store.js";

const DAY = 24 * 60 * 60 * 1000;
const START = new Date("2026-01-01T00:00:00Z").getTime();

/** A clock the test moves. */
function clock(start = START) {
  let now = start;
  return { now: () => new Date(now), set: (t: number) => (now = t), advance: (ms: number) => (now += ms) };
}

/** A finished execution at `at`, with `lines` log lines, stored through TypeORM. */
async function seedExecution(
  store: Store,
  at: Date,
  options: {
    lines?: number;
    status?: ExecutionStatus;
    jobId?: string | null;
    publishId?: string | null;
    text?: string;
    links?: Partial<Pick<Execution, "retryOfId" | "afterId" | "nextAttemptId" | "attempt">>;
  } = {},
): Promise<string> {
  const status = options.status ?? ExecutionStatus.SUCCEEDED;
  const finished = ![ExecutionStatus.QUEUED, ExecutionStatus.RUNNING].includes(status);
  const execution = Object.assign(sampleExecution(), {
    id: randomUUID(),
    status,
    jobId: options.jobId ?? null,
    publishId: options.publishId ?? null,
    createdAt: at,
    startedAt: at,
    finishedAt: finished ? at : null,
    logLineCount: options.lines ?? 0,
    ...options.links,
  });
  await store.transaction(async (em) => {
    await em.insert(Execution, execution as never);
    const lines = Array.from({ length: options.lines ?? 0 }, (_, i) =>
      Object.assign(new ExecutionLogLine(), { executionId: execution.id, seq: i + 1, stream: LogStream.STDOUT, at, text: options.text ?? `line ${i}` }),
    );
    for (let i = 0; i < lines.length; i += 200) await em.insert(ExecutionLogLine, lines.slice(i, i + 200) as never);
  });
  return execution.id;
}

async function seedAudit(store: Store, at: Date): Promise<string> {
  const event = Object.assign(new AuditService(store).event("cli", "execution.trigger", "execution", randomUUID(), null, { ok: true }), { at });
  await store.transaction((em) => em.save(event));
  return event.id;
}

/** A job or publish row in the given status (only id and status matter to retention). */
async function seedJob(store: Store, status: string): Promise<string> {
  const id = randomUUID();
  const queue = await store.manager.findOneByOrFail(Queue, { isDefault: true });
  await store.manager.query(
    `INSERT INTO "job" ("id", "code", "name", "queueId", "status", "source", "sourceHr", "destination", "destinationHr", "engine", "tasks", "size", "failCount", "createdAt", "updatedAt", "metadataExternal", "metadataInternal", "settings", "hooks") VALUES (?, ?, 'j', ?, ?, 's', 's', 'd', 'd', 'e', '[]', 0, 0, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000', '{}', '{}', '{}', '[]')`,
    [id, `job-${id}`, queue.id, status],
  );
  return id;
}

async function seedPublish(store: Store, state: string): Promise<string> {
  const id = randomUUID();
  await store.manager.query(
    `INSERT INTO "publish" ("id", "userId", "state", "metadata", "files", "answer", "commentRequired", "timeReportRequired", "metadataRequired", "statuses", "entries", "createdAt", "updatedAt") VALUES (?, 'u', ?, '{}', '[]', '{}', 0, 0, 0, '[]', '[]', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000')`,
    [id, state],
  );
  return id;
}

const exists = async (store: Store, id: string) => (await store.manager.countBy(Execution, { id })) === 1;
const linesOf = (store: Store, id: string) => store.manager.countBy(ExecutionLogLine, { executionId: id });

describe("retention", () => {
  let store: Store;
  let close: () => Promise<void>;
  before(async () => {
    ({ store, close } = await openTestStore());
    const audit = new AuditService(store);
    await new QueueService(store, audit, new ConfigurationService(store, audit, new InProcessPubSub())).ensureDefault();
  });
  after(() => close());

  test("deletes finished executions, their lines and audit events older than the retention; keeps what open jobs and publishes refer to; --dry-run deletes nothing", async () => {
    const time = clock(START + 100 * DAY);
    const old = new Date(START + 100 * DAY - 91 * DAY);
    const recent = new Date(START + 100 * DAY - 89 * DAY);
    const gone = {
      plain: await seedExecution(store, old, { lines: 7 }),
      failed: await seedExecution(store, old, { status: ExecutionStatus.FAILED, lines: 1 }),
      doneJob: await seedExecution(store, old, { jobId: await seedJob(store, "DONE") }),
      failedJob: await seedExecution(store, old, { jobId: await seedJob(store, "FAILED") }),
      publishedPublish: await seedExecution(store, old, { publishId: await seedPublish(store, "PUBLISHED") }),
    };
    const kept = {
      recent: await seedExecution(store, recent, { lines: 2 }),
      running: await seedExecution(store, old, { status: ExecutionStatus.RUNNING, lines: 3 }),
      runningJob: await seedExecution(store, old, { jobId: await seedJob(store, "RUNNING") }),
      submittedJob: await seedExecution(store, old, { jobId: await seedJob(store, "SUBMITTED") }),
      submittedPublish: await seedExecution(store, old, { publishId: await seedPublish(store, "SUBMITTED") }),
      validatedPublish: await seedExecution(store, old, { publishId: await seedPublish(store, "VALIDATED") }),
    };
    const oldAudit = await seedAudit(store, old);
    const recentAudit = await seedAudit(store, recent);

    // Batches of 2 executions and 3 lines: several transactions each.
    const retention = new RetentionService(store, silentLogger, { days: 90, batchSize: 2, lineBatchSize: 3, now: time.now });
    const preview = await retention.dryRun();
    assert.deepEqual({ ...preview, cutoff: preview.cutoff.toISOString() }, { cutoff: new Date(START + 10 * DAY).toISOString(), executions: 5, logLines: 8, auditEvents: 1 });
    for (const id of Object.values(gone)) assert.ok(await exists(store, id), "a dry run deletes nothing");

    const pruned = await retention.prune();
    assert.deepEqual({ executions: pruned.executions, logLines: pruned.logLines, auditEvents: pruned.auditEvents }, { executions: 5, logLines: 8, auditEvents: 1 });
    for (const [what, id] of Object.entries(gone)) {
      assert.equal(await exists(store, id), false, `${what} is deleted`);
      assert.equal(await linesOf(store, id), 0, `${what}'s lines are deleted`);
    }
    for (const [what, id] of Object.entries(kept)) assert.ok(await exists(store, id), `${what} is kept`);
    assert.equal(await linesOf(store, kept.running), 3);
    assert.equal(await store.manager.countBy(AuditEvent, { id: oldAudit }), 0);
    assert.equal(await store.manager.countBy(AuditEvent, { id: recentAudit }), 1);
    assert.deepEqual(await retention.dryRun().then((c) => [c.executions, c.logLines, c.auditEvents]), [0, 0, 0]);

    // HOOKD_RETENTION_DAYS=0 keeps everything.
    time.advance(1000 * DAY);
    const off = new RetentionService(store, silentLogger, { days: 0, now: time.now });
    assert.equal((await off.prune()).executions, 0);
    assert.ok(await exists(store, kept.recent));
  });

  test("on its timer, retention prunes soon after start and stops cleanly", async () => {
    const time = clock(START + 500 * DAY);
    const id = await seedExecution(store, new Date(START + 400 * DAY), { lines: 4 });
    const retention = new RetentionService(store, silentLogger, { days: 30, intervalMs: 60_000, now: time.now });
    retention.start();
    const deadline = Date.now() + 10_000;
    while ((await exists(store, id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await retention.stop();
    assert.equal(await exists(store, id), false, "the first run on the timer deleted it");
  });

  test("under a steady load, the database file stops growing once pruning runs", async () => {
    const time = clock(START + 2000 * DAY);
    const retention = new RetentionService(store, silentLogger, { days: 3, batchSize: 10, lineBatchSize: 500, now: time.now });
    const text = "x".repeat(120);
    const pages: number[] = [];
    for (let day = 0; day < 14; day++) {
      // One day's load: executions with their log lines, and audit events, stamped with the clock.
      for (let i = 0; i < 15; i++) {
        await seedExecution(store, time.now(), { lines: 40, text });
        await seedAudit(store, time.now());
      }
      await retention.prune();
      await store.manager.query("PRAGMA wal_checkpoint(TRUNCATE)");
      const [{ page_count }] = await store.manager.query("PRAGMA page_count");
      pages.push(page_count);
      time.advance(DAY);
    }
    // Days 0-3 fill the window; from then on each day's rows reuse the pages the prune freed.
    const steady = pages[5];
    assert.ok(pages[5] > pages[0], `it grew while filling the window: ${pages.join(", ")}`);
    for (let day = 6; day < pages.length; day++) assert.ok(pages[day] <= steady * 1.02, `day ${day}: ${pages[day]} pages, steady ${steady}: ${pages.join(", ")}`);
  });

  test("on a seeded history of 300,000 lines: everything past the cutoff goes, nothing younger; QUEUED and RUNNING runs and their chains stay whatever their age; progress is logged and counted", async (t) => {
    // A store of its own: what the tests above left would be old here too.
    const { store, close } = await openTestStore();
    t.after(() => close());
    const now = START + 3000 * DAY;
    const cutoff = now - 90 * DAY;
    const seeded = await seedHistory(store, { executions: 3000, lines: 100, from: new Date(cutoff - 200 * DAY), to: new Date(cutoff + 80 * DAY) });
    const old = new Date(cutoff - 150 * DAY);
    // A long log, deleted in slices across transactions; the last old millisecond and the cutoff's own.
    const long = await seedExecution(store, old, { lines: 12_000 });
    const lastOld = await seedExecution(store, new Date(cutoff - 1), { lines: 3 });
    const atCutoff = await seedExecution(store, new Date(cutoff), { lines: 3 });
    // Chains, all older than the cutoff: a failed first attempt, a sibling and their QUEUED retry;
    // a workspace entry and the QUEUED APPEND entry that runs after it; a failed attempt whose
    // next attempt is RUNNING; a RUNNING run on its own.
    const root = await seedExecution(store, old, { status: ExecutionStatus.FAILED, lines: 5 });
    const sibling = await seedExecution(store, old, { status: ExecutionStatus.FAILED, lines: 5, links: { retryOfId: root, attempt: 2 } });
    const retry = await seedExecution(store, old, { status: ExecutionStatus.QUEUED, links: { retryOfId: root, attempt: 3 } });
    const workspace = await seedExecution(store, old, { lines: 5 });
    const append = await seedExecution(store, old, { status: ExecutionStatus.QUEUED, links: { afterId: workspace } });
    const running = await seedExecution(store, old, { status: ExecutionStatus.RUNNING, lines: 4 });
    const failedBefore = await seedExecution(store, old, { status: ExecutionStatus.FAILED, lines: 5, links: { nextAttemptId: running } });
    const alone = await seedExecution(store, old, { status: ExecutionStatus.RUNNING, lines: 2 });
    const chains = { root, sibling, retry, workspace, append, running, failedBefore, alone };

    const progress: Record<string, number>[] = [];
    const deleted = { executions: 0, logLines: 0, auditEvents: 0 };
    const metrics = {
      retentionDeleted: (step: typeof deleted) => {
        for (const k of Object.keys(deleted) as (keyof typeof deleted)[]) deleted[k] += step[k];
      },
      retentionRunning: { set: () => undefined },
      retentionLastSeconds: { set: () => undefined },
    };
    const logger = { ...silentLogger, info: (message: string, fields?: Record<string, unknown>) => message === "retention: pruning" && progress.push(fields as Record<string, number>) };
    const retention = new RetentionService(store, logger, { days: 90, now: () => new Date(now), metrics, progressEveryMs: 0 });
    const counts = await retention.prune();

    const oldSeeded = seeded.filter((e) => e.createdAt.getTime() < cutoff);
    const young = seeded.filter((e) => e.createdAt.getTime() >= cutoff);
    assert.ok(oldSeeded.length > 2000 && young.length > 500);
    assert.equal(counts.executions, oldSeeded.length + 2, "every old seeded execution, the long one and the cutoff's last millisecond");
    assert.equal(counts.logLines, oldSeeded.length * 100 + 12_000 + 3);
    assert.deepEqual(deleted, { executions: counts.executions, logLines: counts.logLines, auditEvents: counts.auditEvents }, "the metrics counted every step");
    assert.ok(progress.length > 1, "the progress was logged as it went");
    assert.equal(await exists(store, long), false);
    assert.equal(await linesOf(store, long), 0);
    assert.equal(await exists(store, lastOld), false);
    assert.ok(await exists(store, atCutoff), "the cutoff's own millisecond is kept");
    for (const [what, id] of Object.entries(chains)) assert.ok(await exists(store, id), `${what} is kept`);
    assert.equal(await linesOf(store, root), 5);
    assert.equal(await linesOf(store, running), 4);
    const left = await store.manager.query(`SELECT COUNT(*) AS n, COALESCE(SUM("logLineCount"), 0) AS lines FROM "execution" WHERE "createdAt" >= ?`, [sqliteDateOf(cutoff)]);
    assert.deepEqual(
      left.map((r: { n: number; lines: number }) => [Number(r.n), Number(r.lines)]),
      [[young.length + 1, young.length * 100 + 3]],
    );
    const [{ n: storedLines }] = await store.manager.query(`SELECT COUNT(*) AS n FROM "execution_log_line" l JOIN "execution" e ON e."id" = l."executionId" WHERE e."createdAt" >= ?`, [
      sqliteDateOf(cutoff),
    ]);
    assert.equal(Number(storedLines), young.length * 100 + 3, "every younger line is kept");
    const [{ n: oldLeft }] = await store.manager.query(`SELECT COUNT(*) AS n FROM "execution" WHERE "createdAt" < ?`, [sqliteDateOf(cutoff)]);
    assert.equal(Number(oldLeft), Object.keys(chains).length, "only the chains are older than the cutoff");
  });
});

const sqliteDateOf = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
