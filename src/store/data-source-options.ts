import type { DataSourceOptions } from "typeorm";
import type { DatabaseConfig, HookdConfig } from "../config.js";
import { ENTITIES } from "../entities/index.js";
import { silentLogger, type Logger } from "../logger.js";
import { PinoTypeormLogger } from "./typeorm-logger.js";
import { MIGRATIONS } from "../migrations/index.js";
import { POSTGRES_MIGRATIONS } from "../migrations/postgres/index.js";

/**
 * TypeORM options for hookd's store. The embedded default is SQLite through better-sqlite3
 * (TypeORM 1 removed the `sqlite3` driver), in WAL mode so readers never wait for the writer.
 * PostgreSQL goes through the "postgres" driver (a pg pool), with its own migrations.
 * Schema changes go through migrations; `synchronize` is never on. TypeORM logs through `log`
 * (hookd's logger; none for the command line, whose errors reach the user as they are thrown).
 */
export function dataSourceOptions(config: Pick<HookdConfig, "databasePath" | "logSql"> & { database?: DatabaseConfig }, log: Logger = silentLogger): DataSourceOptions {
  // Through hookd's log, never TypeORM's console logger (which printed a failed query's parameters).
  const logging = { logging: true, logger: new PinoTypeormLogger(log, config.logSql) } as const;
  if (config.database?.type === "postgres") {
    return {
      type: "postgres",
      url: config.database.url,
      poolSize: config.database.poolSize,
      // Sessions in UTC, so that SQL's now() and text renderings agree with hookd's own clock.
      extra: { options: "-c timezone=UTC" },
      entities: ENTITIES,
      migrations: POSTGRES_MIGRATIONS,
      migrationsRun: false,
      synchronize: false,
      ...logging,
    };
  }
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
    ...logging,
  };
}
