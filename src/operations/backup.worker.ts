import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";

// Copies a SQLite database on its own connection and thread (see backup.service.ts): the copy and
// its integrity check read the whole file, minutes for a large one, and better-sqlite3 would run
// them on the calling thread.
const { source, partial } = workerData as { source: string; partial: string };

async function copy(): Promise<number> {
  const db = new Database(source, { fileMustExist: true, timeout: 5000 });
  try {
    // The first step's page count (0x7fffffff) is "everything": one step, one read transaction.
    const progress = await db.backup(partial, { progress: () => 0x7fffffff });
    const copy = new Database(partial);
    try {
      const check = copy.pragma("integrity_check", { simple: true });
      if (check !== "ok") throw new Error(`the copy failed SQLite's integrity check: ${String(check)}`);
      // One self-contained file: no -wal beside it to lose when it is copied away.
      copy.pragma("journal_mode = DELETE");
    } finally {
      copy.close();
    }
    return progress.totalPages;
  } finally {
    db.close();
  }
}

copy().then(
  (pages) => parentPort!.postMessage({ pages }),
  (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);
