import type { DataSource, EntityMetadata, ObjectLiteral } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata.js";
import { DateUtils } from "typeorm/util/DateUtils.js";
import { uuidV7 } from "./uuid-v7.js";

/** The part of better-sqlite3's Database this module uses. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  pragma(sql: string): unknown;
}
interface SqliteStatement {
  run(...values: unknown[]): unknown;
  get(...values: unknown[]): unknown;
}

export type EntityClass<T> = new () => T;

/** The better-sqlite3 connection behind a TypeORM DataSource, or null for other stores. */
export function sqliteConnection(dataSource: DataSource): SqliteDatabase | null {
  if (dataSource.options.type !== "better-sqlite3") return null;
  return (dataSource.driver as unknown as { databaseConnection: SqliteDatabase }).databaseConnection;
}

/** A column's value as SQLite stores it. */
type Encode = (value: unknown) => unknown;

interface Table {
  metadata: EntityMetadata;
  columns: ColumnMetadata[];
  /** Per column, in `columns` order. */
  encoders: Encode[];
  byProperty: Map<string, { column: ColumnMetadata; encode: Encode }>;
  insert: SqliteStatement;
  select: SqliteStatement;
  updates: Map<string, { statement: SqliteStatement; encoders: Encode[] }>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Reads and writes whole rows of flat entities (no relations, no embedded columns) through
 * prepared statements, converting values exactly as TypeORM's SQLite driver does, so rows
 * written here read back through TypeORM unchanged and the other way round. The executor's
 * per-run writes go through here: TypeORM builds the SQL of every call anew (and inlines numbers,
 * so its statement cache misses), which was a third of hookd's CPU per hook run.
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
    const { columns, encoders } = table;
    for (const row of rows) {
      for (const column of table.metadata.primaryColumns) {
        if (column.generationStrategy === "uuid" && row[column.propertyName] == null) (row as ObjectLiteral)[column.propertyName] = uuidV7();
      }
      const values = new Array<unknown>(columns.length);
      for (let i = 0; i < columns.length; i++) values[i] = encoders[i](row[columns[i].propertyName]);
      table.insert.run(values);
    }
  }

  /** Sets the given columns of the row with this primary key. */
  update<T extends ObjectLiteral>(target: EntityClass<T>, id: string, set: Partial<T>): void {
    const table = this.table(target);
    const names = Object.keys(set).filter((k) => set[k] !== undefined);
    if (names.length === 0) return;
    const key = names.join(",");
    let update = table.updates.get(key);
    if (!update) {
      const columns = names.map((n) => {
        const column = table.byProperty.get(n);
        if (!column) throw new Error(`${table.metadata.name} has no column '${n}'`);
        return column;
      });
      const statement = this.db.prepare(
        `UPDATE ${quote(table.metadata.tableName)} SET ${columns.map((c) => `${quote(c.column.databaseName)} = ?`).join(", ")} WHERE ${quote(table.metadata.primaryColumns[0].databaseName)} = ?`,
      );
      update = { statement, encoders: columns.map((c) => c.encode) };
      table.updates.set(key, update);
    }
    const values = new Array<unknown>(names.length + 1);
    for (let i = 0; i < names.length; i++) values[i] = update.encoders[i](set[names[i]]);
    values[names.length] = id;
    update.statement.run(values);
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

  /**
   * How a column's values are stored: what TypeORM's SQLite driver does (preparePersistentValue),
   * decided once per column instead of on every value. The common column types are converted
   * here; anything else goes through the driver. better-sqlite3 cannot bind undefined: an absent
   * value is stored as NULL.
   */
  private encoder(column: ColumnMetadata): Encode {
    const type = column.type;
    if (column.transformer || ["date", "time", "simple-array", "simple-enum"].includes(type as string)) {
      return (value) => (value === undefined || value === null ? null : this.dataSource.driver.preparePersistentValue(value, column));
    }
    if (type === Boolean || type === "boolean") return (value) => (value === undefined || value === null ? null : value === true ? 1 : 0);
    if (type === "datetime" || type === Date) return (value) => (value === undefined || value === null ? null : DateUtils.mixedDateToUtcDatetimeString(value));
    if (type === "json" || type === "jsonb" || type === "simple-json") return (value) => (value === undefined || value === null ? null : JSON.stringify(value));
    return (value) => (value === undefined ? null : value);
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
    const encoders = columns.map((c) => this.encoder(c));
    table = {
      metadata,
      columns,
      encoders,
      byProperty: new Map(columns.map((c, i) => [c.propertyName, { column: c, encode: encoders[i] }])),
      insert: this.db.prepare(`INSERT INTO ${quote(metadata.tableName)} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`),
      select: this.db.prepare(`SELECT ${names.join(", ")} FROM ${quote(metadata.tableName)} WHERE ${quote(metadata.primaryColumns[0].databaseName)} = ?`),
      updates: new Map(),
    };
    this.tables.set(target as EntityClass<unknown>, table);
    return table;
  }
}
