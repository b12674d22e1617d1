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

test("the migrations build exactly the schema the entities describe, in WAL mode", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-migrations-"));
  try {
    const config = loadConfig({ HOOKD_DATA_DIR: dir });
    const store = await openStore(config);
    const pending = await store.dataSource.driver.createSchemaBuilder().log();
    assert.deepEqual(pending.upQueries.map((q) => q.query), [], "entities changed without a migration");
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
