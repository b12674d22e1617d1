import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditEvent } from "../src/entities/audit-event.entity.js";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { EmbeddedExecutionQueue } from "../src/executor/execution-queue.js";
import { HookExecutor } from "../src/executor/hook-executor.js";
import { ExecaSpawner } from "../src/executor/execa-spawner.js";
import { silentLogger } from "../src/logger.js";
import { InProcessPubSub } from "../src/pubsub/pubsub.js";
import type { Store } from "../src/store/store.js";
import { uuidV7 } from "../src/store/uuid-v7.js";
import { exists } from "./helpers/processes.js";
import { openTestStore, sampleExecution } from "./helpers/store.js";

// The embedded queue stores what it is given: a run that starts at once is inserted RUNNING with its
// process group once the process has started, in one write with its audit event; one that waits is
// inserted QUEUED at once. Real SQLite, real processes.

describe("embedded execution queue: storing what it runs", () => {
  let store: Store;
  let close: () => Promise<void>;
  let dir: string;
  let queue: EmbeddedExecutionQueue;
  const pubsub = new InProcessPubSub();

  before(async () => {
    ({ store, close } = await openTestStore());
    dir = mkdtempSync(path.join(tmpdir(), "hookd-queue-"));
    const executor = new HookExecutor({
      store,
      pubsub,
      spawner: new ExecaSpawner(),
      logger: silentLogger,
      storeMarker: "execution-queue-test",
      config: { queue: "embedded", concurrency: 1, logCapBytes: 1 << 20, killGraceMs: 200, keepTempFiles: false, tempDir: dir, spawner: "execa" },
    });
    queue = new EmbeddedExecutionQueue(store, executor, 1, silentLogger, async () => undefined);
    await queue.init();
  });
  after(async () => {
    await queue.destroy();
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A hook that writes its pid to `name`.pid, then waits for `name`.go (or the timeout). */
  const gated = (name: string) => {
    const script = path.join(dir, `${name}.sh`);
    writeFileSync(script, `#!/bin/sh\necho $$ > ${path.join(dir, `${name}.pid`)}\nwhile [ ! -f ${path.join(dir, `${name}.go`)} ]; do sleep 0.02; done\necho done\n`);
    chmodSync(script, 0o755);
    return Object.assign(sampleExecution(), { id: uuidV7(), command: `${script} \${PATH_JSON_INPUT}`, timeoutSeconds: 30 });
  };
  const event = (targetId: string | null) => Object.assign(new AuditEvent(), { at: new Date(), actorId: null, actor: "cli", action: "execution.trigger", targetType: "execution", targetId, before: null, after: { status: "QUEUED" } });
  const until = async (check: () => boolean | Promise<boolean>, what: string) => {
    for (let i = 0; i < 500; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  const finished = (id: string) => until(async () => (await store.findById(Execution, id))?.status === ExecutionStatus.SUCCEEDED, `${id} to succeed`);

  test("a run that starts at once is stored RUNNING with its pid and its audit event; one that waits is stored QUEUED at once", async () => {
    const first = gated("first");
    const second = gated("second");
    const started = queue.submit([{ execution: first, alsoStore: [{ insert: AuditEvent, rows: [event(first.id)] }] }]);
    await started;
    const running = await store.findById(Execution, first.id);
    assert.equal(running?.status, ExecutionStatus.RUNNING);
    await until(() => existsSync(path.join(dir, "first.pid")), "the first hook to start");
    assert.equal(running?.pid, Number(readFileSync(path.join(dir, "first.pid"), "utf8")), "the process group a restart would end");
    assert.equal((await store.manager.findBy(AuditEvent, { targetId: first.id })).length, 1);

    // The only slot is taken: the second is stored QUEUED before anything runs it.
    await queue.submit([{ execution: second, alsoStore: [{ insert: AuditEvent, rows: [event(second.id)] }] }]);
    assert.equal((await store.findById(Execution, second.id))?.status, ExecutionStatus.QUEUED);
    assert.equal((await store.manager.findBy(AuditEvent, { targetId: second.id })).length, 1);
    assert.ok(!existsSync(path.join(dir, "second.pid")));

    writeFileSync(path.join(dir, "first.go"), "");
    writeFileSync(path.join(dir, "second.go"), "");
    await finished(first.id);
    await finished(second.id);
    const done = await store.findById(Execution, second.id);
    assert.equal(done?.pid, null);
    assert.equal(done?.logLineCount, 1);
  });

  test("when the first write fails, the caller hears why, the hook is stopped, and nothing half-stored is left", async () => {
    const doomed = gated("doomed");
    assert.equal(queue.size.running, 0, "a free slot: it starts at once");
    // A real constraint failure: the audit event that must be stored with the run has no target.
    await assert.rejects(queue.submit([{ execution: doomed, alsoStore: [{ insert: AuditEvent, rows: [event(null)] }] }]), /NOT NULL constraint failed: audit_event\.targetId/);
    // The hook had started (its start is what is recorded); it must not run on unrecorded.
    await until(() => existsSync(path.join(dir, "doomed.pid")), "the hook to have started");
    const pid = Number(readFileSync(path.join(dir, "doomed.pid"), "utf8"));
    await until(() => !exists(pid), "the unrecorded hook to be stopped");
    // Its final write carries the same event and fails the same way: no execution without its audit event.
    await until(() => queue.size.running === 0, "the run to end");
    assert.equal(await store.findById(Execution, doomed.id), null);
    assert.deepEqual(await store.manager.findBy(AuditEvent, { action: "execution.trigger", targetType: "execution", actor: "cli", targetId: doomed.id }), []);
  });
});
