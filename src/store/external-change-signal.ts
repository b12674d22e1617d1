import type { DataSource } from "typeorm";
import { sqliteConnection } from "./native-rows.js";

/**
 * True when another process committed to the database since the last call: SQLite's
 * data_version moves only for other connections' commits (the `hookd user` / `hookd key`
 * commands), never for this one's. Caches of what those commands change check it before use.
 * A checkpoint that resets the WAL may move it too: that only drops a cache once more.
 * PostgreSQL has its own (postgres-change-signal.ts, LISTEN/NOTIFY).
 */
export function externalChangeSignal(dataSource: DataSource): () => boolean {
  let last: number | undefined;
  return () => {
    const db = sqliteConnection(dataSource);
    if (!db) return false;
    const version = (db.pragma("data_version") as { data_version: number }[])[0]?.data_version;
    const changed = last !== undefined && version !== last;
    last = version;
    return changed;
  };
}
