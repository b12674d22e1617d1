import "reflect-metadata";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { startServer } from "./helpers/server.js";
import { CLI, serveProcess } from "./helpers/serve-process.js";
import { sqliteOnly } from "./helpers/test-database.js";

// Two servers on one SQLite file would run each other's queued hooks and fight over leases.
describe("one hookd serve per SQLite database", { skip: sqliteOnly("the lock file beside the SQLite database; PostgreSQL serves many instances") }, () => {
  test("a second serve on a served database refuses to start, naming the file and the other process; the CLI still works beside it", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-lock-"));
    try {
      const first = await serveProcess({ HOOKD_DATA_DIR: dataDir });
      try {
        const second = spawnSync(process.execPath, [CLI, "serve"], { env: { ...process.env, HOOKD_DATA_DIR: dataDir, PORT: "0" }, encoding: "utf8", timeout: 20_000 });
        assert.equal(second.status, 2, second.stderr);
        const database = path.join(dataDir, "hookd.sqlite");
        assert.match(second.stderr, new RegExp(`the database ${database.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is served by another hookd \\(pid ${first.child.pid} on ${os.hostname()}, started `));
        assert.match(second.stderr, /delete .*hookd\.sqlite\.lock/);
        // Commands that are not `serve` open the database beside the running server.
        const users = spawnSync(process.execPath, [CLI, "user", "list"], { env: { ...process.env, HOOKD_DATA_DIR: dataDir }, encoding: "utf8" });
        assert.equal(users.status, 0, users.stderr);
        assert.match(users.stdout, /admin@localhost/);
      } finally {
        assert.equal(await first.stop(), 0);
      }
      // Stopped: the lock is gone and the next serve starts.
      assert.equal(existsSync(path.join(dataDir, "hookd.sqlite.lock")), false);
      const again = await serveProcess({ HOOKD_DATA_DIR: dataDir });
      await again.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("a lock left by a process that is gone (kill -9) is taken over; two servers in one process refuse too", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-lock-"));
    try {
      const killed = await serveProcess({ HOOKD_DATA_DIR: dataDir });
      const lockFile = path.join(dataDir, "hookd.sqlite.lock");
      assert.equal(JSON.parse(readFileSync(lockFile, "utf8")).pid, killed.child.pid);
      await new Promise((resolve) => {
        killed.child.removeAllListeners("exit");
        killed.child.once("exit", resolve);
        killed.child.kill("SIGKILL");
      });
      assert.equal(existsSync(lockFile), true, "kill -9 leaves the lock behind");
      const server = await startServer({}, { dataDir });
      try {
        await assert.rejects(startServer({}, { dataDir }), new RegExp(`is served by another hookd \\(pid ${process.pid} on `));
      } finally {
        await server.close();
      }
      // Unreadable (a holder that died while writing it): stale as well.
      writeFileSync(lockFile, "");
      const last = await startServer({}, { dataDir });
      await last.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
