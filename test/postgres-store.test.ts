import "reflect-metadata";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openStore } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { AuditEvent } from "../src/entities/audit-event.entity.js";
import { LogStream } from "../src/entities/execution-log-line.entity.js";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { StaleWriteError, type Store } from "../src/store/store.js";
import { uuidV7 } from "../src/store/uuid-v7.js";
import { sampleExecution as sample } from "./helpers/store.js";
import { forcePostgres } from "./helpers/test-database.js";

// Store.write on PostgreSQL: its own SQL (no query builder), one statement where the ops fit one.
// Everything else reads the rows through TypeORM: both must agree on every column's stored form.

let store: Store;
let dataDir: string;
let drop: () => Promise<void>;
/** The statements the store sent since the last call. */
let sent: string[] = [];

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "hookd-pg-store-"));
  const db = await forcePostgres(dataDir);
  drop = db.drop;
  store = await openStore(loadConfig({ HOOKD_DATA_DIR: dataDir, ...db.vars }));
  const logger = store.dataSource.logger;
  const logQuery = logger.logQuery.bind(logger);
  logger.logQuery = (query, parameters, runner) => {
    sent.push(query);
    return logQuery(query, parameters, runner);
  };
});
after(async () => {
  await store.destroy();
  await drop();
  rmSync(dataDir, { recursive: true, force: true });
});

const statements = () => {
  const out = sent;
  sent = [];
  return out;
};
const event = (targetId: string) =>
  Object.assign(new AuditEvent(), {
    at: new Date("2026-11-25T06:00:00.456Z"),
    actorId: null,
    actor: "cli",
    action: "execution.trigger",
    targetType: "execution",
    targetId,
    before: null,
    after: { hook: "x" },
  });
const line = (executionId: string, seq: number) => ({ executionId, seq, stream: LogStream.STDOUT, at: new Date("2026-11-25T06:00:01.002Z"), text: `line ${seq}` });
const lines = async (id: string) => (await store.manager.query(`SELECT "seq" FROM "execution_log_line" WHERE "executionId" = $1 ORDER BY "seq"`, [id])).map((r: { seq: number }) => r.seq);

test("rows written through write() are stored exactly as TypeORM stores them, column by column", async () => {
  const raw = async (id: string) => {
    const [row] = (await store.manager.query(`SELECT * FROM "execution" WHERE "id" = $1`, [id])) as Record<string, unknown>[];
    delete row.id;
    return row;
  };
  const fields = { exitCode: 0, output: { answer: [1, "two", null] }, startedAt: new Date("2026-11-25T06:00:01.001Z"), error: "exited with code 2", pid: 4242 };
  const written = Object.assign(sample(), fields);
  await store.write([{ insert: Execution, rows: [written] }]);
  assert.match(written.id, /^[0-9a-f-]{36}$/, "a hookd id is given to the row");
  const typeorm = await store.transaction((em) => em.save(Object.assign(sample(), fields)));
  assert.deepEqual(await raw(written.id), await raw(typeorm.id));
  assert.deepEqual({ ...(await store.manager.findOneByOrFail(Execution, { id: written.id })) }, { ...written });

  const set = { status: ExecutionStatus.FAILED, output: null, argv: ["/x", "a b"], finishedAt: new Date("2026-11-26T00:00:00.000Z"), logLineCount: 3, runnerId: undefined };
  await store.write([{ update: Execution, id: written.id, set, expect: { status: ExecutionStatus.QUEUED, runnerId: null } }]);
  await store.manager.update(Execution, typeorm.id, { ...set, runnerId: undefined });
  assert.deepEqual(await raw(written.id), await raw(typeorm.id));
});

