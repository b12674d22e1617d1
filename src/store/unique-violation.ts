import type { DataSource } from "typeorm";
import { conflict, type DomainError } from "../domain/errors.js";

/** Columns whose values are secrets or stand for one (API keys', tokens' and credentials' hashes). */
const SECRET_COLUMN = /hash|secret|token|credential|password/i;

/**
 * The CONFLICT a unique-constraint violation means, naming the field, or null for any other error.
 * The one place that reads both dialects' reports: SQLite's "UNIQUE constraint failed: user.email"
 * and PostgreSQL's 23505 with its table and "Key (email)=(…)" detail. Services may check first
 * for a friendlier message; two requests racing past that check still end here.
 */
export function uniqueViolation(err: unknown, dataSource: DataSource): DomainError | null {
  type Report = { code?: string; table?: string; detail?: string; message?: string };
  const e = err as Report & { driverError?: Report };
  const driver: Report | undefined = e?.driverError ?? e;
  let table: string | undefined;
  let columns: string[] = [];
  let value: string | undefined;
  if (driver?.code === "23505") {
    table = driver.table;
    const m = /^Key \((.+?)\)=\((.*)\) already exists/.exec(driver.detail ?? "");
    if (m) {
      columns = m[1].split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
      value = columns.length === 1 ? m[2] : undefined;
    }
  } else {
    const m = /UNIQUE constraint failed: (.+)$/m.exec(driver?.message ?? e?.message ?? "");
    if (!m) return null;
    const parts = m[1].split(",").map((p) => p.trim().split("."));
    table = parts[0]?.[0];
    columns = parts.map((p) => p[1]).filter((c): c is string => c !== undefined);
  }
  if (!table || columns.length === 0) return null;
  const metadata = dataSource.entityMetadatas.find((m) => m.tableName === table);
  const properties = columns.map((c) => metadata?.columns.find((col) => col.databaseName === c)?.propertyName ?? c);
  // A compound key (a queue's hook) is named by its last part: the one the caller chose.
  const field = properties[properties.length - 1];
  const what = metadata?.name.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() ?? table;
  const those = properties.join(" and ");
  // A key's or token's hash is never quoted: messages reach logs and callers.
  const quotable = value !== undefined && !properties.some((p) => SECRET_COLUMN.test(p));
  return conflict(`input.${field}`, quotable ? `a ${what} with ${those} '${value}' already exists` : `a ${what} with this ${those} already exists`);
}
