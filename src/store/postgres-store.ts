import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { type DataSource, type EntityManager, type InsertEvent, IsNull, type ObjectLiteral } from "typeorm";
import type { Logger } from "../logger.js";
import type { EntityClass } from "./native-rows.js";
import { PostgresChangeSignal } from "./postgres-change-signal.js";
import { COPY_LINES, copyLines, hookdIdColumns, MATCHED, PostgresWrites } from "./postgres-writes.js";
import { ChangeWatchers, jsonColumnSql, StaleWriteError, type LogRow, type Store, type WriteOp } from "./store.js";
import { uniqueViolation } from "./unique-violation.js";
import { uuidV7 } from "./uuid-v7.js";

/**
 * PostgreSQL through TypeORM's "postgres" driver (a pg pool). Unlike SQLite there is no write
 * chain: PostgreSQL serialises conflicting rows itself, so writes run concurrently on the pool,
 * each `write` and `transaction` on a connection of its own.
 */
export class PostgresStore implements Store {
  readonly kind = "postgres";
  readonly logWriteLanes = 3;
  private readonly watchers: ChangeWatchers;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly changes = new PostgresChangeSignal();
  private readonly writes: PostgresWrites;

  constructor(readonly dataSource: DataSource) {
    // write() (executions, audit events) and appendLogLines touch no watched entity: never a NOTIFY.
    this.watchers = new ChangeWatchers(dataSource, (runner) => this.changes.notify(runner));
    this.writes = new PostgresWrites(dataSource);
  }

