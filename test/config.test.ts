import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { ConfigError, loadConfig } from "../src/config.js";

test("defaults: 127.0.0.1:4000, ./data, SQLite file in it", () => {
  const config = loadConfig({});
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 4000);
  assert.equal(config.dataDir, path.resolve("data"));
  assert.equal(config.databasePath, path.resolve("data", "hookd.sqlite"));
  assert.equal(config.bootstrapAdminKey, null);
  assert.equal(config.bootstrapAdminEmail, "admin@localhost");
  assert.equal(config.development, false);
});

test("HOST, PORT, HOOKD_DATA_DIR and the bootstrap key are read", () => {
  const config = loadConfig({ HOST: "0.0.0.0", PORT: "8080", HOOKD_DATA_DIR: "/tmp/hookd-x", HOOKD_BOOTSTRAP_ADMIN_KEY: "k".repeat(24) });
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.port, 8080);
  assert.equal(config.databasePath, "/tmp/hookd-x/hookd.sqlite");
  assert.equal(config.bootstrapAdminKey, "k".repeat(24));
});

test("every problem is reported at once, each saying what to set", () => {
  assert.throws(
    () => loadConfig({ PORT: "eighty", HOOKD_BOOTSTRAP_ADMIN_KEY: "short", HOOKD_DB_TYPE: "postgres", HOOKD_BOOTSTRAP_ADMIN_EMAIL: "nope" }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 4);
      assert.match(err.problems[0], /^PORT must be a whole number from 0 to 65535 \(got 'eighty'\)/);
      assert.match(err.problems[1], /^HOOKD_BOOTSTRAP_ADMIN_KEY must be at least 20 characters/);
      assert.match(err.problems[2], /^HOOKD_BOOTSTRAP_ADMIN_EMAIL must be an email address/);
      assert.match(err.problems[3], /^HOOKD_DB_TYPE='postgres' is not supported yet/);
      return true;
    },
  );
  assert.throws(() => loadConfig({ PORT: "70000" }), /PORT must be a whole number from 0 to 65535 \(got '70000'\)/);
});
