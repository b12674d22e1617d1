import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DataSource } from "typeorm";
import { openStore } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { dataSourceOptions } from "../src/store/data-source-options.js";
import { forcePostgres } from "./helpers/test-database.js";

test("the migrations build exactly the schema the entities describe, in WAL mode", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-migrations-"));
  try {
    const config = loadConfig({ HOOKD_DATA_DIR: dir });
    const store = await openStore(config);
    const pending = await store.dataSource.driver.createSchemaBuilder().log();
    assert.deepEqual(
      pending.upQueries.map((q) => q.query),
      [],
      "entities changed without a migration",
    );
    const [{ journal_mode }] = await store.dataSource.query("PRAGMA journal_mode");
    assert.equal(journal_mode, "wal");
    const [{ foreign_keys }] = await store.dataSource.query("PRAGMA foreign_keys");
    assert.equal(foreign_keys, 1);
    await store.dataSource.destroy();

    // A second start finds nothing to run, and synchronize is never on.
    const again = new DataSource(dataSourceOptions(config));
    await again.initialize();
    assert.equal(again.options.synchronize, false);
    assert.equal(await again.showMigrations(), false);
    // Every migration's down undoes its up: undone newest first, nothing is left.
    for (let i = 0; i < again.migrations.length; i++) await again.undoLastMigration();
    const tables = await again.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('migrations', 'sqlite_sequence')`);
    assert.deepEqual(tables, [], "the migrations' downs remove every table");
    await again.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the user/client metadata and job settings migration keeps existing rows, with empty metadata, settings and hooks", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-migrations-"));
  try {
    const config = loadConfig({ HOOKD_DATA_DIR: dir });
    const { MIGRATIONS } = await import("../src/migrations/index.js");
    const before = new DataSource({ ...dataSourceOptions(config), migrations: MIGRATIONS.slice(0, 2) });
    await before.initialize();
    await before.runMigrations();
    await before.query(`INSERT INTO "user" ("id", "email", "role") VALUES ('u1', 'old@example.com', 'STANDARD')`);
    await before.query(`INSERT INTO "execution_server" ("id", "name", "hostname", "os", "kind", "ownerId", "online", "labels") VALUES ('c1', 'ws', 'ws', 'mac', 'CLIENT', 'u1', 0, '[]')`);
    await before.query(
      `INSERT INTO "queue" ("id", "code", "name", "priority", "isDefault", "status", "metadataInternal", "metadataExternal") VALUES ('q1', 'default', 'default', 500, 1, 'WAITING', '{}', '{}')`,
    );
    await before.query(`INSERT INTO "job" ("id", "code", "name", "queueId", "status", "createdAt", "userId", "source", "sourceHr", "destination", "destinationHr", "engine", "tasks", "size", "failCount", "updatedAt", "metadataExternal", "metadataInternal")
      VALUES ('j1', 'old_job', 'old job', 'q1', 'DONE', '2026-01-01 00:00:00', 'u1', 'user:u1', 'old@example.com', 'user:u1', 'old@example.com', 'default', '[]', 0, 0, '2026-01-01 00:00:00', '{"a":1}', '{}')`);
    await before.destroy();

    const store = await openStore(config);
    const [user] = await store.dataSource.query(`SELECT "email", "metadataExternal", "metadataInternal" FROM "user"`);
    assert.deepEqual(user, { email: "old@example.com", metadataExternal: "{}", metadataInternal: "{}" });
    const [client] = await store.dataSource.query(`SELECT "ownerId", "metadataExternal", "metadataInternal" FROM "execution_server"`);
    assert.deepEqual(client, { ownerId: "u1", metadataExternal: "{}", metadataInternal: "{}" });
    const [job] = await store.dataSource.query(`SELECT "code", "metadataExternal", "settings", "hooks" FROM "job"`);
    assert.deepEqual(job, { code: "old_job", metadataExternal: '{"a":1}', settings: "{}", hooks: "[]" });
    await store.dataSource.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("on PostgreSQL too: its migrations build exactly the schema the (fitted) entities describe, and their downs remove it", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-migrations-pg-"));
  const env = await forcePostgres(dataDir);
  try {
    const config = loadConfig({ HOOKD_DATA_DIR: dataDir, ...env.vars });
    const store = await openStore(config);
    assert.equal(store.kind, "postgres");
    const pending = await store.dataSource.driver.createSchemaBuilder().log();
    assert.deepEqual(
      pending.upQueries.map((q) => q.query),
      [],
      "entities changed without a PostgreSQL migration (node scripts/generate-migration.mjs postgres <url>)",
    );
    // Timestamps are instants, ids hookd's own uuid v7 strings.
    const [{ data_type }] = await store.dataSource.query(`SELECT data_type FROM information_schema.columns WHERE table_name = 'execution' AND column_name = 'createdAt'`);
    assert.equal(data_type, "timestamp with time zone");
    assert.equal(await store.dataSource.showMigrations(), false);
    for (let i = 0; i < store.dataSource.migrations.length; i++) await store.dataSource.undoLastMigration();
    const tables = await store.dataSource.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'`);
    assert.deepEqual(tables, [], "the migrations' downs remove every table");
    await store.destroy();
  } finally {
    await env.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** The migrations that ran before the one whose class name contains `name` (either dialect's). */
function migrationsBefore(migrations: unknown, name: string): (new () => unknown)[] {
  const list = migrations as (new () => unknown)[];
  const at = list.findIndex((m) => m.name.includes(name));
  assert.ok(at > 0, `no migration named like ${name}`);
  return list.slice(0, at);
}

// Log lines keyed by (executionId, seq): the migration keeps every stored line, on both stores, and
// the key then refuses a second line with the same seq.
async function logLinesKeptThroughTheKeyMigration(env: Record<string, string>, dataDir: string): Promise<void> {
  const config = loadConfig({ HOOKD_DATA_DIR: dataDir, ...env });
  const options = dataSourceOptions(config);
  const before = new DataSource({ ...options, migrations: migrationsBefore(options.migrations, "LogLinesKeyedBySeq") } as typeof options);
  await before.initialize();
  await before.runMigrations();
  const p = (i: number) => (options.type === "postgres" ? `$${i}` : "?");
  await before.query(
    `INSERT INTO "execution" ("id", "hook", "source", "configId", "input", "status", "timeoutSeconds", "attempt", "logLineCount", "droppedBytes", "createdAt") VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(p).join(", ")})`,
    ["e1", "POST_DONE", "JOB", "c1", "{}", "SUCCEEDED", 60, 1, 3, 0, "2026-01-01 00:00:00.000"],
  );
  for (const seq of [1, 2, 3]) {
    await before.query(`INSERT INTO "execution_log_line" ("executionId", "seq", "stream", "at", "text") VALUES (${[1, 2, 3, 4, 5].map(p).join(", ")})`, [
      "e1",
      seq,
      "STDOUT",
      "2026-01-01 00:00:01.000",
      `line ${seq}`,
    ]);
  }
  await before.destroy();

  const store = await openStore(config);
  try {
    const rows = await store.dataSource.query(`SELECT "seq", "text" FROM "execution_log_line" WHERE "executionId" = ${p(1)} ORDER BY "seq"`, ["e1"]);
    assert.deepEqual(
      rows.map((r: { seq: number; text: string }) => [Number(r.seq), r.text]),
      [
        [1, "line 1"],
        [2, "line 2"],
        [3, "line 3"],
      ],
    );
    const columns =
      options.type === "postgres"
        ? (await store.dataSource.query(`SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'execution_log_line'`)).map((r: { name: string }) => r.name)
        : (await store.dataSource.query(`PRAGMA table_info("execution_log_line")`)).map((r: { name: string }) => r.name);
    assert.equal(columns.includes("id"), false, "the surrogate id is gone");
    await assert.rejects(
      store.dataSource.query(`INSERT INTO "execution_log_line" ("executionId", "seq", "stream", "at", "text") VALUES (${[1, 2, 3, 4, 5].map(p).join(", ")})`, [
        "e1",
        2,
        "STDOUT",
        "2026-01-01 00:00:02.000",
        "again",
      ]),
      /UNIQUE|duplicate key/i,
    );
  } finally {
    await store.dataSource.destroy();
  }
}

test("the log-lines key migration keeps every line, and the key refuses a repeated seq (SQLite)", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-migrations-"));
  try {
    await logLinesKeptThroughTheKeyMigration({}, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the log-lines key migration keeps every line, and the key refuses a repeated seq (PostgreSQL)", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-migrations-pg-"));
  const env = await forcePostgres(dataDir);
  try {
    await logLinesKeptThroughTheKeyMigration(env.vars, dataDir);
  } finally {
    await env.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// The executions list's filter indexes: the migration keeps every execution, and a filtered
// newest-first page then reads the (filter, createdAt, id) index instead of sorting the matches.
async function executionsKeptThroughTheFilterIndexes(env: Record<string, string>, dataDir: string): Promise<void> {
  const config = loadConfig({ HOOKD_DATA_DIR: dataDir, ...env });
  const options = dataSourceOptions(config);
  const before = new DataSource({ ...options, migrations: migrationsBefore(options.migrations, "ExecutionFilterIndexes") } as typeof options);
  await before.initialize();
  await before.runMigrations();
  const p = (i: number) => (options.type === "postgres" ? `$${i}` : "?");
  const statuses = ["SUCCEEDED", "FAILED", "QUEUED"];
  for (let i = 0; i < 30; i++) {
    await before.query(
      `INSERT INTO "execution" ("id", "hook", "source", "configId", "queue", "executionServerId", "input", "status", "timeoutSeconds", "attempt", "logLineCount", "droppedBytes", "createdAt") VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13].map(p).join(", ")})`,
      [`e${String(i).padStart(2, "0")}`, "POST_DONE", "JOB", "c1", `q${i % 2}`, `s${i % 3}`, "{}", statuses[i % 3], 60, 1, 0, 0, `2026-01-01 00:00:${String(i).padStart(2, "0")}.000`],
    );
  }
  await before.destroy();

  const store = await openStore(config);
  try {
    const failed = await store.dataSource.query(`SELECT "id" FROM "execution" WHERE "status" = ${p(1)} ORDER BY "createdAt" DESC, "id" DESC`, ["FAILED"]);
    assert.deepEqual(
      failed.map((r: { id: string }) => r.id),
      Array.from({ length: 10 }, (_, k) => `e${String(28 - 3 * k).padStart(2, "0")}`),
    );
    assert.equal(Number((await store.dataSource.query(`SELECT COUNT(*) AS n FROM "execution"`))[0].n), 30);
    for (const column of ["status", "hook", "queue", "executionServerId"]) {
      if (options.type === "postgres") {
        const defs: string[] = (await store.dataSource.query(`SELECT indexdef FROM pg_indexes WHERE tablename = 'execution'`)).map((r: { indexdef: string }) => r.indexdef.replaceAll('"', ""));
        assert.ok(
          defs.some((d) => d.endsWith(`(${column}, createdAt, id)`)),
          `an index on (${column}, createdAt, id): ${defs.join("; ")}`,
        );
      } else {
        const plan = await store.dataSource.query(`EXPLAIN QUERY PLAN SELECT * FROM "execution" WHERE "${column}" = ? ORDER BY "createdAt" DESC, "id" DESC LIMIT 51`, ["x"]);
        const detail = plan.map((r: { detail: string }) => r.detail).join("; ");
        assert.match(detail, new RegExp(`USING INDEX \\S+ \\(${column}=\\?\\)`), `the ${column} filter's page reads its index: ${detail}`);
        assert.doesNotMatch(detail, /TEMP B-TREE/, `the ${column} filter's page sorts nothing: ${detail}`);
      }
    }
  } finally {
    await store.dataSource.destroy();
  }
}

test("the executions filter-index migration keeps every execution, and filtered pages read an index (SQLite)", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-migrations-"));
  try {
    await executionsKeptThroughTheFilterIndexes({}, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the executions filter-index migration keeps every execution, and the filters have their indexes (PostgreSQL)", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-migrations-pg-"));
  const env = await forcePostgres(dataDir);
  try {
    await executionsKeptThroughTheFilterIndexes(env.vars, dataDir);
  } finally {
    await env.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
