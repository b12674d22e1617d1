// Benchmark (not a test): hookd at a studio's scale. Seeds N finished executions with their log
// lines over a time span through the store's own hot-path insert (Store.write: the rows exactly
// as hookd writes them), then serves it and measures start-up, RSS, the dashboard's and the
// Python client's queries (p50/p99), a probe's p99 and trigger throughput at rest, while a
// retention prune runs and while a backup runs, the prune's rate, and the database's size.
//   npm run build && node dist/bench/scale.js [--store sqlite|postgres] [--executions 1000000]
//     [--lines-per-execution 10] [--days 120] [--retention-days 90] [--repeats 40] [--phase-seconds 10]
// Job rows are not seeded: executions carry a jobId (one job per 4 executions), which is all the
// job filter reads.
import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openStore } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { HookSource } from "../src/domain/effective-hooks.js";
import { HookPoint } from "../src/domain/hook-points.js";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { uuidV7 } from "../src/store/uuid-v7.js";
import { benchStore } from "./bench-store.js";
import { freePort } from "./proc-stats.js";

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const STORE = arg("--store") ?? "sqlite";
const N = Number(arg("--executions") ?? 1_000_000);
const LINES = Number(arg("--lines-per-execution") ?? 10);
const DAYS = Number(arg("--days") ?? 120);
const RETENTION_DAYS = Number(arg("--retention-days") ?? 90);
const REPEATS = Number(arg("--repeats") ?? 40);
const PHASE_SECONDS = Number(arg("--phase-seconds") ?? 10);
const KEY = "hkd_benchmark_key_0123456789abcdef";
const TOKEN = "metrics-token-0123456789abcdef";
const CLI = new URL("../src/cli.js", import.meta.url).pathname;
const DAY = 24 * 60 * 60 * 1000;
const HOOKS = [HookPoint.POST_DONE_SERVER, HookPoint.POST_SUBMIT_SERVER, HookPoint.PRE_PUBLISH_SERVER];
const STATUSES = [
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.SUCCEEDED,
  ExecutionStatus.FAILED,
];

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const ms = (x: number) => (Number.isNaN(x) ? "-" : x < 10 ? x.toFixed(1) : String(Math.round(x)));
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

async function seed(env: Record<string, string>, dataDir: string): Promise<number> {
  const store = await openStore(loadConfig({ HOOKD_DATA_DIR: dataDir, ...env }));
  const started = performance.now();
  const now = Date.now();
  // PostgreSQL takes at most 65,535 parameters a statement: 5 a line, about 40 an execution.
  const perWrite = Math.max(1, Math.floor((env.HOOKD_DB_TYPE === "postgres" ? 5000 : 20_000) / Math.max(1, LINES)));
  const input = { hook: "post-done-server", job: { code: "shot_010_comp", name: "shot 010 comp", queue: "default", source: "/projects/a/shots/010", size: 123456 }, notes: "x".repeat(300) };
  for (let i = 0; i < N; i += perWrite) {
    const rows: Execution[] = [];
    const lines: { executionId: string; seq: number; stream: string; at: Date; text: string }[] = [];
    for (let k = i; k < Math.min(N, i + perWrite); k++) {
      const createdAt = new Date(now - DAYS * DAY + Math.floor((DAYS * DAY * k) / N));
      const finishedAt = new Date(createdAt.getTime() + 1500);
      const status = STATUSES[k % STATUSES.length];
      const hook = HOOKS[k % HOOKS.length];
      const id = uuidV7(createdAt.getTime());
      rows.push(
        Object.assign(new Execution(), {
          id,
          hook,
          source: HookSource.WORKSPACE,
          mode: null,
          configId: hook,
          queue: `queue-${k % 8}`,
          command: "/opt/hooks/publish.py ${PATH_JSON_INPUT}",
          argv: ["/opt/hooks/publish.py", "/tmp/hookd-input.json"],
          os: "linux",
          executionServerId: null,
          jobId: `job-${Math.floor(k / 4)}`,
          publishId: null,
          input,
          output: null,
          status,
          exitCode: status === ExecutionStatus.FAILED ? 1 : 0,
          signal: null,
          error: status === ExecutionStatus.FAILED ? "exited with code 1" : null,
          waitingFor: null,
          skipReason: null,
          timeoutSeconds: 600,
          attempt: 1,
          retryOfId: null,
          policy: null,
          afterId: null,
          notBefore: null,
          nextAttemptAt: null,
          nextAttemptId: null,
          concurrencyKey: null,
          triggeredById: null,
          pid: null,
          runnerId: "hookd:bench",
          leaseExpiresAt: null,
          deadlineAt: null,
          cancelRequestedAt: null,
          logLineCount: LINES,
          droppedBytes: 0,
          createdAt,
          startedAt: createdAt,
          finishedAt,
        }),
      );
      for (let seq = 1; seq <= LINES; seq++)
        lines.push({ executionId: id, seq, stream: "STDOUT", at: createdAt, text: `[publish] step ${seq}: copied /projects/a/shots/010/render.${1000 + seq}.exr` });
    }
    await store.write([{ insert: Execution, rows }, { logLines: lines }]);
    if ((i / perWrite) % 50 === 0) process.stderr.write(`\rseeded ${i + rows.length} / ${N}`);
  }
  process.stderr.write("\n");
  await store.destroy();
  return (performance.now() - started) / 1000;
}

