import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import path from "node:path";
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { ConfigError, defaultTempDir, loadConfig } from "../src/config.js";
import { writeFile, rm } from "node:fs/promises";
import { startSpawner } from "../src/executor/spawner-factory.js";
import { defaultAddonPath } from "../src/executor/addon-spawner.js";
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
      assert.match(err.problems[3], /^HOOKD_DB_TYPE=postgres needs HOOKD_DATABASE_URL, e\.g\. postgres:\/\//);
      return true;
    },
  );
  assert.throws(() => loadConfig({ PORT: "70000" }), /PORT must be a whole number from 0 to 65535 \(got '70000'\)/);
});

test("HOOKD_DB_TYPE: sqlite by default with nothing to set; postgres with a validated HOOKD_DATABASE_URL and a pool size", () => {
  assert.deepEqual(loadConfig({}).database, { type: "sqlite" });
  assert.deepEqual(loadConfig({ HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: "postgresql://hookd:pw@db:5432/hookd" }).database, {
    type: "postgres",
    url: "postgresql://hookd:pw@db:5432/hookd",
    poolSize: 10,
  });
  assert.equal(loadConfig({ HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: "postgres://db/hookd", HOOKD_DATABASE_POOL_SIZE: "32" }).database.type, "postgres");
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };
  assert.deepEqual(problems({ HOOKD_DB_TYPE: "mysql" }), ["HOOKD_DB_TYPE must be 'sqlite' (the default: a file under HOOKD_DATA_DIR) or 'postgres' (with HOOKD_DATABASE_URL) (got 'mysql')"]);
  // The password never reaches the message.
  const [wrong] = problems({ HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: "mysql://u:hunter2@db/hookd" });
  assert.match(wrong, /^HOOKD_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
  assert.doesNotMatch(wrong, /hunter2/);
  assert.match(problems({ HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: "postgres://db" })[0], /with a host and a database name/);
  assert.match(problems({ HOOKD_DATABASE_URL: "postgres://db/hookd" })[0], /set HOOKD_DB_TYPE=postgres to use it/);
  assert.match(problems({ HOOKD_DB_TYPE: "postgres", HOOKD_DATABASE_URL: "postgres://db/hookd", HOOKD_DATABASE_POOL_SIZE: "0" })[0], /^HOOKD_DATABASE_POOL_SIZE must be a whole number from 1 to 1000/);
});

test("HOOKD_SPAWNER: auto by default, addon or execa on request, the removed helper and node say what to set now, anything else says what to set", () => {
  assert.equal(loadConfig({}).executor.spawner, "auto");
  assert.equal(loadConfig({ HOOKD_SPAWNER: "execa" }).executor.spawner, "execa");
  assert.equal(loadConfig({ HOOKD_SPAWNER: " addon " }).executor.spawner, "addon");
  assert.throws(() => loadConfig({ HOOKD_SPAWNER: "fork" }), /HOOKD_SPAWNER must be one of auto, addon, execa \(got 'fork'\); 'auto' takes the spawn addon .* else execa/);
  assert.throws(() => loadConfig({ HOOKD_SPAWNER: "node" }), /HOOKD_SPAWNER=node is now HOOKD_SPAWNER=execa/);
  assert.throws(() => loadConfig({ HOOKD_SPAWNER: "helper" }), /HOOKD_SPAWNER=helper: the spawn helper was removed; set HOOKD_SPAWNER=addon \(the spawn addon\), execa or auto/);
});

test("the spawn addon asked for but not built stops start-up with what to do; auto falls back to execa and says so", async () => {
  const missing = { addon: path.join(tmpdir(), `no-such-addon-${process.pid}.node`) };
  const built = { addon: defaultAddonPath() };
  await assert.rejects(
    startSpawner("addon", silentLogger, missing),
    /HOOKD_SPAWNER=addon: the spawn addon .*no-such-addon.* was not built; install a C compiler \(cc\) and Node's C headers and run npm run build, or set HOOKD_SPAWNER=execa or auto/,
  );

  const start = async (kind: "auto" | "execa", paths: typeof missing) => {
    const said: Array<[string, string]> = [];
    const logger = { ...silentLogger, info: (m: string) => said.push(["info", m]), warn: (m: string) => said.push(["warn", m]) };
    const spawner = await startSpawner(kind, logger, paths);
    await spawner.destroy();
    return { kind: spawner.kind, said };
  };
  // Not built: execa, said as information (a build without a compiler is allowed).
  const none = await start("auto", missing);
  assert.equal(none.kind, "execa");
  assert.equal(none.said.length, 1);
  assert.equal(none.said[0][0], "info");
  assert.match(none.said[0][1], /hooks start through execa \(the spawn addon .*no-such-addon.* was not built; npm run build with a C compiler builds it\)/);
  // execa asked for: execa, even where the addon is built, said nothing about.
  assert.deepEqual(await start("execa", built), { kind: "execa", said: [] });
  // An addon that is there but cannot load is a problem worth a warning; HOOKD_SPAWNER=addon stops.
  const broken = path.join(tmpdir(), `broken-addon-${process.pid}.node`);
  await writeFile(broken, "not a shared object");
  try {
    const fallback = await start("auto", { addon: broken });
    assert.equal(fallback.kind, "execa");
    assert.deepEqual(
      fallback.said.map(([level]) => level),
      ["warn"],
    );
    assert.match(fallback.said[0][1], /hooks start through execa \(the spawn addon .*broken-addon.* could not be loaded: /);
    await assert.rejects(startSpawner("addon", silentLogger, { addon: broken }), /HOOKD_SPAWNER=addon: the spawn addon .*broken-addon.* could not be loaded: .*; set HOOKD_SPAWNER=execa or auto/);
  } finally {
    await rm(broken, { force: true });
  }
  // What npm run build makes: the addon, said nothing about.
  const best = await start("auto", built);
  assert.equal(best.kind, "addon", "npm run build built the addon");
  assert.deepEqual(best.said, []);
});

test("operations: HOOKD_LOG_LEVEL, HOOKD_METRICS, HOOKD_METRICS_TOKEN and HOOKD_RETENTION_DAYS, with defaults and clear refusals", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.logLevel, "info");
  assert.deepEqual(defaults.operations, { metricsEnabled: true, metricsToken: null, retentionDays: 90 });
  const set = loadConfig({ HOOKD_LOG_LEVEL: "DEBUG", HOOKD_METRICS: "0", HOOKD_METRICS_TOKEN: "t".repeat(24), HOOKD_RETENTION_DAYS: "0" });
  assert.equal(set.logLevel, "debug");
  assert.deepEqual(set.operations, { metricsEnabled: false, metricsToken: "t".repeat(24), retentionDays: 0 });
  assert.throws(
    () => loadConfig({ HOOKD_LOG_LEVEL: "loud", HOOKD_METRICS: "maybe", HOOKD_METRICS_TOKEN: "short", HOOKD_RETENTION_DAYS: "-1" }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 4);
      assert.match(err.message, /HOOKD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent \(got 'loud'\)/);
      assert.match(err.message, /HOOKD_METRICS must be 1 .* or 0 .* \(got 'maybe'\)/);
      assert.match(err.message, /HOOKD_METRICS_TOKEN must be at least 20 characters/);
      assert.match(err.message, /HOOKD_RETENTION_DAYS must be a whole number from 0 to 36500 days \(0 keeps everything\) \(got '-1'\)/);
      return true;
    },
  );
});

