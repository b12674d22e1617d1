import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { childrenOf, commandLine, killProcessesWithEnv, processesWithEnv, running } from "./helpers/marked-processes.js";
import { multiInstanceDatabase } from "./helpers/multi-instance-db.js";
import { CLI, serveProcess, type ServeProcess } from "./helpers/serve-process.js";
import { ADMIN_KEY, eventually, startServer, type GqlResult, type TestServer } from "./helpers/server.js";
import { onPostgres, sqliteOnly } from "./helpers/test-database.js";

// Fencing (issue 32), with real processes and real scripts: a runner that dies or is cut off
// takes its hooks with it (setsid children included) before anyone else may run the next attempt.
// Every process a test starts carries FENCING_TEST_MARK=<this file's mark> in its environment
// (hookd, agents, hooks, their setsid children, whatever hookd spawns), so `after` ends them all.

const MARK = `fencing-${randomBytes(6).toString("hex")}`;
const MARKED = `FENCING_TEST_MARK=${MARK}`;
const REDIS = process.env.HOOKD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const KILL_GRACE_MS = 300;
/** How late after the kill grace a process of a dead runner may still be seen (scheduling, polling). */
const SLACK_MS = 1500;

const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const TRIGGER = `mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status } }`;
const EXECUTION = `query($id: ID!) { execution(id: $id) { id status attempt runner error startedAt finishedAt nextAttempt { id } logLines(first: 1000) { seq text } } }`;
const SERVERS = `{ executionServers { id name online } }`;
/** Retries on, at once: a lost runner's next attempt starts as soon as hookd lets it. */
const RETRY = { retry: { maxAttempts: 2, initialDelaySeconds: 0, jitter: 0, retryRunnerLost: true } };

const ms = (iso: string) => new Date(iso).getTime();
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

