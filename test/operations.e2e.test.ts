import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, type Logger } from "../src/logger.js";
import { ADMIN_KEY, eventually, startServer, type TestServer } from "./helpers/server.js";
import { seedHistory } from "./helpers/store.js";
import { subscribe } from "./helpers/ws.js";

const TOKEN = "metrics-token-0123456789abcdef";
const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const TRIGGER = `mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status exitCode logLineCount droppedBytes } }`;
/** Marks the payload: it must never reach hookd's own log. */
const PAYLOAD_MARKER = "payload-marker-b7e1";

type Sample = { name: string; labels: Record<string, string>; value: number };

/** Prometheus text exposition, parsed: every sample line (the format is one sample a line). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

/** A logger writing pino JSON lines into an array. */
function collectingLogger(): { logger: Logger; lines: Record<string, any>[]; raw: string[] } {
  const lines: Record<string, any>[] = [];
  const raw: string[] = [];
  const logger = createLogger({
    level: "info",
    destination: {
      write: (s: string) => {
        raw.push(s);
        lines.push(JSON.parse(s));
      },
    },
  });
  return { logger, lines, raw };
}

describe("operations: metrics and the log of what ran", () => {
  let server: TestServer;
  let hooksDir: string;
  let log: ReturnType<typeof collectingLogger>;
  const finished: { logLineCount: number }[] = [];
  const scrape = async (key: string | null = TOKEN) => fetch(`${server.url}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

  before(async () => {
    log = collectingLogger();
    server = await startServer({ HOOKD_METRICS_TOKEN: TOKEN }, { logger: log.logger });
    hooksDir = mkdtempSync(path.join(tmpdir(), "hookd-ops-hooks-"));
    const script = path.join(hooksDir, "say.sh");
    // Three lines, and the exit code the payload asks for.
    writeFileSync(script, `#!/bin/sh\necho one\necho two\necho three >&2\ngrep -q '"fail": true' "$1" && exit 3\nexit 0\n`);
    chmodSync(script, 0o755);
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `${script} \${PATH_JSON_INPUT}` } } });
  });
  after(async () => {
    await server.close();
    rmSync(hooksDir, { recursive: true, force: true });
  });

  test("one log line per finished execution, with hook, id, queue, job, runner, status, exit code, duration and error; no payload, no key", async () => {
    const ok = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: { note: PAYLOAD_MARKER }, wait: true } })).triggerHook[0];
    const failed = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: { fail: true, note: PAYLOAD_MARKER }, wait: true } })).triggerHook[0];
    assert.equal(ok.status, "SUCCEEDED");
    assert.equal(failed.status, "FAILED");
    finished.push(ok, failed);
    const lineOf = (id: string) => eventually(async () => log.lines.filter((l) => l.executionId === id).length === 1 && log.lines.find((l) => l.executionId === id), `the log line of ${id}`);
    const okLine = await lineOf(ok.id);
    assert.equal(okLine.level, "info");
    assert.equal(okLine.msg, "execution succeeded: POST_DONE_SERVER");
    assert.equal(okLine.hook, "POST_DONE_SERVER");
    assert.equal(okLine.status, "SUCCEEDED");
    assert.equal(okLine.exitCode, 0);
    assert.equal(okLine.runner, "hookd-test-host");
    assert.equal(okLine.queue, null);
    assert.equal(okLine.jobId, null);
    assert.equal(okLine.error, null);
    assert.equal(okLine.logLines, 3);
    assert.equal(typeof okLine.durationMs, "number");
    assert.ok(okLine.durationMs >= 0);
    const failedLine = await lineOf(failed.id);
    assert.equal(failedLine.level, "warn");
    assert.equal(failedLine.status, "FAILED");
    assert.equal(failedLine.exitCode, 3);
    assert.match(failedLine.error, /3/);

    // A refused request is logged, without the key it was refused with.
    const badKey = "hkd_not_a_real_key_but_secret_0000";
    assert.equal((await server.gql("{ me { email } }", {}, badKey)).status, 401);
    await eventually(async () => log.lines.find((l) => l.msg === "refused request: UNAUTHENTICATED" && l.reason === "invalid API key"), "the refusal line");
    const all = log.raw.join("");
    assert.doesNotMatch(all, new RegExp(PAYLOAD_MARKER), "no payload in the log");
    assert.ok(!all.includes(badKey) && !all.includes(ADMIN_KEY), "no API key in the log");
  });

  test("GET /metrics needs an ADMIN key or the metrics token, and exports every metric, parsed", async () => {
    assert.equal((await scrape(null)).status, 401);
    assert.equal((await scrape("hkd_wrong_key_00000000000000000000")).status, 401);
    const employee = await server.user("ops-employee@example.com", "EMPLOYEE");
    assert.equal((await scrape(employee.key)).status, 403);
    assert.equal((await scrape(ADMIN_KEY)).status, 200);

    // Two more runs, and one subscription over the WebSocket.
    const runs = [
      (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: true } })).triggerHook[0],
      (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: { fail: true }, wait: true } })).triggerHook[0],
    ];
    finished.push(...runs);
    await server.ok("{ me { email } }");
    const sub = subscribe(server.url, ADMIN_KEY, `subscription($id: ID!) { executionLog(executionId: $id) { lines { seq } finished { status } } }`, { id: runs[0].id });
    assert.equal((await sub.ended).completed, true);
    await sub.dispose();

    const res = await scrape();
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const samples = parseMetrics(text);
    // Counted from the finished executions (this test's two and the previous test's two).
    await eventually(async () => value(parseMetrics(await (await scrape()).text()), "hookd_executions_total") === 4, "four finished executions counted");
    const now = parseMetrics(await (await scrape()).text());
    assert.equal(value(now, "hookd_executions_total", { hook: "POST_DONE_SERVER", status: "SUCCEEDED" }), 2);
    assert.equal(value(now, "hookd_executions_total", { hook: "POST_DONE_SERVER", status: "FAILED" }), 2);
    assert.equal(value(now, "hookd_execution_duration_seconds_count", { hook: "POST_DONE_SERVER" }), 4);
    assert.equal(value(now, "hookd_execution_queue_wait_seconds_count"), 4);
    // The script's three lines, and hookd's own line about a failure.
    assert.equal(
      value(now, "hookd_log_lines_total"),
      finished.reduce((sum, e) => sum + e.logLineCount, 0),
    );
    assert.ok(value(now, "hookd_log_lines_total") >= 4 * 3);
    assert.equal(value(now, "hookd_log_bytes_dropped_total"), 0);
    assert.equal(value(now, "hookd_executions_running", { execution_server: "hookd-test-host" }), 0);
    assert.equal(value(now, "hookd_executions_queued", { execution_server: "hookd-test-host" }), 0);
    assert.ok(
      now.some((s) => s.name === "hookd_executions_running" && s.labels.execution_server === "hookd-test-host"),
      "a series per execution server, idle ones too",
    );
    assert.equal(value(now, "hookd_agents_connected"), 0);
    assert.ok(value(now, "hookd_graphql_requests_total", { operation_type: "mutation", outcome: "success" }) >= 5);
    assert.ok(value(now, "hookd_graphql_requests_total", { operation_type: "query", outcome: "success" }) >= 1);
    assert.ok(value(now, "hookd_graphql_requests_total", { operation_type: "unknown", outcome: "unauthenticated" }) >= 1);
    assert.equal(value(now, "hookd_graphql_requests_total", { operation_type: "subscription", outcome: "success" }), 1);
    // Node's default process metrics.
    assert.ok(samples.some((s) => s.name === "process_cpu_user_seconds_total"));
    assert.ok(samples.some((s) => s.name === "nodejs_eventloop_lag_seconds"));
    // No high-cardinality labels: never an execution id.
    for (const run of runs) assert.ok(!text.includes(run.id));
    for (const s of now)
      for (const label of Object.keys(s.labels))
        assert.ok(
          ["hook", "status", "execution_server", "operation_type", "outcome", "le", "quantile", "type", "version", "major", "minor", "patch", "kind", "space", "what"].includes(label),
          `label ${label} of ${s.name}`,
        );
  });

  test("the running gauge counts from the store while a hook runs", async () => {
    const slow = path.join(hooksDir, "slow.sh");
    writeFileSync(slow, `#!/bin/sh\nsleep 30\n`);
    chmodSync(slow, 0o755);
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: `${slow} \${PATH_JSON_INPUT}` } } });
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", payload: {}, wait: false } })).triggerHook;
    await eventually(async () => value(parseMetrics(await (await scrape()).text()), "hookd_executions_running", { execution_server: "hookd-test-host" }) === 1, "one running");
    await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { id } }`, { id: run.id });
    await eventually(async () => value(parseMetrics(await (await scrape()).text()), "hookd_executions_running", { execution_server: "hookd-test-host" }) === 0, "none running");
  });

  test("the API answers while a retention prune runs, and the prune's progress is in /metrics and the log", async () => {
    const store = server.app.services.store;
    const day = 24 * 60 * 60 * 1000;
    const now = Date.now();
    // The prune the server ran at start-up has ended (a call while one runs joins it).
    await server.app.operations.retention.prune();
    const old = await seedHistory(store, { executions: 2000, lines: 100, from: new Date(now - 300 * day), to: new Date(now - 100 * day) });
    const young = await seedHistory(store, { executions: 50, lines: 10, from: new Date(now - 10 * day), to: new Date(now - day) });
    const before = value(parseMetrics(await (await scrape()).text()), "hookd_retention_deleted_total", { what: "executions" });

    // The default retention (90 days); a probe every 20 ms for as long as the prune runs.
    let done = false;
    const pruning = server.app.operations.retention.prune().finally(() => (done = true));
    const latencies: number[] = [];
    let sawRunning = false;
    while (!done) {
      const started = performance.now();
      const { executions } = await server.ok(`{ executions(first: 20) { nodes { id } } }`);
      latencies.push(performance.now() - started);
      assert.equal(executions.nodes.length, 20);
      if (!sawRunning && !done) sawRunning = value(parseMetrics(await (await scrape()).text()), "hookd_retention_running") === 1;
      await new Promise((r) => setTimeout(r, 20));
    }
    const counts = await pruning;
    assert.equal(counts.executions, old.length);
    assert.equal(counts.logLines, old.length * 100);
    // A behaviour bound, not a timing target: no answer waits for the prune's work.
    assert.ok(latencies.length >= 2, `answers while the prune ran: ${latencies.length}`);
    assert.ok(Math.max(...latencies) < 2000, `the slowest answer during the prune: ${Math.round(Math.max(...latencies))} ms`);
    assert.ok(sawRunning, "hookd_retention_running said 1 while it ran");
    const after = parseMetrics(await (await scrape()).text());
    assert.equal(value(after, "hookd_retention_deleted_total", { what: "executions" }) - before, old.length);
    assert.ok(value(after, "hookd_retention_deleted_total", { what: "log_lines" }) >= old.length * 100);
    assert.equal(value(after, "hookd_retention_running"), 0);
    const left = await server.ok(`{ executions(first: 500) { nodes { id } } }`);
    const ids = new Set(left.executions.nodes.map((n: { id: string }) => n.id));
    for (const e of young) assert.ok(ids.has(e.id), "the younger executions are kept");
    for (const e of old.slice(0, 50)) assert.ok(!ids.has(e.id));
  });
});

describe("operations: metrics turned off", () => {
  test("HOOKD_METRICS=0 serves no /metrics", async () => {
    const server = await startServer({ HOOKD_METRICS: "0" });
    try {
      assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status, 404);
    } finally {
      await server.close();
    }
  });
});

describe("logger", () => {
  test("HOOKD_LOG_LEVEL filters, and errors carry their stack under err", () => {
    const raw: string[] = [];
    const logger = createLogger({ level: "warn", destination: { write: (s: string) => void raw.push(s) } });
    logger.info("not shown");
    logger.warn("shown", { hook: "POST_DONE_SERVER" });
    logger.error("failed", new Error("boom"));
    const lines = raw.map((s) => JSON.parse(s));
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        ["warn", "shown"],
        ["error", "failed"],
      ],
    );
    assert.equal(lines[0].hook, "POST_DONE_SERVER");
    assert.equal(lines[1].err.message, "boom");
    assert.match(lines[1].err.stack, /boom/);
  });
});
