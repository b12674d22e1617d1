// Benchmark (not a test): two builds of hookd side by side, to decide whether a change pays.
// Both run the bench's /bin/sh hook (or, with --hook python, its python3 one) through triggerHook(wait: true); after a warm-up each, they take
// turns in short slices at one concurrency, and the bench prints each build's CPU per run (hookd
// with its spawn helper, if one runs), throughput and p50. This machine's speed drifts by ±10% over minutes,
// so two builds measured one after the other differ by that much whatever they contain;
// alternating slices gives both the same drift, and the difference is the change's.
//   cp -r dist dist-before   # (at the old commit: npm run build first)
//   npm run build && node dist/bench/trigger-ab.js dist-before dist [--concurrency 16] [--rounds 6] [--slice-seconds 5] [--warmup-seconds 30] [--store postgres] [--hook sh|python]
//   --store postgres gives each build a throwaway PostgreSQL database of its own (bench/bench-store.ts).
// Each build directory must sit in the repository root (hookd reads ../../package.json).
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { benchStore, type BenchStore } from "./bench-store.js";
import { spawnHelperOf, freePort, processCpuMs } from "./proc-stats.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const builds = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const STORE = args.includes("--store") ? args[args.indexOf("--store") + 1] : "sqlite";
const CONCURRENCY = option("--concurrency", 16);
const ROUNDS = option("--rounds", 6);
const SLICE_SECONDS = option("--slice-seconds", 5);
const WARMUP_SECONDS = option("--warmup-seconds", 30);
const HOOK = args.includes("--hook") ? args[args.indexOf("--hook") + 1] : "sh";
const KEY = "hkd_benchmark_key_0123456789abcdef";
const PAYLOAD = { code: "bench", name: "benchmark job", notes: "x".repeat(900) };

interface Build {
  name: string;
  process: ChildProcess;
  once: () => Promise<void>;
  cpuMs: number;
  runs: number;
  seconds: number;
  latencies: number[];
  /** CPU ms per run of each slice, for the spread. */
  slices: number[];
}

async function start(dir: string, build: string, index: number, hook: string, store: BenchStore): Promise<Build> {
  const port = await freePort();
  const cli = path.resolve(build, "src", "cli.js");
  const child = spawn(process.execPath, [cli, "serve"], {
    env: { ...process.env, ...store.env, HOOKD_DATA_DIR: path.join(dir, `data-${index}`), PORT: String(port), HOST: "127.0.0.1", HOOKD_BOOTSTRAP_ADMIN_KEY: KEY, HOOKD_EXECUTOR_CONCURRENCY: "16" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => String(d).includes("listening on") && resolve());
    child.once("exit", (code) => reject(new Error(`${build} exited with ${code} before listening`)));
  });
  const gql = async (query: string, variables: object) => {
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  await gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${hook} \${PATH_JSON_INPUT}` });
  const once = async () => {
    const data = await gql(`mutation($p: JSONObject) { triggerHook(input: { hook: POST_DONE_SERVER, payload: $p, wait: true }) { status } }`, { p: PAYLOAD });
    if (data.triggerHook[0].status !== "SUCCEEDED") throw new Error(`${build}: ${data.triggerHook[0].status}`);
  };
  return { name: build, process: child, once, cpuMs: 0, runs: 0, seconds: 0, latencies: [], slices: [] };
}

/** Runs `once` at `concurrency` for `seconds`; returns the latencies. */
async function runFor(concurrency: number, seconds: number, once: () => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await once();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return latencies;
}

async function main() {
  if (builds.length !== 2) throw new Error("usage: trigger-ab.js <build A> <build B> [--concurrency 16] [--rounds 6] [--slice-seconds 5] [--warmup-seconds 30] [--store postgres] [--hook sh|python]");
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-bench-ab-"));
  // The same hooks as trigger-throughput's.
  if (HOOK !== "sh" && HOOK !== "python") throw new Error(`--hook: sh or python (got ${HOOK})`);
  const hook = path.join(dir, `hook.${HOOK === "sh" ? "sh" : "py"}`);
  writeFileSync(hook, HOOK === "sh" ? `#!/bin/sh\ncat "$1" > /dev/null\necho ok\n` : `#!/usr/bin/python3\nimport json, sys\nd = json.load(open(sys.argv[1]))\nprint("ok", len(d))\n`);
  chmodSync(hook, 0o755);
  const started: Build[] = [];
  const stores: BenchStore[] = [];
  try {
    for (const [index, build] of builds.entries()) {
      stores.push(await benchStore(STORE));
      started.push(await start(dir, build, index, hook, stores[index]));
    }
    for (const b of started) {
      console.error(`warming up ${b.name}: ${WARMUP_SECONDS} s at concurrency 16`);
      await runFor(16, WARMUP_SECONDS, b.once);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const b of round % 2 === 0 ? started : [...started].reverse()) {
        await runFor(CONCURRENCY, 1, b.once); // back from idling while the other ran
        const pids = [b.process.pid!, ...spawnHelperOf(b.process.pid!)];
        const cpu0 = processCpuMs(pids);
        const t0 = performance.now();
        const latencies = await runFor(CONCURRENCY, SLICE_SECONDS, b.once);
        b.seconds += (performance.now() - t0) / 1000;
        const sliceCpu = processCpuMs(pids) - cpu0;
        b.cpuMs += sliceCpu;
        b.runs += latencies.length;
        b.slices.push(sliceCpu / latencies.length);
        console.error(`round ${round + 1} ${b.name}: ${latencies.length} runs, ${(sliceCpu / latencies.length).toFixed(3)} ms CPU/run`);
        b.latencies.push(...latencies);
      }
    }
    console.log(`| build | concurrency | runs | req/s | p50 ms | hookd CPU ms/run | slices min-max |\n|---|---|---|---|---|---|---|`);
    for (const b of started) {
      const sorted = b.latencies.sort((x, y) => x - y);
      console.log(
        `| ${b.name} | ${CONCURRENCY} | ${b.runs} | ${(b.runs / b.seconds).toFixed(1)} | ${sorted[sorted.length >> 1].toFixed(2)} | ${(b.cpuMs / b.runs).toFixed(3)} | ${Math.min(...b.slices).toFixed(3)}-${Math.max(...b.slices).toFixed(3)} |`,
      );
    }
    // Each round's two slices ran back to back, so their ratio carries little of the machine's
    // drift (which moves both builds' CPU per run by ±30% over minutes here): the median of these
    // ratios is the steadier answer to "does B cost less than A".
    const [a, b] = started;
    const ratios = a.slices.map((x, i) => b.slices[i] / x).sort((x, y) => x - y);
    const q = (p: number) => ratios[Math.min(ratios.length - 1, Math.floor(p * ratios.length))].toFixed(3);
    console.log(`\n${b.name} / ${a.name}, CPU per run, paired by round: median ${q(0.5)} (quartiles ${q(0.25)}-${q(0.75)}, ${ratios.length} rounds)`);
  } finally {
    for (const b of started) b.process.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    for (const s of stores) await s.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
