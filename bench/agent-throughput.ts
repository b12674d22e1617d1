// Benchmark (not a test): hookd's embedded runner against one `hookd agent` on this machine, in
// one run: the sh hook's triggerHook(wait: true) p50 at concurrency 1 and req/s at concurrency 16,
// and lines/s of a 200,000-line hook streamed to an executionLog subscriber (every line stored
// once and in order, checked in hookd's SQLite file). Both targets get the same hooks; each
// trigger names its execution server, so the only difference is who runs the hook.
//   npm run build && node dist/bench/agent-throughput.js [--seconds 20] [--rounds 4] [--warmup-seconds 20] [--lines 200000]
//   --log-only: only the log streaming part. HOOKD_BENCH_PROFILE=/tmp/prof also writes CPU profiles of hookd and the agent.
import { spawn, type ChildProcess } from "node:child_process";
import Database from "better-sqlite3";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { freePort, processCpuMs, spawnHelperOf } from "./proc-stats.js";

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
/** Measured seconds per target at c16 (half at c1), in rounds alternating the targets (the machine's speed drifts). */
const SECONDS = Number(arg("--seconds")) || 20;
const ROUNDS = Number(arg("--rounds")) || 4;
/** Both targets first run this long at c16: hookd and the agent are JIT-compiled (see trigger-throughput.ts). */
const WARMUP_SECONDS = arg("--warmup-seconds") === undefined ? 20 : Number(arg("--warmup-seconds"));
const LINES = Number(arg("--lines")) || 200_000;
/** Only the log streaming part (for profiling it). */
const LOG_ONLY = process.argv.includes("--log-only");
const KEY = "hkd_benchmark_key_0123456789abcdef";
const CLI = new URL("../src/cli.js", import.meta.url).pathname;
const PAYLOAD = { code: "bench", name: "benchmark job", notes: "x".repeat(900) };
const PROFILE = process.env.HOOKD_BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.HOOKD_BENCH_PROFILE}`] : [];

// As bench/log-stream.ts: "ready", then (once the subscriber saw it) the lines, ~100 bytes each.
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

type Gql = (query: string, variables?: object) => Promise<any>;

interface Tally {
  latencies: number[];
  seconds: number;
  /** hookd's CPU (with its spawn helpers), and the agent's (with its own). */
  hookdMs: number;
  agentMs: number;
}

async function runFor(concurrency: number, seconds: number, once: () => Promise<void>): Promise<void> {
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await once();
    }),
  );
}

async function measureFor(concurrency: number, seconds: number, once: () => Promise<void>, tally: Tally): Promise<void> {
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await once();
        tally.latencies.push(performance.now() - t);
      }
    }),
  );
  tally.seconds += (performance.now() - started) / 1000;
}

function summary(t: Tally) {
  const sorted = [...t.latencies].sort((a, b) => a - b);
  const pct = (p: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(2));
  const perRun = (ms: number) => Number((ms / sorted.length).toFixed(2));
  return { requests: sorted.length, rps: sorted.length / t.seconds, p50: pct(0.5), p99: pct(0.99), hookdMsPerRun: perRun(t.hookdMs), agentMsPerRun: perRun(t.agentMs) };
}

/** One execution of the printer on `server`, followed live; lines/s from its first printed line to the last arrival. */
async function stream(gql: Gql, client: Client, dir: string, server: string, lines: number, tag: string) {
  const go = path.join(dir, `go-${tag}`);
  let expected = 0;
  let misordered = 0;
  let firstPrinted = 0;
  let lastArrival = 0;
  const { id } = (
    await gql(`mutation($p: JSONObject, $s: ID) { triggerHook(input: { hook: POST_FAILED_SERVER, payload: $p, wait: false, executionServer: $s }) { id } }`, {
      p: { bench_lines: lines, bench_go: go },
      s: server,
    })
  ).triggerHook[0];
  await new Promise<void>((resolve, reject) => {
    client.subscribe<{ executionLog: { lines: { seq: number; text: string }[]; finished: { status: string } | null } }>(
      { query: `subscription($id: ID!) { executionLog(executionId: $id) { lines { seq text } finished { status } } }`, variables: { id } },
      {
        next: ({ data }) => {
          for (const line of data!.executionLog.lines) {
            if (line.seq !== expected + 1) misordered++;
            expected = line.seq;
            if (line.seq === 1) {
              writeFileSync(go, "");
              continue;
            }
            const [index, printed] = line.text.split(" ");
            if (index === "0") firstPrinted = Number(printed);
            if (Number(index) + 2 !== line.seq) misordered++;
          }
          if (data!.executionLog.lines.length > 0) lastArrival = Date.now();
          const f = data!.executionLog.finished;
          if (f && f.status !== "SUCCEEDED") reject(new Error(`${tag}: hook ${f.status}`));
        },
        error: reject,
        complete: resolve,
      },
    );
  });
  const seconds = (lastArrival - firstPrinted) / 1000;
  return { id, delivered: expected - 1, inOrderOnce: misordered === 0 && expected === lines + 1, seconds: Number(seconds.toFixed(2)), linesPerSecond: Math.round(lines / seconds) };
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-bench-agent-"));
  const children: ChildProcess[] = [];
  try {
    const sh = path.join(dir, "hook.sh");
    writeFileSync(sh, `#!/bin/sh\ncat "$1" > /dev/null\necho ok\n`);
    const printer = path.join(dir, "printer.py");
    writeFileSync(printer, PRINTER);
    for (const f of [sh, printer]) chmodSync(f, 0o755);

    const port = await freePort();
    const hookd = spawn(process.execPath, [...PROFILE, CLI, "serve"], {
      env: {
        ...process.env,
        HOOKD_DATA_DIR: path.join(dir, "data"),
        PORT: String(port),
        HOST: "127.0.0.1",
        HOOKD_BOOTSTRAP_ADMIN_KEY: KEY,
        HOOKD_EXECUTOR_CONCURRENCY: "16",
        HOOKD_LOG_CAP_BYTES: String(200 * 1024 * 1024),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(hookd);
    await new Promise<void>((resolve) => hookd.stdout!.on("data", (d) => String(d).includes("listening on") && resolve()));
    const base = `http://127.0.0.1:${port}`;
    const gql: Gql = async (query, variables = {}) => {
      const res = await fetch(`${base}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data: any; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };

    // One SERVER agent with the embedded runner's concurrency, on this machine.
    const { token } = (await gql(`mutation { createAgentToken(input: { kind: SERVER, name: "bench-agent" }) { token } }`)).createAgentToken;
    const agent = spawn(process.execPath, [...PROFILE, CLI, "agent", "--url", base, "--token", token, "--hostname", "bench-agent", "--state-dir", path.join(dir, "agent"), "--concurrency", "16"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(agent);
    await new Promise<void>((resolve) => agent.stdout!.on("data", (d) => String(d).includes("connected to") && resolve()));
    const servers = (await gql(`{ executionServers { id name online } settings { defaultExecutionServer { id } } }`)) as any;
    const embeddedId: string = servers.settings.defaultExecutionServer.id;
    const agentId: string = servers.executionServers.find((s: any) => s.name === "bench-agent").id;

    await gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${sh} \${PATH_JSON_INPUT}` });
    await gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_FAILED_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${printer} \${PATH_JSON_INPUT}` });
    let runs = 0;
    const trigger = (server: string) => async () => {
      runs++;
      const data = await gql(`mutation($p: JSONObject, $s: ID) { triggerHook(input: { hook: POST_DONE_SERVER, payload: $p, wait: true, executionServer: $s }) { status runner } }`, {
        p: PAYLOAD,
        s: server,
      });
      if (data.triggerHook[0].status !== "SUCCEEDED") throw new Error(`${server}: ${data.triggerHook[0].status}`);
    };
    const targets = [
      { name: "embedded", once: trigger(embeddedId) },
      { name: "agent", once: trigger(agentId) },
    ];
    const hookdPids = () => [hookd.pid!, ...spawnHelperOf(hookd.pid!)];
    const agentPids = () => [agent.pid!, ...spawnHelperOf(agent.pid!)];
    if (WARMUP_SECONDS > 0 && !LOG_ONLY)
      for (const t of targets) {
        console.error(`warming up ${t.name}: ${WARMUP_SECONDS} s at concurrency 16`);
        await runFor(16, WARMUP_SECONDS, t.once);
      }
    const results: Record<string, ReturnType<typeof summary>> = {};
    const rows: string[] = [];
    for (const c of LOG_ONLY ? [] : [1, 16]) {
      const tallies = new Map(targets.map((t) => [t.name, { latencies: [], seconds: 0, hookdMs: 0, agentMs: 0 } as Tally]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
          await runFor(c, 1, t.once);
          const [h0, a0] = [processCpuMs(hookdPids()), processCpuMs(agentPids())];
          const tally = tallies.get(t.name)!;
          await measureFor(c, (c === 1 ? SECONDS / 2 : SECONDS) / ROUNDS, t.once, tally);
          tally.hookdMs += processCpuMs(hookdPids()) - h0;
          tally.agentMs += processCpuMs(agentPids()) - a0;
        }
      }
      for (const t of targets) {
        const r = summary(tallies.get(t.name)!);
        results[`${t.name}/c${c}`] = r;
        rows.push(`| ${t.name} | ${c} | ${r.requests} | ${r.rps.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.hookdMsPerRun} | ${r.agentMsPerRun} |`);
      }
    }
    console.log(`| runner | concurrency | requests | req/s | p50 ms | p99 ms | hookd CPU ms/run | agent CPU ms/run |\n|---|---|---|---|---|---|---|---|\n${rows.join("\n")}`);

    // Log streaming: a warm-up of 20,000 lines on each, then the measured runs.
    const client = createClient({ url: `${base.replace("http", "ws")}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${KEY}` } });
    const streams: Record<string, Awaited<ReturnType<typeof stream>>> = {};
    for (const [name, server] of [
      ["embedded", embeddedId],
      ["agent", agentId],
    ] as const) {
      await stream(gql, client, dir, server, 20_000, `warm-${name}`);
      streams[name] = await stream(gql, client, dir, server, LINES, name);
    }
    await client.dispose();
    // Stored once and in order: read from hookd's SQLite file itself.
    const db = new Database(path.join(dir, "data", "hookd.sqlite"), { readonly: true });
    const check = db.prepare(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT seq) AS distinct_seqs, MIN(seq) AS first, MAX(seq) AS last,
              SUM(seq >= 2 AND CAST(substr(text, 1, instr(text, ' ') - 1) AS INTEGER) != seq - 2) AS misplaced
         FROM execution_log_line WHERE executionId = ?`,
    );
    const stored = db.prepare(`SELECT COUNT(*) AS executions, COALESCE(SUM(status = 'SUCCEEDED'), 0) AS succeeded FROM execution WHERE hook = 'POST_DONE_SERVER'`).get() as {
      executions: number;
      succeeded: number;
    };
    for (const [name, s] of Object.entries(streams)) {
      const row = check.get(s.id) as { n: number; distinct_seqs: number; first: number; last: number; misplaced: number };
      const once = row.n === LINES + 1 && row.distinct_seqs === row.n && row.first === 1 && row.last === LINES + 1 && row.misplaced === 0;
      console.log(
        `${name}: ${LINES} lines streamed in ${s.seconds} s = ${s.linesPerSecond} lines/s; subscriber saw every line once in order: ${s.inOrderOnce}; stored ${row.n} lines (with "ready"), once and in order: ${once}`,
      );
      if (!s.inOrderOnce || !once) throw new Error(`${name}: the log was not delivered or stored once and in order`);
    }
    db.close();
    console.log(`triggers: ${runs} answered; stored ${stored.executions} executions, ${stored.succeeded} SUCCEEDED`);
    if (stored.executions !== runs || stored.succeeded !== runs) throw new Error("not every triggered run was stored SUCCEEDED");
    if (LOG_ONLY) return;
    const e1 = results["embedded/c1"],
      a1 = results["agent/c1"],
      e16 = results["embedded/c16"],
      a16 = results["agent/c16"];
    const ratio = a16.rps / e16.rps;
    console.log(
      `targets: c1 p50 agent ${a1.p50} ms vs embedded ${e1.p50} ms (+${(a1.p50 - e1.p50).toFixed(2)} ms; within 2 ms: ${a1.p50 - e1.p50 <= 2 ? "met" : "MISSED"}); ` +
        `c16 agent/embedded ${ratio.toFixed(2)}x (>= 0.7x: ${ratio >= 0.7 ? "met" : "MISSED"}); ` +
        `agent log ${streams.agent.linesPerSecond} lines/s (>= 100000: ${streams.agent.linesPerSecond >= 100_000 ? "met" : "MISSED"})`,
    );
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
