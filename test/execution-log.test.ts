import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { ExecutionLogLine, LogStream } from "../src/entities/execution-log-line.entity.js";
import { ExecutionLog } from "../src/executor/execution-log.js";
import { ExecutionLogStream } from "../src/pubsub/execution-log-stream.js";
import { ExecutionService } from "../src/services/execution.service.js";
import { InProcessPubSub, type LogLineEvent } from "../src/pubsub/pubsub.js";
import type { Store } from "../src/store/store.js";
import { openTestStore, sampleExecution } from "./helpers/store.js";

// The execution log against a real SQLite store.

let store: Store;
let close: () => Promise<void>;

before(async () => {
  ({ store, close } = await openTestStore());
});
after(() => close());

test("a failed log write: the outcome is still stored, and logLineCount counts only the lines that were", async () => {
  const execution = sampleExecution();
  await store.write([{ insert: Execution, rows: [execution] }]);
  // A line already at seq 5 makes the second batch (4-6) fail on the (execution, seq) unique index.
  await store.appendLogLines([{ executionId: execution.id, seq: 5, stream: LogStream.SYSTEM, at: new Date(), text: "in the way" }]);

  const pubsub = new InProcessPubSub();
  const published: number[] = [];
  pubsub.subscribe("executionLog", execution.id, (lines: LogLineEvent[]) => published.push(...lines.map((l) => l.seq)));
  const log = new ExecutionLog(store, pubsub, execution.id, { capBytes: 1 << 20, maxBatch: 3, flushIntervalMs: 60_000 });
  for (let i = 1; i <= 7; i++) log.output(LogStream.STDOUT, `line ${i}`, new Date());

  let counted = -1;
  await assert.rejects(
    log.close((storedLines) => {
      counted = storedLines;
      return [{ update: Execution, id: execution.id, set: { status: ExecutionStatus.SUCCEEDED, exitCode: 0, logLineCount: storedLines } }];
    }),
    /UNIQUE constraint failed/,
  );
  assert.equal(counted, 3, "lines 1-3 were stored; 4-7 were not");
  const stored = await store.manager.findOneByOrFail(Execution, { id: execution.id });
  assert.equal(stored.status, ExecutionStatus.SUCCEEDED);
  assert.equal(stored.logLineCount, 3);
  const lines = await store.manager.find(ExecutionLogLine, { where: { executionId: execution.id }, order: { seq: "ASC" } });
  assert.deepEqual(
    lines.map((l) => `${l.seq} ${l.text}`),
    ["1 line 1", "2 line 2", "3 line 3", "5 in the way"],
  );
  assert.deepEqual(published, [1, 2, 3], "only stored lines reach live readers");
});

test("a clean close stores the last lines and the count with the outcome", async () => {
  const execution = sampleExecution();
  await store.write([{ insert: Execution, rows: [execution] }]);
  const log = new ExecutionLog(store, new InProcessPubSub(), execution.id, { capBytes: 1 << 20, maxBatch: 3, flushIntervalMs: 60_000 });
  for (let i = 1; i <= 7; i++) log.output(LogStream.STDERR, `line ${i}`, new Date());
  await log.close((storedLines) => [{ update: Execution, id: execution.id, set: { status: ExecutionStatus.FAILED, logLineCount: storedLines } }]);
  const stored = await store.manager.findOneByOrFail(Execution, { id: execution.id });
  assert.equal(stored.logLineCount, 7);
  assert.equal(await store.manager.countBy(ExecutionLogLine, { executionId: execution.id }), 7);
});

/** The same store, with `lanes` log writes at once and each batch's write started after `delayMs(batch)`. */
function withLanes(lanes: number, delayMs: (firstSeq: number) => number, calls: { running: number; most: number }): Store {
  const lanesStore = Object.create(store) as Store & { logWriteLanes: number };
  Object.defineProperty(lanesStore, "logWriteLanes", { value: lanes });
  lanesStore.appendLogLines = async (rows) => {
    calls.running++;
    calls.most = Math.max(calls.most, calls.running);
    try {
      await new Promise((r) => setTimeout(r, delayMs(rows[0].seq)));
      await store.appendLogLines(rows);
    } finally {
      calls.running--;
    }
  };
  return lanesStore;
}

