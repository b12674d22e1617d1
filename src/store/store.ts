import type { DataSource, EntityManager } from "typeorm";

/** One stored log line, as the executor writes it. */
export interface LogRow {
  executionId: string;
  seq: number;
  stream: string;
  at: Date;
  text: string;
}

interface SqliteDatabase {
  prepare(sql: string): { run(...values: unknown[]): unknown };
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
}

/**
 * The one way to write to the database.
 *
 * TypeORM's better-sqlite3 driver shares a single query runner, so two `transaction()` calls in
 * flight interleave on one connection and corrupt each other, and a plain write issued while a
 * transaction is open silently joins it (and is rolled back with it). Every write therefore goes
 * through `transaction`, which runs them one at a time. Reads may use `manager` directly.
 */
export class Store {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly dataSource: DataSource) {}

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const run = this.tail.then(() => this.dataSource.transaction(work));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Appends log lines: the hot path (hundreds of thousands of lines a second). On SQLite it uses
   * one prepared statement in a native transaction, in turn with the other writes: TypeORM's
   * insert builder spent ~60% of the CPU of a log-heavy run building SQL. Other stores go through
   * the query builder.
   */
  appendLogLines(rows: LogRow[]): Promise<void> {
    const run = this.tail.then(async () => {
      const native = this.nativeLogInsert();
      if (native) {
        native(rows);
        return;
      }
      await this.dataSource.transaction((em) => em.createQueryBuilder().insert().into("execution_log_line").values(rows).updateEntity(false).execute());
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private insertLines: ((rows: LogRow[]) => void) | null | undefined;

  private nativeLogInsert(): ((rows: LogRow[]) => void) | null {
    if (this.insertLines !== undefined) return this.insertLines;
    if (this.dataSource.options.type !== "better-sqlite3") return (this.insertLines = null);
    const db = (this.dataSource.driver as unknown as { databaseConnection: SqliteDatabase }).databaseConnection;
    const statement = db.prepare(`INSERT INTO "execution_log_line" ("executionId", "seq", "stream", "at", "text") VALUES (?, ?, ?, ?, ?)`);
    // TypeORM's own datetime format on SQLite (UTC, milliseconds), so its reads parse these.
    const datetime = (d: Date) => d.toISOString().replace("T", " ").replace("Z", "");
    this.insertLines = db.transaction((rows: LogRow[]) => {
      for (const r of rows) statement.run(r.executionId, r.seq, r.stream, datetime(r.at), r.text);
    });
    return this.insertLines;
  }

  /** Resolves once every write queued so far has finished (for orderly shutdown). */
  async drain(): Promise<void> {
    await this.tail;
  }
}
