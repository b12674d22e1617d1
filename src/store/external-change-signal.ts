import type { DataSource } from "typeorm";
import { type SqliteDatabase, type SqliteStatement, sqliteConnection } from "./native-rows.js";

/**
 * True when another process committed to the database since the last call: SQLite's
 * data_version moves only for other connections' commits (the `hookd user` / `hookd key`
 * commands), never for this one's. Caches of what those commands change check it before use.
 * A checkpoint that resets the WAL may move it too: that only drops a cache once more.
 * PostgreSQL has its own (postgres-change-signal.ts, LISTEN/NOTIFY).
 */
export function externalChangeSignal(dataSource: DataSource): () => boolean {
  let last: number | undefined;
  // Prepared once per connection: db.pragma() prepares it anew on every call, and this runs for every authenticated operation.
  let db: SqliteDatabase | null = null;
  let statement: SqliteStatement | null = null;
  return () => {
    const current = sqliteConnection(dataSource);
    if (!current) return false;
    if (current !== db) [db, statement] = [current, current.prepare("PRAGMA data_version")];
    const version = (statement!.get() as { data_version: number } | undefined)?.data_version;
    const changed = last !== undefined && version !== last;
    last = version;
    return changed;
  };
}
