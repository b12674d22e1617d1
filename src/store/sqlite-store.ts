import type { DataSource, EntityManager, ObjectLiteral } from "typeorm";
import type { Logger } from "../logger.js";
import { externalChangeSignal } from "./external-change-signal.js";
import { NativeRows, sqliteConnection, type EntityClass } from "./native-rows.js";
import type { SqliteServeLock } from "./sqlite-serve-lock.js";
import { ChangeWatchers, jsonColumnSql, StaleWriteError, type LogRow, type Store, type WriteOp } from "./store.js";
import { uniqueViolation } from "./unique-violation.js";
import { WalCheckpointer } from "./wal-checkpointer.js";

interface PendingWrite {
  ops: WriteOp[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The embedded store: SQLite through better-sqlite3, one process.
 *
 * TypeORM's better-sqlite3 driver shares a single query runner, so two `transaction()` calls in
 * flight interleave on one connection and corrupt each other, and a plain write issued while a
 * transaction is open silently joins it (and is rolled back with it). Every write therefore goes
 * through `transaction` (TypeORM), `write` (the executor's prepared statements) or
 * `appendLogLines`, which all queue on one chain and run one at a time. Reads may use `manager`
 * (or `findById`) directly.
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite";
  readonly logWriteLanes = 1;
  private tail: Promise<unknown> = Promise.resolve();
  private native: NativeRows | undefined;
  private readonly watchers: ChangeWatchers;
  private checkpointer: WalCheckpointer | null = null;
  private lock: SqliteServeLock | null = null;

  constructor(readonly dataSource: DataSource) {
    this.watchers = new ChangeWatchers(dataSource);
  }

  /** Moves WAL checkpoints to a worker thread (a serving process; see WalCheckpointer). */
  startCheckpointer(databasePath: string, logger: Logger): void {
    this.checkpointer = new WalCheckpointer(this, databasePath, logger);
    this.checkpointer.start();
  }

  /** Held until destroy(): the lock that keeps a second `hookd serve` off this database. */
  holdLock(lock: SqliteServeLock): void {
    this.lock = lock;
  }

  /** Prepared-statement access to flat entities. */
  private rows(): NativeRows {
    this.native ??= new NativeRows(this.dataSource, sqliteConnection(this.dataSource)!);
    return this.native;
  }

  /**
   * The hot path's writes (an execution's state changes, its audit event, its last log lines):
   * all of `ops` in one transaction, in turn with every other write. On SQLite they run as
   * prepared statements, and the writes that arrive while one event-loop turn runs are committed
   * together (group commit: with many hooks running, several executions change state per turn,
   * and each commit costs system calls); a failing group is retried one caller at a
   * time, so each caller gets its own outcome.
   */
  write(ops: WriteOp[]): Promise<void> {
    if (this.group) {
      const group = this.group;
      return new Promise((resolve, reject) => group.push({ ops, resolve, reject }));
    }
    const group: PendingWrite[] = [];
    const done = new Promise<void>((resolve, reject) => group.push({ ops, resolve, reject }));
    // Joined until it starts: after this turn's I/O callbacks (and their promise jobs) have run.
    this.chain(() => new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.commitGroup(group)));
    this.group = group; // after chain(), which closes the group before it
    return done;
  }

  /** A group is open for joining only until it starts or another kind of write queues behind it (FIFO). */
  private group: PendingWrite[] | null = null;

  private commitGroup(group: PendingWrite[]): void {
    if (this.group === group) this.group = null;
    try {
      this.nativeBatch()(group.flatMap((w) => w.ops));
      for (const w of group) w.resolve();
      return;
    } catch (err) {
      if (group.length === 1) {
        group[0].reject(err);
        return;
      }
    }
    // Rolled back as a whole: find out whose writes fail.
    for (const w of group) {
      try {
        this.nativeBatch()(w.ops);
        w.resolve();
      } catch (err) {
        w.reject(err);
      }
    }
  }

  private nativeBatch(): (ops: WriteOp[]) => void {
    const rows = this.rows();
    this.nativeWrite ??= sqliteConnection(this.dataSource)!.transaction((batch: WriteOp[]) => {
      for (const op of batch) {
        if ("insert" in op) rows.insert(op.insert, op.rows);
        else if ("update" in op) {
          if (rows.update(op.update, op.id, op.set, op.expect) === 0 && op.expect) throw new StaleWriteError(op.update.name, op.id);
        } else if (op.logLines.length > 0) this.nativeLogInsert()(op.logLines);
      }
    });
    return this.nativeWrite;
  }

  /** Queues `work` behind every write queued so far; the open write group closes (FIFO). */
  private chain<T>(work: () => T | Promise<T>): Promise<T> {
    this.group = null;
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private nativeWrite: ((ops: WriteOp[]) => void) | undefined;

  /** One entity by its primary key `id`, read without building SQL on SQLite. */
  async findById<T extends ObjectLiteral>(target: EntityClass<T>, id: string): Promise<T | null> {
    return this.rows().get(target, id);
  }

  async findIdsBy<T extends ObjectLiteral>(target: EntityClass<T>, where: Partial<T>): Promise<string[]> {
    return this.rows().ids(target, where);
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.chain(() =>
      this.dataSource.transaction(work).catch((err) => {
        this.endBrokenTransaction();
        throw uniqueViolation(err, this.dataSource) ?? err;
      }),
    );
  }

  /**
   * After a failed transaction, none may stay open: writes run one at a time on the chain. TypeORM
   * (1.1) counts a transaction whose COMMIT failed (a full disk: SQLite rolled it back) as still
   * open, so its next one opened with a SAVEPOINT, and once that failed too every later write of
   * this process went into a transaction that never committed (issue 32). End it, reset the count.
   */
  private endBrokenTransaction(): void {
    const db = sqliteConnection(this.dataSource)!;
    if (db.inTransaction) db.exec("ROLLBACK");
    const runner = (this.dataSource.driver as unknown as { queryRunner?: { isTransactionActive: boolean; transactionDepth: number } }).queryRunner;
    if (runner) {
      runner.isTransactionActive = false;
      runner.transactionDepth = 0;
    }
  }

  externalChangeSignal(_entities: EntityClass<ObjectLiteral>[]): () => boolean {
    return externalChangeSignal(this.dataSource);
  }

  async jsonArrayPage(target: EntityClass<ObjectLiteral>, property: string, id: string, limit: number, offset: number): Promise<unknown[]> {
    const { table, column } = jsonColumnSql(this.dataSource, target, property);
    const rows: { value: string }[] = await this.manager.query(
      `SELECT CASE WHEN e.type IN ('object', 'array') THEN e.value ELSE json_quote(e.value) END AS value FROM ${table} r, json_each(r.${column}) e WHERE r."id" = ? ORDER BY e."key" LIMIT ? OFFSET ?`,
      [id, limit, offset],
    );
    return rows.map((r) => JSON.parse(r.value));
  }

  async jsonArrayLength(target: EntityClass<ObjectLiteral>, property: string, id: string): Promise<number> {
    const { table, column } = jsonColumnSql(this.dataSource, target, property);
    const [row] = await this.manager.query(`SELECT json_array_length(${column}) AS n FROM ${table} WHERE "id" = ?`, [id]);
    return Number(row?.n ?? 0);
  }

  /**
   * Appends log lines: the hot path (hundreds of thousands of lines a second). On SQLite it uses
   * one prepared statement in a native transaction, in turn with the other writes: TypeORM's
   * insert builder spent most of a log-heavy run's CPU building SQL.
   */
  appendLogLines(rows: LogRow[]): Promise<void> {
    return this.chain(() => this.nativeLogInsert()(rows));
  }

  private insertLines: ((rows: LogRow[]) => void) | undefined;

  private nativeLogInsert(): (rows: LogRow[]) => void {
    if (this.insertLines !== undefined) return this.insertLines;
    const db = sqliteConnection(this.dataSource)!;
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

  watch(entities: EntityClass<ObjectLiteral>[], onChange: () => void): void {
    this.watchers.add(entities, onChange);
  }

  /** Resolves once every write queued so far has finished (for orderly shutdown). */
  async lockInTransaction(): Promise<void> {
    // Every write runs in turn on one chain: a transaction is never interleaved with another.
  }

  async drain(): Promise<void> {
    await this.tail;
  }

  async destroy(): Promise<void> {
    await this.drain();
    await this.checkpointer?.stop();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    this.lock?.release();
  }
}
