import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { IsNull } from "typeorm";
import { AuditEvent } from "../src/entities/audit-event.entity.js";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import type { Store } from "../src/store/store.js";
import { openTestStore, sampleExecution as sample } from "./helpers/store.js";

// The executor writes executions with prepared statements (NativeRows) and everything else reads
// them through TypeORM: both must agree on every column's stored form.

let store: Store;
let close: () => Promise<void>;

before(async () => {
  ({ store, close } = await openTestStore());
});
after(() => close());

test("rows written with prepared statements read back through TypeORM unchanged, and the other way round", async () => {
  const written = sample();
  await store.write([{ insert: Execution, rows: [written] }]);
  assert.match(written.id, /^[0-9a-f-]{36}$/, "a generated uuid is given to the row");
  const viaTypeorm = await store.manager.findOneByOrFail(Execution, { id: written.id });
  assert.deepEqual({ ...viaTypeorm }, { ...written });

  const set = {
    status: ExecutionStatus.SUCCEEDED,
    exitCode: 0,
    output: { answer: [1, 2] },
    startedAt: new Date("2026-11-25T06:00:01.001Z"),
    finishedAt: new Date("2026-11-25T06:00:02.999Z"),
    pid: null,
  };
  await store.write([{ update: Execution, id: written.id, set }]);
  const updated = await store.manager.findOneByOrFail(Execution, { id: written.id });
  assert.deepEqual({ ...updated }, { ...written, ...set });

  const viaNative = await store.findById(Execution, written.id);
  assert.ok(viaNative instanceof Execution);
  assert.deepEqual({ ...viaNative }, { ...updated });

  const other = await store.transaction((em) => em.save(Object.assign(sample(), { queue: null, error: "exited with code 2" })));
  assert.deepEqual({ ...(await store.findById(Execution, other.id)) }, { ...(await store.manager.findOneByOrFail(Execution, { id: other.id })) });
  assert.equal(await store.findById(Execution, "no-such-id"), null);
});

test("prepared-statement rows are stored exactly as TypeORM stores them, column by column", async () => {
  const raw = async (id: string) => {
    const [row] = (await store.manager.query(`SELECT * FROM "execution" WHERE "id" = ?`, [id])) as Record<string, unknown>[];
    delete row.id;
    return row;
  };
  // Every kind of column: text, integer, json (object and array), datetime, booleans absent, nulls.
  const fields = {
    exitCode: 0,
    output: { answer: [1, "two", null] },
    startedAt: new Date("2026-11-25T06:00:01.001Z"),
    finishedAt: new Date("2026-11-25T06:00:02.999Z"),
    error: "exited with code 2",
    pid: 4242,
  };
  const native = Object.assign(sample(), fields);
  await store.write([{ insert: Execution, rows: [native] }]);
  const typeorm = await store.transaction((em) => em.save(Object.assign(sample(), { ...fields, createdAt: native.createdAt })));
  assert.deepEqual(await raw(native.id), await raw(typeorm.id));
  const [{ startedAt }] = (await store.manager.query(`SELECT "startedAt" FROM "execution" WHERE "id" = ?`, [native.id])) as { startedAt: string }[];
  assert.equal(startedAt, "2026-11-25 06:00:01.001", "TypeORM's own datetime text, so text comparisons in SQL order it right");

  const set = { status: ExecutionStatus.FAILED, output: null, argv: ["/x", "a b"], finishedAt: new Date("2026-11-26T00:00:00.000Z"), logLineCount: 3 };
  await store.write([{ update: Execution, id: native.id, set }]);
  await store.manager.update(Execution, typeorm.id, set);
  assert.deepEqual(await raw(native.id), await raw(typeorm.id));
});

test("a batch is one transaction: a failing write leaves none of it", async () => {
  const good = sample();
  const event = Object.assign(new AuditEvent(), { at: new Date(), actorId: null, actor: "cli", action: "x", targetType: "execution", targetId: null as unknown as string, before: null, after: null });
  await assert.rejects(
    store.write([
      { insert: Execution, rows: [good] },
      { insert: AuditEvent, rows: [event] },
    ]),
    /NOT NULL constraint failed: audit_event.targetId/,
  );
  assert.equal(await store.manager.findOneBy(Execution, { id: good.id }), null);
  // The store goes on working after a failed batch.
  const next = sample();
  await store.write([{ insert: Execution, rows: [next] }]);
  assert.ok(await store.findById(Execution, next.id));
});

