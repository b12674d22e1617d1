import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import path from "node:path";
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { ConfigError, defaultTempDir, loadConfig } from "../src/config.js";
import { writeFile, rm } from "node:fs/promises";
import { startSpawner } from "../src/executor/spawner-factory.js";
import { defaultAddonPath, defaultHelperPath } from "../src/executor/spawner.js";
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

test("HOOKD_SPAWNER: auto by default, addon, helper or node on request, anything else says what to set", () => {
  assert.equal(loadConfig({}).executor.spawner, "auto");
  assert.equal(loadConfig({ HOOKD_SPAWNER: "node" }).executor.spawner, "node");
  assert.equal(loadConfig({ HOOKD_SPAWNER: " helper " }).executor.spawner, "helper");
  assert.equal(loadConfig({ HOOKD_SPAWNER: "addon" }).executor.spawner, "addon");
  assert.throws(() => loadConfig({ HOOKD_SPAWNER: "fork" }), /HOOKD_SPAWNER must be one of auto, addon, helper, node \(got 'fork'\)/);
});

test("a native spawner asked for but not built stops start-up with what to do; auto falls back and says so", async () => {
  const missing = { addon: path.join(tmpdir(), `no-such-addon-${process.pid}.node`), helper: path.join(tmpdir(), `no-such-helper-${process.pid}`) };
  const built = { addon: defaultAddonPath(), helper: defaultHelperPath() };
  await assert.rejects(startSpawner("helper", silentLogger, missing), /HOOKD_SPAWNER=helper: the spawn helper .*no-such-helper.* was not built; install a C compiler \(cc\) and run npm run build, or set HOOKD_SPAWNER=node or auto/);
  await assert.rejects(startSpawner("addon", silentLogger, missing), /HOOKD_SPAWNER=addon: the spawn addon .*no-such-addon.* was not built; install a C compiler \(cc\) and run npm run build \(Node's C headers are needed too\), or set HOOKD_SPAWNER=helper, node or auto/);

  const start = async (paths: typeof missing) => {
    const said: Array<[string, string]> = [];
    const logger = { ...silentLogger, info: (m: string) => said.push(["info", m]), warn: (m: string) => said.push(["warn", m]) };
    const spawner = await startSpawner("auto", logger, paths);
    await spawner.destroy();
    return { kind: spawner.kind, said };
  };
  // Nothing built: Node's spawn, said as information (a build without a compiler is allowed).
  const none = await start(missing);
  assert.equal(none.kind, "node");
  assert.equal(none.said.length, 1);
  assert.equal(none.said[0][0], "info");
  assert.match(none.said[0][1], /hooks start through Node's child_process, which forks hookd for every run \(the spawn addon .*no-such-addon.* was not built; the spawn helper .*no-such-helper.* was not built/);
  // Only the helper built.
  const helper = await start({ ...missing, helper: built.helper });
  assert.equal(helper.kind, "helper");
  assert.deepEqual(helper.said.map(([level]) => level), ["info"]);
  assert.match(helper.said[0][1], /hooks start through the spawn helper \(the spawn addon .*no-such-addon.* was not built\)/);
  // An addon that is there but cannot load is a problem worth a warning; HOOKD_SPAWNER=addon stops.
  const broken = path.join(tmpdir(), `broken-addon-${process.pid}.node`);
  await writeFile(broken, "not a shared object");
  try {
    const fallback = await start({ addon: broken, helper: built.helper });
    assert.equal(fallback.kind, "helper");
    assert.deepEqual(fallback.said.map(([level]) => level), ["warn"]);
    assert.match(fallback.said[0][1], /hooks start through the spawn helper \(the spawn addon .*broken-addon.* could not be loaded: /);
    await assert.rejects(startSpawner("addon", silentLogger, { addon: broken, helper: built.helper }), /HOOKD_SPAWNER=addon: the spawn addon .*broken-addon.* could not be loaded: .*; set HOOKD_SPAWNER=helper, node or auto/);
  } finally {
    await rm(broken, { force: true });
  }
  // What npm run build makes: the addon, said nothing about.
  const best = await start(built);
  assert.equal(best.kind, "addon", "npm run build built the addon");
  assert.deepEqual(best.said, []);
});

test("failed authentications: 20 per 60 s per address by default; HOOKD_AUTH_FAILURES and HOOKD_AUTH_FAILURE_WINDOW_SECONDS set them, checked", () => {
  assert.deepEqual(loadConfig({}).authFailureLimit, { attempts: 20, windowSeconds: 60 });
  assert.deepEqual(loadConfig({ HOOKD_AUTH_FAILURES: "5", HOOKD_AUTH_FAILURE_WINDOW_SECONDS: "10" }).authFailureLimit, { attempts: 5, windowSeconds: 10 });
  assert.throws(
    () => loadConfig({ HOOKD_AUTH_FAILURES: "0", HOOKD_AUTH_FAILURE_WINDOW_SECONDS: "x" }),
    (err: ConfigError) => err.problems.some((p) => p.startsWith("HOOKD_AUTH_FAILURES must be a whole number from 1")) && err.problems.some((p) => p.startsWith("HOOKD_AUTH_FAILURE_WINDOW_SECONDS must be")),
  );
});
