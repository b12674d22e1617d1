import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { openStore } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { User } from "../src/entities/user.entity.js";
import { createLogger } from "../src/logger.js";
import { createServices } from "../src/services/services.js";
import type { Store } from "../src/store/store.js";
import { forcePostgres } from "./helpers/test-database.js";

// Instances starting together on a new PostgreSQL database with HOOKD_BOOTSTRAP_ADMIN_KEY: one
// printed, outside its JSON log, "query failed: INSERT INTO "api_key" … PARAMETERS: [… the key's
// SHA-256 …]". Always on PostgreSQL (the race needs several connections), in both passes.

const KEY = "hkd_first_start_race_key_0123456789";
const HASH = createHash("sha256").update(KEY).digest("hex");

/** pino lines (JSON, debug and up) collected from every logger made with it. */
function collector(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger({ level: "debug", destination, pretty: false }) };
}

/** What reaches this process's stdout and stderr while `work` runs (console.* included), besides the log. */
async function printed<T>(work: () => Promise<T>): Promise<{ result: T; text: string }> {
  const writes: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown) => {
    writes.push(String(chunk));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    return { result: await work(), text: writes.join("") };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test("four instances making the first admin at once on a new PostgreSQL database: one makes it, none fails a write or logs the key or its hash", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-first-start-"));
  const db = await forcePostgres(dataDir);
  const { lines, logger } = collector();
  const stores: Store[] = [];
  try {
    const config = loadConfig({ HOOKD_DATA_DIR: dataDir, ...db.vars });
    // Migrated once first: the race under test is the first admin's, not the migrations'.
    for (let i = 0; i < 4; i++) stores.push(await openStore(config, { logger }));
    const services = stores.map((store) => createServices(store, { executor: config.executor, logger }));
    const { result, text } = await printed(() => Promise.all(services.map((s) => s.users.bootstrapAdmin("admin@localhost", KEY))));
    assert.equal(result.filter((r) => r !== null).length, 1, "exactly one made the admin");
    assert.equal(text, "", "nothing printed outside the log");
    assert.equal(await stores[0].manager.countBy(User, {}), 1);
    const log = lines.join("\n");
    assert.doesNotMatch(log, /sql failed/, "no write failed on the way");
    assert.ok(!log.includes(HASH) && !log.includes(KEY), log);
  } finally {
    await Promise.all(stores.map((s) => s.destroy()));
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a failed query reaches the log as its SQL text only: never its parameters or the database's detail, whoever logs it", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-sql-log-"));
  const db = await forcePostgres(dataDir);
  const { lines, logger } = collector();
  const store = await openStore(loadConfig({ HOOKD_DATA_DIR: dataDir, ...db.vars, HOOKD_LOG_SQL: "1" }), { logger });
  try {
    const insert = `INSERT INTO "api_key" ("id", "userId", "label", "prefix", "hash", "createdAt") VALUES ($1, $2, $3, $4, $5, now())`;
    const params = ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002", "x", "hkd_xxxxxxxx", HASH];
    const failure = await store.dataSource.query(insert, params).then(
      () => assert.fail("the insert had to fail (no such user)"),
      (err: Error) => err,
    );
    // Whoever catches it may log the error object itself: its parameters and detail are redacted.
    logger.error("unexpected", failure);
    const log = lines.join("\n");
    assert.match(log, /"msg":"sql failed"/);
    assert.match(log, /INSERT INTO \\"api_key\\"/, "the statement's text is there");
    assert.ok(!log.includes(HASH), log);
    assert.ok(!log.includes("00000000-0000-0000-0000-000000000002"), "nor the other parameters, nor the detail naming them");
  } finally {
    await store.destroy();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