test("writes issued in one turn are committed together, and each caller still gets its own outcome", async () => {
  // Count the native transactions the store runs.
  const batch = (store as unknown as { nativeBatch(): (ops: unknown[]) => void }).nativeBatch.bind(store);
  let commits = 0;
  (store as unknown as { nativeBatch(): (ops: unknown[]) => void }).nativeBatch = () => {
    commits++;
    return batch();
  };
  try {
    const rows = Array.from({ length: 5 }, () => sample());
    await Promise.all(rows.map((row) => store.write([{ insert: Execution, rows: [row] }])));
    assert.equal(commits, 1, "five writes of one turn, one transaction");
    for (const row of rows) assert.ok(await store.findById(Execution, row.id));

    // One bad writer in a group: it alone fails, the others are stored.
    commits = 0;
    const [a, b] = [sample(), sample()];
    const bad = Object.assign(new AuditEvent(), { at: new Date(), actorId: null, actor: "cli", action: "x", targetType: "execution", targetId: null as unknown as string, before: null, after: null });
    const results = await Promise.allSettled([store.write([{ insert: Execution, rows: [a] }]), store.write([{ insert: AuditEvent, rows: [bad] }]), store.write([{ insert: Execution, rows: [b] }])]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /NOT NULL constraint failed: audit_event.targetId/);
    assert.ok(await store.findById(Execution, a.id));
    assert.ok(await store.findById(Execution, b.id));
    assert.equal(commits, 4, "the group, then each writer on its own");
  } finally {
    delete (store as unknown as { nativeBatch?: unknown }).nativeBatch;
  }
});

test("writes stay in order with transactions queued between them", async () => {
  const row = Object.assign(sample(), { id: randomUUID() });
  const order: string[] = [];
  const first = store.write([{ insert: Execution, rows: [row] }]).then(() => order.push("insert"));
  const between = store.transaction(async (em) => {
    // Sees the insert queued before it, not the update queued after it.
    const seen = await em.findOneByOrFail(Execution, { id: row.id });
    order.push(`transaction saw ${seen.status}`);
  });
  const last = store.write([{ update: Execution, id: row.id, set: { status: ExecutionStatus.RUNNING } }]).then(() => order.push("update"));
  await Promise.all([first, between, last]);
  assert.deepEqual(order, ["insert", "transaction saw QUEUED", "update"]);
  assert.equal((await store.findById(Execution, row.id))!.status, ExecutionStatus.RUNNING);
});

test("findIdsBy finds the rows whose columns equal the given values (null: IS NULL), as TypeORM's findBy does", async () => {
  const first = Object.assign(sample(), { status: ExecutionStatus.SUCCEEDED });
  await store.write([{ insert: Execution, rows: [first] }]);
  const waiting = [Object.assign(sample(), { afterId: first.id }), Object.assign(sample(), { afterId: first.id }), Object.assign(sample(), { afterId: first.id, status: ExecutionStatus.CANCELLED })];
  await store.write([{ insert: Execution, rows: waiting }]);
  const typeorm = async (where: Partial<Execution>) => {
    const conditions = Object.fromEntries(Object.entries(where).flatMap(([k, v]) => (v === undefined ? [] : [[k, v === null ? IsNull() : v]])));
    return (await store.manager.findBy(Execution, conditions as never)).map((e) => e.id).sort();
  };
  for (const where of [
    { afterId: first.id, status: ExecutionStatus.QUEUED },
    { afterId: first.id },
    { afterId: "no-such-id" },
    { afterId: null as unknown as string, id: first.id },
    { id: first.id, afterId: undefined },
  ]) {
    assert.deepEqual((await store.findIdsBy(Execution, where)).sort(), await typeorm(where), JSON.stringify(where));
  }
  assert.deepEqual((await store.findIdsBy(Execution, { afterId: first.id, status: ExecutionStatus.QUEUED })).sort(), [waiting[0].id, waiting[1].id].sort());
});
