import type { DataSource, EntityManager, EntitySubscriberInterface, ObjectLiteral } from "typeorm";
import { NativeRows, sqliteConnection, type EntityClass } from "./native-rows.js";

/** One stored log line, as the executor writes it. */
export interface LogRow {
  executionId: string;
  seq: number;
  stream: string;
  at: Date;
  text: string;
}

interface PendingWrite {
  ops: WriteOp[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * One write of a hot-path batch (see Store.write). An update with `expect` applies only while the
 * row still holds those values; when it does not, the whole batch fails with StaleWriteError.
 */
export type WriteOp =
  | { insert: EntityClass<ObjectLiteral>; rows: ObjectLiteral[] }
  | { update: EntityClass<ObjectLiteral>; id: string; set: ObjectLiteral; expect?: ObjectLiteral }
  | { logLines: LogRow[] };

/** A conditional update found the row changed (or gone): nothing of its batch was written. */
export class StaleWriteError extends Error {
  constructor(
    readonly target: string,
    readonly id: string,
  ) {
    super(`${target} ${id} was changed meanwhile (or does not exist)`);
    this.name = "StaleWriteError";
  }
}

/**
 * The one way to write to the database.
 *
 * TypeORM's better-sqlite3 driver shares a single query runner, so two `transaction()` calls in
 * flight interleave on one connection and corrupt each other, and a plain write issued while a
 * transaction is open silently joins it (and is rolled back with it). Every write therefore goes
 * through `transaction` (TypeORM), `write` (the executor's prepared statements) or
 * `appendLogLines`, which all queue on one chain and run one at a time. Reads may use `manager`
 * (or `findById`) directly.
 */
export class Store {
  private tail: Promise<unknown> = Promise.resolve();
  private native: NativeRows | null | undefined;

  constructor(readonly dataSource: DataSource) {}

  /** Prepared-statement access to flat entities on SQLite; null on other stores. */
  private rows(): NativeRows | null {
    if (this.native !== undefined) return this.native;
    const db = sqliteConnection(this.dataSource);
    return (this.native = db ? new NativeRows(this.dataSource, db) : null);
  }

  /**
   * The hot path's writes (an execution's state changes, its audit event, its last log lines):
   * all of `ops` in one transaction, in turn with every other write. On SQLite they run as
   * prepared statements, and the writes that arrive while one event-loop turn runs are committed
   * together (group commit: with many hooks running, several executions change state per turn,
   * and each commit costs system calls); a failing group is retried one caller at a
   * time, so each caller gets its own outcome. Other stores go through TypeORM, one call each.
   */
  write(ops: WriteOp[]): Promise<void> {
    if (!this.rows()) return this.chain(() => this.typeormWrite(ops));
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
    const rows = this.rows()!;
    this.nativeWrite ??= sqliteConnection(this.dataSource)!.transaction((batch: WriteOp[]) => {
      for (const op of batch) {
        if ("insert" in op) rows.insert(op.insert, op.rows);
        else if ("update" in op) {
          if (rows.update(op.update, op.id, op.set, op.expect) === 0 && op.expect) throw new StaleWriteError(op.update.name, op.id);
        } else if (op.logLines.length > 0) this.nativeLogInsert()!(op.logLines);
      }
    });
    return this.nativeWrite;
  }

  private async typeormWrite(ops: WriteOp[]): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      for (const op of ops) {
        if ("insert" in op) {
          if (op.rows.length > 0) await em.insert(op.insert, op.rows);
        } else if ("update" in op) {
          const result = await em.update(op.update, { ...op.expect, id: op.id }, op.set);
          if (op.expect && result.affected === 0) throw new StaleWriteError(op.update.name, op.id);
        } else if (op.logLines.length > 0) await em.createQueryBuilder().insert().into("execution_log_line").values(op.logLines).updateEntity(false).execute();
      }
    });
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
    const rows = this.rows();
    if (rows) return rows.get(target, id);
    return this.manager.findOneBy(target, { id } as never);
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.chain(() => this.dataSource.transaction(work));
  }

  /**
   * Appends log lines: the hot path (hundreds of thousands of lines a second). On SQLite it uses
   * one prepared statement in a native transaction, in turn with the other writes: TypeORM's
   * insert builder spent most of a log-heavy run's CPU building SQL. Other stores go through
   * the query builder.
   */
  appendLogLines(rows: LogRow[]): Promise<void> {
    return this.chain(async () => {
      const native = this.nativeLogInsert();
      if (native) {
        native(rows);
        return;
      }
      await this.dataSource.transaction((em) => em.createQueryBuilder().insert().into("execution_log_line").values(rows).updateEntity(false).execute());
    });
  }

  private insertLines: ((rows: LogRow[]) => void) | null | undefined;

  private nativeLogInsert(): ((rows: LogRow[]) => void) | null {
    if (this.insertLines !== undefined) return this.insertLines;
    const db = sqliteConnection(this.dataSource);
    if (!db) return (this.insertLines = null);
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

  private watchers: { targets: Set<unknown>; onChange: () => void; dirty: boolean }[] = [];

  /**
   * Calls `onChange` whenever a write through TypeORM touches one of `entities` (insert, update,
   * delete), and again when the transaction it happened in ends, so a cache of them can be
   * dropped. Writes through `write()` are not seen: entities that are cached stay out of it.
   */
  watch(entities: EntityClass<ObjectLiteral>[], onChange: () => void): void {
    if (this.watchers.length === 0) this.dataSource.subscribers.push(this.changeSubscriber());
    this.watchers.push({ targets: new Set(entities), onChange, dirty: false });
  }

  private changeSubscriber(): EntitySubscriberInterface {
    const touched = (event: { metadata?: { target: unknown } }) => {
      const target = event.metadata?.target;
      for (const w of this.watchers) {
        if (target === undefined || w.targets.has(target)) {
          w.dirty = true;
          w.onChange();
        }
      }
    };
    const ended = () => {
      for (const w of this.watchers) {
        if (w.dirty) {
          w.dirty = false;
          w.onChange();
        }
      }
    };
    return { afterInsert: touched, afterUpdate: touched, afterRemove: touched, afterSoftRemove: touched, afterRecover: touched, afterTransactionCommit: ended, afterTransactionRollback: ended };
  }

  /** Resolves once every write queued so far has finished (for orderly shutdown). */
  async drain(): Promise<void> {
    await this.tail;
  }
}
