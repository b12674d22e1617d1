import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditEvent } from "../src/entities/audit-event.entity.js";
import { ExecutionLogLine, LogStream } from "../src/entities/execution-log-line.entity.js";
import { ExecutionServer, ExecutionServerKind } from "../src/entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { WorkspaceSettings } from "../src/entities/workspace-settings.entity.js";
import { EmbeddedRunner } from "../src/executor/embedded-runner.js";
import { embeddedRunnerId, ExecutionLifecycle, RemoteRunLog } from "../src/executor/execution-lifecycle.service.js";
import { ExecutionLog } from "../src/executor/execution-log.js";
import { EmbeddedExecutionQueue } from "../src/executor/execution-queue.js";
import { LocalHookRunner } from "../src/executor/local-hook-runner.js";
import { ExecaSpawner } from "../src/executor/execa-spawner.js";
import { silentLogger } from "../src/logger.js";
import { InProcessPubSub } from "../src/pubsub/pubsub.js";
import type { Store } from "../src/store/store.js";
import { uuidV7 } from "../src/store/uuid-v7.js";
import { openTestStore, sampleExecution } from "./helpers/store.js";

// The lifecycle against real SQLite, and the embedded runner with real processes: one writer of
// status, leases, the waiting state and its limit.

describe("execution lifecycle", () => {
  let store: Store;
  let close: () => Promise<void>;
  let dir: string;
  let self: ExecutionServer;
  let renderB: ExecutionServer;
  const pubsub = new InProcessPubSub();
  const queue = new EmbeddedExecutionQueue();
  const offered: [string, string[]][] = [];
  const cancelled: string[] = [];
  let clock = new Date("2026-12-01T14:00:00.000Z");
  let lifecycle: ExecutionLifecycle;
  const LEASE = 10_000;

  before(async () => {
    ({ store, close } = await openTestStore());
    dir = mkdtempSync(path.join(tmpdir(), "hookd-lifecycle-"));
    const servers = store.manager.getRepository(ExecutionServer);
    self = await servers.save(servers.create({ name: "render-a", hostname: "render-a", os: "linux", kind: ExecutionServerKind.SERVER, online: true, labels: [] }));
    renderB = await servers.save(servers.create({ name: "render-b", hostname: "render-b.studio", os: "linux", kind: ExecutionServerKind.SERVER, online: false, labels: [] }));
    await store.manager.save(Object.assign(new WorkspaceSettings(), { scheduleToStartSeconds: 60 }));
    queue.attach({ offered: (serverId, ids) => offered.push([serverId, ids]), cancelled: (id) => cancelled.push(id) });
    lifecycle = new ExecutionLifecycle(store, pubsub, queue, silentLogger, { leaseMs: LEASE, killGraceMs: 200, servedNow: (s) => s.id === self.id, now: () => clock });
  });
  after(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fresh = (extra: Partial<Execution> = {}) => Object.assign(sampleExecution(), { id: uuidV7(), createdAt: clock, ...extra });
  const read = async (id: string) => (await store.findById(Execution, id))!;
  const event = (targetId: string | null) =>
    Object.assign(new AuditEvent(), { at: clock, actorId: null, actor: "cli", action: "execution.trigger", targetType: "execution", targetId, before: null, after: null });

  test("create stores QUEUED with the server, its deadline and, where no runner is online, what it waits for; then offers it", async () => {
    const here = fresh();
    const there = fresh();
    offered.length = 0;
    await lifecycle.create(
      [
        { execution: here, server: self },
        { execution: there, server: renderB },
      ],
      [{ insert: AuditEvent, rows: [event(here.id), event(there.id)] }],
    );
    const a = await read(here.id);
    const b = await read(there.id);
    assert.deepEqual([a.status, a.executionServerId, a.waitingFor, a.deadlineAt?.toISOString()], [ExecutionStatus.QUEUED, self.id, null, "2026-12-01T14:01:00.000Z"]);
    assert.deepEqual([b.status, b.executionServerId, b.waitingFor], [ExecutionStatus.QUEUED, renderB.id, "execution server 'render-b' (render-b.studio): no runner for it is online"]);
    assert.deepEqual(offered, [
      [self.id, [here.id]],
      [renderB.id, [there.id]],
    ]);
    assert.equal(await store.manager.countBy(AuditEvent, { targetId: here.id }), 1);
  });

  test("a blocking hook may wait for a runner only as long as its timeout", async () => {
    const blocking = fresh({ hook: "PRE_SUBMIT_SERVER" as Execution["hook"], timeoutSeconds: 7 });
    await lifecycle.create([{ execution: blocking, server: renderB }]);
    assert.equal((await read(blocking.id)).deadlineAt?.toISOString(), "2026-12-01T14:00:07.000Z");
  });

  test("when one write of a creation fails, nothing of it is stored and nothing is offered", async () => {
    const doomed = fresh();
    offered.length = 0;
    await assert.rejects(lifecycle.create([{ execution: doomed, server: self }], [{ insert: AuditEvent, rows: [event(null)] }]), /NOT NULL constraint failed: audit_event\.targetId/);
    assert.equal(await store.findById(Execution, doomed.id), null);
    assert.deepEqual(offered, []);
  });

  test("claim takes a QUEUED execution once: RUNNING with the runner's lease; a second claim gets nothing", async () => {
    const e = fresh();
    await lifecycle.create([{ execution: e, server: self }]);
    const claimed = await lifecycle.claim(e.id, "hookd:a");
    assert.equal(claimed?.status, ExecutionStatus.RUNNING);
    assert.equal(await lifecycle.claim(e.id, "hookd:b"), null);
    const row = await read(e.id);
    assert.deepEqual(
      [row.status, row.runnerId, row.leaseExpiresAt?.toISOString(), row.startedAt?.toISOString()],
      [ExecutionStatus.RUNNING, "hookd:a", "2026-12-01T14:00:10.000Z", clock.toISOString()],
    );
    // timeout 30 s + kill grace + one lease
    assert.equal(row.deadlineAt?.toISOString(), "2026-12-01T14:00:40.200Z");
  });

  test("only the holder finishes: a runner that lost its lease has its outcome dropped", async () => {
    const e = fresh();
    await lifecycle.create([{ execution: e, server: self }]);
    await lifecycle.claim(e.id, "hookd:a");
    const log = new ExecutionLog(store, pubsub, e.id, { capBytes: 1 << 20 });
    log.output("stdout" as never, "hello", clock);
    assert.equal(await lifecycle.finish(e.id, "hookd:b", { status: ExecutionStatus.SUCCEEDED }, log), null);
    assert.equal((await read(e.id)).status, ExecutionStatus.RUNNING);
    const log2 = new ExecutionLog(store, pubsub, e.id, { capBytes: 1 << 20 });
    log2.output("stdout" as never, "hello", clock);
    const done = await lifecycle.finish(e.id, "hookd:a", { status: ExecutionStatus.SUCCEEDED, exitCode: 0 }, log2);
    assert.equal(done?.status, ExecutionStatus.SUCCEEDED);
    const row = await read(e.id);
    assert.deepEqual([row.status, row.logLineCount, row.leaseExpiresAt, row.deadlineAt], [ExecutionStatus.SUCCEEDED, 1, null, null]);
  });

  test("log lines that could not be stored show: the outcome says how many and why, and their bytes count as not stored", async () => {
    const e = fresh();
    await lifecycle.create([{ execution: e, server: self }]);
    await lifecycle.claim(e.id, "hookd:a");
    // What a full disk does to the log's writes, on a real database: the insert fails.
    await store.manager.query(`CREATE TRIGGER full_disk BEFORE INSERT ON execution_log_line WHEN NEW.text = 'lost' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    try {
      const log = new ExecutionLog(store, pubsub, e.id, { capBytes: 1 << 20, flushIntervalMs: 1 });
      log.output("stdout" as never, "kept", clock);
      await new Promise((r) => setTimeout(r, 30));
      log.output("stdout" as never, "lost", clock);
      log.output("stdout" as never, "after", clock);
      const done = await lifecycle.finish(e.id, "hookd:a", { status: ExecutionStatus.SUCCEEDED, exitCode: 0 }, log);
      assert.equal(done?.status, ExecutionStatus.SUCCEEDED, "the hook's own outcome is kept");
      const row = await read(e.id);
      assert.equal(row.logLineCount, 1);
      assert.match(row.error ?? "", /^2 log lines could not be stored \(database or disk is full\)$/);
      assert.equal(row.droppedBytes, "lost\n".length + "after\n".length);
    } finally {
      await store.manager.query(`DROP TRIGGER full_disk`);
    }
  });

  test("an outcome the store refused is stored once it takes it, announced only then, and its run is left to its holder meanwhile", async () => {
    // A lease of 300 ms: the holder tries again every 100 ms.
    const holder = new ExecutionLifecycle(store, pubsub, queue, silentLogger, { leaseMs: 300, killGraceMs: 200, servedNow: () => true, now: () => clock });
    const e = fresh();
    await holder.create([{ execution: e, server: self }]);
    await holder.claim(e.id, "hookd:a");
    const heard: string[] = [];
    const unsubscribe = pubsub.subscribe("executionUpdated", e.id, (event) => heard.push(event.status));
    // What a full disk does to the outcome's write, on a real database: the update fails.
    await store.manager.query(
      `CREATE TRIGGER full_disk BEFORE UPDATE OF status ON execution WHEN NEW.id = '${e.id}' AND NEW.status <> 'RUNNING' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
    );
    let finished: Promise<Execution | null>;
    try {
      const log = new ExecutionLog(store, pubsub, e.id, { capBytes: 1 << 20 });
      log.output("stdout" as never, "hello", clock);
      finished = holder.finish(e.id, "hookd:a", { status: ExecutionStatus.SUCCEEDED, exitCode: 0 }, log);
      await new Promise((r) => setTimeout(r, 350));
      assert.deepEqual(heard, [], "nothing is announced before it is stored");
      assert.equal((await read(e.id)).status, ExecutionStatus.RUNNING);
      clock = new Date(clock.getTime() + 60_000);
      await holder.expireLeases();
      await holder.expireDeadlines();
      assert.equal((await read(e.id)).status, ExecutionStatus.RUNNING, "its lease and deadline ran out, but its holder has the outcome");
    } finally {
      await store.manager.query(`DROP TRIGGER full_disk`);
    }
    assert.equal((await finished)?.status, ExecutionStatus.SUCCEEDED);
    const row = await read(e.id);
    assert.deepEqual([row.status, row.exitCode, row.error, row.logLineCount], [ExecutionStatus.SUCCEEDED, 0, "1 log lines could not be stored (database or disk is full)", 0]);
    assert.deepEqual(heard, [ExecutionStatus.SUCCEEDED]);
    unsubscribe();
    holder.close();
  });

  test("an agent's outcome the store refused is stored once it takes it, counting only the lines its appends stored, the rest said lost", async () => {
    const holder = new ExecutionLifecycle(store, pubsub, queue, silentLogger, { leaseMs: 300, killGraceMs: 200, servedNow: () => true, now: () => clock });
    const e = fresh();
    await holder.create([{ execution: e, server: self }]);
    await holder.claim(e.id, "agent:a");
    // Lines 1-2 came with the agent's appends; 3 comes with its finish, which the store refuses once.
    await store.appendLogLines([1, 2].map((seq) => ({ executionId: e.id, seq, stream: LogStream.STDOUT, at: clock, text: `line ${seq}` })));
    await store.manager.query(
      `CREATE TRIGGER full_disk BEFORE UPDATE OF status ON execution WHEN NEW.id = '${e.id}' AND NEW.status <> 'RUNNING' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
    );
    let finished: Promise<Execution | null>;
    try {
      const last = [{ executionId: e.id, seq: 3, stream: LogStream.STDOUT, at: clock, text: "line 3" }];
      finished = holder.finish(e.id, "agent:a", { status: ExecutionStatus.SUCCEEDED, exitCode: 0 }, new RemoteRunLog(store, pubsub, e.id, { lastSeq: 3, droppedBytes: 0, lines: last }, () => clock));
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      await store.manager.query(`DROP TRIGGER full_disk`);
    }
    assert.equal((await finished)?.status, ExecutionStatus.SUCCEEDED);
    const row = await read(e.id);
    assert.deepEqual([row.status, row.error, row.logLineCount, row.droppedBytes], [ExecutionStatus.SUCCEEDED, "1 log lines could not be stored (database or disk is full)", 2, "line 3\n".length]);
    holder.close();
  });

  test("an outcome the store takes no write of, while it takes others, is FAILED with the reason in words", async () => {
    const holder = new ExecutionLifecycle(store, pubsub, queue, silentLogger, { leaseMs: 300, killGraceMs: 200, servedNow: () => true, now: () => clock });
    const e = fresh();
    await holder.create([{ execution: e, server: self }]);
    await holder.claim(e.id, "hookd:a");
    // This outcome (its output) cannot be stored; anything else can.
    await store.manager.query(`CREATE TRIGGER unstorable BEFORE UPDATE OF output ON execution WHEN NEW.id = '${e.id}' AND NEW.output IS NOT NULL BEGIN SELECT RAISE(ABORT, 'output too large'); END`);
    try {
      const log = new ExecutionLog(store, pubsub, e.id, { capBytes: 1 << 20 });
      const done = await holder.finish(e.id, "hookd:a", { status: ExecutionStatus.SUCCEEDED, exitCode: 0, output: { big: true } }, log);
      assert.equal(done?.status, ExecutionStatus.FAILED);
    } finally {
      await store.manager.query(`DROP TRIGGER unstorable`);
    }
    const row = await read(e.id);
    assert.deepEqual([row.status, row.error, row.output], [ExecutionStatus.FAILED, "hookd could not store this run's outcome (SUCCEEDED, exit code 0): output too large", null]);
    holder.close();
  });

  test("an expired lease is FAILED with the reason in words; a live lease of another runner is left alone", async () => {
    const stale = fresh();
    const live = fresh();
    await lifecycle.create([
      { execution: stale, server: renderB },
      { execution: live, server: renderB },
    ]);
    await lifecycle.claim(stale.id, embeddedRunnerId(renderB.id));
    clock = new Date(clock.getTime() + 5_000);
    await lifecycle.claim(live.id, embeddedRunnerId(renderB.id));
    await store.manager.insert(ExecutionLogLine, { executionId: stale.id, seq: 1, stream: "STDOUT" as never, at: clock, text: "a line it sent" });
    clock = new Date(clock.getTime() + 6_000); // the first lease ended at 14:00:10+, the second runs to +15
    assert.ok((await lifecycle.expireLeases()) >= 1);
    const failed = await read(stale.id);
    assert.equal(failed.status, ExecutionStatus.FAILED);
    assert.match(failed.error!, /^runner render-b stopped renewing its lease at \d\d:\d\d:\d\d UTC; the hook's outcome is unknown$/);
    assert.equal(failed.logLineCount, 2, "the reason follows the lines the runner had sent");
    assert.equal((await read(live.id)).status, ExecutionStatus.RUNNING);
  });

  test("renewal extends the lease and answers what was lost and what to cancel", async () => {
    const a = fresh();
    const b = fresh();
    await lifecycle.create([
      { execution: a, server: self },
      { execution: b, server: self },
    ]);
    await lifecycle.claim(a.id, "hookd:r");
    await lifecycle.claim(b.id, "hookd:r");
    cancelled.length = 0;
    const requested = await lifecycle.requestCancel(b.id, () => [event(b.id)]);
    assert.equal(requested.status, ExecutionStatus.RUNNING);
    assert.deepEqual(cancelled, [b.id], "the holder is told at once");
    assert.ok((await read(b.id)).cancelRequestedAt);
    clock = new Date(clock.getTime() + 1000);
    const renewal = await lifecycle.renew("hookd:r", [a.id, b.id, "not-held"]);
    assert.deepEqual(renewal, { lost: ["not-held"], cancel: [b.id] });
    assert.equal((await read(a.id)).leaseExpiresAt?.getTime(), clock.getTime() + LEASE);
  });

  test("cancel of a QUEUED execution records it CANCELLED at once; a claim after that gets nothing", async () => {
    const e = fresh();
    await lifecycle.create([{ execution: e, server: renderB }]);
    const done = await lifecycle.requestCancel(e.id, () => [event(e.id)]);
    assert.deepEqual([done.status, done.error], [ExecutionStatus.CANCELLED, "cancelled before it started"]);
    assert.equal(await lifecycle.claim(e.id, "hookd:r"), null);
    await assert.rejects(
      lifecycle.requestCancel(e.id, () => []),
      /already finished: CANCELLED/,
    );
  });

  test("QUEUED past the schedule-to-start limit fails, naming the server; RUNNING past its deadline is TIMED_OUT and its runner told", async () => {
    const waiting = fresh();
    const stuck = fresh({ timeoutSeconds: 1 });
    await lifecycle.create([
      { execution: waiting, server: renderB },
      { execution: stuck, server: self },
    ]);
    await lifecycle.claim(stuck.id, "hookd:r");
    cancelled.length = 0;
    clock = new Date(clock.getTime() + 30_000);
    await lifecycle.renew("hookd:r", [stuck.id]); // the runner is alive, but does not end the hook
    assert.ok((await lifecycle.expireDeadlines()) >= 1);
    const timedOut = await read(stuck.id);
    assert.equal(timedOut.status, ExecutionStatus.TIMED_OUT);
    assert.match(timedOut.error!, /^timed out after 1 s; runner hookd:r did not end it in time/);
    assert.ok(cancelled.includes(stuck.id), "its runner is told to end it");
    clock = new Date(clock.getTime() + 31_000);
    assert.ok((await lifecycle.expireDeadlines()) >= 1);
    const failed = await read(waiting.id);
    assert.deepEqual([failed.status, failed.error], [ExecutionStatus.FAILED, "no runner for execution server render-b came online within 1 min"]);
  });

  // Fencing: the margin here is min(200 / 2 + 500, 10 000 / 3) = 600 ms.
  const retried = {
    retry: { maxAttempts: 2, initialDelaySeconds: 0, factor: 2, maxDelaySeconds: 60, jitter: 0, retryExitCodes: null, permanentExitCodes: [], retryTimedOut: true, retryRunnerLost: true },
    maxConcurrent: null,
    concurrencyKey: null,
    env: [],
  };

  test("a lease counts as expired only a margin after it ran out; then the run is FAILED and its retry may start at once", async () => {
    const e = fresh({ policy: retried });
    await lifecycle.create([{ execution: e, server: self }]);
    await lifecycle.claim(e.id, "hookd:gone");
    const leaseEnd = (await read(e.id)).leaseExpiresAt!.getTime();
    clock = new Date(leaseEnd + 500);
    assert.equal(await lifecycle.expireLeases(), 0, "within the margin its runner may still be ending the hook");
    assert.equal((await read(e.id)).status, ExecutionStatus.RUNNING);
    clock = new Date(leaseEnd + 601);
    assert.equal(await lifecycle.expireLeases(), 1);
    const lost = await read(e.id);
    assert.equal(lost.status, ExecutionStatus.FAILED);
    assert.equal(lost.leaseExpiresAt, null, "nothing of it runs any more");
    const next = await read(lost.nextAttemptId!);
    assert.equal(next.notBefore!.getTime(), clock.getTime(), "no backoff configured: the retry may start now");
  });

  test("ended by hookd while its runner may still be ending it (past its deadline): the lease stays on record, and no next attempt starts before it ran out plus the margin", async () => {
    const e = fresh({ timeoutSeconds: 1, policy: retried });
    await lifecycle.create([{ execution: e, server: self }]);
    await lifecycle.claim(e.id, "hookd:wedged");
    clock = new Date(clock.getTime() + 20_000);
    await lifecycle.renew("hookd:wedged", [e.id]);
    const leaseEnd = (await read(e.id)).leaseExpiresAt!.getTime();
    assert.ok((await lifecycle.expireDeadlines()) >= 1);
    const timedOut = await read(e.id);
    assert.equal(timedOut.status, ExecutionStatus.TIMED_OUT);
    assert.equal(timedOut.leaseExpiresAt?.getTime(), leaseEnd, "the runner's lease stays on the record");
    const next = await read(timedOut.nextAttemptId!);
    assert.equal(next.notBefore!.getTime(), leaseEnd + 600, "the retry waits for the lease plus the margin, not its zero backoff");
    assert.equal(lifecycle.nextAttemptNotBefore(timedOut)?.getTime(), leaseEnd + 600, "a retry by hand is held back as long");
    const renewal = await lifecycle.renew("hookd:wedged", [e.id]);
    assert.deepEqual(renewal.lost, [e.id], "its runner is told it lost the run, and its lease is not extended");
    clock = new Date(leaseEnd + 601);
    assert.equal(lifecycle.nextAttemptNotBefore(timedOut), null);
  });
});

describe("embedded runner: where hooks run", () => {
  let store: Store;
  let close: () => Promise<void>;
  let dir: string;
  let self: ExecutionServer;
  let other: ExecutionServer;
  let runner: EmbeddedRunner;
  let lifecycle: ExecutionLifecycle;
  const pubsub = new InProcessPubSub();
  const queue = new EmbeddedExecutionQueue();

  before(async () => {
    ({ store, close } = await openTestStore());
    dir = mkdtempSync(path.join(tmpdir(), "hookd-runner-"));
    const servers = store.manager.getRepository(ExecutionServer);
    self = await servers.save(servers.create({ name: "here", hostname: "here", os: "linux", kind: ExecutionServerKind.SERVER, online: true, labels: [] }));
    other = await servers.save(servers.create({ name: "render-b", hostname: "render-b", os: "linux", kind: ExecutionServerKind.SERVER, online: false, labels: [] }));
    await store.manager.save(new WorkspaceSettings());
    lifecycle = new ExecutionLifecycle(store, pubsub, queue, silentLogger, { leaseMs: 30_000, killGraceMs: 200, servedNow: (s) => runner.serves(s) });
    const hooks = new LocalHookRunner({ spawner: new ExecaSpawner(), tempDir: dir, killGraceMs: 200, keepTempFiles: false });
    runner = new EmbeddedRunner(self, lifecycle, queue, store, pubsub, hooks, silentLogger, { concurrency: 1, leaseMs: 30_000, pollMs: 60_000, logCapBytes: 1 << 20 });
    await runner.init();
  });
  after(async () => {
    await runner.destroy();
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const until = async (check: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 1000; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  const statusOf = async (id: string) => (await store.findById(Execution, id))!.status;

  test("runs what is queued for its own server, one at a time here, in order; leaves another server's work QUEUED", async () => {
    const go = path.join(dir, "go");
    const gate = script("gate.sh", `echo start\nwhile [ ! -f ${go} ]; do sleep 0.02; done\necho end`);
    const mk = (server: ExecutionServer) => ({ execution: Object.assign(sampleExecution(), { id: uuidV7(), createdAt: new Date(), command: `${gate} \${PATH_JSON_INPUT}` }), server });
    const [first, second, elsewhere] = [mk(self), mk(self), mk(other)];
    await lifecycle.create([first, second, elsewhere]);
    await until(async () => (await statusOf(first.execution.id)) === ExecutionStatus.RUNNING, "the first to run");
    const running = await store.findById(Execution, first.execution.id);
    assert.equal(running!.runnerId, embeddedRunnerId(self.id));
    await until(async () => (await store.findById(Execution, first.execution.id))!.pid !== null, "its process group to be recorded");
    assert.equal(await statusOf(second.execution.id), ExecutionStatus.QUEUED, "concurrency 1: the second waits");
    writeFileSync(go, "");
    await until(async () => (await statusOf(second.execution.id)) === ExecutionStatus.SUCCEEDED, "the second to succeed");
    assert.equal(await statusOf(first.execution.id), ExecutionStatus.SUCCEEDED);
    const [a, b] = await Promise.all([first, second].map((x) => store.findById(Execution, x.execution.id)));
    assert.ok(b!.startedAt!.getTime() >= a!.finishedAt!.getTime() - 50, "the second started when the first was done");
    await new Promise((r) => setTimeout(r, 100));
    const waiting = await store.findById(Execution, elsewhere.execution.id);
    assert.deepEqual([waiting!.status, waiting!.runnerId, waiting!.waitingFor], [ExecutionStatus.QUEUED, null, "execution server 'render-b' (render-b): no runner for it is online"]);
  });

  test("a cancel reaches the running hook: its group is ended and it is CANCELLED", async () => {
    const sleeper = script("sleep.sh", `echo up\nsleep 30`);
    const e = Object.assign(sampleExecution(), { id: uuidV7(), createdAt: new Date(), command: `${sleeper} \${PATH_JSON_INPUT}` });
    await lifecycle.create([{ execution: e, server: self }]);
    await until(async () => (await store.findById(Execution, e.id))!.pid !== null, "the hook to start");
    const pid = (await store.findById(Execution, e.id))!.pid!;
    await lifecycle.requestCancel(e.id, () => []);
    await until(async () => (await statusOf(e.id)) === ExecutionStatus.CANCELLED, "the cancel");
    await until(async () => {
      try {
        process.kill(-pid, 0);
        return false;
      } catch {
        return true;
      }
    }, "the group to be gone");
  });
});
