import type { DataSource, EntityManager, EntitySubscriberInterface, ObjectLiteral, QueryRunner } from "typeorm";
import type { EntityClass } from "./native-rows.js";

export type { EntityClass } from "./native-rows.js";

/** One stored log line, as the executor writes it. */
export interface LogRow {
  executionId: string;
  seq: number;
  stream: string;
  at: Date;
  text: string;
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

export type StoreKind = "sqlite" | "postgres";

/** lockInTransaction's key for the rows a first start creates (settings, default queue, this server). */
export const FIRST_START_LOCK = "hookd:first-start";

/**
 * What services know of the database. SqliteStore (the embedded default: one write chain, group
 * commit, prepared statements) and PostgresStore (a connection pool, concurrent writes) implement
 * it; nothing outside src/store may assume either.
 */
export interface Store {
  readonly kind: StoreKind;
  readonly dataSource: DataSource;
  /** For reads. Writes go through `transaction`, `write` or `appendLogLines`. */
  readonly manager: EntityManager;
  /** The hot path's writes, all of `ops` in one transaction; a failed `expect` rejects with StaleWriteError. */
  write(ops: WriteOp[]): Promise<void>;
  /** One entity by its primary key `id`. */
  findById<T extends ObjectLiteral>(target: EntityClass<T>, id: string): Promise<T | null>;
  /** The primary keys of the rows whose columns equal `where` (null: IS NULL), for the hot path's lookups. */
  findIdsBy<T extends ObjectLiteral>(target: EntityClass<T>, where: Partial<T>): Promise<string[]>;
  /** A TypeORM transaction; a unique-constraint violation in it rejects with CONFLICT naming the field. */
  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T>;
  /** Appends log lines (the hot path: hundreds of thousands of lines a second). */
  appendLogLines(rows: LogRow[]): Promise<void>;
  /**
   * How many appendLogLines calls of one execution's log may run at once. SQLite: 1 (its writes
   * run one at a time anyway). PostgreSQL: a few, each on a connection of its own, since one
   * connection's insert rate is what bounds a fast hook's log there.
   */
  readonly logWriteLanes: number;
  /**
   * Calls `onChange` whenever a write through TypeORM touches one of `entities`, and again when its
   * transaction ends, so a cache of them can be dropped. Writes through `write()` are not seen.
   */
  watch(entities: EntityClass<ObjectLiteral>[], onChange: () => void): void;
  /**
   * True when another process committed to the database since the last call (the CLI commands
   * beside a running server). SQLite: its data_version (any commit). PostgreSQL: a NOTIFY sent by
   * a commit that wrote one of `entities` (what the caller caches; every process builds the same
   * callers, so each announces what the others listen for), heard only by a store opened to serve.
   */
  externalChangeSignal(entities: EntityClass<ObjectLiteral>[]): () => boolean;
  /** Items `offset`+1 to `offset`+`limit` of a JSON-array column of one row, parsed, in order. */
  jsonArrayPage(target: EntityClass<ObjectLiteral>, column: string, id: string, limit: number, offset: number): Promise<unknown[]>;
  /** The length of a JSON-array column of one row (0 when the row is missing). */
  jsonArrayLength(target: EntityClass<ObjectLiteral>, column: string, id: string): Promise<number>;
  /**
   * Inside `transaction`: waits until no other transaction holds `key`, and holds it until this
   * one ends, for a read-then-write that must not interleave with another (a claim's count, an
   * idempotency key's insert). SQLite's writes already run one at a time: nothing to wait for.
   */
  lockInTransaction(em: EntityManager, key: string): Promise<void>;
  /** Resolves once every write queued so far has finished (for orderly shutdown). */
  drain(): Promise<void>;
  /** Drains and closes the database (and whatever the store runs beside it). */
  destroy(): Promise<void>;
}

/** Table and column names of an entity's JSON column, quoted for SQL. */
export function jsonColumnSql(dataSource: DataSource, target: EntityClass<ObjectLiteral>, property: string): { table: string; column: string } {
  const metadata = dataSource.getMetadata(target);
  const column = metadata.findColumnWithPropertyName(property);
  if (!column) throw new Error(`${metadata.name} has no column ${property}`);
  return { table: `"${metadata.tableName}"`, column: `"${column.databaseName}"` };
}

/**
 * The entity-change subscriber behind Store.watch, shared by both stores. `announce` (PostgreSQL's
 * NOTIFY) is awaited at a transaction's first write to an entity some change signal is about
 * (announceWrites), inside it; after the statement, for one outside a transaction.
 */
export class ChangeWatchers {
  private watchers: { targets: Set<unknown>; onChange: () => void; dirty: boolean }[] = [];
  /** Transactions announced already: once each is enough. */
  private readonly announced = new WeakSet<QueryRunner>();
  /** Only these: an agent's heartbeat (an ExecutionServer write) must not drop other processes' key caches. */
  private readonly announceFor = new Set<unknown>();
  private installed = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly announce?: (runner: QueryRunner) => Promise<unknown>,
  ) {}

  add(entities: EntityClass<ObjectLiteral>[], onChange: () => void): void {
    this.install();
    this.watchers.push({ targets: new Set(entities), onChange, dirty: false });
  }

  /** Writes to `entities` are announced from now on (what the change signals of every process built alike are about). */
  announceWrites(entities: EntityClass<ObjectLiteral>[]): void {
    this.install();
    for (const e of entities) this.announceFor.add(e);
  }

  private install(): void {
    if (this.installed) return;
    this.installed = true;
    this.dataSource.subscribers.push(this.subscriber());
  }

  private subscriber(): EntitySubscriberInterface {
    const touched = (event: { metadata?: { target: unknown }; queryRunner: QueryRunner }) => {
      const target = event.metadata?.target;
      for (const w of this.watchers) {
        if (target === undefined || w.targets.has(target)) {
          w.dirty = true;
          w.onChange();
        }
      }
      const runner = event.queryRunner;
      if (!this.announce || !(target === undefined || this.announceFor.has(target)) || this.announced.has(runner)) return;
      if (runner.isTransactionActive) this.announced.add(runner);
      return this.announce(runner);
    };
    const ended = (event: { queryRunner: QueryRunner }) => {
      // A savepoint's end too: a rolled-back one took its NOTIFY with it.
      this.announced.delete(event.queryRunner);
      for (const w of this.watchers) {
        if (w.dirty) {
          w.dirty = false;
          w.onChange();
        }
      }
    };
    return { afterInsert: touched, afterUpdate: touched, afterRemove: touched, afterSoftRemove: touched, afterRecover: touched, afterTransactionCommit: ended, afterTransactionRollback: ended };
  }
}
