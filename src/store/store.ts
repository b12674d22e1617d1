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
    // Rows go in groups of CHUNK per statement execution (one statement run per row was the cost).
    const CHUNK = 100;
    const sql = (n: number) => `INSERT INTO "execution_log_line" ("executionId", "seq", "stream", "at", "text") VALUES ${Array(n).fill("(?, ?, ?, ?, ?)").join(", ")}`;
    const many = db.prepare(sql(CHUNK));
    const one = db.prepare(sql(1));
    // TypeORM's own datetime format on SQLite (UTC, milliseconds), so its reads parse these.
    // Lines arrive many per millisecond: format each millisecond once.
    let lastMs = -1;
    let lastText = "";
    const datetime = (d: Date) => {
      const ms = d.getTime();
      if (ms !== lastMs) {
        lastMs = ms;
        lastText = d.toISOString().replace("T", " ").replace("Z", "");
      }
      return lastText;
    };
    const values = (rows: LogRow[]) => {
      const out = new Array<unknown>(rows.length * 5);
      rows.forEach((r, i) => {
        out[i * 5] = r.executionId;
        out[i * 5 + 1] = r.seq;
        out[i * 5 + 2] = r.stream;
        out[i * 5 + 3] = datetime(r.at);
        out[i * 5 + 4] = r.text;
      });
      return out;
    };
    this.insertLines = db.transaction((rows: LogRow[]) => {
      let i = 0;
      for (; i + CHUNK <= rows.length; i += CHUNK) many.run(...values(rows.slice(i, i + CHUNK)));
      for (; i < rows.length; i++) one.run(...values([rows[i]]));
    });
    return this.insertLines;
  }

  /** Resolves once every write queued so far has finished (for orderly shutdown). */
  async drain(): Promise<void> {
    await this.tail;
  }
}
