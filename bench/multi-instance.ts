// Benchmark (not a test): hookd on SQLite, on PostgreSQL with one instance, and on PostgreSQL with
// two instances sharing one Redis (HOOKD_PUBSUB=redis), side by side in one run:
//   trigger   triggerHook(wait: true) req/s and latency at c16 (a /bin/sh hook), requests spread over the instances
//   log       a hook prints --lines lines; a subscriber follows executionLog live on the instance
//             that does NOT run it when there are two (the lines cross Redis): lines/s, p50/p99
//   drain     (two instances only) --executions executions queued at c32 through both, run by
//             both: how long until all finished, and that each ran exactly once (none lost)
//   npm run build && node dist/bench/multi-instance.js [--seconds 15] [--lines 200000] [--executions 10000] [--setups sqlite,pg1,pg2]
// Needs PostgreSQL (HOOKD_BENCH_PG, default postgres://postgres@127.0.0.1:5432/postgres: a database
// of its own is created and dropped) and Redis (HOOKD_BENCH_REDIS, default redis://127.0.0.1:6379).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient, type Client } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { processCpuMs } from "./proc-stats.js";

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const SECONDS = Number(arg("--seconds")) || 15;
const LINES = Number(arg("--lines")) || 200_000;
const EXECUTIONS = Number(arg("--executions")) || 10_000;
const SETUPS = (arg("--setups") ?? "sqlite,pg1,pg2").split(",");
const PG = process.env.HOOKD_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS = process.env.HOOKD_BENCH_REDIS ?? "redis://127.0.0.1:6379";
const KEY = "hkd_benchmark_key_0123456789abcdef";
const CLI = new URL("../src/cli.js", import.meta.url).pathname;

const PRINTER = `#!/usr/bin/python3
import json, os, sys, time
d = json.load(open(sys.argv[1]))
if "bench_lines" not in d: sys.exit(0)
print("ready", flush=True)
while not os.path.exists(d["bench_go"]): time.sleep(0.002)
w = sys.stdout.write
pad = "x" * 64
for i in range(d["bench_lines"]):
    w("%d %.3f %s\\n" % (i, time.time() * 1000, pad))
    if i % 100 == 99: sys.stdout.flush()
`;

type Gql = (query: string, variables?: object) => Promise<any>;

interface Instance {
  child: ChildProcess;
  url: string;
  instance: string | null;
  gql: Gql;
}

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, [CLI, "serve"], { env: { ...process.env, PORT: "0", HOST: "127.0.0.1", HOOKD_BOOTSTRAP_ADMIN_KEY: KEY, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)\/graphql/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`hookd exited ${code}:\n${out}`)));
  });
  const gql: Gql = async (query, variables = {}) => {
    const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  return { child, url, instance: /"instance":"([0-9a-f-]{36})"/.exec(out)?.[1] ?? null, gql };
}

const TRIGGER = `mutation($p: JSONObject, $w: Boolean) { triggerHook(input: { hook: POST_DONE_SERVER, payload: $p, wait: $w }) { id status } }`;
/** The trigger rate's hook: a /bin/sh script that reads nothing and exits (what hookd costs, not the hook). */
const QUICK = `mutation { triggerHook(input: { hook: POST_FAILED_SERVER, wait: true }) { id status } }`;

async function triggerRate(instances: Instance[]) {
  let i = 0;
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const cpuBefore = processCpuMs(instances.map((x) => x.child.pid!));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const { triggerHook } = await instances[i++ % instances.length].gql(QUICK);
        if (triggerHook[0].status !== "SUCCEEDED") throw new Error(`run ${triggerHook[0].status}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1));
  return {
    requestsPerSecond: Math.round(latencies.length / seconds),
    p50Ms: pct(50),
    p99Ms: pct(99),
    hookdCpuMsPerRun: Number(((processCpuMs(instances.map((x) => x.child.pid!)) - cpuBefore) / latencies.length).toFixed(2)),
  };
}

async function logRate(instances: Instance[], dir: string, lines: number, tag: string) {
  const go = path.join(dir, `go-${tag}`);
  const [{ triggerHook }] = [await instances[0].gql(TRIGGER, { p: { bench_lines: lines, bench_go: go }, w: false })];
  const id = triggerHook[0].id as string;
  // Which instance runs it is known once it runs; with two, follow it on the other one.
  let runner = "";
  for (;;) {
    const { execution } = await instances[0].gql(`query($id: ID!) { execution(id: $id) { status runner } }`, { id });
    if (execution.status !== "QUEUED") {
      runner = execution.runner ?? "";
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const follower = instances.length === 1 ? instances[0] : (instances.find((x) => x.instance && !runner.endsWith(x.instance)) ?? instances[1]);
  const client: Client = createClient({ url: follower.url.replace("http", "ws") + "/graphql", webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${KEY}` } });
  const latencies: number[] = [];
  let expected = 0;
  let misordered = 0;
  let firstPrinted = 0;
  let lastArrival = 0;
  await new Promise<void>((resolve, reject) => {
    client.subscribe<{ executionLog: { lines: { seq: number; text: string }[]; finished: { status: string } | null } }>(
      { query: `subscription($id: ID!) { executionLog(executionId: $id) { lines { seq text } finished { status } } }`, variables: { id } },
      {
        next: ({ data }) => {
          const now = Date.now();
          for (const line of data!.executionLog.lines) {
            if (line.seq !== expected + 1) misordered++;
            expected = line.seq;
            if (line.seq === 1) {
              writeFileSync(go, "");
              continue;
            }
            const [index, printed] = line.text.split(" ");
            if (index === "0") firstPrinted = Number(printed);
            if (Number(index) + 2 === line.seq) latencies.push(now - Number(printed));
          }
          if (data!.executionLog.lines.length > 0) lastArrival = now;
          if (data!.executionLog.finished && data!.executionLog.finished.status !== "SUCCEEDED") reject(new Error(`hook ${data!.executionLog.finished.status}`));
        },
        error: reject,
        complete: resolve,
      },
    );
  });
  await client.dispose();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]);
  const seconds = (lastArrival - firstPrinted) / 1000;
  return {
    followedOn: instances.length === 1 ? "the running instance" : "the other instance (through Redis)",
    linesPerSecond: Math.round(lines / seconds),
    p50Ms: pct(50),
    p99Ms: pct(99),
    inOrderOnce: misordered === 0 && expected === lines + 1,
  };
}