test("the hot path's writes are one statement each: a create, a claim, a finish with its last lines", async () => {
  const e = sample();
  statements();
  await store.write([
    { insert: Execution, rows: [e] },
    { insert: AuditEvent, rows: [event("x"), event("y")] },
  ]);
  assert.equal(statements().length, 1, "the execution and its audit events");
  await store.write([{ update: Execution, id: e.id, set: { status: ExecutionStatus.RUNNING, runnerId: "r" }, expect: { status: ExecutionStatus.QUEUED } }]);
  assert.equal(statements().length, 1, "the claim");
  await store.write([
    { update: Execution, id: e.id, set: { status: ExecutionStatus.SUCCEEDED, logLineCount: 2 }, expect: { status: ExecutionStatus.RUNNING, runnerId: "r" } },
    { logLines: [line(e.id, 1), line(e.id, 2)] },
  ]);
  assert.equal(statements().length, 1, "the outcome and the last lines");
  assert.equal((await store.findById(Execution, e.id))!.status, ExecutionStatus.SUCCEEDED);
  assert.deepEqual(await lines(e.id), [1, 2]);
  assert.equal(await store.manager.count(AuditEvent, { where: { action: "execution.trigger" } }), 2);
});

test("findIdsBy finds the rows whose columns equal the given values (null: IS NULL)", async () => {
  const first = Object.assign(sample(), { status: ExecutionStatus.SUCCEEDED });
  await store.write([{ insert: Execution, rows: [first] }]);
  const waiting = [Object.assign(sample(), { afterId: first.id }), Object.assign(sample(), { afterId: first.id, status: ExecutionStatus.CANCELLED })];
  await store.write([{ insert: Execution, rows: waiting }]);
  assert.deepEqual(await store.findIdsBy(Execution, { afterId: first.id, status: ExecutionStatus.QUEUED }), [waiting[0].id]);
  assert.deepEqual((await store.findIdsBy(Execution, { afterId: first.id })).sort(), waiting.map((w) => w.id).sort());
  assert.deepEqual(await store.findIdsBy(Execution, { id: first.id, afterId: null as unknown as string }), [first.id]);
  assert.deepEqual(await store.findIdsBy(Execution, { afterId: uuidV7() }), []);
});

test("a stale conditional update leaves nothing of its write, in one statement or in a transaction", async () => {
  const e = sample();
  await store.write([{ insert: Execution, rows: [e] }]);
  await assert.rejects(
    store.write([{ update: Execution, id: e.id, set: { status: ExecutionStatus.SUCCEEDED }, expect: { status: ExecutionStatus.RUNNING } }, { logLines: [line(e.id, 1)] }]),
    StaleWriteError,
  );
  assert.deepEqual(await lines(e.id), [], "no line of the stale finish");
  const audits = await store.manager.count(AuditEvent);
  statements();
  await assert.rejects(
    store.write([
      { update: Execution, id: e.id, set: { status: ExecutionStatus.CANCELLED }, expect: { status: ExecutionStatus.RUNNING } },
      { insert: AuditEvent, rows: [event(e.id)] },
    ]),
    StaleWriteError,
  );
  assert.equal(statements()[0], "START TRANSACTION", "a conditional update beside inserted rows is a transaction");
  assert.equal(await store.manager.count(AuditEvent), audits, "no audit event of the stale cancel");
  assert.equal((await store.findById(Execution, e.id))!.status, ExecutionStatus.QUEUED);
  // An update that matches goes through the same way.
  await store.write([
    { update: Execution, id: e.id, set: { status: ExecutionStatus.CANCELLED }, expect: { status: ExecutionStatus.QUEUED } },
    { insert: AuditEvent, rows: [event(e.id)] },
  ]);
  assert.equal((await store.findById(Execution, e.id))!.status, ExecutionStatus.CANCELLED);
  assert.equal(await store.manager.count(AuditEvent), audits + 1);
});

test("a failing write leaves none of it, and the store goes on working", async () => {
  const good = sample();
  await assert.rejects(
    store.write([
      { insert: Execution, rows: [good] },
      { insert: AuditEvent, rows: [event(good.id), event(null as unknown as string)] },
    ]),
    /null value in column "targetId"/,
  );
  assert.equal(await store.manager.findOneBy(Execution, { id: good.id }), null);
  const e = Object.assign(sample(), { id: uuidV7() });
  await store.write([{ insert: Execution, rows: [e] }, { logLines: [line(e.id, 1)] }]);
  await assert.rejects(store.write([{ update: Execution, id: e.id, set: { logLineCount: 1 } }, { logLines: [line(e.id, 1)] }]), /duplicate key/);
  assert.equal((await store.findById(Execution, e.id))!.logLineCount, 0, "the update of a write whose lines failed");
});