  /**
   * For a serving process: hear other processes' commits (externalChangeSignal) on a connection of
   * its own. The command line's one-shot commands only notify, and open no such connection.
   */
  listenForChanges(url: string, logger: Logger): Promise<void> {
    return this.changes.listen(url, logger);
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  /** Tracked so that drain() waits for every write begun before it. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const done = () => this.inFlight.delete(work);
    work.then(done, done);
    return work;
  }

  /**
   * One statement when the ops fit one (PostgresWrites.single: the hot path's creates, claims and
   * finishes), else one transaction; either way all of `ops` or none. Like SQLite's prepared
   * rows, these writes bypass TypeORM's entity events (Store.watch does not see them).
   */
  write(ops: WriteOp[]): Promise<void> {
    const live = ops.filter((op) => ("insert" in op ? op.rows.length > 0 : "update" in op || op.logLines.length > 0));
    if (live.length === 0) return Promise.resolve();
    const single = this.writes.single(live);
    if (single) {
      const update = live.find((op) => "update" in op);
      return this.track(
        (async () => {
          const [row] = (await this.dataSource.query(single.text, single.values)) as Record<string, number>[];
          if (update?.expect && row[MATCHED] === 0) throw new StaleWriteError(update.update.name, update.id);
        })(),
      );
    }
    return this.track(
      this.dataSource.transaction(async (em) => {
        for (const op of live) {
          const { text, values } = this.writes.statement(op);
          const { affected } = await em.queryRunner!.query(text, values, true);
          if ("update" in op && op.expect && affected === 0) throw new StaleWriteError(op.update.name, op.id);
        }
      }),
    );
  }

  findById<T extends ObjectLiteral>(target: EntityClass<T>, id: string): Promise<T | null> {
    return this.manager.findOneBy(target, { id } as never);
  }

  async findIdsBy<T extends ObjectLiteral>(target: EntityClass<T>, where: Partial<T>): Promise<string[]> {
    const conditions = Object.fromEntries(Object.entries(where).flatMap(([k, v]) => (v === undefined ? [] : [[k, v === null ? IsNull() : v]])));
    const rows = await this.manager.find(target, { select: { id: true } as never, where: conditions as never });
    return rows.map((r) => (r as ObjectLiteral).id as string);
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.track(
      this.dataSource.transaction(work).catch((err) => {
        throw uniqueViolation(err, this.dataSource) ?? err;
      }),
    );
  }

  /**
   * One COPY per batch, committed without waiting for the WAL flush: a running hook's lines need
   * not each cost an fsync. Nothing is lost that matters: the execution's final state (with its
   * line count) is a synchronous commit, and PostgreSQL flushes all earlier WAL with it; a server
   * crash mid-run loses at most the last moment's lines of a run that is then failed anyway.
   * (SQLite runs with synchronous=NORMAL, alike.) Through the pool's client, not TypeORM: COPY
   * streams its rows.
   */
  appendLogLines(rows: LogRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.track(
      (async () => {
        const runner = this.dataSource.createQueryRunner();
        const client = (await runner.connect()) as pg.PoolClient;
        try {
          await client.query("BEGIN; SET LOCAL synchronous_commit = off");
          await new Promise<void>((resolve, reject) => {
            const copy = client.query(copyFrom(COPY_LINES));
            copy.on("finish", resolve);
            copy.on("error", reject);
            copy.end(copyLines(rows));
          });
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        } finally {
          await runner.release();
        }
      })(),
    );
  }

  watch(entities: EntityClass<ObjectLiteral>[], onChange: () => void): void {
    this.watchers.add(entities, onChange);
  }

  externalChangeSignal(entities: EntityClass<ObjectLiteral>[]): () => boolean {
    this.watchers.announceWrites(entities);
    return this.changes.signal();
  }

  async jsonArrayPage(target: EntityClass<ObjectLiteral>, property: string, id: string, limit: number, offset: number): Promise<unknown[]> {
    const { table, column } = jsonColumnSql(this.dataSource, target, property);
    const rows: { value: string }[] = await this.manager.query(
      `SELECT e.value::text AS value FROM ${table} r, json_array_elements(r.${column}::json) WITH ORDINALITY AS e(value, n) WHERE r."id" = $1 ORDER BY e.n LIMIT $2 OFFSET $3`,
      [id, limit, offset],
    );
    return rows.map((r) => JSON.parse(r.value));
  }

  async jsonArrayLength(target: EntityClass<ObjectLiteral>, property: string, id: string): Promise<number> {
    const { table, column } = jsonColumnSql(this.dataSource, target, property);
    const [row] = await this.manager.query(`SELECT json_array_length(${column}::json) AS n FROM ${table} WHERE "id" = $1`, [id]);
    return Number(row?.n ?? 0);
  }

  async lockInTransaction(em: EntityManager, key: string): Promise<void> {
    // Transaction-scoped: released at commit or rollback, so no unlock can be missed.
    await em.query("SELECT pg_advisory_xact_lock(hashtext($1))", [key]);
  }

  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async destroy(): Promise<void> {
    await this.drain();
    await this.changes.close();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * Fits the entities (written for both dialects) to PostgreSQL, before migrations run and before
 * any query: uuid keys become varchar(36) holding uuid v7 values given by hookd (a client's
 * malformed id is then "not found", not a cast error, and ids sort by creation time as on SQLite),
 * timestamps become timestamptz (instants, whatever the server's or hookd's time zone), the
 * log lines' serial key becomes a bigint (billions of lines over a deployment's life), and log
 * lines lose their foreign key: PostgreSQL checks one per inserted row, which cost ~40% of the
 * hottest insert (measured). A line is only written after its execution (the same batch, insert
 * first), and retention deletes an execution's lines before the execution.
 */
export function fitEntitiesToPostgres(dataSource: DataSource): void {
  for (const metadata of dataSource.entityMetadatas) {
    for (const column of metadata.columns) {
      const type = column.type as unknown;
      if (type === "uuid") {
        column.type = "varchar";
        column.length = "36";
        if (column.isGenerated && column.generationStrategy === "uuid") {
          column.isGenerated = false;
          column.generationStrategy = undefined;
          hookdIdColumns.add(column);
        }
      } else if (type === Date || type === "timestamp" || type === "datetime" || type === "timestamp without time zone") {
        column.type = "timestamp with time zone";
      } else if (column.isGenerated && column.generationStrategy === "increment") {
        column.type = "bigint";
      }
    }
    metadata.generatedColumns = metadata.generatedColumns.filter((c) => c.isGenerated);
    if (metadata.tableName === "execution_log_line") {
      metadata.foreignKeys = [];
      for (const relation of metadata.relations) relation.foreignKeys = [];
    }
  }
  dataSource.subscribers.push({
    beforeInsert(event: InsertEvent<ObjectLiteral>) {
      if (!event.entity) return;
      for (const column of event.metadata.primaryColumns) {
        if (hookdIdColumns.has(column) && event.entity[column.propertyName] == null) event.entity[column.propertyName] = uuidV7();
      }
    },
  });
}