interface Client {
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
  ok<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

/** GraphQL over HTTP to a hookd process, as the admin. */
function client(url: string): Client {
  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` }, body: JSON.stringify({ query, variables }) });
    return { status: res.status, ...((await res.json()) as object) } as GqlResult;
  };
  const ok = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await gql(query, variables);
    assert.equal(res.errors, undefined, `expected no errors, got ${JSON.stringify(res.errors)}`);
    return res.data;
  };
  return { gql, ok };
}

/**
 * The hook of these tests, in `dir`. Each attempt appends "start <attempt> <epoch ms> <its pid>"
 * to `starts`, starts a child in a session of its own (setsid: it leaves the hook's process
 * group) that appends "beat <attempt> <epoch ms>" to `beats` every 100 ms and writes its pid to
 * beater-<attempt>.pid, says "attempt <n> running", sleeps 60 s and appends "end <attempt> <ms>".
 */
function beatingHook(dir: string): { file: string; starts: string; beats: string; beaterPid(attempt: number): number | null } {
  mkdirSync(dir, { recursive: true });
  const starts = path.join(dir, "starts");
  const beats = path.join(dir, "beats");
  const file = path.join(dir, "beating.sh");
  writeFileSync(
    file,
    [
      "#!/bin/sh",
      `A="\${HOOKD_ATTEMPT:-1}"`,
      `echo "start $A $(date +%s%3N) $$" >> '${starts}'`,
      `setsid sh -c 'echo $$ > "$1"; while :; do echo "beat $2 $(date +%s%3N)" >> "$3"; sleep 0.1; done' beater '${dir}/beater-'"$A"'.pid' "$A" '${beats}' < /dev/null > /dev/null 2>&1 &`,
      `echo "attempt $A running"`,
      "sleep 60",
      `echo "end $A $(date +%s%3N)" >> '${starts}'`,
      "",
    ].join("\n"),
  );
  chmodSync(file, 0o755);
  const beaterPid = (attempt: number) => {
    const f = path.join(dir, `beater-${attempt}.pid`);
    const pid = existsSync(f) ? Number(readFileSync(f, "utf8").trim()) : 0;
    return pid > 0 ? pid : null;
  };
  return { file, starts, beats, beaterPid };
}

interface Mark {
  kind: "start" | "beat" | "end";
  attempt: number;
  at: number;
  pid: number | null;
}

/** The whole lines of a starts/beats file (one being written is left out). */
function marks(file: string): Mark[] {
  if (!existsSync(file)) return [];
  const found: Mark[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^(start|beat|end) (\d+) (\d{13})(?: (\d+))?$/.exec(line);
    if (m) found.push({ kind: m[1] as Mark["kind"], attempt: Number(m[2]), at: Number(m[3]), pid: m[4] ? Number(m[4]) : null });
  }
  return found;
}

const beatsOf = (file: string, attempt: number) => marks(file).filter((m) => m.kind === "beat" && m.attempt === attempt);
const startOf = (file: string, attempt: number) => marks(file).find((m) => m.kind === "start" && m.attempt === attempt) ?? null;

/** The processes of one execution (each carries HOOKD_EXECUTION_ID=<id>), with their command lines. */
const processesOf = (executionId: string) => processesWithEnv(`HOOKD_EXECUTION_ID=${executionId}`).map((pid) => `${pid} ${commandLine(pid)}`);

const configureHook = (on: Client, linux: string, policy: unknown) => on.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux, mac: null, windows: null }, policy } });

/** Ends a child process: SIGTERM, then SIGKILL when it has not exited within `graceMs`. */
async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await exited;
}

describe("fencing: two hookd instances on one PostgreSQL and one Redis", { skip: onPostgres ? "ran in the first pass (it is on PostgreSQL in both)" : false }, () => {
  interface Instance extends Client {
    proc: ServeProcess;
    /** Its instance id (from its start-up log): its runner id ends with it. */
    instance: string;
  }
  let dir: string;
  let db: Awaited<ReturnType<typeof multiInstanceDatabase>> | undefined;
  const instances: Instance[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-fencing-multi-"));
    db = await multiInstanceDatabase(dir);
    const env = {
      ...db.env,
      HOOKD_DATA_DIR: path.join(dir, "data"),
      HOOKD_PUBSUB: "redis",
      HOOKD_REDIS_URL: REDIS,
      HOOKD_REDIS_PREFIX: `hookd-test-${randomBytes(6).toString("hex")}:`,
      HOOKD_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      HOOKD_AUTH_FAILURES: "1000000",
      HOOKD_LEASE_SECONDS: "2",
      HOOKD_KILL_GRACE_MS: String(KILL_GRACE_MS),
      HOOKD_LOG_LEVEL: "info",
      HOOKD_RETENTION_DAYS: "0",
      FENCING_TEST_MARK: MARK,
    };
    // One after the other: the first start makes the first admin.
    for (let i = 0; i < 2; i++) {
      const proc = await serveProcess(env);
      const instance = /"instance":"([0-9a-f-]{36})"/.exec(proc.stdout())?.[1];
      assert.ok(instance, `no instance id in the start-up log:\n${proc.stdout()}`);
      instances.push({ proc, instance, ...client(proc.url) });
    }
  });

  after(async () => {
    await Promise.allSettled(instances.map((i) => stopProcess(i.proc.child)));
    await killProcessesWithEnv(MARKED);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("two instances on PostgreSQL, retry policy on (retryRunnerLost), kill -9 of the holder mid-run: attempts never overlap", async () => {
    const hook = beatingHook(path.join(dir, "overlap"));
    const [a, b] = instances;
    await configureHook(a, hook.file, RETRY);
    const [run] = (await b.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false } })).triggerHook;
    const first = await eventually(async () => {
      const e = (await a.ok(EXECUTION, { id: run.id })).execution;
      return e.status === "RUNNING" && e.runner && beatsOf(hook.beats, 1).length >= 3 ? e : null;
    }, "attempt 1 to run and its setsid child to beat");
    const holder = instances.find((i) => first.runner.endsWith(`/${i.instance}`));
    assert.ok(holder, `attempt 1 is held by one of the two instances: ${first.runner}`);
    const survivor = instances.find((i) => i !== holder)!;

    const killedAt = Date.now();
    await kill9(holder.proc.child);

    // Attempt 2 starts on the survivor; what of attempt 1 still runs at that moment is listed then.
    let leftAtStart2: string[] = [];
    const start2 = await eventually(
      async () => {
        const s = startOf(hook.starts, 2);
        if (s) leftAtStart2 = processesOf(run.id);
        return s;
      },
      "attempt 2 to start on the surviving instance",
      15_000,
    );
    await sleep(600);
    const beats1 = beatsOf(hook.beats, 1).map((m) => m.at);
    const lastBeat1 = Math.max(...beats1);
    const failed = (await survivor.ok(EXECUTION, { id: run.id })).execution;

    const afterStart2 = beats1.filter((t) => t >= start2.at);
    assert.equal(
      afterStart2.length,
      0,
      `attempts 1 and 2 overlapped: attempt 1's setsid child beat ${afterStart2.length} times after attempt 2 started (its last beat ${lastBeat1 - start2.at} ms after attempt 2's start; the holder was killed ${start2.at - killedAt} ms before attempt 2 started; attempt 1's processes then: ${leftAtStart2.join("; ") || "none"})`,
    );
    assert.ok(
      lastBeat1 <= killedAt + KILL_GRACE_MS + SLACK_MS,
      `attempt 1's setsid child still beat ${lastBeat1 - killedAt} ms after kill -9 of its hookd (kill grace ${KILL_GRACE_MS} ms, slack ${SLACK_MS} ms)`,
    );
    assert.deepEqual(leftAtStart2, [], "no process of attempt 1 runs when attempt 2 starts");