test("failed authentications: 20 per 60 s per address by default; HOOKD_AUTH_FAILURES and HOOKD_AUTH_FAILURE_WINDOW_SECONDS set them, checked", () => {
  assert.deepEqual(loadConfig({}).authFailureLimit, { attempts: 20, windowSeconds: 60 });
  assert.deepEqual(loadConfig({ HOOKD_AUTH_FAILURES: "5", HOOKD_AUTH_FAILURE_WINDOW_SECONDS: "10" }).authFailureLimit, { attempts: 5, windowSeconds: 10 });
  assert.throws(
    () => loadConfig({ HOOKD_AUTH_FAILURES: "0", HOOKD_AUTH_FAILURE_WINDOW_SECONDS: "x" }),
    (err: ConfigError) =>
      err.problems.some((p) => p.startsWith("HOOKD_AUTH_FAILURES must be a whole number from 1")) && err.problems.some((p) => p.startsWith("HOOKD_AUTH_FAILURE_WINDOW_SECONDS must be")),
  );
});

test("HOOKD_PUBSUB: memory by default; redis needs HOOKD_REDIS_URL; a URL without redis, or a wrong one, says what to set", () => {
  assert.deepEqual(loadConfig({}).pubsub, { kind: "memory", redisUrl: null, prefix: "hookd:" });
  assert.deepEqual(loadConfig({ HOOKD_PUBSUB: "redis", HOOKD_REDIS_URL: "redis://10.0.0.5:6379/2", HOOKD_REDIS_PREFIX: "studio-a:" }).pubsub, {
    kind: "redis",
    redisUrl: "redis://10.0.0.5:6379/2",
    prefix: "studio-a:",
  });
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems.join("\n");
    }
    assert.fail("accepted");
  };
  assert.match(problems({ HOOKD_PUBSUB: "redis" }), /HOOKD_PUBSUB=redis needs HOOKD_REDIS_URL: set it to .*redis:\/\/127\.0\.0\.1:6379/);
  assert.match(problems({ HOOKD_PUBSUB: "kafka" }), /HOOKD_PUBSUB must be 'memory' .* or 'redis' .*got 'kafka'/);
  assert.match(problems({ HOOKD_REDIS_URL: "redis://127.0.0.1:6379" }), /HOOKD_REDIS_URL is set but HOOKD_PUBSUB is 'memory'.*set HOOKD_PUBSUB=redis/);
  assert.match(problems({ HOOKD_PUBSUB: "redis", HOOKD_REDIS_URL: "127.0.0.1:6379" }), /HOOKD_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
});

test("on/off settings: 1/0, true/false, yes/no, on/off in any case; empty is the default; anything else is refused naming the variable", () => {
  for (const on of ["1", "true", "YES", "On"]) assert.equal(loadConfig({ HOOKD_LOG_SQL: on }).logSql, true, on);
  for (const off of ["0", "false", "No", "OFF", ""]) assert.equal(loadConfig({ HOOKD_LOG_SQL: off, HOOKD_METRICS: off }).logSql, false, off);
  assert.equal(loadConfig({ HOOKD_METRICS: "" }).operations.metricsEnabled, true, "empty is the default (on)");
  assert.equal(loadConfig({ HOOKD_KEEP_TEMP_FILES: "yes" }).executor.keepTempFiles, true);
  // A typo used to read as "off": a kept-files setting that silently did nothing.
  assert.throws(
    () => loadConfig({ HOOKD_KEEP_TEMP_FILES: "ture", HOOKD_LOG_SQL: "enabled", HOOKD_METRICS: "2" }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 3, err.message);
      assert.match(err.message, /HOOKD_KEEP_TEMP_FILES must be 1 \(.*\) or 0 \(.*\); true\/false, yes\/no and on\/off are taken too, in any case \(got 'ture'\)/);
      assert.match(err.message, /HOOKD_LOG_SQL must be 1 .* \(got 'enabled'\)/);
      assert.match(err.message, /HOOKD_METRICS must be 1 .* \(got '2'\)/);
      return true;
    },
  );
});
