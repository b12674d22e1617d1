// Benchmark (not a test): a hook prints 200,000 lines as fast as it can while one subscriber
// follows executionLog live. Reports end-to-end lines/s, line latency (hook timestamp → arrival)
// p50/p99, and hookd's peak RSS (VmHWM). hookd runs as its own process.
//   npm run build && node dist/bench/log-stream.js [--lines 200000]
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const LINES = Number(process.argv[process.argv.indexOf("--lines") + 1]) || 200_000;
const KEY = "hkd_benchmark_key_0123456789abcdef";
const CLI = new URL("../src/cli.js", import.meta.url).pathname;

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-bench-log-"));
  const printer = path.join(dir, "printer.py");
  // Each line: index, wall-clock time in ms, padding to ~100 bytes. Flushed every 100 lines so
  // latency measures hookd, not the script's stdio buffer.
  writeFileSync(printer, `#!/usr/bin/python3\nimport sys, time\nw = sys.stdout.write\npad = "x" * 64\nfor i in range(${LINES}):\n    w("%d %.3f %s\\n" % (i, time.time() * 1000, pad))\n    if i % 100 == 99: sys.stdout.flush()\n`);
  chmodSync(printer, 0o755);
  const server = spawn(process.execPath, [...(process.env.HOOKD_BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.HOOKD_BENCH_PROFILE}`] : []), CLI, "serve"], {
    env: { ...process.env, HOOKD_DATA_DIR: path.join(dir, "data"), PORT: "0", HOST: "127.0.0.1", HOOKD_BOOTSTRAP_ADMIN_KEY: KEY, HOOKD_LOG_CAP_BYTES: String(200 * 1024 * 1024) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      server.stdout!.on("data", (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)\/graphql/.exec(out);
        if (m) resolve(m[1]);
      });
      server.on("exit", (code) => reject(new Error(`hookd exited ${code}`)));
    });
    const gql = async (query: string, variables: object = {}) => {
      const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data: any; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    await gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${printer} \${PATH_JSON_INPUT}` });
    const client = createClient({ url: url.replace("http", "ws") + "/graphql", webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${KEY}` } });

    const latencies: number[] = [];
    let expected = 0;
    let misordered = 0;
    let firstPrinted = 0;
    let lastArrival = 0;
    const { id } = (await gql(`mutation { triggerHook(input: { hook: POST_DONE_SERVER, wait: false }) { id } }`)).triggerHook[0];
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      client.subscribe<{ executionLog: { lines: { seq: number; text: string }[]; finished: { status: string } | null } }>(
        { query: `subscription($id: ID!) { executionLog(executionId: $id) { lines { seq text } finished { status } } }`, variables: { id } },
        {
          next: ({ data }) => {
            const now = Date.now();
            for (const line of data!.executionLog.lines) {
              if (line.seq !== expected + 1) misordered++;
              expected = line.seq;
              const [index, printed] = line.text.split(" ");
              if (index === "0") firstPrinted = Number(printed);
              if (Number(index) + 1 === line.seq) latencies.push(now - Number(printed));
            }
            lastArrival = now;
            if (data!.executionLog.finished && data!.executionLog.finished.status !== "SUCCEEDED") reject(new Error(`hook ${data!.executionLog.finished.status}`));
          },
          error: reject,
          complete: resolve,
        },
      );
    });
    const stored = (await gql(`query($id: ID!) { execution(id: $id) { logLineCount status } }`, { id })).execution;
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"));
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
    const seconds = (lastArrival - firstPrinted) / 1000;
    const result = {
      lines: LINES,
      delivered: expected,
      inOrderOnce: misordered === 0 && expected === LINES,
      persisted: stored.logLineCount,
      seconds: Number(seconds.toFixed(2)),
      linesPerSecond: Math.round(LINES / seconds),
      latencyMs: { p50: pct(50), p99: pct(99), max: latencies[latencies.length - 1] },
      peakRssMiB: hwm ? Math.round(Number(hwm[1]) / 1024) : null,
      wallSeconds: Number(((Date.now() - started) / 1000).toFixed(2)),
    };
    console.log(JSON.stringify(result, null, 2));
    console.log(`targets: >= 100000 lines/s: ${result.linesPerSecond >= 100_000 ? "met" : "MISSED"}; p99 < 50 ms: ${result.latencyMs.p99 < 50 ? "met" : "MISSED"}; peak RSS < 250 MB: ${result.peakRssMiB !== null && result.peakRssMiB < 250 ? "met" : "MISSED"}`);
    await client.dispose();
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
