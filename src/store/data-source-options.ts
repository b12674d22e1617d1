import type { DataSourceOptions } from "typeorm";
import type { HookdConfig } from "../config.js";
import { ENTITIES } from "../entities/index.js";
import { MIGRATIONS } from "../migrations/index.js";

/**
 * TypeORM options for hookd's store. The embedded default is SQLite through better-sqlite3
 * (TypeORM 1 removed the `sqlite3` driver), in WAL mode so readers never wait for the writer.
 * Schema changes go through migrations; `synchronize` is never on.
 */
export function dataSourceOptions(config: Pick<HookdConfig, "databasePath" | "logSql">): DataSourceOptions {
  return {
    type: "better-sqlite3",
    database: config.databasePath,
    enableWAL: true,
    // Wait for another process (the `hookd user` CLI) holding the write lock rather than fail at once.
    timeout: 5000,
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma("foreign_keys = ON");
      db.pragma("synchronous = NORMAL");
    },
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    logging: config.logSql ? "all" : ["error"],
  };
}
