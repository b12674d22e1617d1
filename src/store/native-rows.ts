import type { DataSource, EntityMetadata, ObjectLiteral } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata.js";
import { uuidV7 } from "./uuid-v7.js";

/** The part of better-sqlite3's Database this module uses. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  pragma(sql: string): unknown;
  exec(sql: string): unknown;
  readonly inTransaction: boolean;
}
export interface SqliteStatement {
  run(...values: unknown[]): unknown;
  get(...values: unknown[]): unknown;
  all(...values: unknown[]): unknown[];
}

export type EntityClass<T> = new () => T;

/** The better-sqlite3 connection behind a TypeORM DataSource, or null for other stores. */
export function sqliteConnection(dataSource: DataSource): SqliteDatabase | null {
  if (dataSource.options.type !== "better-sqlite3") return null;
  return (dataSource.driver as unknown as { databaseConnection: SqliteDatabase }).databaseConnection;
}

interface Table {
  metadata: EntityMetadata;
  columns: ColumnMetadata[];
  byProperty: Map<string, ColumnMetadata>;
  insert: SqliteStatement;
  select: SqliteStatement;
  updates: Map<string, SqliteStatement>;
  /** SELECT of the primary key by equal columns, by column list (see ids()). */
  lookups: Map<string, SqliteStatement>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Reads and writes whole rows of flat entities (no relations, no embedded columns) through
 * prepared statements, converting values exactly as TypeORM's SQLite driver does, so rows
 * written here read back through TypeORM unchanged and the other way round. The executor's
 * per-run writes go through here: TypeORM builds the SQL of every call anew (and inlines numbers,
 * so its statement cache misses), which cost much of hookd's CPU per hook run (BENCHMARKS.md).
 */
export class NativeRows {
  private readonly tables = new Map<EntityClass<unknown>, Table>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly db: SqliteDatabase,
  ) {}

  /** Inserts entities, giving a generated uuid primary key a (time-ordered) value where it has none. */
  insert<T extends ObjectLiteral>(target: EntityClass<T>, rows: T[]): void {
    const table = this.table(target);
    for (const row of rows) {
      for (const column of table.metadata.primaryColumns) {
        if (column.generationStrategy === "uuid" && row[column.propertyName] == null) (row as ObjectLiteral)[column.propertyName] = uuidV7();
      }
      table.insert.run(...table.columns.map((c) => this.persistent(c, row[c.propertyName])));
    }
  }

  /**
   * Sets the given columns of the row with this primary key, where its columns in `expect` (if
   * any) still hold those values. Returns how many rows changed (0 or 1).
   */
  update<T extends ObjectLiteral>(target: EntityClass<T>, id: string, set: Partial<T>, expect: Partial<T> = {}): number {
    const table = this.table(target);
    const names = Object.keys(set).filter((k) => set[k] !== undefined);
    const conditions = Object.keys(expect).filter((k) => expect[k] !== undefined);
    if (names.length === 0 && conditions.length === 0) return 0;
    const key = `${names.join(",")}|${conditions.map((c) => (expect[c] === null ? `${c}:null` : c)).join(",")}`;
    let statement = table.updates.get(key);
    if (!statement) {
      const column = (n: string) => {
        const c = table.byProperty.get(n);
        if (!c) throw new Error(`${table.metadata.name} has no column '${n}'`);
        return quote(c.databaseName);
      };
      // With nothing to set, the id is set to itself: the statement still says whether the row matched.
      const assignments =
        names.length > 0 ? names.map((n) => `${column(n)} = ?`) : [`${quote(table.metadata.primaryColumns[0].databaseName)} = ${quote(table.metadata.primaryColumns[0].databaseName)}`];
      const where = [`${quote(table.metadata.primaryColumns[0].databaseName)} = ?`, ...conditions.map((c) => (expect[c] === null ? `${column(c)} IS NULL` : `${column(c)} = ?`))];
      statement = this.db.prepare(`UPDATE ${quote(table.metadata.tableName)} SET ${assignments.join(", ")} WHERE ${where.join(" AND ")}`);
      table.updates.set(key, statement);
    }
    const values = [
      ...names.map((n) => this.persistent(table.byProperty.get(n)!, set[n])),
      id,
      ...conditions.filter((c) => expect[c] !== null).map((c) => this.persistent(table.byProperty.get(c)!, expect[c])),
    ];
    return (statement.run(...values) as { changes: number }).changes;
  }

  /** The primary keys of the rows whose columns equal `where` (null: IS NULL). */
  ids<T extends ObjectLiteral>(target: EntityClass<T>, where: Partial<T>): string[] {
    const table = this.table(target);
    const names = Object.keys(where).filter((k) => where[k] !== undefined);
    const key = names.map((n) => (where[n] === null ? `${n}:null` : n)).join(",");
    let statement = table.lookups.get(key);
    if (!statement) {
      const conditions = names.map((n) => {
        const c = table.byProperty.get(n);
        if (!c) throw new Error(`${table.metadata.name} has no column '${n}'`);
        return where[n] === null ? `${quote(c.databaseName)} IS NULL` : `${quote(c.databaseName)} = ?`;
      });
      const id = quote(table.metadata.primaryColumns[0].databaseName);
      statement = this.db.prepare(`SELECT ${id} AS "id" FROM ${quote(table.metadata.tableName)}${conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : ""}`);
      table.lookups.set(key, statement);
    }
    const values = names.filter((n) => where[n] !== null).map((n) => this.persistent(table.byProperty.get(n)!, where[n]));
    return (statement.all(...values) as { id: string }[]).map((r) => r.id);
  }

  /** The entity with this primary key, hydrated as TypeORM would, or null. */
  get<T extends ObjectLiteral>(target: EntityClass<T>, id: string): T | null {
    const table = this.table(target);
    const row = table.select.get(id) as Record<string, unknown> | undefined;
    if (!row) return null;
    const entity = table.metadata.create() as T;
    for (const column of table.columns) (entity as ObjectLiteral)[column.propertyName] = this.dataSource.driver.prepareHydratedValue(row[column.databaseName], column);
    return entity;
  }

  private persistent(column: ColumnMetadata, value: unknown): unknown {
    // better-sqlite3 cannot bind undefined; an absent value is stored as NULL.
    if (value === undefined || value === null) return null;
    return this.dataSource.driver.preparePersistentValue(value, column);
  }

  private table<T>(target: EntityClass<T>): Table {
    let table = this.tables.get(target);
    if (table) return table;
    const metadata = this.dataSource.getMetadata(target);
    if (metadata.relations.length > 0 || metadata.embeddeds.length > 0 || metadata.primaryColumns.length !== 1) {
      throw new Error(`${metadata.name}: only flat entities with one primary column can use native rows`);
    }
    const columns = metadata.columns;
    const names = columns.map((c) => quote(c.databaseName));
    table = {
      metadata,
      columns,
      byProperty: new Map(columns.map((c) => [c.propertyName, c])),
      insert: this.db.prepare(`INSERT INTO ${quote(metadata.tableName)} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`),
      select: this.db.prepare(`SELECT ${names.join(", ")} FROM ${quote(metadata.tableName)} WHERE ${quote(metadata.primaryColumns[0].databaseName)} = ?`),
      updates: new Map(),
      lookups: new Map(),
    };
    this.tables.set(target as EntityClass<unknown>, table);
    return table;
  }
}
