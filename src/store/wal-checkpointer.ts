import { Worker } from "node:worker_threads";
import type { Logger } from "../logger.js";
import type { Store } from "./store.js";
import { sqliteConnection } from "./native-rows.js";

/**
 * Moves SQLite's WAL checkpoints off the main thread. By default the connection that commits
 * checkpoints every ~4 MiB of WAL, inside that commit: copying pages and an fsync, tens of
 * milliseconds on which every request and live log line waits. Here the main connection never
 * checkpoints and a worker thread with its own connection does it every `intervalMs` (the
 * practice better-sqlite3's documentation recommends). If the worker fails, checkpoints go back
 * to the main connection. Not for other stores.
 */
export class WalCheckpointer {
  private worker: Worker | null = null;

  constructor(
    private readonly store: Store,
    private readonly databasePath: string,
    private readonly logger: Logger,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    const db = sqliteConnection(this.store.dataSource);
    if (!db || this.databasePath === ":memory:") return;
    const pragma = (sql: string) => db.pragma(sql);
    const worker = new Worker(new URL("./wal-checkpoint.worker.js", import.meta.url), { workerData: { databasePath: this.databasePath, intervalMs: this.intervalMs } });
    this.worker = worker;
    worker.unref();
    const fallBack = (why: string) => {
      if (this.worker !== worker) return; // stopped, or already fallen back
      this.worker = null;
      pragma("wal_autocheckpoint = 1000");
      this.logger.warn(`WAL checkpoints are back on the main thread: ${why}`);
      void worker.terminate();
    };
    // A checkpoint that fails (PASSIVE never fails for being busy) is not retried every interval.
    worker.on("message", (m: { error?: string }) => m.error && fallBack(`a checkpoint failed (${m.error})`));
    worker.on("error", (err) => fallBack(`the checkpoint worker failed (${err.message})`));
    worker.on("exit", (code) => code !== 0 && fallBack(`the checkpoint worker exited with code ${code}`));
    pragma("wal_autocheckpoint = 0");
  }

  /** Stops the worker; the main connection checkpoints when it closes. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    // Referenced again, or the process could end before the worker closed its connection.
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage({ stop: true });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await worker.terminate();
  }
}
