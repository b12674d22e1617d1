import { randomUUID } from "node:crypto";
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

/**
 * Finished executions with their log lines, `createdAt` spread evenly from `from` to `to`, written
 * through the store's hot path (both stores) in large transactions: a few hundred thousand lines
 * in seconds. Returns each execution's id and time.
 */
export async function seedHistory(store: Store, options: { executions: number; lines: number; from: Date; to: Date }): Promise<{ id: string; createdAt: Date }[]> {
  const seeded: { id: string; createdAt: Date }[] = [];
  const span = options.to.getTime() - options.from.getTime();
  const perWrite = Math.max(1, Math.floor(5000 / Math.max(1, options.lines)));
  for (let i = 0; i < options.executions; i += perWrite) {
    const rows: Execution[] = [];
    const lines: { executionId: string; seq: number; stream: string; at: Date; text: string }[] = [];
    for (let k = i; k < Math.min(options.executions, i + perWrite); k++) {
      const createdAt = new Date(options.from.getTime() + Math.floor((span * k) / options.executions));
      const id = randomUUID();
      rows.push(Object.assign(sampleExecution(), { id, status: ExecutionStatus.SUCCEEDED, exitCode: 0, createdAt, startedAt: createdAt, finishedAt: createdAt, logLineCount: options.lines }));
      for (let seq = 1; seq <= options.lines; seq++) lines.push({ executionId: id, seq, stream: "STDOUT", at: createdAt, text: `line ${seq} of a seeded execution` });
      seeded.push({ id, createdAt });
    }
    await store.write([{ insert: Execution, rows }, { logLines: lines }]);
  }
  return seeded;
}
