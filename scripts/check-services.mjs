// Before the tests (npm test runs it first): PostgreSQL and Redis must answer; each one that does not is named
// with the address tried and what to do. Exit 1 if any is missing.
import pg from "pg";
import Redis from "ioredis";

const postgresUrl = process.env.HOOKD_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = process.env.HOOKD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const TIMEOUT_MS = 5000;

async function postgres() {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: TIMEOUT_MS });
  try {
    await client.connect();
    const { rows } = await client.query("SHOW server_version");
    return `PostgreSQL ${rows[0].server_version}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function redis() {
  const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause;
  client.on("error", (err) => (cause ??= err));
  try {
    await client.connect().catch((err) => {
      throw cause ?? err;
    });
    const info = await client.info("server");
    return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? "?"}`;
  } finally {
    client.disconnect();
  }
}

const shown = (url) => url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
const checks = [
  ["PostgreSQL", shown(postgresUrl), "HOOKD_TEST_POSTGRES_URL", postgres],
  ["Redis", shown(redisUrl), "HOOKD_TEST_REDIS_URL", redis],
];
let failed = 0;
for (const [name, url, variable, check] of checks) {
  try {
    console.log(`ok: ${await check()} answers at ${url}`);
  } catch (err) {
    failed++;
    console.error(`NOT ANSWERING: ${name} at ${url}: ${String(err.message || err.code || err).replace(/\.$/, "")}. Start it there, or set ${variable} to where it runs.`);
  }
}
process.exit(failed > 0 ? 1 : 0);