    assert.equal(failed.status, "FAILED", JSON.stringify(failed));
    assert.match(failed.error, /lease/);
    assert.ok(ms(failed.finishedAt) > lastBeat1, `the lease was recorded expired (${failed.finishedAt}) only once attempt 1 had stopped (last beat ${new Date(lastBeat1).toISOString()})`);
    assert.ok(failed.nextAttempt, "attempt 1 is followed by attempt 2");
    const second = (await survivor.ok(EXECUTION, { id: failed.nextAttempt.id })).execution;
    assert.equal(second.attempt, 2);
    assert.ok(second.runner?.endsWith(`/${survivor.instance}`), `attempt 2 runs on the surviving instance: ${second.runner}`);
    await survivor.gql(`mutation($id: ID!) { cancelExecution(id: $id) { id } }`, { id: second.id });
  });
});

interface AgentProcess {
  child: ChildProcess;
  output(): string;
}

/**
 * A TCP relay between one agent and hookd that the test controls. hold(): nothing passes either
 * way and new connections are refused, until release() lets what waited through (a short network
 * cut, as TCP sees one). sever(): hookd's side of each open connection is closed at once while the
 * agent's side stays open and silent (it hears nothing, and what it sends goes nowhere), and new
 * connections are refused: the agent is cut off with no sign of it but silence.
 */
interface Relay {
  url: string;
  hold(): void;
  release(): void;
  sever(): void;
  close(): Promise<void>;
}

