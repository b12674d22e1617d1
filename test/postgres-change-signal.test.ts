import "reflect-metadata";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { openStore } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { Execution } from "../src/entities/execution.entity.js";
import { HookdInstance } from "../src/entities/hookd-instance.entity.js";
import { User } from "../src/entities/user.entity.js";
import type { Logger } from "../src/logger.js";
import { CHANGE_CHANNEL, LISTENER_APPLICATION_NAME } from "../src/store/postgres-change-signal.js";
import type { Store } from "../src/store/store.js";
import { eventually } from "./helpers/server.js";
import { sampleExecution } from "./helpers/store.js";
import { forcePostgres } from "./helpers/test-database.js";

// PostgreSQL whichever pass runs: a server's store and a command line's on one database.
const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-pg-signal-"));
let env: Awaited<ReturnType<typeof forcePostgres>>;
let url: string;
const logged: string[] = [];
const logger: Logger = { info: (m) => logged.push(m), warn: (m) => logged.push(m), error: (m) => logged.push(m) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const user = (email: string) => Object.assign(new User(), { email, role: "STANDARD", disabled: false, metadata: { external: {}, internal: {} } });

async function sql<T>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}
const listeners = async () =>
  Number((await sql<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", [LISTENER_APPLICATION_NAME]))[0].n);

/**
 * Opened as `hookd serve` opens it (listening), or as the command line does; a change signal is
 * about User as the key cache's is, and a cache also watches HookdInstance (heartbeats) without one.
 */
async function open(serve: boolean): Promise<Store> {
  const store = await openStore(loadConfig({ HOOKD_DATA_DIR: dataDir, ...env.vars }), serve ? { serve: { logger } } : {});
  store.watch([User, HookdInstance], () => undefined);
  store.externalChangeSignal([User]);
  return store;
}

before(async () => {
  env = await forcePostgres(dataDir);
  url = env.vars.HOOKD_DATABASE_URL;
});
after(async () => {
  await env.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("on PostgreSQL a command line's commit reaches a serving store's change signals once each; a rollback, the hot path and the server's own writes do not", async () => {
  const server = await open(true);
  const cli = await open(false);
  const heard: string[] = [];
  const spy = new pg.Client({ connectionString: url });
  await spy.connect();
  spy.on("notification", (n) => heard.push(n.payload ?? ""));
  await spy.query(`LISTEN ${CHANGE_CHANNEL}`);
  try {
    // Only the serving store listens: the command line's one-shot commands open no extra connection.
    assert.equal(await listeners(), 1);
    const [first, second] = [server.externalChangeSignal([User]), server.externalChangeSignal([User])];
    const cliSignal = cli.externalChangeSignal([User]);

    // The server's own write is notified, and ignored by its own signal.
    await server.transaction((em) => em.save(user("own@example.com")));
    await eventually(async () => heard.length === 1, "the server's own notification");
    await sleep(300);
    assert.equal(first(), false);

    await assert.rejects(
      cli.transaction(async (em) => {
        await em.save(user("rolled-back@example.com"));
        throw new Error("rolled back");
      }),
      /rolled back/,
    );
    await cli.write([{ insert: Execution, rows: [sampleExecution()] }]);
    // Watched by a cache, but no change signal is about it: a heartbeat must not drop other processes' caches.
    const now = new Date();
    await cli.transaction((em) => em.insert(HookdInstance, { id: randomUUID(), hostname: "elsewhere", pid: 1, pubsub: "memory", startedAt: now, heartbeatAt: now }));
    await cli.transaction(async (em) => {
      await em.save(user("a@example.com"));
      await em.save(user("b@example.com"));
    });
    // Notifications arrive in commit order: had the rollback or the hot path sent one, it would be here too.
    await eventually(async () => heard.length >= 2, "the command line's notification");
    await sleep(200);
    assert.equal(heard.length, 2, `one notification per committed transaction that wrote an entity a change signal is about: ${heard.join(", ")}`);
    assert.notEqual(heard[1], heard[0]);
    assert.ok(
      heard.every((payload) => payload.length === 36),
      "the payload is an origin id, never data",
    );

    await eventually(async () => first(), "the server's signal");
    assert.equal(first(), false, "true once per change");
    assert.equal(second(), true, "each signal function remembers what it saw");
    assert.equal(cliSignal(), false, "a store that does not listen hears nothing");
  } finally {
    await spy.end();
    await cli.destroy();
    await server.destroy();
  }
  assert.equal(await listeners(), 0, "destroy() closes the listening connection");
});

test("on PostgreSQL a dropped listening connection counts as a change, is logged and comes back", async () => {
  const server = await open(true);
  const cli = await open(false);
  try {
    const signal = server.externalChangeSignal([User]);
    logged.length = 0;
    await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", [LISTENER_APPLICATION_NAME]);
    await eventually(async () => signal(), "the signal after the drop");
    assert.match(logged.join("\n"), /PostgreSQL change listener \(LISTEN hookd_changes\) failed: .*; reconnecting in \d+ ms/);
    // Committed while nobody listens (the first retry waits 250 ms): its notification is lost.
    await cli.transaction((em) => em.save(user("meanwhile@example.com")));
    await eventually(async () => logged.some((m) => m.startsWith("listening again")), "the listener back", 5000);
    assert.equal(await listeners(), 1);
    assert.equal(signal(), true, "the reconnect counts as a change: what was committed meanwhile");
    await cli.transaction((em) => em.save(user("after-reconnect@example.com")));
    await eventually(async () => signal(), "a notification after the reconnect", 2000);
  } finally {
    await cli.destroy();
    await server.destroy();
  }
  assert.equal(await listeners(), 0);
});
