import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { DataSource } from "typeorm";

/** The better-sqlite3 handle under TypeORM's driver (null on other stores). */
function sqliteHandle(dataSource: DataSource): Database.Database | null {
  if (dataSource.options.type !== "better-sqlite3") return null;
  return (dataSource.driver as unknown as { databaseConnection: Database.Database }).databaseConnection;
}

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
}

/**
 * A consistent copy of a live SQLite database through SQLite's online backup API. All pages are
 * copied in one step, inside one read transaction: in WAL mode that reads a snapshot and never
 * blocks writers, and writes by another process (a running hookd) cannot restart it. The copy is
 * written next to the target and renamed into place once checked, so the target is never half a
 * database.
 */
export async function backupDatabase(dataSource: DataSource, target: string): Promise<BackupResult> {
  const db = sqliteHandle(dataSource);
  if (!db) throw new Error(`hookd backup works on the embedded SQLite store only; for PostgreSQL use pg_dump (see the README)`);
  const file = path.resolve(target);
  if (existsSync(file)) throw new Error(`${file} already exists; choose a new file name (a backup never overwrites one)`);
  if (!existsSync(path.dirname(file))) throw new Error(`the directory ${path.dirname(file)} does not exist`);
  const partial = `${file}.partial-${process.pid}`;
  rmSync(partial, { force: true });
  try {
    // The first step's page count (0x7fffffff) is "everything"; better-sqlite3 would start with 100.
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
    renameSync(partial, file);
    const bytes = statSync(file).size;
    return { file, bytes, pages: progress.totalPages };
  } catch (err) {
    rmSync(partial, { force: true });
    rmSync(`${partial}-wal`, { force: true });
    rmSync(`${partial}-shm`, { force: true });
    throw err;
  }
}