async function relay(targetPort: number): Promise<Relay> {
  const links = new Set<{ client: net.Socket; upstream: net.Socket; severed: boolean }>();
  let refusing = false;
  const srv = net.createServer((client) => {
    client.on("error", () => undefined);
    if (refusing) return void client.destroy();
    const upstream = net.connect(targetPort, "127.0.0.1");
    upstream.on("error", () => undefined);
    const link = { client, upstream, severed: false };
    links.add(link);
    client.on("data", (d: Buffer) => {
      if (!link.severed) upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      if (!link.severed) client.write(d);
    });
    const end = () => {
      if (link.severed) return;
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on("end", end);
      s.on("close", end);
    }
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    hold: () => {
      refusing = true;
      for (const l of links) for (const s of [l.client, l.upstream]) s.pause();
    },
    release: () => {
      refusing = false;
      for (const l of links) for (const s of [l.client, l.upstream]) s.resume();
    },
    sever: () => {
      refusing = true;
      for (const l of links) {
        l.severed = true;
        l.client.pause();
        l.upstream.destroy();
      }
    },
    close: () => {
      for (const l of links) for (const s of [l.client, l.upstream]) s.destroy();
      links.clear();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

describe("fencing: agents cut off from hookd", () => {
  let dir: string;
  let server: TestServer;
  const agents: AgentProcess[] = [];
  const relays: Relay[] = [];
  const LEASE_SECONDS = 3;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-fencing-agents-"));
    server = await startServer({ HOOKD_LEASE_SECONDS: String(LEASE_SECONDS), HOOKD_KILL_GRACE_MS: String(KILL_GRACE_MS) });
  });
  after(async () => {
    for (const r of relays) await r.close();
    await Promise.allSettled(agents.map((a) => kill9(a.child)));
    await killProcessesWithEnv(MARKED);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const execution = async (id: string) => (await server.ok(EXECUTION, { id })).execution;
  const port = () => Number(new URL(server.url).port);

  /** A SERVER agent process of execution server `name` (a new token each: a second one joins the same server), connecting through `url`. */
  async function launch(name: string, hostname: string, url: string): Promise<AgentProcess & { stateDir: string }> {
    const { token } = (await server.ok(`mutation($n: String!) { createAgentToken(input: { kind: SERVER, name: $n }) { token } }`, { n: name })).createAgentToken;
    const stateDir = path.join(dir, hostname);
    const child = spawn(process.execPath, [CLI, "agent", "--url", url, "--token", token, "--hostname", hostname, "--state-dir", stateDir], {
      env: { ...process.env, FENCING_TEST_MARK: MARK },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const agent = { child, output: () => out, stateDir };
    agents.push(agent);
    await eventually(async () => out.includes("connected to") && existsSync(path.join(stateDir, "agent.json")), `agent ${hostname} to connect`, 20_000).catch((err) => {
      throw new Error(`${err.message}; it said:\n${out}`);
    });
    return agent;
  }
  const agentState = (stateDir: string) => JSON.parse(readFileSync(path.join(stateDir, "agent.json"), "utf8")) as { agentId: string; executionServerId: string };

  test("an agent cut off from hookd past its lease ends its hook before hookd expires the lease; a second agent of the same server takes the retry, with no overlap", async () => {
    const hook = beatingHook(path.join(dir, "cut-off"));
    const cutter = await relay(port());
    relays.push(cutter);
    const one = await launch("fence-pair", "fence-1", cutter.url);
    const first = agentState(one.stateDir);
    await eventually(async () => ((await server.ok(SERVERS)).executionServers as any[]).find((s) => s.id === first.executionServerId && s.online), "agent 1's execution server online");
    await configureHook(server, hook.file, RETRY);
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false, executionServer: first.executionServerId } })).triggerHook;
    await eventually(async () => {
      const e = await execution(run.id);
      return e.status === "RUNNING" && e.runner === `agent:${first.agentId}` && beatsOf(hook.beats, 1).length >= 3;
    }, "attempt 1 to run on agent 1 and its setsid child to beat");

    // Agent 2 joins the same execution server only now, so attempt 1 is agent 1's.
    const two = await launch("fence-pair", "fence-2", server.url);
    const second = agentState(two.stateDir);
    assert.equal(second.executionServerId, first.executionServerId, "both agents serve one execution server");

    const cutAt = Date.now();
    cutter.sever();
    const failed = await eventually(
      async () => {
        const e = await execution(run.id);
        return e.status === "FAILED" ? e : null;
      },
      "hookd to record attempt 1's lease expired",
      20_000,
    );
    let leftAtStart2: string[] = [];
    const start2 = await eventually(
      async () => {
        const s = startOf(hook.starts, 2);
        if (s) leftAtStart2 = processesOf(run.id);
        return s;
      },
      "attempt 2 to start",
      15_000,
    );
    await sleep(600);
    const beats1 = beatsOf(hook.beats, 1).map((m) => m.at);
    const lastBeat1 = Math.max(...beats1);
    const expiredAt = ms(failed.finishedAt);

    assert.ok(
      lastBeat1 < expiredAt,
      `agent 1's hook still ran when hookd recorded its lease expired: its setsid child beat ${lastBeat1 - expiredAt} ms after attempt 1 was recorded FAILED ("${failed.error}"), which was ${expiredAt - cutAt} ms after the cut; it ${running(hook.beaterPid(1) ?? 0) ? "still runs" : "is gone now"}`,
    );
    assert.match(failed.error, /lease/);
    const afterStart2 = beats1.filter((t) => t >= start2.at);
    assert.equal(afterStart2.length, 0, `attempts 1 and 2 overlapped: attempt 1's setsid child beat ${afterStart2.length} times after attempt 2 started (last ${lastBeat1 - start2.at} ms after)`);
    assert.deepEqual(leftAtStart2, [], "no process of attempt 1 runs when attempt 2 starts");
    assert.ok(failed.nextAttempt, "attempt 1 is followed by attempt 2");
    const retry = await execution(failed.nextAttempt.id);
    assert.equal(retry.attempt, 2);
    assert.equal(retry.runner, `agent:${second.agentId}`, "attempt 2 runs on agent 2");
    await server.gql(`mutation($id: ID!) { cancelExecution(id: $id) { id } }`, { id: retry.id });
  });

  test("an agent cut off from hookd for a quarter of its lease loses nothing: the run ends SUCCEEDED, attempt 1, with every log line once", async () => {
    const cutter = await relay(port());
    relays.push(cutter);
    const agent = await launch("fence-short", "fence-short", cutter.url);
    const { executionServerId, agentId } = agentState(agent.stateDir);
    const lines = path.join(dir, "lines.sh");
    writeFileSync(lines, `#!/bin/sh\ni=1\nwhile [ $i -le 60 ]; do echo "line $i"; sleep 0.05; i=$((i+1)); done\n`);
    chmodSync(lines, 0o755);
    await configureHook(server, lines, RETRY);
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false, executionServer: executionServerId } })).triggerHook;
    await eventually(async () => (await execution(run.id)).logLines.length >= 10, "the first lines stored");
    cutter.hold();
    await sleep((LEASE_SECONDS * 1000) / 4);
    cutter.release();
    const done = await eventually(
      async () => {
        const e = await execution(run.id);
        return e.status === "RUNNING" || e.status === "QUEUED" ? null : e;
      },
      "the run to finish after the cut",
      20_000,
    );
    assert.equal(done.status, "SUCCEEDED", done.error);
    assert.equal(done.attempt, 1);
    assert.equal(done.nextAttempt, null);
    assert.equal(done.runner, `agent:${agentId}`);
    assert.deepEqual(
      done.logLines.map((l: any) => `${l.seq} ${l.text}`),
      Array.from({ length: 60 }, (_, i) => `${i + 1} line ${i + 1}`),
      "every line stored once, in order, with no gap",
    );
  });
});