interface Server {
  child: ChildProcess;
  port: number;
  startupMs: number;
  gql<T = any>(query: string, variables?: object): Promise<T>;
  metric(name: string, labels?: string): Promise<number>;
  rssMiB(): number;
  stop(): Promise<void>;
}

async function serve(env: Record<string, string>, dataDir: string): Promise<Server> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, "serve"], {
    env: { ...process.env, ...env, HOOKD_DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", HOOKD_BOOTSTRAP_ADMIN_KEY: KEY, HOOKD_METRICS_TOKEN: TOKEN, HOOKD_LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const gql = async (query: string, variables: object = {}) => {
    const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  for (;;) {
    try {
      await gql("{ me { id } }");
      break;
    } catch {
      if (child.exitCode !== null) throw new Error(`hookd exited with code ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const startupMs = performance.now() - started;
  const metric = async (name: string, labels = "") => {
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}${labels}`) && !l.startsWith("#"));
    return line ? Number(line.split(" ").pop()) : 0;
  };
  const rssMiB = () => {
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  };
  const stop = async () => {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  };
  return { child, port, startupMs, gql, metric, rssMiB, stop };
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** The dashboard's and the Python client's reads (web/src/api.ts, clients/python). */
async function queries(server: Server): Promise<[string, number, number][]> {
  const newest = await server.gql(`{ executions(first: 1) { nodes { id jobId } } }`);
  const [{ id, jobId }] = newest.executions.nodes;
  const since = new Date(Date.now() - 7 * DAY).toISOString();
  const page = `nodes { id hook status queue createdAt finishedAt exitCode logLineCount runner } pageInfo { hasNextPage endCursor }`;
  const list: [string, () => Promise<unknown>][] = [
    ["executions(first: 50) newest", () => server.gql(`{ executions(first: 50) { ${page} } }`)],
    ["status: FAILED", () => server.gql(`{ executions(first: 50, filter: { status: FAILED }) { ${page} } }`)],
    ["hook: PRE_PUBLISH_SERVER", () => server.gql(`{ executions(first: 50, filter: { hook: PRE_PUBLISH_SERVER }) { ${page} } }`)],
    ["queue: queue-3", () => server.gql(`{ executions(first: 50, filter: { queue: "queue-3" }) { ${page} } }`)],
    ["since: 7 days", () => server.gql(`{ executions(first: 50, filter: { since: "${since}" }) { ${page} } }`)],
    ["a job's executions", () => server.gql(`{ executions(first: 50, filter: { job: "${jobId}" }) { ${page} } }`)],
    ["one execution with input", () => server.gql(`{ execution(id: "${id}") { id status input argv command error } }`)],
    ["its log (logLines)", () => server.gql(`{ execution(id: "${id}") { logLines(first: 1000) { seq stream at text } } }`)],
    [
      "40 cursor pages of 50",
      async () => {
        let after: string | null = null;
        for (let i = 0; i < 40; i++) {
          const data: any = await server.gql(`query($after: String) { executions(first: 50, after: $after) { pageInfo { endCursor } } }`, { after });
          after = data.executions.pageInfo.endCursor;
        }
      },
    ],
  ];
  const out: [string, number, number][] = [];
  for (const [name, run] of list) {
    await run();
    const times: number[] = [];
    for (let i = 0; i < (name.startsWith("40") ? Math.max(3, REPEATS / 8) : REPEATS); i++) times.push(await timed(run));
    out.push([name, pct(times, 0.5), pct(times, 0.99)]);
  }
  return out;
}

interface PhaseResult {
  probeP50: number;
  probeP99: number;
  probes: number;
  triggersPerSecond: number;
}

/** A probe every 100 ms and triggers at concurrency 4, until `until` resolves (or `seconds`). */
async function phase(server: Server, until: Promise<unknown> | null, seconds = PHASE_SECONDS): Promise<PhaseResult> {
  let done = false;
  const end = until ? until.finally(() => (done = true)) : new Promise((r) => setTimeout(r, seconds * 1000)).then(() => (done = true));
  const probes: number[] = [];
  let triggers = 0;
  const started = performance.now();
  const probe = (async () => {
    while (!done) {
      probes.push(await timed(() => server.gql(`{ executions(first: 20) { nodes { id status } } }`)));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const trigger = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (!done) {
        await server.gql(`mutation { triggerHook(input: { hook: POST_DONE_SERVER, payload: {}, wait: true }) { id } }`);
        triggers++;
      }
    }),
  );
  await end;
  await Promise.all([probe, trigger]);
  const secondsTaken = (performance.now() - started) / 1000;
  return { probeP50: pct(probes, 0.5), probeP99: pct(probes, 0.99), probes: probes.length, triggersPerSecond: triggers / secondsTaken };
}

async function main(): Promise<void> {
  const store = await benchStore(STORE);
  const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-scale-"));
  const size = async (): Promise<number> => {
    if (store.kind === "postgres") return pgSize(store.env.HOOKD_DATABASE_URL);
    const file = path.join(dataDir, "hookd.sqlite");
    return ["", "-wal"].reduce((sum, s) => sum + (existsSync(file + s) ? statSync(file + s).size : 0), 0);
  };
  const out: string[] = [];
  const say = (line: string) => {
    out.push(line);
    console.log(line);
  };
  try {
    const seedSeconds = await seed(store.env, dataDir);
    say(`## ${store.kind}: ${N.toLocaleString("en")} executions x ${LINES} lines over ${DAYS} days`);
    say(`seeded in ${seedSeconds.toFixed(0)} s (${Math.round(N / seedSeconds)} executions/s); database ${mib(await size())}`);

    // At rest, retention off.
    const rest = { HOOKD_RETENTION_DAYS: "0", ...store.env };
    let server = await serve(rest, dataDir);
    say(`start-up ${Math.round(server.startupMs)} ms; RSS after start-up ${server.rssMiB().toFixed(0)} MiB`);
    const hooksDir = mkdtempSync(path.join(tmpdir(), "hookd-scale-hooks-"));
    const hook = path.join(hooksDir, "hook.sh");
    writeFileSync(hook, "#!/bin/sh\necho ok\n");
    chmodSync(hook, 0o755);
    await server.gql(`mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`, {
      input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `${hook} \${PATH_JSON_INPUT}` } },
    });
    say("");
    say("| query | p50 ms | p99 ms |");
    say("|---|---:|---:|");
    for (const [name, p50, p99] of await queries(server)) say(`| ${name} | ${ms(p50)} | ${ms(p99)} |`);
    say(`RSS after the queries ${server.rssMiB().toFixed(0)} MiB`);
    const atRest = await phase(server, null);

    // During a backup.
    let backup: PhaseResult | null = null;
    let backupSeconds = 0;
    const backupFile = path.join(dataDir, "backup.sqlite");
    const backupRun = () =>
      new Promise<void>((resolve, reject) => {
        const started = performance.now();
        const child =
          store.kind === "sqlite"
            ? spawn(process.execPath, [CLI, "backup", backupFile], { env: { ...process.env, HOOKD_DATA_DIR: dataDir }, stdio: ["ignore", "ignore", "inherit"] })
            : spawn("pg_dump", ["--format=custom", `--file=${backupFile}`, store.env.HOOKD_DATABASE_URL], { stdio: ["ignore", "ignore", "inherit"] });
        child.once("exit", (code) => {
          backupSeconds = (performance.now() - started) / 1000;
          if (code === 0) resolve();
          else reject(new Error(`backup exited with ${code}`));
        });
      });
    backup = await phase(server, backupRun());
    rmSync(backupFile, { force: true });
    await server.stop();

    // During a prune: the server prunes at start-up with HOOKD_RETENTION_DAYS set.
    const before = await size();
    server = await serve({ ...store.env, HOOKD_RETENTION_DAYS: String(RETENTION_DAYS) }, dataDir);
    const pruneDone = (async () => {
      // Running from the first tick until the gauge drops back with rows deleted.
      for (;;) {
        const running = await server.metric("hookd_retention_running");
        const deleted = await server.metric("hookd_retention_deleted_total", `{what="executions"}`);
        if (running === 0 && deleted > 0) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const pruning = await phase(server, pruneDone);
    const deleted = await server.metric("hookd_retention_deleted_total", `{what="executions"}`);
    const lines = await server.metric("hookd_retention_deleted_total", `{what="log_lines"}`);
    const seconds = await server.metric("hookd_retention_last_prune_seconds");
    const after = await size();
    await server.stop();
    say("");
    say("| phase | probe p50 ms | probe p99 ms | probes | triggers/s | vs rest |");
    say("|---|---:|---:|---:|---:|---:|");
    for (const [name, r] of [
      ["at rest", atRest],
      [`during a backup (${backupSeconds.toFixed(1)} s)`, backup],
      [`during a prune (${seconds.toFixed(1)} s)`, pruning],
    ] as [string, PhaseResult][])
      say(`| ${name} | ${ms(r.probeP50)} | ${ms(r.probeP99)} | ${r.probes} | ${r.triggersPerSecond.toFixed(1)} | ${(r.triggersPerSecond / atRest.triggersPerSecond).toFixed(2)}x |`);
    say("");
    say(
      `prune: ${deleted.toLocaleString("en")} executions and ${lines.toLocaleString("en")} lines in ${seconds.toFixed(1)} s = ${Math.round(deleted / seconds).toLocaleString("en")} executions/s; database ${mib(before)} before, ${mib(after)} after (freed pages are reused, not returned: see BENCHMARKS.md)`,
    );
    rmSync(hooksDir, { recursive: true, force: true });
  } finally {
    await store.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function pgSize(url: string): Promise<number> {
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT pg_database_size(current_database())::bigint AS n`);
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

await main();
