import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { DataSource } from "typeorm";

/** The SQLite file under TypeORM's driver (null on other stores or in memory). */
function sqliteFile(dataSource: DataSource): string | null {
  const options = dataSource.options;
  if (options.type !== "better-sqlite3" || options.database === ":memory:") return null;
  return options.database;
}

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
}

/**
 * A consistent copy of a live SQLite database through SQLite's online backup API. All pages are
 * copied in one step, inside one read transaction: in WAL mode that reads a snapshot and never
 * blocks writers, and writes by another process (a running hookd) cannot restart it. The copy and
 * its check run in a worker thread on a connection of their own, so a serving hookd's requests
 * never wait for them. The copy is written next to the target and renamed into place once
 * checked, so the target is never half a database.
 */
export async function backupDatabase(dataSource: DataSource, target: string): Promise<BackupResult> {
  const source = sqliteFile(dataSource);
  if (!source) throw new Error(`hookd backup works on the embedded SQLite store only; for PostgreSQL use pg_dump (see the README)`);
  const file = path.resolve(target);
  if (existsSync(file)) throw new Error(`${file} already exists; choose a new file name (a backup never overwrites one)`);
  if (!existsSync(path.dirname(file))) throw new Error(`the directory ${path.dirname(file)} does not exist`);
  const partial = `${file}.partial-${process.pid}`;
  rmSync(partial, { force: true });
  try {
    const pages = await inWorker(source, partial);
    renameSync(partial, file);
    const bytes = statSync(file).size;
    return { file, bytes, pages };
  } catch (err) {
    rmSync(partial, { force: true });
    rmSync(`${partial}-wal`, { force: true });
    rmSync(`${partial}-shm`, { force: true });
    throw err;
  }
}

function inWorker(source: string, partial: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./backup.worker.js", import.meta.url), { workerData: { source, partial } });
    worker.once("message", (m: { pages?: number; error?: string }) => (m.error === undefined ? resolve(m.pages!) : reject(new Error(m.error))));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the backup worker exited with code ${code} before it finished`)));
  });
}
