import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import { type PruneLimits, SqlitePruner } from "./retention-pruner.js";

// Runs one retention prune on its own SQLite connection and thread (see retention.service.ts):
// one short write transaction at a time, then a pause as long as it took, so the main
// connection's writes always find the lock free within a transaction's time.
const { databasePath, cutoff, limits, busyTimeoutMs } = workerData as { databasePath: string; cutoff: string; limits: PruneLimits; busyTimeoutMs: number };

export type WorkerMessage = { progress: { executions: number; logLines: number; auditEvents: number } } | { done: true } | { error: string };

const db = new Database(databasePath, { timeout: busyTimeoutMs });
db.pragma("foreign_keys = ON");
db.pragma("synchronous = NORMAL");
let stopped = false;
parentPort!.on("message", (m: { stop?: boolean }) => {
  if (m.stop) stopped = true;
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(): Promise<void> {
  const pruner = new SqlitePruner(db, cutoff, limits);
  for (;;) {
    if (stopped) break;
    const started = performance.now();
    const step = pruner.step();
    const took = performance.now() - started;
    parentPort!.postMessage({ progress: { executions: step.executions, logLines: step.logLines, auditEvents: step.auditEvents } } satisfies WorkerMessage);
    if (step.done) break;
    await pause(Math.max(1, Math.ceil(took)));
  }
}

run()
  .then(() => parentPort!.postMessage({ done: true } satisfies WorkerMessage))
  .catch((err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) } satisfies WorkerMessage))
  .finally(() => {
    db.close();
    // The message listener would keep this thread alive.
    parentPort!.close();
  });
