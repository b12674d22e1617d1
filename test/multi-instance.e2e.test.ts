import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { CLI, serveProcess, type ServeProcess } from "./helpers/serve-process.js";
import { ADMIN_KEY, eventually, type GqlResult } from "./helpers/server.js";
import { subscribe } from "./helpers/ws.js";
import { multiInstanceDatabase } from "./helpers/multi-instance-db.js";
import { onPostgres } from "./helpers/test-database.js";

// Two real hookd processes on one PostgreSQL database and one Redis prefix, as behind a load
// balancer: events, cache invalidations and dispatch notices cross between them through Redis.
// Always on PostgreSQL, so it runs in npm test's first pass only (not again in the PostgreSQL one).

const REDIS = process.env.HOOKD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const TRIGGER = `mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status runner error output } }`;
const EXECUTION = `query($id: ID!) { execution(id: $id) { id status runner error logLineCount } }`;

let dir: string;
let db: Awaited<ReturnType<typeof multiInstanceDatabase>>;
let a: Instance;
let b: Instance;
const env: Record<string, string> = {};

interface Instance {
  proc: ServeProcess;
  url: string;
  /** Its instance id (from its start-up log): runner ids and lease messages carry it. */
  instance: string;
  gql<T = any>(query: string, variables?: Record<string, unknown>, key?: string): Promise<GqlResult<T>>;
  ok<T = any>(query: string, variables?: Record<string, unknown>, key?: string): Promise<T>;
}

