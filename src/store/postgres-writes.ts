import type { DataSource, EntityMetadata, ObjectLiteral } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata.js";
import type { EntityClass } from "./native-rows.js";
import type { LogRow, WriteOp } from "./store.js";
import { uuidV7 } from "./uuid-v7.js";

/** One statement for any number of lines: five array parameters, whatever the batch size. */
export const INSERT_LINES = `INSERT INTO "execution_log_line" ("executionId", "seq", "stream", "at", "text") SELECT * FROM unnest($1::varchar[], $2::integer[], $3::varchar[], $4::timestamptz[], $5::text[])`;

/** Primary columns whose values hookd gives (uuid v7) where a row has none: set by fitEntitiesToPostgres. */
export const hookdIdColumns = new WeakSet<ColumnMetadata>();

/** SQL text and its parameters, numbered from `$1`. */
export interface Sql {
  text: string;
  values: unknown[];
}

/** What the single statement of a write says back: how many rows its update matched. */
export const MATCHED = "matched";

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Store.write's operations as SQL of their own (no query builder: TypeORM builds and rewrites
 * the SQL of every call, which was most of a PostgreSQL write's CPU in hookd), with the values
 * converted by the driver exactly as TypeORM converts them. A write that fits one statement
 * (see `single`) costs one round trip instead of four (BEGIN, the ops, COMMIT).
 */
export class PostgresWrites {
  private readonly tables = new Map<EntityClass<unknown>, { metadata: EntityMetadata; byProperty: Map<string, ColumnMetadata> }>();

  constructor(private readonly dataSource: DataSource) {}

  /**
   * All of `ops` as one statement (data-modifying CTEs run as one, atomically), or null when they
   * need a transaction: more than one update, or a conditional update (`expect`) beside inserts
   * of rows. A conditional update's log lines are inserted only where it matched, so a stale
   * update leaves nothing of the write; the statement answers how many rows it matched.
   */
  single(ops: WriteOp[]): Sql | null {
    const updates = ops.filter((op) => "update" in op);
    if (updates.length > 1) return null;
    const guarded = updates.length === 1 && updates[0].expect !== undefined;
    if (guarded && ops.some((op) => "insert" in op)) return null;
    const values: unknown[] = [];
    const parts: string[] = [];
    for (const op of ops) {
      if ("update" in op) parts.unshift(`"w" AS (${this.update(op.update, op.id, op.set, op.expect, values)} RETURNING 1)`);
      else if ("insert" in op) parts.push(`"w${parts.length}" AS (${this.insert(op.insert, op.rows, values)})`);
      else parts.push(`"w${parts.length}" AS (${this.logLines(op.logLines, values)}${guarded ? ` WHERE EXISTS (SELECT 1 FROM "w")` : ""})`);
    }
    const matched = updates.length === 1 ? `(SELECT count(*) FROM "w")::int` : "0";
    return { text: `WITH ${parts.join(", ")} SELECT ${matched} AS "${MATCHED}"`, values };
  }

  /** One op as its own statement (inside a transaction); an update's statement affects 0 or 1 rows. */
  statement(op: WriteOp): Sql {
    const values: unknown[] = [];
    const text = "update" in op ? this.update(op.update, op.id, op.set, op.expect, values) : "insert" in op ? this.insert(op.insert, op.rows, values) : this.logLines(op.logLines, values);
    return { text, values };
  }

  /** Rows with a hookd-given primary key get a (time-ordered) value where they have none, as TypeORM's inserts do. */
  private insert(target: EntityClass<ObjectLiteral>, rows: ObjectLiteral[], values: unknown[]): string {
    const { metadata } = this.table(target);
    const tuples = rows.map((row) => {
      for (const column of metadata.primaryColumns) {
        if (hookdIdColumns.has(column) && row[column.propertyName] == null) row[column.propertyName] = uuidV7();
      }
      // An absent value is the column's default, as in TypeORM's insert.
      return `(${metadata.columns.map((c) => (row[c.propertyName] === undefined ? "DEFAULT" : this.param(values, c, row[c.propertyName]))).join(", ")})`;
    });
    return `INSERT INTO ${quote(metadata.tableName)} (${metadata.columns.map((c) => quote(c.databaseName)).join(", ")}) VALUES ${tuples.join(", ")}`;
  }

