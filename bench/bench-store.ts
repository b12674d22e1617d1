import pg from "pg";

/** The store a benchmark's hookd runs on: its SQLite file (nothing to do) or a throwaway PostgreSQL database. */
export interface BenchStore {
  kind: "sqlite" | "postgres";
  /** Variables for hookd serve. */
  env: Record<string, string>;
  /** Executions, SUCCEEDED ones and log lines stored (PostgreSQL; SQLite benchmarks read the file). */
  counts(): Promise<{ executions: number; succeeded: number; lines: number }>;
  drop(): Promise<void>;
}

/** `--store sqlite|postgres`; PostgreSQL on BENCH_POSTGRES_URL (default the local server), in a database made for this run. */
export async function benchStore(kind: string): Promise<BenchStore> {
  if (kind === "sqlite") {
    return { kind, env: {}, counts: () => Promise.reject(new Error("read the SQLite file")), drop: async () => undefined };
  }
  if (kind !== "postgres") throw new Error(`--store must be sqlite or postgres (got '${kind}')`);
  const admin = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `hookd_bench_${process.pid}_${Date.now()}`;
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const run = async <T>(target: string, work: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  await run(admin, (c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    kind,
    env: { HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: url.toString() },
    counts: () =>
      run(url.toString(), async (c) => {
        const { rows } = await c.query(
          `SELECT COUNT(*)::int AS executions, COUNT(*) FILTER (WHERE status = 'SUCCEEDED')::int AS succeeded, (SELECT COUNT(*)::int FROM execution_log_line) AS lines FROM execution`,
        );
        return rows[0];
      }),
    drop: () => run(admin, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
