import "reflect-metadata";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { openStore } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { Execution, ExecutionStatus, FINISHED_STATUSES } from "../src/entities/execution.entity.js";
import { ExecutionLogLine, LogStream } from "../src/entities/execution-log-line.entity.js";
import { ADMIN_KEY, eventually, startServer } from "./helpers/server.js";
import { sampleExecution } from "./helpers/store.js";
import { subscribe } from "./helpers/ws.js";
import { CLI, serveProcess } from "./helpers/serve-process.js";
import { ensureTestDatabaseSync, onPostgres, sqliteOnly } from "./helpers/test-database.js";

const serve = serveProcess;

/** The CLI run without blocking this process's event loop (an in-process server keeps working). */
function cli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("exit", (status) => resolve({ status, stdout, stderr })));
}

async function me(url: string, key: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: "{ me { email role disabled } }" }),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Reads until `holds` (then returns that reading). On SQLite a running server sees the command
 * line's commit at its next key check (data_version); on PostgreSQL it hears it by a NOTIFY that
 * arrives asynchronously, so there it reads again for up to 2 s. Returns the last reading.
 */
async function afterCli<T>(read: () => Promise<T>, holds: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + (onPostgres ? 2000 : 0);
  for (;;) {
    const value = await read();
    if (holds(value) || Date.now() >= deadline) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const meAfterCli = (url: string, key: string, holds: (answer: Awaited<ReturnType<typeof me>>) => boolean) => afterCli(() => me(url, key), holds);

describe("the hookd command, for operators", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "hookd-cli-ops-"));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test("a first start that fails (the port is taken) loses no admin key: the next start creates and prints it", async () => {
    const dataDir = tempDir();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const failed = spawnSync(process.execPath, [CLI, "serve"], { env: { ...process.env, ...ensureTestDatabaseSync(dataDir), HOOKD_DATA_DIR: dataDir, PORT: String(port) }, encoding: "utf8" });
      assert.equal(failed.status, 2, failed.stderr);
      assert.match(failed.stderr, /EADDRINUSE.*set PORT \(or HOST\) to a free address/);
      assert.doesNotMatch(failed.stdout, /hkd_/);
    } finally {
      blocker.close();
    }
    const second = await serve({ HOOKD_DATA_DIR: dataDir });
    try {
      assert.match(second.stdout(), /First start: created the ADMIN user admin@localhost/);
      const key = /^\s+(hkd_\S+)$/m.exec(second.stdout())?.[1];
      assert.ok(key, second.stdout());
      assert.deepEqual((await me(second.url, key)).body.data.me, { email: "admin@localhost", role: "ADMIN", disabled: false });
    } finally {
      await second.stop();
    }
  });

  test("user set-role, user disable / enable and key revoke take effect at once on a running server", async () => {
    const dataDir = tempDir();
    const env = { ...ensureTestDatabaseSync(dataDir), HOOKD_DATA_DIR: dataDir };
    const server = await serve({ ...env, HOOKD_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY });
    try {
      const created = await cli(["user", "create", "--email", "vendor@example.com", "--role", "STANDARD"], env);
      assert.equal(created.status, 0, created.stderr);
      const key = /^\s+(hkd_\S+)$/m.exec(created.stdout)![1];
      // Authenticated once, so the server holds the key in its cache.
      assert.equal((await me(server.url, key)).body.data.me.role, "STANDARD");

      const promoted = await cli(["user", "set-role", "--email", "vendor@example.com", "--role", "employee"], env);
      assert.equal(promoted.status, 0, promoted.stderr);
      assert.match(promoted.stdout, /vendor@example\.com is now EMPLOYEE/);
      assert.equal((await meAfterCli(server.url, key, (r) => r.body.data?.me?.role === "EMPLOYEE")).body.data.me.role, "EMPLOYEE");

      const disabled = await cli(["user", "disable", "--email", "vendor@example.com"], env);
      assert.equal(disabled.status, 0, disabled.stderr);
      const refused = await meAfterCli(server.url, key, (r) => r.status === 401);
      assert.equal(refused.status, 401);
      assert.match(refused.body.errors[0].message, /belongs to a disabled user/);
      assert.equal((await cli(["user", "enable", "--email", "vendor@example.com"], env)).status, 0);
      assert.equal((await meAfterCli(server.url, key, (r) => r.status === 200)).status, 200);

      const listed = await cli(["key", "list", "--email", "vendor@example.com"], env);
      assert.equal(listed.status, 0, listed.stderr);
      const prefix = key.slice(0, 12);
      assert.match(listed.stdout, new RegExp(`${prefix}…\\s+active`));
      const revoked = await cli(["key", "revoke", prefix], env);
      assert.equal(revoked.status, 0, revoked.stderr);
      assert.match(revoked.stdout, new RegExp(`revoked API key ${prefix}… .* of vendor@example\\.com`));
      const gone = await meAfterCli(server.url, key, (r) => r.status === 401);
      assert.equal(gone.status, 401);
      assert.match(gone.body.errors[0].message, /was revoked/);

      // The last enabled ADMIN cannot be disabled or demoted; unknown users and keys say so.
      const lastAdmin = await cli(["user", "disable", "--email", "admin@localhost"], env);
      assert.equal(lastAdmin.status, 2);
      assert.match(lastAdmin.stderr, /'admin@localhost' is the last enabled ADMIN; make another ADMIN first/);
      assert.equal((await cli(["user", "set-role", "--email", "admin@localhost", "--role", "STANDARD"], env)).status, 2);
      assert.equal((await me(server.url, ADMIN_KEY)).body.data.me.role, "ADMIN");
      const nobody = await cli(["user", "disable", "--email", "nobody@example.com"], env);
      assert.equal(nobody.status, 2);
      assert.match(nobody.stderr, /user 'nobody@example\.com' does not exist/);
      const noKey = await cli(["key", "revoke"], env);
      assert.equal(noKey.status, 2);
      assert.match(noKey.stderr, /key revoke needs exactly one argument/);
    } finally {
      await server.stop();
    }
  });

  test("a user disabled by the command line: its open subscriptions end with the server's next request", { timeout: 30_000 }, async () => {
    const dataDir = tempDir();
    const env = { ...ensureTestDatabaseSync(dataDir), HOOKD_DATA_DIR: dataDir };
    const server = await serve({ ...env, HOOKD_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY });
    try {
      const created = await cli(["user", "create", "--email", "second-admin@example.com", "--role", "ADMIN"], env);
      assert.equal(created.status, 0, created.stderr);
      const key = /^\s+(hkd_\S+)$/m.exec(created.stdout)![1];
      const sub = subscribe(server.url, key, `subscription { executionUpdated { id status } }`);
      // Open once a request over it has been answered by the server.
      await eventually(async () => (await me(server.url, key)).status === 200 && sub, "the subscription open");
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await cli(["user", "disable", "--email", "second-admin@example.com"], env)).status, 0);
      let ended = false;
      void sub.ended.then(() => (ended = true));
      // Another request until the subscription ends (on SQLite the first one ends it).
      const ending = await afterCli(
        async () => {
          assert.equal((await me(server.url, ADMIN_KEY)).status, 200);
          await new Promise((r) => setTimeout(r, 50));
          return ended;
        },
        (e) => e,
      );
      assert.ok(ending || !onPostgres, "the subscription did not end within 2 s of the next requests");
      const end = await sub.ended;
      assert.equal(end.completed, false);
      assert.equal(end.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
      await sub.dispose();
    } finally {
      await server.stop();
    }
  });

  test("prune --dry-run says what would go and deletes nothing; prune deletes it", async () => {
    const dataDir = tempDir();
    const env = { ...ensureTestDatabaseSync(dataDir), HOOKD_DATA_DIR: dataDir, HOOKD_RETENTION_DAYS: "30" };
    const store = await openStore(loadConfig(env));
    const old = new Date(Date.now() - 31 * 24 * 60 * 60 * 1000);
    const recent = new Date(Date.now() - 29 * 24 * 60 * 60 * 1000);
    const ids = [randomUUID(), randomUUID()];
    await store.transaction(async (em) => {
      for (const [id, at] of [
        [ids[0], old],
        [ids[1], recent],
      ] as const) {
        await em.insert(Execution, Object.assign(sampleExecution(), { id, status: ExecutionStatus.SUCCEEDED, createdAt: at, startedAt: at, finishedAt: at, logLineCount: 2 }) as never);
        for (const seq of [1, 2]) await em.insert(ExecutionLogLine, Object.assign(new ExecutionLogLine(), { executionId: id, seq, stream: LogStream.STDOUT, at, text: "x" }) as never);
      }
    });
    await store.destroy();

    const dry = await cli(["prune", "--dry-run"], env);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /would delete 1 finished execution\(s\), 2 log line\(s\) and 0 audit event\(s\) older than .* \(30 days\); nothing was deleted/);
    const real = await cli(["prune"], env);
    assert.equal(real.status, 0, real.stderr);
    assert.match(real.stdout, /deleted 1 finished execution\(s\), 2 log line\(s\)/);
    const check = await openStore(loadConfig(env));
    try {
      assert.deepEqual(await check.manager.find(Execution, { select: { id: true } }), [Object.assign(new Execution(), { id: ids[1] })]);
    } finally {
      await check.destroy();
    }
    const again = await cli(["prune", "--dry-run"], env);
    assert.match(again.stdout, /would delete 0 finished execution\(s\)/);
  });

  test("on PostgreSQL, hookd backup refuses and points to pg_dump", { skip: !onPostgres && "PostgreSQL only: on SQLite hookd backup copies the file (the test below)" }, async () => {
    const server = await startServer();
    try {
      const backup = await cli(["backup", path.join(tempDir(), "x.sqlite")], { ...ensureTestDatabaseSync(server.dataDir), HOOKD_DATA_DIR: server.dataDir });
      assert.equal(backup.status, 2);
      assert.match(backup.stderr, /hookd backup copies the embedded SQLite file; on PostgreSQL \(HOOKD_DB_TYPE=postgres\) back up with PostgreSQL's own tools, e\.g\. pg_dump/);
    } finally {
      await server.close();
    }
  });

  test("backup while hooks are writing: the copy passes integrity_check and holds every execution finished before it started", {
    timeout: 120_000,
    skip: sqliteOnly("hookd backup copies the SQLite file; PostgreSQL backs up with pg_dump"),
  }, async () => {
    const server = await startServer({ HOOKD_EXECUTOR_CONCURRENCY: "4" });
    const hooksDir = tempDir();
    try {
      const script = path.join(hooksDir, "chatty.sh");
      writeFileSync(script, `#!/bin/sh\ni=0\nwhile [ $i -lt 40 ]; do echo "line $i of a hook that writes"; i=$((i+1)); done\n`);
      chmodSync(script, 0o755);
      await server.ok(`mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`, {
        input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `${script} \${PATH_JSON_INPUT}` } },
      });

      // Hooks keep being triggered, through the API, until the backup is done.
      let writing = true;
      const writer = async () => {
        while (writing) await server.ok(`mutation { triggerHook(input: { hook: POST_DONE_SERVER, wait: true }) { id } }`);
      };
      const loads = [writer(), writer(), writer()];
      const finishedBefore = async () =>
        await server.app.dataSource.getRepository(Execution).find({ select: { id: true, logLineCount: true }, where: FINISHED_STATUSES.map((status) => ({ status })) });
      await eventually(async () => (await finishedBefore()).length >= 20, "twenty finished executions");
      const before = await finishedBefore();

      const file = path.join(hooksDir, "backup.sqlite");
      const backup = await cli(["backup", file], { HOOKD_DATA_DIR: server.dataDir });
      writing = false;
      await Promise.all(loads);
      assert.equal(backup.status, 0, backup.stderr);
      assert.match(backup.stdout, /backed up .*hookd\.sqlite to .*backup\.sqlite \(\d+ bytes; integrity check ok\)/);
      assert.ok(!existsSync(`${file}-wal`), "one self-contained file");
      const after = await finishedBefore();
      assert.ok(after.length > before.length, "hooks kept finishing while the backup ran");

      const copy = new Database(file, { readonly: true });
      try {
        assert.equal(copy.pragma("integrity_check", { simple: true }), "ok");
        const rows = new Map((copy.prepare(`SELECT "id", "status", "logLineCount" FROM "execution"`).all() as { id: string; status: string; logLineCount: number }[]).map((r) => [r.id, r]));
        const lines = copy.prepare(`SELECT COUNT(*) AS n FROM "execution_log_line" WHERE "executionId" = ?`);
        for (const e of before) {
          const row = rows.get(e.id);
          assert.ok(row, `execution ${e.id} is in the copy`);
          assert.ok(FINISHED_STATUSES.includes(row.status as ExecutionStatus), `${e.id} is finished in the copy`);
          assert.equal((lines.get(e.id) as { n: number }).n, e.logLineCount, `${e.id} has all its lines`);
        }
      } finally {
        copy.close();
      }

      // A backup never overwrites a file.
      const twice = await cli(["backup", file], { HOOKD_DATA_DIR: server.dataDir });
      assert.equal(twice.status, 2);
      assert.match(twice.stderr, /already exists; choose a new file name/);
    } finally {
      await server.close();
    }
  });
});
