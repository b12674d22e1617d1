import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import path from "node:path";
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { ConfigError, defaultTempDir, loadConfig } from "../src/config.js";
import { startSpawner } from "../src/executor/spawner-factory.js";
import { silentLogger } from "../src/logger.js";

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

test("run files go to memory by default: RUNTIME_DIRECTORY, else /dev/shm, else the OS temp dir; kept files to the OS temp dir", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-runtime-"));
  try {
    const runtime = path.join(dir, "run");
    const file = path.join(dir, "a-file");
    writeFileSync(file, "");
    const shm = (() => {
      try {
        accessSync("/dev/shm", constants.W_OK);
        return "/dev/shm";
      } catch {
        return tmpdir();
      }
    })();
    // systemd passes RuntimeDirectory= paths, ':'-separated; the first is used.
    assert.equal(defaultTempDir({ RUNTIME_DIRECTORY: `${dir}:/elsewhere` }, false), dir);
    // Not a directory, missing, or relative: skipped.
    assert.equal(defaultTempDir({ RUNTIME_DIRECTORY: file }, false), shm);
    assert.equal(defaultTempDir({ RUNTIME_DIRECTORY: runtime }, false), shm);
    assert.equal(defaultTempDir({ RUNTIME_DIRECTORY: "relative/dir" }, false), shm);
    assert.equal(defaultTempDir({ RUNTIME_DIRECTORY: dir }, true), tmpdir());
    assert.equal(loadConfig({}).executor.tempDir, shm);
    assert.equal(loadConfig({ HOOKD_KEEP_TEMP_FILES: "1" }).executor.tempDir, tmpdir());
    assert.equal(loadConfig({ HOOKD_TEMP_DIR: dir, RUNTIME_DIRECTORY: "/dev/shm" }).executor.tempDir, dir);
    if (process.getuid?.() !== 0) {
      // Not writable by this user: skipped (root writes anywhere, so only checked as another user).
      chmodSync(dir, 0o500);
      assert.equal(defaultTempDir({ RUNTIME_DIRECTORY: dir }, false), shm);
    }
  } finally {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
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

test("HOOKD_SPAWNER: auto by default, helper or node on request, anything else says what to set", () => {
  assert.equal(loadConfig({}).executor.spawner, "auto");
  assert.equal(loadConfig({ HOOKD_SPAWNER: "node" }).executor.spawner, "node");
  assert.equal(loadConfig({ HOOKD_SPAWNER: " helper " }).executor.spawner, "helper");
  assert.throws(() => loadConfig({ HOOKD_SPAWNER: "fork" }), /HOOKD_SPAWNER must be one of auto, helper, node \(got 'fork'\)/);
});

test("a spawn helper asked for but not built stops start-up with what to do; auto falls back to Node and says so", async () => {
  const missing = path.join(tmpdir(), `no-such-helper-${process.pid}`);
  await assert.rejects(startSpawner("helper", silentLogger, missing), /HOOKD_SPAWNER=helper: the spawn helper .*no-such-helper.* was not built; install a C compiler \(cc\) and run npm run build, or set HOOKD_SPAWNER=node or auto/);
  const said: string[] = [];
  const fallback = await startSpawner("auto", { ...silentLogger, info: (m: string) => said.push(m) }, missing);
  try {
    assert.equal(fallback.kind, "node");
    assert.match(said.join("\n"), /hooks start through Node's child_process \(the spawn helper .* was not built/);
  } finally {
    await fallback.destroy();
  }
  const built = await startSpawner("auto", silentLogger);
  try {
    assert.equal(built.kind, "helper", "npm run build built the helper");
  } finally {
    await built.destroy();
  }
});
