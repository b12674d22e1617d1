import { mkdirSync } from "node:fs";
import pg from "pg";
import { DataSource } from "typeorm";
import type { HookdConfig } from "../config.js";
import { redactPassword } from "../config.js";
import type { Logger } from "../logger.js";
import { dataSourceOptions } from "./data-source-options.js";
import { fitEntitiesToPostgres, PostgresStore } from "./postgres-store.js";
import { SqliteServeLock } from "./sqlite-serve-lock.js";
import { SqliteStore } from "./sqlite-store.js";
import type { Store } from "./store.js";

export interface OpenStoreOptions {
  /**
   * For `hookd serve`: on SQLite, take the lock that keeps a second server off the file, and move
   * WAL checkpoints to a worker (with this logger); on PostgreSQL, LISTEN for other processes'
   * changes. The CLI's other commands open without these.
   */
  serve?: { logger: Logger };
  /** Bring the schema up to date (default). A backup opens without, to copy the file as it is. */
  migrate?: boolean;
  /** Where TypeORM's lines go (default: serve's logger, else nowhere: errors reach the caller as thrown). */
  logger?: Logger;
}

/** The store the config chooses, open and migrated. */
export async function openStore(config: HookdConfig, options: OpenStoreOptions = {}): Promise<Store> {
  if (config.database.type === "postgres") {
    const dataSource = new DataSource(dataSourceOptions(config, options.logger ?? options.serve?.logger));
    await dataSource.initialize().catch((err: Error) => {
      throw new Error(`cannot connect to PostgreSQL at ${redactPassword(config.database.type === "postgres" ? config.database.url : "")}: ${err.message} (check HOOKD_DATABASE_URL)`);
    });
    fitEntitiesToPostgres(dataSource);
    if (options.migrate !== false) await migrateLocked(dataSource, config.database.url);
    const store = new PostgresStore(dataSource);
    if (options.serve) await store.listenForChanges(config.database.url, options.serve.logger);
    return store;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const lock = options.serve ? SqliteServeLock.acquire(config.databasePath) : null;
  const dataSource = new DataSource(dataSourceOptions(config, options.logger ?? options.serve?.logger));
  try {
    await dataSource.initialize();
    if (options.migrate !== false) await dataSource.runMigrations({ transaction: "each" });
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    lock?.release();
    throw err;
  }
  const store = new SqliteStore(dataSource);
  if (lock) store.holdLock(lock);
  if (options.serve) store.startCheckpointer(config.databasePath, options.serve.logger);
  return store;
}

/**
 * Migrates under a session advisory lock held on a connection of its own (not the pool's, which
 * may have one connection only): instances started together on a new database would otherwise
 * all create its tables, and all but one fail. The others wait, then find nothing to do.
 */
async function migrateLocked(dataSource: DataSource, url: string): Promise<void> {
  const lock = new pg.Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query("SELECT pg_advisory_lock(hashtext('hookd:migrations'))");
    await dataSource.runMigrations({ transaction: "all" });
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    throw err;
  } finally {
    // Ending the session releases the lock.
    await lock.end().catch(() => undefined);
  }
}
