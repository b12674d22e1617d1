import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { createLogger } from "../src/logger.js";
import { ExecutionObserver } from "../src/operations/execution-observer.js";
import { MetricsService } from "../src/operations/metrics.service.js";
import { InProcessPubSub } from "../src/pubsub/pubsub.js";
import { openTestStore, sampleExecution } from "./helpers/store.js";

test("an outcome published without the row (as a broker would) is read from the store, logged and counted once", async () => {
  const { store, close } = await openTestStore();
  try {
    const lines: Record<string, any>[] = [];
    const logger = createLogger({ destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    const pubsub = new InProcessPubSub();
    const metrics = new MetricsService(store, "self");
    const observer = new ExecutionObserver(store, pubsub, logger, metrics);
    observer.start();
    const execution = Object.assign(sampleExecution(), {
      id: randomUUID(),
      status: ExecutionStatus.TIMED_OUT,
      error: "timed out after 30 s; process group killed",
      startedAt: new Date("2026-11-25T06:00:01.123Z"),
      finishedAt: new Date("2026-11-25T06:00:31.123Z"),
      logLineCount: 5,
      droppedBytes: 1234,
    });
    await store.transaction((em) => em.insert(Execution, execution as never));
    const event = {
      id: execution.id,
      hook: execution.hook,
      queue: execution.queue,
      jobId: null,
      publishId: null,
      executionServerId: null,
      status: ExecutionStatus.TIMED_OUT,
      exitCode: null,
      error: execution.error,
    };
    pubsub.publish("executionUpdated", execution.id, { ...event, status: ExecutionStatus.RUNNING });
    pubsub.publish("executionUpdated", execution.id, event);
    pubsub.publish("executionUpdated", execution.id, event);
    await observer.stop();

    const logged = lines.filter((l) => l.executionId === execution.id);
    assert.equal(logged.length, 1);
    assert.equal(logged[0].level, "warn");
    assert.equal(logged[0].status, "TIMED_OUT");
    assert.equal(logged[0].durationMs, 30_000);
    assert.equal(logged[0].queue, "default");
    assert.equal(logged[0].error, "timed out after 30 s; process group killed");
    const text = await metrics.scrape();
    assert.match(text, /^hookd_executions_total\{hook="POST_DONE_SERVER",status="TIMED_OUT"\} 1$/m);
    assert.match(text, /^hookd_execution_duration_seconds_sum\{hook="POST_DONE_SERVER"\} 30$/m);
    assert.match(text, /^hookd_execution_queue_wait_seconds_sum 1$/m);
    assert.match(text, /^hookd_log_lines_total 5$/m);
    assert.match(text, /^hookd_log_bytes_dropped_total 1234$/m);
  } finally {
    await close();
  }
});
