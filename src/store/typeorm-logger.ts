import type { Logger as TypeormLogger } from "typeorm";
import type { Logger } from "../logger.js";

/**
 * TypeORM's log, as lines of hookd's own (pino) log, never with a query's parameters: they hold
 * key hashes, emails and payloads. TypeORM's default console logger printed a failed INSERT with
 * its parameters outside the JSON log. A failed query is a debug line, not an error: the error
 * goes on to the caller, which decides (a unique violation is often expected and handled, and
 * an unexpected one is logged where it surfaces). HOOKD_LOG_SQL=1 logs every statement's text.
 */
export class PinoTypeormLogger implements TypeormLogger {
  constructor(
    private readonly logger: Logger,
    private readonly logSql: boolean,
  ) {}

  logQuery(query: string): void {
    if (this.logSql) this.logger.info("sql", { query });
  }

  logQueryError(error: string | Error, query: string): void {
    const fields = { query, error: typeof error === "string" ? error : error.message };
    if (this.logSql) this.logger.warn("sql failed", fields);
    else this.logger.debug?.("sql failed", fields);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn("slow sql", { query, ms: time });
  }

  logSchemaBuild(message: string): void {
    this.logger.debug?.(message);
  }

  logMigration(message: string): void {
    this.logger.debug?.(message);
  }

  log(level: "log" | "info" | "warn", message: unknown): void {
    if (level === "warn") this.logger.warn(String(message));
    else this.logger.debug?.(String(message));
  }
}