async function start(): Promise<Instance> {
  const proc = await serveProcess(env);
  const instance = /"instance":"([0-9a-f-]{36})"/.exec(proc.stdout())?.[1];
  assert.ok(instance, `no instance id in the start-up log:\n${proc.stdout()}`);
  const gql = async (query: string, variables: Record<string, unknown> = {}, key = ADMIN_KEY) => {
    const res = await fetch(`${proc.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
    return { status: res.status, ...((await res.json()) as object) } as GqlResult;
  };
  const ok = async (query: string, variables: Record<string, unknown> = {}, key = ADMIN_KEY) => {
    const res = await gql(query, variables, key);
    assert.equal(res.errors, undefined, `expected no errors, got ${JSON.stringify(res.errors)}`);
    return res.data;
  };
  return { proc, url: proc.url, instance, gql, ok };
}

function script(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

const configure = (on: Instance, hook: string, file: string) => on.ok(SET, { input: { hook, enabled: true, commands: { linux: `${file} \${PATH_JSON_INPUT}`, mac: null, windows: null } } });
const finished = (on: Instance, id: string) =>
  eventually(async () => {
    const { execution } = await on.ok(EXECUTION, { id });
    return ["QUEUED", "RUNNING"].includes(execution.status) ? null : execution;
  }, `execution ${id} to finish`);

describe("several hookd instances on one PostgreSQL and one Redis", { skip: onPostgres ? "ran in the first pass (it is on PostgreSQL in both)" : false }, () => {
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-multi-"));
    db = await multiInstanceDatabase(dir);
    Object.assign(env, db.env, {
      HOOKD_PUBSUB: "redis",
      HOOKD_REDIS_URL: REDIS,
      HOOKD_REDIS_PREFIX: `hookd-test-${randomBytes(6).toString("hex")}:`,
      HOOKD_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      HOOKD_AUTH_FAILURES: "1000000",
      HOOKD_LEASE_SECONDS: "1",
      HOOKD_EXECUTOR_CONCURRENCY: "3",
      HOOKD_KILL_GRACE_MS: "200",
      HOOKD_LOG_LEVEL: "info",
      HOOKD_RETENTION_DAYS: "0",
    });
    // One after the other: the first start makes the first admin.
    a = await start();
    b = await start();
  });

  after(async () => {
    // A killed one (the last test) has exited already.
    await Promise.allSettled([a, b].filter((i) => i && i.proc.child.exitCode === null && i.proc.child.signalCode === null).map((i) => i.proc.stop()));
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an executionLog subscription on either instance gets every line of a run, whichever instance runs it: in order, no gap, no duplicate", async () => {
    await configure(a, "POST_DONE_SERVER", script("lines.sh", `i=1; while [ $i -le 60 ]; do echo "line $i"; i=$((i+1)); sleep 0.01; done`));
    const [run] = (await b.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false } })).triggerHook;
    const query = `subscription($id: ID!) { executionLog(executionId: $id) { lines { seq text } finished { status } } }`;
    const subs = [a, b].map((on) => subscribe(on.url, ADMIN_KEY, query, { id: run.id }));
    const ends = await Promise.all(subs.map((s) => s.ended));
    for (const [i, s] of subs.entries()) {
      assert.equal(ends[i].completed, true, JSON.stringify(ends[i]));
      const lines = s.events.flatMap((e) => e.executionLog.lines);
      assert.deepEqual(
        lines.map((l: any) => l.seq),
        Array.from({ length: 60 }, (_, n) => n + 1),
      );
      assert.equal(lines[59].text, "line 60");
      assert.equal(s.events.at(-1).executionLog.finished.status, "SUCCEEDED");
    }
    const execution = await finished(a, run.id);
    assert.ok(
      [a.instance, b.instance].some((i) => execution.runner.endsWith(`/${i}`)),
      `run by one of the two instances: ${execution.runner}`,
    );
  });

  test("executionUpdated on one instance hears runs triggered through the other; a blocking caller on one gets the outcome of a run the other runs", async () => {
    await configure(a, "POST_DONE_SERVER", script("quick.sh", `echo quick`));
    const query = `subscription { executionUpdated { id status } }`;
    const seen = new Map<string, string[]>();
    const sub = subscribe(b.url, ADMIN_KEY, query, {}, (e: any) => seen.set(e.executionUpdated.id, [...(seen.get(e.executionUpdated.id) ?? []), e.executionUpdated.status]));
    // The subscription is open once it hears something: a run of its own.
    await eventually(async () => {
      await b.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: true } });
      return seen.size > 0;
    }, "the subscription to be open");
    const runs: any[] = [];
    for (let i = 0; i < 6; i++) runs.push(...(await a.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: true } })).triggerHook);
    for (const r of runs) assert.equal(r.status, "SUCCEEDED", r.error);
    // Whichever ran them, the waiter on A got each outcome; some ran on B (they take turns by who claims first).
    await eventually(async () => runs.every((r) => seen.get(r.id)?.includes("SUCCEEDED")), "B to hear every run triggered on A");
    await sub.dispose();
  });

  test("a key revoked through one instance is refused by the other at once, and the other's open subscription ends", async () => {
    const { createUser } = await a.ok(`mutation { createUser(input: { email: "auditor@example.com", role: ADMIN }) { id } }`);
    const { createApiKey } = await a.ok(`mutation($id: ID!) { createApiKey(user: $id) { secret apiKey { id } } }`, { id: createUser.id });
    const key = createApiKey.secret as string;
    // B knows the key (cached) and serves a subscription with it.
    assert.equal((await b.ok(`{ me { id } }`, {}, key)).me.id, createUser.id);
    const sub = subscribe(b.url, key, `subscription { executionUpdated { id } }`);
    await eventually(async () => {
      await a.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: true } });
      return sub.events.length > 0;
    }, "the subscription on B to be open");
    await a.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: createApiKey.apiKey.id });
    const refused = await b.gql(`{ me { id } }`, {}, key);
    assert.equal(refused.errors?.[0]?.extensions?.code, "UNAUTHENTICATED", JSON.stringify(refused));
    const end = await sub.ended;
    assert.equal(end.completed, false);
    assert.match(JSON.stringify(end), /UNAUTHENTICATED|revoked/);
  });

  test("a key revoked by the command line without the Redis settings is refused by both instances (PostgreSQL's NOTIFY)", async () => {
    const { createUser } = await a.ok(`mutation { createUser(input: { email: "cli-revoked@example.com", role: STANDARD }) { id } }`);
    const { createApiKey } = await a.ok(`mutation($id: ID!) { createApiKey(user: $id) { secret apiKey { id } } }`, { id: createUser.id });
    const key = createApiKey.secret as string;
    // Both hold the key in their caches.
    for (const on of [a, b]) assert.equal((await on.ok(`{ me { id } }`, {}, key)).me.id, createUser.id);
    const { HOOKD_PUBSUB: _p, HOOKD_REDIS_URL: _u, HOOKD_REDIS_PREFIX: _x, ...withoutRedis } = env;
    const child = spawn(process.execPath, [CLI, "key", "revoke", key.slice(0, 12)], { env: { ...process.env, ...withoutRedis }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    assert.equal(await new Promise((resolve) => child.on("exit", resolve)), 0, stderr);
    // The notification reaches each instance asynchronously: asked again for up to 2 s.
    for (const on of [a, b]) {
      await eventually(async () => (await on.gql(`{ me { id } }`, {}, key)).errors?.[0]?.extensions?.code === "UNAUTHENTICATED", `the revoked key refused by ${on.instance}`, 2000);
    }
  });

  test("a hook configuration changed through one instance applies on the other at once", async () => {
    await configure(a, "POST_SUBMIT_SERVER", script("v1.sh", `echo v1`));
    const run = async () => {
      const [r] = (await b.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", wait: true } })).triggerHook;
      const { execution } = await b.ok(`query($id: ID!) { execution(id: $id) { logLines { text } } }`, { id: r.id });
      return execution.logLines.map((l: any) => l.text).join("\n");
    };
    assert.equal(await run(), "v1"); // B resolved (and cached) the effective hook
    await configure(a, "POST_SUBMIT_SERVER", script("v2.sh", `echo v2`));
    assert.equal(await run(), "v2");
  });

  test("queued through both instances, each execution is claimed and run exactly once, within each runner's limit", async () => {
    const ran = path.join(dir, "ran.txt");
    // Each run appends its id, and how many run at once on its instance's limit is checked by the runner count below.
    await configure(a, "POST_DONE_SERVER", script("once.sh", `echo "$HOOKD_EXECUTION_ID start $(date +%s%N)" >> ${ran}; sleep 0.05; echo "$HOOKD_EXECUTION_ID end $(date +%s%N)" >> ${ran}`));
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(...(await (i % 2 ? a : b).ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false } })).triggerHook.map((r: any) => r.id));
    const results = await Promise.all(ids.map((id) => finished(a, id)));
    for (const r of results) assert.equal(r.status, "SUCCEEDED", r.error);
    const marks = readFileSync(ran, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const starts = marks.filter((m) => m[1] === "start").map((m) => m[0]);
    assert.deepEqual([...starts].sort(), [...ids].sort(), "every execution ran, none twice");
    // At no moment did one instance's runner run more hooks than its limit (HOOKD_EXECUTOR_CONCURRENCY=3).
    const runnerOf = new Map(results.map((r) => [r.id, r.runner as string]));
    for (const runner of new Set(runnerOf.values())) {
      assert.ok(
        [a.instance, b.instance].some((i) => runner.endsWith(`/${i}`)),
        runner,
      );
      let now = 0;
      let most = 0;
      const events = marks.filter((m) => runnerOf.get(m[0]) === runner).sort((x, y) => (BigInt(x[2]) < BigInt(y[2]) ? -1 : BigInt(x[2]) > BigInt(y[2]) ? 1 : x[1] === "end" ? -1 : 1));
      for (const [, kind] of events) most = Math.max(most, (now += kind === "start" ? 1 : -1));
      assert.ok(most <= 3, `${runner} ran ${most} hooks at once`);
    }
  });

  test("an agent connected to one instance runs work queued through the other", async () => {
    const { token } = (await a.ok(`mutation { createAgentToken(input: { kind: SERVER, name: "render-x" }) { token } }`)).createAgentToken;
    const agent: ChildProcess = spawn(
      process.execPath,
      [CLI, "agent", "--url", a.url, "--token", token, "--name", "render-x", "--hostname", "render-x", "--state-dir", path.join(dir, "agent-state")],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    agent.stdout!.on("data", (d) => (out += d));
    agent.stderr!.on("data", (d) => (out += d));
    try {
      const server = await eventually(
        async () => {
          const { executionServers } = await b.ok(`{ executionServers { id name online } }`);
          return (executionServers as any[]).find((s) => s.name === "render-x" && s.online);
        },
        "the agent online",
        40_000,
      ).catch((err) => {
        throw new Error(`${err.message}; the agent said:\n${out}`);
      });
      await configure(a, "POST_DONE_SERVER", script("agent.sh", `echo "on the agent"`));
      const [r] = (await b.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", executionServer: server.id, wait: true } })).triggerHook;
      assert.equal(r.status, "SUCCEEDED", r.error);
      assert.match(r.runner, /^agent:/);
    } finally {
      agent.kill("SIGTERM");
    }
  });

  test("a third instance that would not share events the same way refuses to start, saying what to set", async () => {
    const { HOOKD_PUBSUB: _p, HOOKD_REDIS_URL: _u, HOOKD_REDIS_PREFIX: _x, ...memoryEnv } = env;
    // Started side by side: each is refused on its own.
    await Promise.all([
      assert.rejects(serveProcess(memoryEnv), (err: Error) => {
        assert.match(err.message, /exited with 2/);
        assert.match(err.message, /another hookd instance serves this database \(instance [0-9a-f]{8} on .*, pid \d+, heartbeat \d+ s ago\) and HOOKD_PUBSUB is 'memory' here/);
        assert.match(err.message, /set HOOKD_PUBSUB=redis with the same HOOKD_REDIS_URL and HOOKD_REDIS_PREFIX on every instance/);
        return true;
      }),
      assert.rejects(serveProcess({ ...env, HOOKD_REDIS_PREFIX: "elsewhere:" }), /on Redis prefix 'hookd-test-[0-9a-f]+:', this one on 'elsewhere:'/),
      assert.rejects(serveProcess({ ...env, HOOKD_REDIS_URL: "redis://127.0.0.1:1" }), /cannot connect to Redis at redis:\/\/127\.0\.0\.1:1.*HOOKD_REDIS_URL/),
    ]);
    // The refused ones left nothing behind: the two still serve, and a run still works.
    const [r] = (await b.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: true } })).triggerHook;
    assert.notEqual(r.status, "QUEUED");
  });

  test("two instances started at the same moment on a new database: one migrates it, the other waits, both serve", async () => {
    const fresh = await multiInstanceDatabase(mkdtempSync(path.join(tmpdir(), "hookd-multi-fresh-")));
    const started: ServeProcess[] = [];
    try {
      const both = await Promise.allSettled(
        [0, 1].map(() =>
          serveProcess({ ...env, ...fresh.env }).then((p) => {
            started.push(p);
            return p;
          }),
        ),
      );
      assert.deepEqual(
        both.map((r) => (r.status === "fulfilled" ? "serving" : String(r.reason).slice(-1500))),
        ["serving", "serving"],
      );
      for (const p of started) {
        const res = await fetch(`${p.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
          body: JSON.stringify({ query: "{ me { email } }" }),
        });
        assert.equal(((await res.json()) as any).data.me.email, "admin@localhost");
      }
      const res = await fetch(`${started[0].url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({ query: "{ executionServers { hostname kind } queues { code } }" }),
      });
      const { data } = (await res.json()) as any;
      assert.equal(data.executionServers.filter((s: any) => s.kind === "SERVER" && s.hostname === hostname()).length, 1, "one execution server for the host");
      assert.deepEqual(
        data.queues.map((q: any) => q.code),
        ["default"],
      );
    } finally {
      await Promise.allSettled(started.map((p) => p.stop()));
      await fresh.drop();
    }
  });

  test("an instance that stops leaves its host's execution server online while another instance on the host still serves it", async () => {
    const servers = async () => (await a.ok(`{ executionServers { hostname kind online } }`)).executionServers.filter((s: any) => s.kind !== "CLIENT" && s.hostname === hostname());
    const c = await start();
    assert.deepEqual(
      (await servers()).map((s: any) => s.online),
      [true],
    );
    await c.proc.stop();
    assert.deepEqual(
      (await servers()).map((s: any) => s.online),
      [true],
      "a and b still run this host's hooks",
    );
    await configure(a, "POST_DONE_SERVER", script("online.sh", "exit 0"));
    const [r] = (await b.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: true } })).triggerHook;
    assert.equal(r.status, "SUCCEEDED");
  });

  test("kill -9 of one instance mid-run: the other fails that instance's leased runs at lease expiry, touches nothing else, and loses no acknowledged execution", async () => {
    await configure(a, "POST_DONE_SERVER", script("slow.sh", `sleep 2; echo done`));
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(...(await (i % 2 ? a : b).ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false } })).triggerHook.map((r: any) => r.id));
    // Both instances hold runs (3 each at most), the rest wait QUEUED.
    const onA = await eventually(async () => {
      const runs = await Promise.all(ids.map(async (id) => (await b.ok(EXECUTION, { id })).execution));
      const mine = runs.filter((r) => r.status === "RUNNING" && r.runner?.endsWith(`/${a.instance}`));
      return mine.length > 0 && runs.some((r) => r.status === "RUNNING" && r.runner?.endsWith(`/${b.instance}`)) ? mine : null;
    }, "both instances to run some");
    a.proc.child.kill("SIGKILL");
    const results = await Promise.all(ids.map((id) => finished(b, id)));
    const failedIds = new Set(results.filter((r) => r.status === "FAILED").map((r) => r.id));
    for (const r of onA) {
      assert.ok(failedIds.has(r.id), `A's run ${r.id} is failed`);
      const failed = results.find((x) => x.id === r.id)!;
      assert.match(failed.error, /stopped renewing its lease/);
      assert.match(failed.error, new RegExp(`hookd instance ${a.instance.slice(0, 8)}`));
    }
    // Everything else (B's runs and what was still QUEUED) ran to the end on B.
    for (const r of results.filter((x) => !onA.some((o: any) => o.id === x.id))) {
      assert.equal(r.status, "SUCCEEDED", `${r.id}: ${r.error}`);
      assert.ok(r.runner.endsWith(`/${b.instance}`), r.runner);
    }
    // The killed instance may have claimed a few more between the look and the kill: those failed the same way.
    for (const id of failedIds) assert.match(results.find((x) => x.id === id)!.error, new RegExp(`hookd instance ${a.instance.slice(0, 8)}`));
  });
});
