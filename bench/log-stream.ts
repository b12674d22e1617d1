// Benchmark (not a test): a hook prints 200,000 lines as fast as it can while one subscriber
// follows executionLog live. Reports end-to-end lines/s, line latency (hook timestamp → arrival)
// p50/p99, and hookd's peak RSS (VmHWM). hookd runs as its own process.
//   npm run build && node dist/bench/log-stream.js [--lines 200000] [--warmup 20000]
//   --store postgres                runs hookd on a throwaway PostgreSQL database (bench/bench-store.ts)
//   HOOKD_BENCH_PROFILE=/tmp/prof   also writes a CPU profile of hookd
//   BENCH_DEBUG=1                   also prints latency along the run, event sizes and CPU seconds
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { benchStore } from "./bench-store.js";
import { processCpuMs } from "./proc-stats.js";

const arg = (name: string) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined);
const LINES = arg("--lines") || 200_000;
const WARMUP = arg("--warmup") ?? 20_000;
const KEY = "hkd_benchmark_key_0123456789abcdef";
const CLI = new URL("../src/cli.js", import.meta.url).pathname;
const DEBUG = Boolean(process.env.BENCH_DEBUG);

// The hook reads how many lines to print and its go file from its input JSON. It first prints
// "ready"; once that reached the subscriber the bench creates the go file and the hook prints, so
// what is measured is live streaming, not the subscriber's connection set-up. Each line: index,
// wall-clock time in ms, padding to ~100 bytes. Flushed every 100 lines so latency measures
// hookd, not the script's stdio buffer.
const PRINTER = `#!/usr/bin/python3
import json, os, sys, time
d = json.load(open(sys.argv[1]))
print("ready", flush=True)
while not os.path.exists(d["bench_go"]): time.sleep(0.002)
w = sys.stdout.write
pad = "x" * 64
for i in range(d["bench_lines"]):
    w("%d %.3f %s\\n" % (i, time.time() * 1000, pad))
    if i % 100 == 99: sys.stdout.flush()
`;

interface Run {
  lines: number;
  delivered: number;
  inOrderOnce: boolean;
  persisted: number;
  seconds: number;
  linesPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

type Gql = (query: string, variables?: object) => Promise<any>;

/** One execution printing `lines` lines, followed live from its first line. */
async function run(gql: Gql, client: Client, dir: string, lines: number, tag: string): Promise<Run> {
  const go = path.join(dir, `go-${tag}`);
  const latencies: number[] = [];
  const trace: string[] = [];
  let expected = 0;
  let misordered = 0;
  let firstPrinted = 0;
  let lastArrival = 0;
  const payload = { bench_lines: lines, bench_go: go };
  const { id } = (await gql(`mutation($p: JSONObject) { triggerHook(input: { hook: POST_DONE_SERVER, payload: $p, wait: false }) { id } }`, { p: payload })).triggerHook[0];
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
              writeFileSync(go, ""); // "ready" arrived: start printing
              continue;
            }
            const [index, printed] = line.text.split(" ");
            if (index === "0") firstPrinted = Number(printed);
            if (Number(index) + 2 === line.seq) latencies.push(now - Number(printed));
            if (DEBUG && Number(index) % 2000 === 0) trace.push(`${index}:${Math.round(now - Number(printed))}`);
          }
          if (data!.executionLog.lines.length > 0) lastArrival = now;
          if (data!.executionLog.finished && data!.executionLog.finished.status !== "SUCCEEDED") reject(new Error(`hook ${data!.executionLog.finished.status}`));
        },
        error: reject,
        complete: resolve,
      },
    );
  });
  const stored = (await gql(`query($id: ID!) { execution(id: $id) { logLineCount status } }`, { id })).execution;
  if (DEBUG) console.log(`${tag}: latency (ms) by line index: ${trace.join(" ")}`);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  const seconds = (lastArrival - firstPrinted) / 1000;
  return {
    lines,
    delivered: expected - 1,
    inOrderOnce: misordered === 0 && expected === lines + 1,
    persisted: stored.logLineCount - 1,
    seconds: Number(seconds.toFixed(2)),
    linesPerSecond: Math.round(lines / seconds),
    latencyMs: { p50: pct(50), p99: pct(99), max: latencies[latencies.length - 1] },
  };
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-bench-log-"));
  const store = await benchStore(process.argv.includes("--store") ? process.argv[process.argv.indexOf("--store") + 1] : "sqlite");
  const printer = path.join(dir, "printer.py");
  writeFileSync(printer, PRINTER);
  chmodSync(printer, 0o755);
  const nodeFlags = [
    ...(process.env.HOOKD_BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.HOOKD_BENCH_PROFILE}`] : []),
    ...(process.env.HOOKD_BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean),
  ];
  const server = spawn(process.execPath, [...nodeFlags, CLI, "serve"], {
    env: { ...process.env, ...store.env, HOOKD_DATA_DIR: path.join(dir, "data"), PORT: "0", HOST: "127.0.0.1", HOOKD_BOOTSTRAP_ADMIN_KEY: KEY, HOOKD_LOG_CAP_BYTES: String(200 * 1024 * 1024) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      server.stdout!.on("data", (d) => {
        if (DEBUG) process.stdout.write(d);
        out += d;
        const m = /listening on (http:\/\/\S+)\/graphql/.exec(out);
        if (m) resolve(m[1]);
      });
      server.on("exit", (code) => reject(new Error(`hookd exited ${code}`)));
    });
    const gql: Gql = async (query, variables = {}) => {
      const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data: any; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    await gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${printer} \${PATH_JSON_INPUT}` });
    const client = createClient({ url: url.replace("http", "ws") + "/graphql", webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${KEY}` } });

    // A server runs for long: a first, shorter execution warms hookd's code up (not reported).
    if (WARMUP > 0) await run(gql, client, dir, WARMUP, "warm-up");
    const before = processCpuMs([server.pid!]);
    const started = Date.now();
    const result = await run(gql, client, dir, LINES, "measured");
    const after = processCpuMs([server.pid!]);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"));
    const report = {
      ...result,
      peakRssMiB: hwm ? Math.round(Number(hwm[1]) / 1024) : null,
      hookdCpuSeconds: Number(((after - before) / 1000).toFixed(2)),
      wallSeconds: Number(((Date.now() - started) / 1000).toFixed(2)),
    };
    console.log(JSON.stringify(report, null, 2));
    console.log(
      `targets: >= 100000 lines/s: ${report.linesPerSecond >= 100_000 ? "met" : "MISSED"}; p99 < 50 ms: ${report.latencyMs.p99 < 50 ? "met" : "MISSED"}; peak RSS < 250 MB: ${report.peakRssMiB !== null && report.peakRssMiB < 250 ? "met" : "MISSED"}`,
    );
    await client.dispose();
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
    await store.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