test("with several write lanes (PostgreSQL), batches stored out of order still reach live readers in order, and no more lanes run than the store allows", async () => {
  const execution = sampleExecution();
  await store.write([{ insert: Execution, rows: [execution] }]);
  const calls = { running: 0, most: 0 };
  // Each batch's write takes less time than the one before it: they finish in reverse order.
  const lanesStore = withLanes(3, (seq) => Math.max(1, 60 - seq * 2), calls);
  const pubsub = new InProcessPubSub();
  const published: number[] = [];
  pubsub.subscribe("executionLog", execution.id, (lines: LogLineEvent[]) => published.push(...lines.map((l) => l.seq)));
  const log = new ExecutionLog(lanesStore, pubsub, execution.id, { capBytes: 1 << 20, maxBatch: 3, flushIntervalMs: 60_000 });
  for (let i = 1; i <= 20; i++) log.output(LogStream.STDOUT, `line ${i}`, new Date());
  await log.close((storedLines) => [{ update: Execution, id: execution.id, set: { status: ExecutionStatus.SUCCEEDED, logLineCount: storedLines } }]);
  assert.deepEqual(
    published,
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.equal(calls.most, 3, "three writes ran at once, never more");
  assert.equal((await store.manager.findOneByOrFail(Execution, { id: execution.id })).logLineCount, 20);
  assert.equal(await store.manager.countBy(ExecutionLogLine, { executionId: execution.id }), 20);
});

test("with several write lanes, a failed batch: later batches written meanwhile are removed, so the log is lines 1..count", async () => {
  const execution = sampleExecution();
  await store.write([{ insert: Execution, rows: [execution] }]);
  // Seq 5 in the way: the second batch (4-6) fails, while the third (7-9) runs at the same time and is stored.
  await store.appendLogLines([{ executionId: execution.id, seq: 5, stream: LogStream.SYSTEM, at: new Date(), text: "in the way" }]);
  const lanesStore = withLanes(3, (seq) => (seq === 4 ? 40 : 1), { running: 0, most: 0 });
  const pubsub = new InProcessPubSub();
  const published: number[] = [];
  pubsub.subscribe("executionLog", execution.id, (lines: LogLineEvent[]) => published.push(...lines.map((l) => l.seq)));
  const log = new ExecutionLog(lanesStore, pubsub, execution.id, { capBytes: 1 << 20, maxBatch: 3, flushIntervalMs: 60_000 });
  for (let i = 1; i <= 10; i++) log.output(LogStream.STDOUT, `line ${i}`, new Date());
  await assert.rejects(
    log.close((storedLines) => [{ update: Execution, id: execution.id, set: { status: ExecutionStatus.SUCCEEDED, logLineCount: storedLines } }]),
    /UNIQUE constraint failed/,
  );
  assert.equal((await store.manager.findOneByOrFail(Execution, { id: execution.id })).logLineCount, 3);
  const lines = await store.manager.find(ExecutionLogLine, { where: { executionId: execution.id }, order: { seq: "ASC" } });
  assert.deepEqual(
    lines.map((l) => l.seq),
    [1, 2, 3],
  );
  assert.deepEqual(published, [1, 2, 3]);
});

test("a store behind the hook: the log says it is full (the runner stops reading the hook), and drained once the store caught up", async () => {
  const execution = sampleExecution();
  await store.write([{ insert: Execution, rows: [execution] }]);
  const slow = withLanes(1, () => 30, { running: 0, most: 0 });
  const log = new ExecutionLog(slow, new InProcessPubSub(), execution.id, { capBytes: 1 << 24, maxBatch: 100, flushIntervalMs: 60_000 });
  let i = 0;
  while (!log.full()) log.output(LogStream.STDOUT, `line ${++i}`, new Date());
  assert.equal(i, 200, "full at two batches not yet stored");
  const drained = log.drained();
  let done = false;
  drained.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(done, false, "not while the first write runs");
  await drained;
  assert.equal(log.full(), false);
  const stored = await store.manager.countBy(ExecutionLogLine, { executionId: execution.id });
  assert.ok(stored >= 100 && stored < 200, `drained at half the backlog (${stored} of 200 stored)`);
  await log.close();
  assert.equal(await store.manager.countBy(ExecutionLogLine, { executionId: execution.id }), 200);
});

test("a live reader: lines published while it looks at the execution's status in the store still wake it (no lost wake-up)", async () => {
  const execution = sampleExecution();
  execution.status = ExecutionStatus.RUNNING;
  await store.write([{ insert: Execution, rows: [execution] }]);
  const pubsub = new InProcessPubSub();
  const line = (seq: number): LogLineEvent => ({ executionId: execution.id, seq, stream: LogStream.STDOUT, at: new Date(), text: `line ${seq}` });
  // The reader's look at the status: the lines are stored and published meanwhile, as a runner's flush may do.
  const manager = Object.create(store.manager) as typeof store.manager;
  manager.findOne = (async (...args: Parameters<typeof store.manager.findOne>) => {
    await store.appendLogLines([line(1), line(2)]);
    pubsub.publish("executionLog", execution.id, [line(1), line(2)]);
    return store.manager.findOne(...args);
  }) as typeof store.manager.findOne;
  const reader = Object.create(store) as Store;
  Object.defineProperty(reader, "manager", { value: manager });
  const stream = new ExecutionLogStream(reader, pubsub, execution.id, 0);
  const first = await Promise.race([stream.next(), new Promise<"asleep">((r) => setTimeout(() => r("asleep"), 2000))]);
  await stream.return();
  assert.notEqual(first, "asleep", "the reader slept through lines it had been given");
  assert.deepEqual(
    (first as IteratorResult<{ lines: LogLineEvent[] }>).value.lines.map((l: LogLineEvent) => l.seq),
    [1, 2],
  );
});

test("a reader that catches up from the store while an earlier batch is still being written does not skip it (lanes commit out of order)", async () => {
  const execution = sampleExecution();
  execution.status = ExecutionStatus.RUNNING;
  await store.write([{ insert: Execution, rows: [execution] }]);
  const pubsub = new InProcessPubSub();
  const line = (seq: number): LogLineEvent => ({ executionId: execution.id, seq, stream: LogStream.STDOUT, at: new Date(), text: `line ${seq}` });
  const batch = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i));
  // The second batch committed first; the first is still on its way.
  await store.appendLogLines(batch(4, 6));
  const stream = new ExecutionLogStream(store, pubsub, execution.id, 0);
  const seen: number[] = [];
  const reading = (async () => {
    for await (const chunk of stream) {
      seen.push(...chunk.lines.map((l) => l.seq));
      if (seen.length >= 6) break;
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  // The first batch is stored, then both are published in order, as ExecutionLog does.
  await store.appendLogLines(batch(1, 3));
  pubsub.publish("executionLog", execution.id, batch(1, 3));
  pubsub.publish("executionLog", execution.id, batch(4, 6));
  await Promise.race([reading, new Promise((r) => setTimeout(r, 2000))]);
  await stream.return();
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
});

test("logLines polled while the run writes answers only the unbroken lines; once it finished, every stored line", async () => {
  const execution = sampleExecution();
  execution.status = ExecutionStatus.RUNNING;
  await store.write([{ insert: Execution, rows: [execution] }]);
  const line = (seq: number): LogLineEvent => ({ executionId: execution.id, seq, stream: LogStream.STDOUT, at: new Date(), text: `line ${seq}` });
  // Lines 1-2 and 5-6 stored; 3-4 (an earlier lane's batch) not yet.
  await store.appendLogLines([line(1), line(2), line(5), line(6)]);
  // logLines reads nothing but the store.
  const executions = new ExecutionService(store, ...([null, null, null, null, null] as unknown as [never, never, never, never, never]));
  const seqs = async (after: number, running: boolean) => (await executions.logLines(execution.id, after, 1000, running)).map((l) => l.seq);
  assert.deepEqual(await seqs(0, true), [1, 2]);
  assert.deepEqual(await seqs(2, true), [], "the poller asks again from 2, not past the hole");
  await store.appendLogLines([line(3), line(4)]);
  assert.deepEqual(await seqs(2, true), [3, 4, 5, 6]);
  assert.deepEqual(await seqs(0, false), [1, 2, 3, 4, 5, 6]);
});