  /** Where `expect` holds (a null there: IS NULL); undefined values in `set` and `expect` are left out. */
  private update(target: EntityClass<ObjectLiteral>, id: string, set: ObjectLiteral, expect: ObjectLiteral | undefined, values: unknown[]): string {
    const { metadata, byProperty } = this.table(target);
    const column = (property: string) => {
      const c = byProperty.get(property);
      if (!c) throw new Error(`${metadata.name} has no column '${property}'`);
      return c;
    };
    const key = quote(metadata.primaryColumns[0].databaseName);
    const names = Object.keys(set).filter((k) => set[k] !== undefined);
    // With nothing to set, the key is set to itself: the statement still says whether the row matched.
    const assignments = names.length > 0 ? names.map((n) => `${quote(column(n).databaseName)} = ${this.param(values, column(n), set[n])}`) : [`${key} = ${key}`];
    const where = [`${key} = ${this.param(values, metadata.primaryColumns[0], id)}`];
    for (const [n, v] of Object.entries(expect ?? {})) {
      if (v === undefined) continue;
      where.push(v === null ? `${quote(column(n).databaseName)} IS NULL` : `${quote(column(n).databaseName)} = ${this.param(values, column(n), v)}`);
    }
    return `UPDATE ${quote(metadata.tableName)} SET ${assignments.join(", ")} WHERE ${where.join(" AND ")}`;
  }

  private logLines(rows: LogRow[], values: unknown[]): string {
    const base = values.length;
    values.push(...lineArrays(rows));
    return base === 0 ? INSERT_LINES : INSERT_LINES.replace(/\$(\d)/g, (_, n: string) => `$${base + Number(n)}`);
  }

  private param(values: unknown[], column: ColumnMetadata, value: unknown): string {
    values.push(value === null || value === undefined ? null : this.dataSource.driver.preparePersistentValue(value, column));
    return `$${values.length}`;
  }

  private table(target: EntityClass<ObjectLiteral>) {
    let table = this.tables.get(target);
    if (!table) {
      const metadata = this.dataSource.getMetadata(target);
      if (metadata.relations.length > 0 || metadata.embeddeds.length > 0 || metadata.primaryColumns.length !== 1) {
        throw new Error(`${metadata.name}: only flat entities with one primary column can be written through Store.write`);
      }
      table = { metadata, byProperty: new Map(metadata.columns.map((c) => [c.propertyName, c])) };
      this.tables.set(target, table);
    }
    return table;
  }
}

// PostgreSQL text cannot hold NUL; a hook that prints one gets U+FFFD there instead.
const noNul = (text: string) => (text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text);

/** The five arrays of INSERT_LINES. */
export function lineArrays(rows: LogRow[]): unknown[] {
  const ids = new Array<string>(rows.length);
  const seqs = new Array<number>(rows.length);
  const streams = new Array<string>(rows.length);
  const ats = new Array<string>(rows.length);
  const texts = new Array<string>(rows.length);
  rows.forEach((r, i) => {
    ids[i] = r.executionId;
    seqs[i] = r.seq;
    streams[i] = r.stream;
    ats[i] = r.at.toISOString();
    texts[i] = noNul(r.text);
  });
  return [ids, seqs, streams, ats, texts];
}

/** COPY of log lines: PostgreSQL parses its text format for about half the CPU per row of INSERT ... unnest (BENCHMARKS.md). */
export const COPY_LINES = `COPY "execution_log_line" ("executionId", "seq", "stream", "at", "text") FROM STDIN`;

const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };
const copyField = (text: string) => (/[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : text);

/** The rows in COPY's text format: tab between columns, a newline after each row, those (and backslash) escaped. */
export function copyLines(rows: LogRow[]): string {
  let out = "";
  for (const r of rows) out += `${r.executionId}\t${r.seq}\t${copyField(r.stream)}\t${r.at.toISOString()}\t${copyField(noNul(r.text))}\n`;
  return out;
}
