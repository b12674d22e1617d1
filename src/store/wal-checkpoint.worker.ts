import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";

// Runs SQLite's WAL checkpoints on its own connection and thread (see wal-checkpointer.ts).
const { databasePath, intervalMs } = workerData as { databasePath: string; intervalMs: number };
const db = new Database(databasePath, { timeout: 5000 });
db.pragma("synchronous = NORMAL");

const timer = setInterval(() => {
  try {
    // PASSIVE: copies what no reader still needs, never waits for or blocks the writer.
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}, intervalMs);

parentPort!.on("message", (message: { stop?: boolean }) => {
  if (!message.stop) return;
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
