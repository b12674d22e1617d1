import { randomBytes, randomUUID } from "node:crypto";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { LogStream } from "../src/entities/execution-log-line.entity.js";
import { HookPoint } from "../src/domain/hook-points.js";
import { BrokerExecutionQueue } from "../src/executor/execution-queue.js";
import { silentLogger } from "../src/logger.js";
import { ChangeFeed } from "../src/pubsub/change-feed.js";
import { ExecutionLogStream } from "../src/pubsub/execution-log-stream.js";
import type { ExecutionEvent, LogLineEvent, Topics } from "../src/pubsub/pubsub.js";
import { RedisPubSub } from "../src/pubsub/redis-pubsub.js";
import { EntityCache } from "../src/store/entity-cache.js";
import type { Store } from "../src/store/store.js";
import { WorkspaceSettings } from "../src/entities/workspace-settings.entity.js";
import { openTestStore, sampleExecution } from "./helpers/store.js";

// RedisPubSub against the real Redis (HOOKD_TEST_REDIS_URL, default 127.0.0.1:6379), two
// instances in one process on a random channel prefix, as two hookd processes would use it.

const URL = process.env.HOOKD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `hookd-test-${randomBytes(6).toString("hex")}:`;
let a: RedisPubSub;
let b: RedisPubSub;
let store: Store;
let closeStore: () => Promise<void>;

const open = async (p = prefix) => {
  const pubsub = new RedisPubSub({ url: URL, prefix: p, instanceId: randomUUID(), logger: silentLogger });
  await pubsub.init();
  return pubsub;
};

/** Resolves with the first `n` events `subscribe` hears. */
function collect<T>(n: number, subscribe: (push: (v: T) => void) => () => void): Promise<T[]> {
  return new Promise((resolve) => {
    const got: T[] = [];
    const off = subscribe((v) => {
      got.push(v);
      if (got.length === n) {
        off();
        resolve(got);
      }
    });
  });
}

/** A round trip through Redis on `topic` from `from` to `to`: everything published before has arrived. */
async function barrier(from: RedisPubSub, to: RedisPubSub): Promise<void> {
  const token = randomUUID();
  const heard = collect<Topics["publishUpdated"]>(1, (push) => to.subscribe("publishUpdated", token, push));
  from.publish("publishUpdated", token, { id: token, state: "BARRIER", error: null });
  await heard;
}

before(async () => {
  [a, b] = await Promise.all([open(), open()]);
  ({ store, close: closeStore } = await openTestStore());
});
after(async () => {
  await Promise.all([a.destroy(), b.destroy()]);
  await closeStore();
});

test("an event published on one instance reaches the other's listeners once, Dates as Dates, and the publisher's own listeners once", async () => {
  const id = randomUUID();
  const at = new Date("2026-03-04T05:06:07.089Z");
  const lines: LogLineEvent[] = [{ executionId: id, seq: 1, stream: LogStream.STDOUT, at, text: "hello ✓" }];
  const onB: LogLineEvent[][] = [];
  const onA: LogLineEvent[][] = [];
  const offB = b.subscribe("executionLog", id, (l) => onB.push(l));
  const offA = a.subscribe("executionLog", id, (l) => onA.push(l));
  await Promise.all([a.ready(), b.ready()]);
  a.publish("executionLog", id, lines);
  await barrier(a, b);
  // The log channel is per key: one more round trip on it proves nothing else is on the way.
  const more = collect<LogLineEvent[]>(1, (push) => b.subscribe("executionLog", id, push));
  a.publish("executionLog", id, [{ ...lines[0], seq: 2 }]);
  await more;
  offA();
  offB();
  assert.equal(onA.length, 2, "the publisher's listener hears each of its own events once (not again from Redis)");
  assert.deepEqual(
    onB.map((batch) => batch.map((l) => l.seq)),
    [[1], [2]],
  );
  assert.ok(onB[0][0].at instanceof Date, "a Date arrives as a Date");
  assert.equal(onB[0][0].at.toISOString(), at.toISOString());
  assert.equal(onB[0][0].text, "hello ✓");
});

test("executionUpdated: the whole stored row stays in the publishing process; every-key listeners hear every key", async () => {
  const event: ExecutionEvent = {
    id: randomUUID(),
    hook: HookPoint.POST_DONE_SERVER,
    queue: "default",
    jobId: null,
    publishId: null,
    executionServerId: null,
    status: ExecutionStatus.SUCCEEDED,
    exitCode: 0,
    error: null,
    stored: Object.assign(new Execution(), { id: "x", status: ExecutionStatus.SUCCEEDED }),
  };
  const onB = collect<ExecutionEvent>(1, (push) => b.subscribe("executionUpdated", "*", push));
  const onA = collect<ExecutionEvent>(1, (push) => a.subscribe("executionUpdated", event.id, push));
  a.publish("executionUpdated", event.id, event);
  const [[local], [remote]] = await Promise.all([onA, onB]);
  assert.ok(local.stored, "the publisher's listener gets the row");
  assert.equal(remote.stored, undefined, "no row travels through Redis");
  assert.equal(remote.id, event.id);
  assert.equal(remote.status, ExecutionStatus.SUCCEEDED);
});

