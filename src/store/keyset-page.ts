import { Brackets, type ObjectLiteral, type SelectQueryBuilder } from "typeorm";
import { badInput } from "../domain/errors.js";

export const MAX_PAGE = 500;

export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  endCursor: string | null;
}

/**
 * Newest-first keyset pagination on (timestamp, id), shared by executions, jobs and the audit
 * trail. The cursor is opaque to clients (base64 of "time|id"). Timestamps are compared in the
 * store's own format, so "newer than the cursor" means the same in SQL as in JavaScript.
 */
export class KeysetPager<T extends ObjectLiteral & { id: string }> {
  constructor(private readonly timeColumn: keyof T & string) {}

  cursorOf(row: T): string {
    return Buffer.from(`${(row[this.timeColumn] as Date).toISOString()}|${row.id}`).toString("base64url");
  }

  /** A Date as the store keeps this column (for `since` filters too). */
  dbValue(qb: SelectQueryBuilder<T>, date: Date): unknown {
    const column = qb.expressionMap.mainAlias!.metadata.findColumnWithPropertyName(this.timeColumn)!;
    return qb.connection.driver.preparePersistentValue(date, column);
  }

  async page(qb: SelectQueryBuilder<T>, first: number, after: string | null | undefined): Promise<Page<T>> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput("first", `must be a whole number from 1 to ${MAX_PAGE} (got ${first})`);
    const alias = qb.alias;
    const column = `${alias}.${this.timeColumn}`;
    if (after) {
      const [time, id] = Buffer.from(after, "base64url").toString("utf8").split("|");
      const date = new Date(time ?? "");
      if (!id || Number.isNaN(date.getTime())) throw badInput("after", "is not a cursor returned by this API (use pageInfo.endCursor)");
      const at = this.dbValue(qb, date);
      qb.andWhere(new Brackets((w) => w.where(`${column} < :keysetAt`, { keysetAt: at }).orWhere(`${column} = :keysetAt AND ${alias}.id < :keysetId`, { keysetAt: at, keysetId: id })));
    }
    const rows = await qb
      .orderBy(column, "DESC")
      .addOrderBy(`${alias}.id`, "DESC")
      .take(first + 1)
      .getMany();
    const nodes = rows.slice(0, first);
    return { nodes, hasNextPage: rows.length > first, endCursor: nodes.length > 0 ? this.cursorOf(nodes[nodes.length - 1]) : null };
  }
}