async function drain(instances: Instance[], dir: string) {
  const ran = path.join(dir, "ran.txt");
  const once = path.join(dir, "once.sh");
  writeFileSync(once, `#!/bin/sh\necho "$HOOKD_EXECUTION_ID" >> ${ran}\n`);
  chmodSync(once, 0o755);
  await instances[0].gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_SUBMIT_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${once} \${PATH_JSON_INPUT}` });
  const ids: string[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < EXECUTIONS) {
        const n = next++;
        const { triggerHook } = await instances[n % instances.length].gql(`mutation { triggerHook(input: { hook: POST_SUBMIT_SERVER, wait: false }) { id } }`);
        ids.push(triggerHook[0].id);
      }
    }),
  );
  const queuedSeconds = (performance.now() - started) / 1000;
  const none = async (status: string) =>
    (await instances[0].gql(`query($s: ExecutionStatus) { executions(filter: { hook: POST_SUBMIT_SERVER, status: $s }, first: 1) { nodes { id } } }`, { s: status })).executions.nodes.length === 0;
  while (!((await none("QUEUED")) && (await none("RUNNING")))) await new Promise((r) => setTimeout(r, 200));
  const seconds = (performance.now() - started) / 1000;
  const lines = readFileSync(ran, "utf8").trim().split("\n");
  const unique = new Set(lines);
  const failedNone = (await none("FAILED")) && (await none("TIMED_OUT"));
  return {
    executions: EXECUTIONS,
    acknowledged: ids.length,
    queuedInSeconds: Number(queuedSeconds.toFixed(1)),
    allFinishedInSeconds: Number(seconds.toFixed(1)),
    noneFailed: failedNone,
    ranOnce: unique.size === ids.length && lines.length === ids.length && ids.every((id) => unique.has(id)),
    lost: ids.filter((id) => !unique.has(id)).length,
  };
}

async function setup(name: string) {
  const dir = mkdtempSync(path.join(tmpdir(), `hookd-bench-${name}-`));
  const printer = path.join(dir, "printer.py");
  writeFileSync(printer, PRINTER);
  chmodSync(printer, 0o755);
  const database = `hookd_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG });
  const common = { HOOKD_LOG_CAP_BYTES: String(200 * 1024 * 1024), HOOKD_RETENTION_DAYS: "0" };
  let env: Record<string, string>;
  if (name === "sqlite") env = { ...common, HOOKD_DATA_DIR: path.join(dir, "data") };
  else {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(PG);
    url.pathname = `/${database}`;
    env = { ...common, HOOKD_DATA_DIR: path.join(dir, "data"), HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: url.toString() };
    if (name === "pg2") Object.assign(env, { HOOKD_PUBSUB: "redis", HOOKD_REDIS_URL: REDIS, HOOKD_REDIS_PREFIX: `hookd-bench-${randomBytes(4).toString("hex")}:` });
  }
  const instances = [await startInstance(env)];
  if (name === "pg2") instances.push(await startInstance(env));
  await instances[0].gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${printer} \${PATH_JSON_INPUT}` });
  const quick = path.join(dir, "quick.sh");
  writeFileSync(quick, "#!/bin/sh\nexit 0\n");
  chmodSync(quick, 0o755);
  await instances[0].gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_FAILED_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${quick} \${PATH_JSON_INPUT}` });
  return {
    dir,
    instances,
    async close() {
      for (const x of instances) {
        x.child.kill("SIGTERM");
        await new Promise((r) => x.child.once("exit", r));
      }
      if (name !== "sqlite") {
        await admin.query(`DROP DATABASE IF EXISTS ${database}`);
        await admin.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main() {
  const report: Record<string, unknown> = {};
  for (const name of SETUPS) {
    const s = await setup(name);
    try {
      await triggerRate(s.instances); // warm-up, not reported
      await logRate(s.instances, s.dir, 20_000, "warm-up");
      const result: Record<string, unknown> = { trigger: await triggerRate(s.instances), log: await logRate(s.instances, s.dir, LINES, "measured") };
      if (s.instances.length > 1) result.drain = await drain(s.instances, s.dir);
      report[name] = result;
      console.log(name, JSON.stringify(result));
    } finally {
      await s.close();
    }
  }
  console.log(JSON.stringify(report, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
