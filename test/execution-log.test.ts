import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { ExecutionLogLine, LogStream } from "../src/entities/execution-log-line.entity.js";
import { ExecutionLog } from "../src/executor/execution-log.js";
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
