// Benchmark (not a test): hook trigger throughput and latency, side by side:
//   hookd   triggerHook(wait: true) over GraphQL: temp file, spawn, log capture, execution persisted
//   floor   a plain Node loop: write the temp file, spawn the same command, wait for exit
//   webhook adnanh/webhook (Debian package `webhook`), payload passed as a file, answers after exit
//   bare    (with --targets ...,bare) hookd's OS work alone in Node: the input file, hookd's spawn
//           addon, output, exit; no GraphQL, no records (bench/bare-server.ts)
// at concurrency 1 and 16, for a /bin/sh hook and a /usr/bin/python3 hook reading ~1 KB.
//   npm run build && node dist/bench/trigger-throughput.js [--seconds 20] [--rounds 4] [--hooks sh,python] [--targets hookd,floor,webhook,bare] [--warmup-seconds 45]
//   --store postgres runs hookd on a throwaway PostgreSQL database (bench/bench-store.ts; default sqlite).
//   HOOKD_BENCH_PROFILE=/tmp/prof also writes a CPU profile of hookd.
import { spawn, type ChildProcess } from "node:child_process";
import Database from "better-sqlite3";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { benchStore } from "./bench-store.js";
import { spawnHelperOf, freePort, machineCpuMs, processCpuMs } from "./proc-stats.js";

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
// Measured seconds per target at concurrency 16 (half that at concurrency 1), split into rounds
// that alternate between the targets: this machine's speed drifts by ±10% over minutes (other
// tenants), so back-to-back phases of one target, then the other, measured the drift as much as
// the targets. Every target sees the same drift this way.
const SECONDS = Number(arg("--seconds")) || 20;
const ROUNDS = Number(arg("--rounds")) || 4;
const HOOKS = (arg("--hooks") ?? "sh,python").split(",");
const TARGETS = (arg("--targets") ?? "hookd,floor,webhook").split(",");
// hookd runs on a JIT: its CPU per run falls by about a third over its first ~4,000 runs while
// V8 optimises the hot paths (measured: 4.7 ms in the first 5 s at c16, ~3.0 ms after 35 s).
// A server runs for days, so every target first runs this long at c16 before anything is
// measured; `--warmup-seconds 0` measures a cold server.
const WARMUP_SECONDS = arg("--warmup-seconds") === undefined ? 45 : Number(arg("--warmup-seconds"));
const PHASE_WARMUP_SECONDS = WARMUP_SECONDS > 0 ? 2 : 0.2;
const KEY = "hkd_benchmark_key_0123456789abcdef";
const CLI = new URL("../src/cli.js", import.meta.url).pathname;
const PAYLOAD = { code: "bench", name: "benchmark job", notes: "x".repeat(900) };

/** Runs `once` at `concurrency` until `seconds` have passed. */
async function runFor(concurrency: number, seconds: number, once: () => Promise<void>): Promise<void> {
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await once();
    }),
  );
}

interface Tally {
  latencies: number[];
  seconds: number;
  serverMs: number;
  machineMs: number;
}

/** Runs `once` at `concurrency` for `seconds` and adds what it measured to `tally`. */
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

