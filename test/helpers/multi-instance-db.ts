import { forcePostgres } from "./test-database.js";

/**
 * The database several hookd processes share in a test: always PostgreSQL (SQLite serves one
 * process; a second refuses to start on its file). Its environment, and drop() when done.
 */
export async function multiInstanceDatabase(dir: string): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const { vars, drop } = await forcePostgres(dir);
  return { env: vars, drop };
}
