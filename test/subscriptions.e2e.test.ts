import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildSchema, parse } from "graphql";
import WebSocket from "ws";
import { executionLogFastPath } from "../src/http/execution-log-fast-path.js";
import { ADMIN_KEY, eventually, startServer, type TestServer } from "./helpers/server.js";
import { sseSubscribe } from "./helpers/sse.js";
import { subscribe } from "./helpers/ws.js";

const PY = "/usr/bin/python3";
const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const TRIGGER = `mutation($hook: HookPoint!, $wait: Boolean) { triggerHook(input: { hook: $hook, wait: $wait }) { id status } }`;
const LOG_SUB = `subscription($id: ID!, $after: Int) { executionLog(executionId: $id, after: $after) { lines { seq stream text } finished { id status exitCode error } } }`;

interface LogEvent {
  executionLog: { lines: { seq: number; stream: string; text: string }[]; finished: { id: string; status: string; exitCode: number | null; error: string | null } | null };
}

const linesOf = (events: LogEvent[]) => events.flatMap((e) => e.executionLog.lines);

describe("subscriptions: live execution logs", () => {
  let server: TestServer;
  let dir: string;
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    chmodSync(file, 0o755);
    return file;
  };
  const configure = (hook: string, file: string) => server.ok(SET, { input: { hook, enabled: true, commands: { linux: `${file} \${PATH_JSON_INPUT}` } } });
  const status = async (id: string) => (await server.ok(`query($id: ID!) { execution(id: $id) { status logLineCount } }`, { id })).execution as { status: string; logLineCount: number };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-sub-"));
    server = await startServer();
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("replay then live: joining a running hook mid-way gives every line once, in order, then the outcome", async () => {
    const release = path.join(dir, "go-on");
    const hook = script(
      "steady.py",
      `#!${PY}\nimport os, sys, time\nfor i in range(1, 3001):\n    print("line %d" % i, flush=True)\n    if i == 1000:\n        while not os.path.exists(${JSON.stringify(release)}): time.sleep(0.01)\n    elif i % 50 == 0: time.sleep(0.005)\nprint("done", file=sys.stderr)\n`,
    );
    await configure("POST_DONE_SERVER", hook);
    const [{ id }] = (await server.ok(TRIGGER, { hook: "POST_DONE_SERVER", wait: false })).triggerHook;
    await eventually(
      async () => (await server.ok(`query($id: ID!) { execution(id: $id) { logLines(after: 999, first: 1) { seq } } }`, { id })).execution.logLines.length === 1,
      "1000 lines to be stored",
    );
    const sub = subscribe<LogEvent>(server.url, ADMIN_KEY, LOG_SUB, { id });
    // Let the replay start before the hook goes on, so the seam is crossed while it prints.
    await eventually(async () => sub.events.length > 0, "the replay");
    writeFileSync(release, "");
    const end = await sub.ended;
    assert.equal(end.completed, true, JSON.stringify(end));
    const lines = linesOf(sub.events);
    assert.deepEqual(
      lines.map((l) => l.seq),
      Array.from({ length: 3001 }, (_, i) => i + 1),
      "every seq once, in order",
    );
    assert.deepEqual(
      lines.slice(0, 3000).map((l) => l.text),
      Array.from({ length: 3000 }, (_, i) => `line ${i + 1}`),
    );
    assert.deepEqual(lines[3000], { seq: 3001, stream: "STDERR", text: "done" });
    const last = sub.events[sub.events.length - 1].executionLog;
    assert.deepEqual(last.lines, []);
    assert.deepEqual(last.finished, { id, status: "SUCCEEDED", exitCode: 0, error: null });
    await sub.dispose();

    // The polling fallback returns the same lines in the same order.
    const polled: { seq: number; text: string; stream: string }[] = [];
    for (let after = 0; ; ) {
      const page = (await server.ok(`query($id: ID!, $after: Int) { execution(id: $id) { logLines(after: $after, first: 700) { seq stream text } } }`, { id, after })).execution.logLines;
      if (page.length === 0) break;
      polled.push(...page);
      after = page[page.length - 1].seq;
    }
    assert.deepEqual(polled, lines);
  });

  test("a finished execution replays and completes; reconnecting with after gets exactly the rest", async () => {
    const hook = script("ten.sh", '#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9 10; do echo "n$i"; done\nexit 3\n');
    await configure("POST_FAILED_SERVER", hook);
    const [{ id, status: st }] = (await server.ok(TRIGGER, { hook: "POST_FAILED_SERVER", wait: true })).triggerHook;
    assert.equal(st, "FAILED");
    const full = subscribe<LogEvent>(server.url, ADMIN_KEY, LOG_SUB, { id });
    assert.equal((await full.ended).completed, true);
    assert.deepEqual(
      linesOf(full.events).map((l) => l.text),
      ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "exited with code 3"],
    );
    assert.deepEqual(full.events.at(-1)!.executionLog.finished, { id, status: "FAILED", exitCode: 3, error: "exited with code 3" });
    await full.dispose();

    const rest = subscribe<LogEvent>(server.url, ADMIN_KEY, LOG_SUB, { id, after: 7 });
    assert.equal((await rest.ended).completed, true);
    assert.deepEqual(
      linesOf(rest.events).map((l) => l.seq),
      [8, 9, 10, 11],
    );
    await rest.dispose();
  });

  test("log events built by the fast path are exactly what graphql-js builds (aliases, __typename, enums, dates)", async () => {
    const hook = script("mixed.sh", "#!/bin/sh\necho out1\necho err1 >&2\necho out2\nexit 0\n");
    await configure("POST_SUBMIT_SERVER", hook);
    const [{ id }] = (await server.ok(TRIGGER, { hook: "POST_SUBMIT_SERVER", wait: true })).triggerHook;
    const fields = "__typename seq stream at text n: seq";
    const fast = `subscription($id: ID!) { log: executionLog(executionId: $id) { __typename l: lines { ${fields} } finished { status } } }`;
    // A fragment is outside the fast path's plain selections: graphql-js builds these events.
    const generic = `subscription($id: ID!) { log: executionLog(executionId: $id) { __typename l: lines { ...L } finished { status } } } fragment L on ExecutionLogLine { ${fields} }`;
    const schema = buildSchema(readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"));
    assert.notEqual(executionLogFastPath({ schema, document: parse(fast) }), null, "the first selection takes the fast path");
    assert.equal(executionLogFastPath({ schema, document: parse(generic) }), null, "the second does not");
    const results = [];
    for (const query of [fast, generic]) {
      const sub = subscribe(server.url, ADMIN_KEY, query, { id });
      assert.equal((await sub.ended).completed, true);
      results.push(sub.events);
      await sub.dispose();
    }
    assert.deepEqual(results[0], results[1]);
    const lines = results[0].flatMap((e: any) => e.log.l);
    assert.deepEqual(
      lines.map((l: any) => [l.__typename, l.seq, l.n]),
      [
        ["ExecutionLogLine", 1, 1],
        ["ExecutionLogLine", 2, 2],
        ["ExecutionLogLine", 3, 3],
      ],
    );
    // stdout and stderr are separate pipes: their relative order is the hook's, not fixed here.
    assert.deepEqual(lines.map((l: any) => `${l.stream} ${l.text}`).sort(), ["STDERR err1", "STDOUT out1", "STDOUT out2"]);
    assert.match(lines[0].at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(results[0].at(-1), { log: { __typename: "ExecutionLogEvent", l: [], finished: { status: "SUCCEEDED" } } });
  });

  test("authentication: no key and a revoked key close the socket with 4401 and the reason", async () => {
    const hookless = subscribe(server.url, null, LOG_SUB, { id: "x" });
    const end = await hookless.ended;
    assert.equal(end.close?.code, 4401);
    assert.match(end.close!.reason, /missing API key/);
    await hookless.dispose();

    const created = (await server.ok(`mutation { createApiKey(label: "temp") { secret apiKey { id } } }`)).createApiKey;
    await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: created.apiKey.id });
    const revoked = subscribe(server.url, created.secret, LOG_SUB, { id: "x" });
    const end2 = await revoked.ended;
    assert.equal(end2.close?.code, 4401);
    assert.match(end2.close!.reason, /was revoked/);
    await revoked.dispose();
  });

  test("a role that may not read execution logs gets FORBIDDEN and no data; an unknown execution NOT_FOUND", async () => {
    const standard = await server.user("vendor@example.com", "STANDARD");
    const employee = await server.user("artist@example.com", "EMPLOYEE");
    const [{ id }] = (await server.ok(`{ executions(first: 1) { nodes { id } } }`)).executions.nodes;
    for (const key of [standard.key, employee.key]) {
      const sub = subscribe(server.url, key, LOG_SUB, { id });
      const end = await sub.ended;
      assert.equal(end.completed, false);
      assert.equal(end.errors?.[0].extensions?.code, "FORBIDDEN", JSON.stringify(end));
      assert.match(end.errors![0].message, /subscription\.executionLog requires ADMIN or one of the workspace's audit roles/i);
      assert.equal(sub.events.length, 0);
      await sub.dispose();
    }
    const missing = subscribe(server.url, ADMIN_KEY, LOG_SUB, { id: "00000000-0000-0000-0000-000000000000" });
    const end = await missing.ended;
    assert.equal(end.errors?.[0].extensions?.code, "NOT_FOUND");
    await missing.dispose();
  });

  test("server-sent events at /graphql/stream: the WebSocket's key check and access rules; a log followed live, status changes", async () => {
    // An admin's hook that prints two lines, then waits to be let go.
    const release = path.join(dir, "go-sse");
    const hook = script(
      "sse.py",
      `#!${PY}\nimport os, time\nprint("one", flush=True)\nprint("two", flush=True)\nwhile not os.path.exists(${JSON.stringify(release)}): time.sleep(0.02)\nprint("three")\n`,
    );
    await configure("POST_SUBMIT_SERVER", hook);
    const statuses = sseSubscribe<{ executionUpdated: { id: string; status: string } }>(server.url, ADMIN_KEY, `subscription { executionUpdated(filter: { hook: POST_SUBMIT_SERVER }) { id status } }`);
    await new Promise((r) => setTimeout(r, 200));
    const [{ id }] = (await server.ok(TRIGGER, { hook: "POST_SUBMIT_SERVER", wait: false })).triggerHook;

    const missing = await sseSubscribe(server.url, null, LOG_SUB, { id }).ended;
    assert.deepEqual([missing.status, missing.errors?.[0].extensions?.code], [401, "UNAUTHENTICATED"]);
    assert.match(missing.errors![0].message, /missing API key/);
    const wrong = await sseSubscribe(server.url, "hkd_wrong_key_0000000000000000", LOG_SUB, { id }).ended;
    assert.deepEqual([wrong.status, wrong.errors?.[0].extensions?.code], [401, "UNAUTHENTICATED"]);
    assert.match(wrong.errors![0].message, /invalid API key/);

    // A STANDARD user may not follow the admin's execution's log: refused as over the WebSocket, word for word.
    const vendor = await server.user("sse-vendor@example.com", "STANDARD");
    const overSse = sseSubscribe(server.url, vendor.key, LOG_SUB, { id });
    const refused = await overSse.ended;
    const overWs = subscribe(server.url, vendor.key, LOG_SUB, { id });
    const wsRefused = await overWs.ended;
    await overWs.dispose();
    assert.equal(refused.completed, false);
    assert.equal(refused.errors?.[0].extensions?.code, "FORBIDDEN", JSON.stringify(refused));
    assert.equal(refused.errors?.[0].message, wsRefused.errors?.[0].message);
    assert.match(refused.errors![0].message, /subscription\.executionLog requires ADMIN or one of the workspace's audit roles/i);
    assert.equal(overSse.events.length, 0);

    // The admin follows it: the lines arrive while it runs, then the outcome.
    const log = sseSubscribe<LogEvent>(server.url, ADMIN_KEY, LOG_SUB, { id });
    await eventually(async () => linesOf(log.events).length === 2, "the first two lines over SSE");
    assert.equal((await status(id)).status, "RUNNING");
    writeFileSync(release, "");
    const end = await log.ended;
    assert.equal(end.completed, true, JSON.stringify(end));
    assert.deepEqual(
      linesOf(log.events).map((l) => `${l.seq} ${l.text}`),
      ["1 one", "2 two", "3 three"],
    );
    assert.equal(log.events.at(-1)!.executionLog.finished?.status, "SUCCEEDED");
    await eventually(async () => statuses.events.some((e) => e.executionUpdated.id === id && e.executionUpdated.status === "SUCCEEDED"), "the outcome over SSE");
    assert.deepEqual(
      statuses.events.filter((e) => e.executionUpdated.id === id).map((e) => e.executionUpdated.status),
      ["QUEUED", "RUNNING", "SUCCEEDED"],
    );
    statuses.abort();
    await statuses.ended;
  });

  test("access taken away while a subscription is open ends it at once: audit role removed, key revoked", async () => {
    const release = path.join(dir, "go-access");
    const hook = script("access.py", `#!${PY}\nimport os, time\nprint("started", flush=True)\nwhile not os.path.exists(${JSON.stringify(release)}): time.sleep(0.02)\n`);
    await configure("POST_DONE_CLIENT", hook);
    const { settings } = await server.ok(`{ settings { defaultExecutionServer { id } } }`);
    const [{ id }] = (await server.ok(`mutation($s: ID) { triggerHook(input: { hook: POST_DONE_CLIENT, executionServer: $s, wait: false }) { id } }`, { s: settings.defaultExecutionServer.id }))
      .triggerHook;
    const auditor = await server.user("auditor@example.com", "EMPLOYEE");
    await server.ok(`mutation { updateSettings(input: { auditRoles: [EMPLOYEE] }) { auditRoles } }`);
    const byRole = subscribe<LogEvent>(server.url, auditor.key, LOG_SUB, { id });
    await eventually(async () => linesOf(byRole.events).length === 1, "the first line");
    await server.ok(`mutation { updateSettings(input: { auditRoles: [] }) { auditRoles } }`);
    const end = await byRole.ended;
    assert.equal(end.completed, false);
    assert.equal(end.errors?.[0].extensions?.code, "FORBIDDEN", JSON.stringify(end));
    await byRole.dispose();

    const key = (await server.ok(`mutation { createApiKey(label: "dashboard") { secret apiKey { id } } }`)).createApiKey;
    const byKey = subscribe<LogEvent>(server.url, key.secret, LOG_SUB, { id });
    await eventually(async () => linesOf(byKey.events).length === 1, "the first line again");
    await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: key.apiKey.id });
    const end2 = await byKey.ended;
    assert.equal(end2.errors?.[0].extensions?.code, "UNAUTHENTICATED", JSON.stringify(end2));
    assert.match(end2.errors![0].message, /was revoked/);
    await byKey.dispose();
    writeFileSync(release, "");
  });

  test("50 subscribers on one execution each get every line once", async () => {
    const release = path.join(dir, "go-50");
    const hook = script("fifty.py", `#!${PY}\nimport os, time\nwhile not os.path.exists(${JSON.stringify(release)}): time.sleep(0.01)\nfor i in range(2000):\n    print("row %d" % i)\n`);
    await configure("POST_SUBMIT_SERVER", hook);
    const [{ id }] = (await server.ok(TRIGGER, { hook: "POST_SUBMIT_SERVER", wait: false })).triggerHook;
    const live = Array.from({ length: 50 }, () => subscribe<LogEvent>(server.url, ADMIN_KEY, LOG_SUB, { id }));
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(release, "");
    const ends = await Promise.all(live.map((s) => s.ended));
    assert.ok(
      ends.every((e) => e.completed),
      JSON.stringify(ends.find((e) => !e.completed)),
    );
    for (const s of live) {
      assert.deepEqual(
        linesOf(s.events).map((l) => l.seq),
        Array.from({ length: 2000 }, (_, i) => i + 1),
      );
      await s.dispose();
    }
  });

  test("a subscriber that stops reading does not grow the server's memory, and catches up when it reads again", async () => {
    const hook = script("flood.py", `#!${PY}\nimport sys\nw = sys.stdout.write\npad = "y" * 90\nfor i in range(200000):\n    w("%08d %s\\n" % (i, pad))\n`);
    await configure("PUBLISH_SERVER", hook);
    // A raw graphql-ws conversation over a socket whose reading we pause.
    const socket = new WebSocket(server.url.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
    await new Promise((r) => socket.once("open", r));
    socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${ADMIN_KEY}` } }));
    const received: string[] = [];
    socket.on("message", (data) => received.push(data.toString()));
    await eventually(async () => received.some((m) => m.includes("connection_ack")), "the ack");
    const [{ id }] = (await server.ok(TRIGGER, { hook: "PUBLISH_SERVER", wait: false })).triggerHook;
    socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: LOG_SUB, variables: { id } } }));
    await eventually(async () => received.length > 1, "the first event");
    (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    await eventually(async () => (await status(id)).status === "SUCCEEDED", "the flood to finish", 60_000);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(sampler);
    assert.ok(peak - rssBefore < 150 * 1024 * 1024, `server RSS grew by ${Math.round((peak - rssBefore) / 1048576)} MiB while a subscriber stalled`);

    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    await eventually(async () => received.some((m) => m.includes('"type":"complete"')), "the subscription to complete", 60_000);
    socket.close();
    const seqs: number[] = [];
    let finished = null;
    for (const m of received) {
      const msg = JSON.parse(m);
      if (msg.type !== "next") continue;
      seqs.push(...msg.payload.data.executionLog.lines.map((l: { seq: number }) => l.seq));
      finished = msg.payload.data.executionLog.finished ?? finished;
    }
    const total = (await status(id)).logLineCount;
    assert.equal(seqs.length, total, "every stored line delivered exactly once");
    assert.ok(
      seqs.every((s, i) => s === i + 1),
      "in order, no gap",
    );
    assert.equal((finished as unknown as { status: string }).status, "SUCCEEDED");
  });
});

describe("subscriptions: execution status", () => {
  let server: TestServer;
  before(async () => {
    // One hook at a time, so the second run below has to wait for a free slot.
    server = await startServer({ HOOKD_EXECUTOR_CONCURRENCY: "1" });
  });
  after(() => server.close());

  test("executionUpdated reports each stored status of matching executions only: QUEUED, RUNNING, the outcome", async () => {
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: "/bin/sleep 0.2" } } });
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: "/bin/true" } } });
    const sub = subscribe<{ executionUpdated: { id: string; hook: string; status: string } }>(
      server.url,
      ADMIN_KEY,
      `subscription { executionUpdated(filter: { hook: POST_DONE_SERVER }) { id hook status exitCode error } }`,
    );
    const here = subscribe<{ executionUpdated: { id: string } }>(server.url, ADMIN_KEY, `subscription { executionUpdated(filter: { executionServer: "${server.app.bootstrap.self.id}" }) { id } }`);
    const elsewhere = subscribe<{ executionUpdated: { id: string } }>(
      server.url,
      ADMIN_KEY,
      `subscription { executionUpdated(filter: { executionServer: "00000000-0000-4000-8000-000000000000" }) { id } }`,
    );
    await new Promise((r) => setTimeout(r, 200));
    await server.ok(TRIGGER, { hook: "POST_SUBMIT_SERVER", wait: true });
    const [first] = (await server.ok(TRIGGER, { hook: "POST_DONE_SERVER", wait: false })).triggerHook;
    const [second] = (await server.ok(TRIGGER, { hook: "POST_DONE_SERVER", wait: false })).triggerHook;
    await eventually(async () => sub.events.filter((e) => e.executionUpdated.status === "SUCCEEDED").length === 2, "both finish events");
    assert.ok(sub.events.every((e) => e.executionUpdated.hook === "POST_DONE_SERVER"));
    const statuses = (id: string) => sub.events.filter((e) => e.executionUpdated.id === id).map((e) => e.executionUpdated.status);
    // Every execution is stored QUEUED before a runner claims it; the second waits for the slot.
    assert.deepEqual(statuses(first.id), ["QUEUED", "RUNNING", "SUCCEEDED"]);
    assert.deepEqual(statuses(second.id), ["QUEUED", "RUNNING", "SUCCEEDED"]);
    // Filtered by where they run: this server's runs reach its subscriber, no other's.
    await eventually(async () => here.events.filter((e) => e.executionUpdated.id === second.id).length === 3, "this server's events");
    assert.equal(elsewhere.events.length, 0);
    await Promise.all([sub.dispose(), here.dispose(), elsewhere.dispose()]);
  });
});
