import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DataSource } from "typeorm";
import { HookSource } from "../../src/domain/effective-hooks.js";
import { HookPoint } from "../../src/domain/hook-points.js";
import { Execution, ExecutionStatus } from "../../src/entities/execution.entity.js";
import { dataSourceOptions } from "../../src/store/data-source-options.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";

/** A Store on a fresh SQLite file with every migration run; close() removes it. */
export async function openTestStore(): Promise<{ store: Store; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-store-"));
  const dataSource = new DataSource(dataSourceOptions({ databasePath: path.join(dir, "db.sqlite"), logSql: false }));
  await dataSource.initialize();
  await dataSource.runMigrations();
  return {
    store: new SqliteStore(dataSource),
    close: async () => {
      await dataSource.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A QUEUED execution with every column set, and an input full of shell metacharacters. */
export const sampleExecution = (): Execution =>
  Object.assign(new Execution(), {
    hook: HookPoint.POST_DONE_SERVER,
    source: HookSource.WORKSPACE,
    mode: null,
    configId: "POST_DONE_SERVER",
    queue: "default",
    command: "/opt/hooks/x.py ${PATH_JSON_INPUT}",
    argv: ["/opt/hooks/x.py", "/tmp/a b/input.json"],
    os: "linux",
    executionServerId: null,
    jobId: null,
    publishId: null,
    input: { name: "shot ; rm -rf ~ $(x) `y` 'q' \"d\"\nnew line", nested: { n: 1.5, ok: true, list: [1, "two", null] }, unicode: "é漢🎬" },
    output: null,
    status: ExecutionStatus.QUEUED,
    exitCode: null,
    signal: null,
    error: null,
    waitingFor: null,
    skipReason: null,
    timeoutSeconds: 30,
    attempt: 1,
    retryOfId: null,
    // A policy without start rules (those would hold the sample back in the lifecycle tests).
    policy: { retry: null, maxConcurrent: null, concurrencyKey: null, env: ["API_TOKEN"] },
    afterId: null,
    notBefore: null,
    nextAttemptAt: null,
    nextAttemptId: null,
    concurrencyKey: null,
    triggeredById: null,
    pid: null,
    runnerId: null,
    leaseExpiresAt: null,
    deadlineAt: null,
    cancelRequestedAt: null,
    logLineCount: 0,
    droppedBytes: 0,
    createdAt: new Date("2026-11-25T06:00:00.123Z"),
    startedAt: null,
    finishedAt: null,
  });
