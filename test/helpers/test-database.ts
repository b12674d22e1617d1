import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import pg from "pg";

/**
 * Which store the tests run on: HOOKD_TEST_DB=postgres runs them on PostgreSQL (npm test's second
 * pass over the e2e files), anything else on SQLite files. On PostgreSQL each data directory
 * gets a database of its own, named after the directory, so a restart on the same directory
 * finds its rows again; databases are dropped when their server closes (or when the test file's
 * process ends, for directories the test owns).
 */
export const TEST_DB: "sqlite" | "postgres" = process.env.HOOKD_TEST_DB === "postgres" ? "postgres" : "sqlite";
export const onPostgres = TEST_DB === "postgres";

/** The server the test databases live on (the database in its path is where CREATE DATABASE runs). */
const ADMIN_URL = process.env.HOOKD_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Skip reason for tests that are SQLite by nature (backup, WAL, prepared rows, the file lock). */
export const sqliteOnly = (why: string): false | string => (onPostgres ? `SQLite only: ${why}` : false);

const created = new Set<string>();

function databaseName(dataDir: string): string {
  return `hookd_test_${createHash("sha256").update(dataDir).digest("hex").slice(0, 20)}`;
}

function urlOf(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The variables that put a hookd on this data directory's store (none on SQLite). */
export function databaseEnv(dataDir: string): Record<string, string> {
  if (!onPostgres) return {};
  return { HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: urlOf(databaseName(dataDir)) };
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates this data directory's database if it is not there yet; returns its variables. */
export async function ensureTestDatabase(dataDir: string): Promise<Record<string, string>> {
  if (!onPostgres) return {};
  const name = databaseName(dataDir);
  if (!created.has(name)) {
    await admin(async (c) => {
      const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (rowCount === 0) await c.query(`CREATE DATABASE "${name}"`);
    });
    created.add(name);
  }
  return databaseEnv(dataDir);
}

/** The same, for tests that spawn the command line synchronously. */
export function ensureTestDatabaseSync(dataDir: string): Record<string, string> {
  if (!onPostgres) return {};
  const name = databaseName(dataDir);
  if (!created.has(name)) {
    const script = `import pg from "pg"; const c = new pg.Client({ connectionString: ${JSON.stringify(ADMIN_URL)} }); await c.connect();
      const r = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [${JSON.stringify(name)}]);
      if (r.rowCount === 0) await c.query('CREATE DATABASE "${name}"'); await c.end();`;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`could not create test database ${name}: ${result.stderr}`);
    created.add(name);
  }
  return databaseEnv(dataDir);
}

/** Drops this data directory's database (its server must be closed). */
export async function dropTestDatabase(dataDir: string): Promise<void> {
  if (!onPostgres) return;
  const name = databaseName(dataDir);
  created.delete(name);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

// Databases of directories the tests kept (restart tests) go when the test file's process ends.
let dropping = false;
process.on("beforeExit", () => {
  if (dropping || created.size === 0) return;
  dropping = true;
  const names = [...created];
  created.clear();
  void admin(async (c) => {
    for (const name of names) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }).catch((err) => console.error(`could not drop test databases ${names.join(", ")}: ${String(err)}`));
});

/** A database of its own on the test server for `dataDir`, whichever pass runs (drift tests of both dialects). */
export async function forcePostgres(dataDir: string): Promise<{ vars: Record<string, string>; drop(): Promise<void> }> {
  const name = databaseName(dataDir);
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    vars: { HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: urlOf(name) },
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