test("another prefix hears nothing", async () => {
  const otherPrefix = `hookd-test-${randomBytes(6).toString("hex")}:`;
  const [other, otherPeer] = await Promise.all([open(otherPrefix), open(otherPrefix)]);
  try {
    const heard: unknown[] = [];
    const off = other.subscribe("jobUpdated", "*", (e) => heard.push(e));
    a.publish("jobUpdated", "j1", { id: "j1", code: "J", status: "DONE", message: null, publishId: null });
    // Redis has handled a's publish once b heard it; an event other hears after that comes later.
    await barrier(a, b);
    await barrier(otherPeer, other);
    off();
    assert.deepEqual(heard, []);
  } finally {
    await Promise.all([other.destroy(), otherPeer.destroy()]);
  }
});

test("a Redis that does not answer stops start-up with a message naming the URL and the variable", async () => {
  const pubsub = new RedisPubSub({ url: "redis://:secret@127.0.0.1:1", prefix, instanceId: randomUUID(), logger: silentLogger, connectTimeoutMs: 1000 });
  await assert.rejects(pubsub.init(), (err: Error) => {
    assert.match(err.message, /cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    assert.match(err.message, /HOOKD_REDIS_URL/);
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });
  await pubsub.destroy();
});

test("queue notices: an offer or cancel made through one instance reaches the runners attached to the other", async () => {
  const qa = new BrokerExecutionQueue(a);
  const qb = new BrokerExecutionQueue(b);
  await Promise.all([qa.init(), qb.init()]);
  const heard: string[] = [];
  const both = new Promise<void>((resolve) => {
    qb.attach({
      offered: (serverId, ids) => {
        heard.push(`offer ${serverId} ${ids.join(",")}`);
        if (heard.length === 2) resolve();
      },
      cancelled: (id) => {
        heard.push(`cancel ${id}`);
        if (heard.length === 2) resolve();
      },
    });
  });
  qa.offer("s1", ["e1", "e2"]);
  qa.cancel("e1");
  await both;
  assert.deepEqual(heard, ["offer s1 e1,e2", "cancel e1"]);
  await Promise.all([qa.destroy(), qb.destroy()]);
});

test("a cache on one instance is dropped when another instance writes what it holds", async () => {
  const feedA = new ChangeFeed(store, a, "instance-a");
  // Instance B: its own (empty) local watcher; it hears A's writes through Redis only.
  const feedB = new ChangeFeed({ watch: () => undefined }, b, "instance-b");
  const cacheB = new EntityCache<string>(feedB, [WorkspaceSettings], 10);
  feedA.watch([WorkspaceSettings], () => undefined);
  let loads = 0;
  const load = async () => `v${++loads}`;
  assert.equal(await cacheB.get("k", load), "v1");
  assert.equal(await cacheB.get("k", load), "v1", "cached");
  const dropped = collect<Topics["entitiesChanged"]>(1, (push) => b.subscribe("entitiesChanged", "*", push));
  // A write through TypeORM on A's store.
  await store.transaction((em) => em.save(new WorkspaceSettings()));
  await dropped;
  assert.equal(await cacheB.get("k", load), "v2", "dropped by A's write, read again");
});

test("executionLog across instances: lines stored by A and published to B with a gap are caught up from the store, none twice", async () => {
  const execution = sampleExecution();
  execution.status = ExecutionStatus.RUNNING;
  await store.write([{ insert: Execution, rows: [execution] }]);
  const stream = new ExecutionLogStream(store, b, execution.id, 0, { catchUpMs: 60_000 });
  const line = (seq: number) => ({ executionId: execution.id, seq, stream: LogStream.STDOUT, at: new Date(), text: `line ${seq}` });
  const seen: number[] = [];
  const take = async (p: Promise<IteratorResult<{ lines: LogLineEvent[] }>>) => {
    const r = await p;
    assert.equal(r.done, false);
    seen.push(...r.value.lines.map((l) => l.seq));
  };
  // A round trip through Redis lets the reader finish its look at the store and wait for live lines.
  let pending = stream.next();
  await barrier(a, b);
  await store.appendLogLines([line(1), line(2)]);
  a.publish("executionLog", execution.id, [line(1), line(2)]);
  await take(pending);
  while (seen.length < 2) await take(stream.next());
  pending = stream.next();
  await barrier(a, b);
  // Lines 3-4 stored but their event lost on the way; line 5 arrives live: B sees the hole and reads the store.
  await store.appendLogLines([line(3), line(4), line(5)]);
  a.publish("executionLog", execution.id, [line(5)]);
  await take(pending);
  while (!seen.includes(5)) await take(stream.next());
  await stream.return();
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});
