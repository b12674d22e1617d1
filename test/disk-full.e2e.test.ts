import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { loadConfig } from "../src/config.js";
import { silentLogger } from "../src/logger.js";
import { openStore } from "../src/store/create-store.js";
import { serveProcess, type ServeProcess } from "./helpers/serve-process.js";
import { eventually } from "./helpers/server.js";
import { sqliteOnly } from "./helpers/test-database.js";

// The data directory fills up while hooks run, then space is freed (issue 32). What hookd writes
// meanwhile may fail; what it records afterwards must be true and must reach the file: no run is
// left RUNNING or QUEUED without a holder, and `wait: true` answers only final states.

const KEY = "hkd_disk_full_admin_key_0123456789abcdef";
const LEASE_S = 2;
const GRACE_MS = 300;
const FINAL = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"];
const TRIGGER = `mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status error } }`;

/** Why this cannot run here, or false: it mounts a tmpfs, which needs root (and a kernel that lets it). */
function cannotMount(): string | false {
  const onPostgres = sqliteOnly("the disk that fills is SQLite's data directory");
  if (onPostgres) return onPostgres;
  if (process.platform !== "linux" || process.getuid?.() !== 0) return "needs root on Linux to mount a small tmpfs that can be filled";
  const probe = mkdtempSync(path.join(tmpdir(), "hookd-tmpfs-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return false;
  } catch {
    return "mount -t tmpfs failed here (a container without CAP_SYS_ADMIN?)";
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const skip = cannotMount();

describe("disk full mid-run, then freed (SQLite on a tmpfs)", { skip }, () => {
  let mnt: string;
  let hooks: string;
  let server: ServeProcess;
  let dataDir: string;
  const filler = () => path.join(mnt, "filler");

  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as { data?: any; errors?: { message: string }[] };
  };
  const ok = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await gql(query, variables);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    return res.data;
  };
  /** The record as the file holds it: what another process (the CLI, a restart) would read. */
  const durable = () => {
    const db = new Database(path.join(dataDir, "hookd.sqlite"), { readonly: true });
    try {
      return db.prepare(`SELECT id, status, error, runnerId FROM execution`).all() as { id: string; status: string; error: string | null; runnerId: string | null }[];
    } finally {
      db.close();
    }
  };

  before(async () => {
    mnt = mkdtempSync(path.join(tmpdir(), "hookd-disk-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt]);
    dataDir = path.join(mnt, "data");
    hooks = mkdtempSync(path.join(tmpdir(), "hookd-disk-full-hooks-"));
    const script = path.join(hooks, "talk.sh");
    // Talks for about 2 s, unless the quick file is there.
    writeFileSync(script, `#!/bin/sh\n[ -e "${hooks}/quick" ] && { echo quick; exit 0; }\ni=0\nwhile [ $i -lt 40 ]; do echo "line $i $HOOKD_EXECUTION_ID"; i=$((i+1)); sleep 0.05; done\n`);
    chmodSync(script, 0o755);
    server = await serveProcess({
      HOOKD_DATA_DIR: dataDir,
      HOOKD_BOOTSTRAP_ADMIN_KEY: KEY,
      HOOKD_LEASE_SECONDS: String(LEASE_S),
      HOOKD_KILL_GRACE_MS: String(GRACE_MS),
      HOOKD_TEMP_DIR: hooks,
    });
    await ok(`mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`, {
      input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: script, mac: null, windows: null }, timeoutSeconds: 10 },
    });
  });

  after(async () => {
    rmSync(filler(), { force: true });
    if (server && server.child.exitCode === null) await server.stop();
    // Lazily, should anything still hold it: the mount must not outlive the test.
    execFileSync("umount", ["-l", mnt]);
    rmSync(mnt, { recursive: true, force: true });
    rmSync(hooks, { recursive: true, force: true });
  });

  /** Fills the tmpfs to the last byte (dd stops at ENOSPC). */
  const fill = () => {
    try {
      execFileSync("dd", ["if=/dev/zero", `of=${filler()}`, "bs=64k"], { stdio: "ignore" });
    } catch {
      // ENOSPC: full.
    }
  };

  test("a transaction the full disk failed at COMMIT leaves the store committing to the file once space is back", async () => {
    // The serving store (its WAL checkpointer too), on a data directory of its own on the tmpfs.
    const dir = path.join(mnt, "store");
    const store = await openStore(loadConfig({ HOOKD_DATA_DIR: dir }), { serve: { logger: silentLogger } });
    const file = path.join(dir, "hookd.sqlite");
    let expected: string[] = [];
    const seen = () => {
      const db = new Database(file, { readonly: true });
      try {
        return (db.prepare(`SELECT v FROM probe ORDER BY rowid`).all() as { v: string }[]).map((r) => r.v.slice(0, 20));
      } finally {
        db.close();
      }
    };
    try {
      await store.transaction((em) => em.query(`CREATE TABLE probe (v TEXT)`));
      fill();
      // Big enough to need pages the disk does not have: they fail, at the latest at COMMIT (one
      // may fit in what a failed one left in the WAL file).
      const committed: string[] = [];
      let failed = 0;
      for (let i = 0; i < 4; i++) {
        const v = `${i}`.repeat(512 * 1024);
        await store
          .transaction((em) => em.query(`INSERT INTO probe (v) VALUES (?)`, [v]))
          .then(
            () => committed.push(v.slice(0, 20)),
            (err: Error) => {
              assert.match(err.message, /disk is full/);
              failed++;
            },
          );
      }
      assert.ok(failed >= 2, `${failed} of the writes failed`);
      rmSync(filler());
      await store.transaction((em) => em.query(`INSERT INTO probe (v) VALUES ('typeorm')`));
      expected = [...committed, "typeorm"];
      assert.deepEqual(seen(), expected, "another connection sees what was committed, the write after the disk was freed too");
    } finally {
      rmSync(filler(), { force: true });
      await store.destroy();
    }
    assert.deepEqual(seen(), expected, "and it is there after the store closed");
  });

  test("no run is left RUNNING or QUEUED, every outcome or its reason is stored, and wait: true answers only final states", async (t) => {
    for (let i = 0; i < 4; i++) await ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false } });
    const waited = Array.from({ length: 2 }, () => gql(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: true } }));
    await eventually(
      async () => {
        const { executions } = await ok(`{ executions(first: 50) { edges { node { status logLineCount } } } }`);
        return executions.edges.length === 6 && executions.edges.every((e: any) => e.node.status === "RUNNING");
      },
      "six runs RUNNING",
      10_000,
    );
    await new Promise((r) => setTimeout(r, 300)); // some of their output is stored

    // The disk fills while the hooks talk; they end while it is full.
    fill();
    await new Promise((r) => setTimeout(r, 2500));
    rmSync(filler());
    const freedAt = Date.now();

    // Every broken promise is listed, so one run shows all that went wrong.
    const problems: string[] = [];
    // wait: true: a final status, or an error that says plainly it gave up waiting.
    // Lease plus grace after the disk was freed they must have answered (an outcome, or giving up).
    const answers = await Promise.race([Promise.all(waited), new Promise<null>((r) => setTimeout(() => r(null), LEASE_S * 1000 + GRACE_MS + 5000))]);
    if (answers === null) problems.push("wait: true had not answered 5 s past lease plus grace after the disk was freed");
    for (const res of answers ?? []) {
      if (res.errors) {
        if (!/did not finish|gave up/.test(res.errors[0].message)) problems.push(`wait: true failed without saying it gave up: ${JSON.stringify(res.errors)}`);
      } else if (!FINAL.includes(res.data.triggerHook[0].status)) problems.push(`wait: true answered ${JSON.stringify(res.data.triggerHook[0])}`);
    }

    // Lease plus grace (and a sweep) after the disk was freed, nothing is left without a holder:
    // every hook has ended, so nothing may be RUNNING or QUEUED, in the file as through the API.
    await new Promise((r) => setTimeout(r, Math.max(0, freedAt + LEASE_S * 1000 + GRACE_MS + 1500 - Date.now())));
    const { executions } = await ok(`{ executions(first: 50) { edges { node { id status error } } } }`);
    for (const { node } of executions.edges) if (!FINAL.includes(node.status)) problems.push(`through the API: ${JSON.stringify(node)}`);
    const rows = durable();
    if (rows.length !== 6) problems.push(`${rows.length} executions in the file, not 6`);
    for (const row of rows) {
      if (!FINAL.includes(row.status)) problems.push(`in the file, with hookd running: ${JSON.stringify(row)}`);
      // The outcome, or why it is not known, in words.
      else if (row.status !== "SUCCEEDED" && !row.error) problems.push(`no reason in words: ${JSON.stringify(row)}`);
    }

    // The store works again: a new run is recorded, and the file holds it.
    writeFileSync(path.join(hooks, "quick"), "");
    const [quick] = (await ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: true } })).triggerHook;
    if (quick.status !== "SUCCEEDED") problems.push(`a run after the disk was freed: ${JSON.stringify(quick)}`);
    const stored = durable().find((r) => r.id === quick.id);
    if (stored?.status !== "SUCCEEDED") problems.push(`the run after the disk was freed, in the file: ${JSON.stringify(stored ?? "missing")}`);

    // What hookd answered is what stays once it stopped.
    const answered = new Map<string, string>(executions.edges.map((e: any) => [e.node.id, e.node.status]));
    assert.equal(await server.stop(), 0);
    for (const row of durable()) {
      const status = answered.get(row.id);
      if (status !== undefined && row.status !== status) problems.push(`hookd answered ${status}, the file says ${JSON.stringify(row)} after it stopped`);
    }
    // hookd's warnings and errors say what went wrong.
    const logged = server.stdout().split("\n");
    if (problems.length > 0) for (const line of logged.filter((l) => /"level":"(warn|error)"|^query failed|^error:/.test(l))) t.diagnostic(line.slice(0, 300));
    assert.deepEqual(problems, []);
  });
});