function summary(tally: Tally) {
  const sorted = [...tally.latencies].sort((a, b) => a - b);
  const pct = (p: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(2));
  const n = sorted.length;
  return { requests: n, rps: n / tally.seconds, p50: pct(0.5), p99: pct(0.99), serverMs: tally.serverMs / n, machineMs: tally.machineMs / n };
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-bench-trigger-"));
  const store = await benchStore(process.argv.includes("--store") ? process.argv[process.argv.indexOf("--store") + 1] : "sqlite");
  const children: ChildProcess[] = [];
  try {
    const sh = path.join(dir, "hook.sh");
    writeFileSync(sh, `#!/bin/sh\ncat "$1" > /dev/null\necho ok\n`);
    const py = path.join(dir, "hook.py");
    writeFileSync(py, `#!/usr/bin/python3\nimport json, sys\nd = json.load(open(sys.argv[1]))\nprint("ok", len(d))\n`);
    chmodSync(sh, 0o755);
    chmodSync(py, 0o755);
    const hooks = Object.fromEntries(Object.entries({ sh: [sh], python: ["/usr/bin/python3", py] }).filter(([name]) => HOOKS.includes(name)));

    // hookd
    const port = await freePort();
    const hookd = spawn(process.execPath, [...(process.env.HOOKD_BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.HOOKD_BENCH_PROFILE}`] : []), CLI, "serve"], {
      env: { ...process.env, ...store.env, HOOKD_DATA_DIR: path.join(dir, "data"), PORT: String(port), HOST: "127.0.0.1", HOOKD_BOOTSTRAP_ADMIN_KEY: KEY, HOOKD_EXECUTOR_CONCURRENCY: "16" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(hookd);
    await new Promise<void>((resolve) => hookd.stdout!.on("data", (d) => String(d).includes("listening on") && resolve()));
    const url = `http://127.0.0.1:${port}/graphql`;
    const gql = async (query: string, variables: object = {}) => {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data: any; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };

    // webhook: one hook per command. webhook hands over the payload file only through an
    // environment variable, so its scripts read $PAYLOAD_FILE and otherwise do the same work as
    // hookd's (no wrapper script: that would cost webhook an extra exec per run).
    const whPort = await freePort();
    const whConfig = path.join(dir, "hooks.json");
    const whSh = path.join(dir, "wh-hook.sh");
    writeFileSync(whSh, `#!/bin/sh\ncat "$PAYLOAD_FILE" > /dev/null\necho ok\n`);
    const whPy = path.join(dir, "wh-hook.py");
    writeFileSync(whPy, `#!/usr/bin/python3\nimport json, os\nd = json.load(open(os.environ["PAYLOAD_FILE"]))\nprint("ok", len(d))\n`);
    chmodSync(whSh, 0o755);
    chmodSync(whPy, 0o755);
    const whCommands: Record<string, string> = { sh: whSh, python: whPy };
    writeFileSync(
      whConfig,
      JSON.stringify(
        Object.keys(hooks).map((name) => ({
          id: name,
          "execute-command": whCommands[name],
          "pass-file-to-command": [{ source: "entire-payload", envname: "PAYLOAD_FILE" }],
          "include-command-output-in-response": true,
        })),
      ),
    );
    const webhook = spawn("webhook", ["-hooks", whConfig, "-ip", "127.0.0.1", "-port", String(whPort)], { stdio: "ignore" });
    children.push(webhook);
    await new Promise((r) => setTimeout(r, 500));

    // bare: the same hooks as hookd's, through hookd's spawn addon, with nothing else of hookd.
    const barePort = await freePort();
    let bare: ChildProcess | null = null;
    if (TARGETS.includes("bare")) {
      bare = spawn(process.execPath, [new URL("./bare-server.js", import.meta.url).pathname], {
        env: { ...process.env, PORT: String(barePort), BARE_HOOKS: JSON.stringify(hooks) },
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(bare);
      await new Promise<void>((resolve) => bare!.stdout!.on("data", (d) => String(d).includes("listening") && resolve()));
    }

    const rows: string[] = [];
    const results: Record<string, ReturnType<typeof summary>> = {};
    let warmedUp = false;
    let hookdRuns = 0;
    for (const [name, argv] of Object.entries(hooks)) {
      await gql(`mutation($l: String!) { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, { l: `${argv.join(" ")} \${PATH_JSON_INPUT}` });
      const hookdOnce = async () => {
        hookdRuns++;
        const data = await gql(`mutation($p: JSONObject) { triggerHook(input: { hook: POST_DONE_SERVER, payload: $p, wait: true }) { status } }`, { p: PAYLOAD });
        if (data.triggerHook[0].status !== "SUCCEEDED") throw new Error(`hookd: ${data.triggerHook[0].status}`);
      };
      let n = 0;
      const floorOnce = async () => {
        const file = path.join(dir, `floor-${n++}.json`);
        await writeFile(file, JSON.stringify(PAYLOAD), { mode: 0o600 });
        await new Promise<void>((resolve, reject) => {
          const child = spawn(argv[0], [...argv.slice(1), file], { stdio: ["ignore", "pipe", "pipe"] });
          child.stdout!.resume();
          child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`floor exit ${code}`))));
        });
        await rm(file);
      };
      const webhookOnce = async () => {
        const res = await fetch(`http://127.0.0.1:${whPort}/hooks/${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(PAYLOAD) });
        await res.text();
        if (res.status !== 200) throw new Error(`webhook ${res.status}`);
      };
      const bareOnce = async () => {
        const res = await fetch(`http://127.0.0.1:${barePort}/${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(PAYLOAD) });
        const body = (await res.json()) as { status: string };
        if (body.status !== "SUCCEEDED") throw new Error(`bare: ${body.status}`);
      };
      const targets = (
        [
          ["hookd", hookdOnce],
          ["floor", floorOnce],
          ["webhook", webhookOnce],
          ["bare", bareOnce],
        ] as const
      ).filter(([t]) => TARGETS.includes(t));
      if (!warmedUp && WARMUP_SECONDS > 0) {
        for (const [target, once] of targets) {
          console.error(`warming up ${target} with the ${name} hook: ${WARMUP_SECONDS} s at concurrency 16`);
          await runFor(16, WARMUP_SECONDS, once);
        }
      }
      warmedUp = true;
      for (const c of [1, 16]) {
        const tallies = new Map(targets.map(([target]) => [target, { latencies: [], seconds: 0, serverMs: 0, machineMs: 0 } as Tally]));
        for (let round = 0; round < ROUNDS; round++) {
          // Alternate the order too, so no target always follows the same one.
          for (const [target, once] of round % 2 === 0 ? targets : [...targets].reverse()) {
            // Every target sat idle while the others ran, and hookd came back slower from that
            // (c1: 5.6 ms of CPU per run against 4.1 ms without the idle spell), so each slice
            // starts with a little of its own load.
            await runFor(c, PHASE_WARMUP_SECONDS, once);
            // The server's own CPU (hookd with its spawn helper, if one runs; not the hooks; webhook; for the floor, this process).
            const server = target === "hookd" ? [hookd.pid!, ...spawnHelperOf(hookd.pid!)] : target === "webhook" ? [webhook.pid!] : target === "bare" ? [bare!.pid!] : [process.pid];
            const [server0, machine0] = [processCpuMs(server), machineCpuMs()];
            const tally = tallies.get(target)!;
            await measureFor(c, (c === 1 ? SECONDS / 2 : SECONDS) / ROUNDS, once, tally);
            tally.serverMs += processCpuMs(server) - server0;
            tally.machineMs += machineCpuMs() - machine0;
          }
        }
        for (const [target] of targets) {
          const r = summary(tallies.get(target)!);
          results[`${target}/${name}/c${c}`] = r;
          rows.push(`| ${target} | ${name} | ${c} | ${r.requests} | ${r.rps.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.serverMs.toFixed(2)} | ${r.machineMs.toFixed(2)} |`);
        }
      }
    }
    console.log(`| target | hook | concurrency | requests | req/s | p50 ms | p99 ms | server CPU ms/req | machine CPU ms/req |\n|---|---|---|---|---|---|---|---|---|\n${rows.join("\n")}`);
    for (const name of Object.keys(hooks)) {
      const h16 = results[`hookd/${name}/c16`],
        w16 = results[`webhook/${name}/c16`],
        f16 = results[`floor/${name}/c16`];
      const h1 = results[`hookd/${name}/c1`],
        w1 = results[`webhook/${name}/c1`];
      if (h16 && w16 && h1 && w1) console.log(`${name}: c16 hookd/webhook ${(h16.rps / w16.rps).toFixed(2)}x; c1 p50 hookd ${h1.p50} ms vs webhook ${w1.p50} ms`);
      if (h16 && f16) console.log(`${name}: c16 hookd/floor ${(h16.rps / f16.rps).toFixed(2)}x`);
      const b16 = results[`bare/${name}/c16`],
        b1 = results[`bare/${name}/c1`];
      if (b16 && w16 && b1 && w1) console.log(`${name}: c16 bare/webhook ${(b16.rps / w16.rps).toFixed(2)}x; c1 p50 bare ${b1.p50} ms vs webhook ${w1.p50} ms`);
      // What hookd's API and records cost per run beyond the same OS work done by bare Node.
      if (h16 && b16 && h1 && b1)
        console.log(
          `${name}: hookd over bare: c16 +${(h16.serverMs - b16.serverMs).toFixed(2)} ms server CPU per run, ${(h16.serverMs / b16.serverMs).toFixed(2)}x bare's (${(h16.rps / b16.rps).toFixed(2)}x its req/s); c1 p50 +${(h1.p50 - b1.p50).toFixed(2)} ms`,
        );
    }
    if (TARGETS.includes("hookd")) {
      // Every run hookd answered is in its database with its log, read from the file itself.
      let stored: { executions: number; succeeded: number; lines: number };
      if (store.kind === "postgres") stored = await store.counts();
      else {
        const db = new Database(path.join(dir, "data", "hookd.sqlite"), { readonly: true });
        stored = db.prepare(`SELECT COUNT(*) AS executions, SUM(status = 'SUCCEEDED') AS succeeded, (SELECT COUNT(*) FROM execution_log_line) AS lines FROM execution`).get() as typeof stored;
        db.close();
      }
      console.log(`hookd answered ${hookdRuns} runs; stored: ${stored.executions} executions, ${stored.succeeded} SUCCEEDED, ${stored.lines} log lines`);
      if (stored.executions !== hookdRuns || stored.succeeded !== hookdRuns || stored.lines < hookdRuns) throw new Error("hookd did not persist every execution and its log");
    }
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
    await store.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