describe("fencing: one hookd serve killed with kill -9 on SQLite", { skip: sqliteOnly("one hookd serve restarted on its SQLite file; the first describe covers PostgreSQL") }, () => {
  let dir: string;
  const started: ServeProcess[] = [];

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-fencing-serve-"));
  });
  after(async () => {
    await Promise.allSettled(started.map((p) => kill9(p.child)));
    await killProcessesWithEnv(MARKED);
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(dataDir: string): Promise<ServeProcess & Client> {
    const proc = await serveProcess({
      HOOKD_DATA_DIR: dataDir,
      HOOKD_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      HOOKD_AUTH_FAILURES: "1000000",
      HOOKD_LEASE_SECONDS: "2",
      HOOKD_KILL_GRACE_MS: String(KILL_GRACE_MS),
      FENCING_TEST_MARK: MARK,
    });
    started.push(proc);
    return { ...proc, ...client(proc.url) };
  }

  /** Starts the beating hook on `hookd` and waits for its setsid child to beat; returns the run and the pids. */
  async function startBeating(hookd: Client, hook: ReturnType<typeof beatingHook>): Promise<{ id: string; shell: number; child: number }> {
    await configureHook(hookd, hook.file, null);
    const [run] = (await hookd.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false } })).triggerHook;
    await eventually(async () => beatsOf(hook.beats, 1).length >= 3 && hook.beaterPid(1) !== null, "the hook and its setsid child to run");
    return { id: run.id, shell: startOf(hook.starts, 1)!.pid!, child: hook.beaterPid(1)! };
  }

  test("restart after kill -9 with an escaped setsid child: the child is gone", async () => {
    const dataDir = path.join(dir, "restart-data");
    const hook = beatingHook(path.join(dir, "restart"));
    let hookd = await serve(dataDir);
    const run = await startBeating(hookd, hook);
    // Whatever else hookd started (a watchdog, on the new design) is ended with it, so that only
    // start-up recovery can end the escaped child. Listed while hookd is stopped (it cannot start
    // another meanwhile), and before it dies: its children are reparented then.
    const pid = hookd.child.pid!;
    process.kill(pid, "SIGSTOP");
    const others = childrenOf(pid).filter((p) => p !== run.shell);
    const othersSaid = others.map((p) => `${p} ${commandLine(p)}`);
    for (const p of others) process.kill(p, "SIGKILL");
    await kill9(hookd.child);
    const childOutlived = running(run.child);

    hookd = await serve(dataDir);
    const restartedAt = Date.now();
    await eventually(async () => !running(run.child), "the escaped child to be gone", 5000).catch(() => null);
    const lastBeat = Math.max(...beatsOf(hook.beats, 1).map((m) => m.at));
    assert.ok(
      !running(run.child),
      `the escaped setsid child (pid ${run.child}: ${commandLine(run.child)}) still runs ${Date.now() - restartedAt} ms after hookd started again on the same data directory (last beat ${Date.now() - lastBeat} ms ago; ` +
        `it ${childOutlived ? "outlived" : "did not outlive"} the kill; other children of hookd ended with it: ${othersSaid.length ? othersSaid.join("; ") : "none"})`,
    );
    assert.deepEqual(processesOf(run.id), [], "no process of the run is left");
    const ended = await eventually(async () => {
      const e = (await hookd.ok(EXECUTION, { id: run.id })).execution;
      return e.status === "RUNNING" || e.status === "QUEUED" ? null : e;
    }, "the run to be ended by start-up recovery");
    assert.equal(ended.status, "FAILED");
    assert.match(ended.error, /interrupted/);
  });

  test("kill -9 of hookd alone: the hook's escaped setsid child stops within the kill grace, before any restart", async () => {
    const hook = beatingHook(path.join(dir, "alone"));
    const hookd = await serve(path.join(dir, "alone-data"));
    const run = await startBeating(hookd, hook);
    const killedAt = Date.now();
    await kill9(hookd.child);
    await eventually(async () => processesOf(run.id).length === 0, "the run's processes to be gone", KILL_GRACE_MS + SLACK_MS).catch(() => null);
    const left = processesOf(run.id);
    const lastBeat = Math.max(...beatsOf(hook.beats, 1).map((m) => m.at));
    assert.ok(
      !running(run.child) && lastBeat <= killedAt + KILL_GRACE_MS + SLACK_MS,
      `the escaped setsid child (pid ${run.child}) still ${running(run.child) ? "runs" : "ran"}: it beat ${lastBeat - killedAt} ms after kill -9 of hookd (kill grace ${KILL_GRACE_MS} ms, slack ${SLACK_MS} ms)`,
    );
    assert.deepEqual(left, [], `no process of the run is left ${Date.now() - killedAt} ms after kill -9 of hookd`);
  });
});
