import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CLI, serveProcess } from "./helpers/serve-process.js";
import { ensureTestDatabaseSync } from "./helpers/test-database.js";

const serve = serveProcess;

async function me(url: string, key: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: "{ me { email role } }" }),
  });
  return { status: res.status, body: await res.json() };
}

describe("the hookd command", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "hookd-cli-"));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test("first start prints the admin key once with how to make more users; later starts do not", async () => {
    const dataDir = tempDir();
    const first = await serve({ HOOKD_DATA_DIR: dataDir });
    const key = /^\s+(hkd_\S+)$/m.exec(first.stdout())?.[1];
    assert.ok(key, `a key is printed:\n${first.stdout()}`);
    assert.match(first.stdout(), /npm run hookd -- user create --email/);
    assert.ok(first.stdout().includes(`(dashboard: ${first.url}/;`), `the dashboard's address is printed:\n${first.stdout()}`);
    assert.deepEqual((await me(first.url, key)).body.data.me, { email: "admin@localhost", role: "ADMIN" });
    assert.equal(await first.stop(), 0, "SIGTERM stops it cleanly");

    const second = await serve({ HOOKD_DATA_DIR: dataDir });
    assert.doesNotMatch(second.stdout(), /hkd_/);
    assert.doesNotMatch(second.stdout(), /First start/);
    assert.equal((await me(second.url, key)).status, 200);
    assert.equal(await second.stop(), 0);
  });

  test("HOOKD_BOOTSTRAP_ADMIN_KEY sets the first admin's key, and is ignored once an admin exists", async () => {
    const dataDir = tempDir();
    const key = "hkd_deploy_key_for_automation_0001";
    const first = await serve({ HOOKD_DATA_DIR: dataDir, HOOKD_BOOTSTRAP_ADMIN_KEY: key, HOOKD_BOOTSTRAP_ADMIN_EMAIL: "ops@studio.example" });
    assert.doesNotMatch(first.stdout(), new RegExp(key), "the configured key is never echoed");
    assert.match(first.stdout(), /HOOKD_BOOTSTRAP_ADMIN_KEY/);
    assert.deepEqual((await me(first.url, key)).body.data.me, { email: "ops@studio.example", role: "ADMIN" });
    await first.stop();

    const other = "hkd_another_key_that_must_not_work_01";
    const second = await serve({ HOOKD_DATA_DIR: dataDir, HOOKD_BOOTSTRAP_ADMIN_KEY: other });
    assert.equal((await me(second.url, other)).status, 401);
    assert.equal((await me(second.url, key)).status, 200);
    await second.stop();
  });

  test("`hookd user create` makes a user and prints a working key; `key create` adds another", async () => {
    const dataDir = tempDir();
    const env = { ...process.env, ...ensureTestDatabaseSync(dataDir), HOOKD_DATA_DIR: dataDir };
    const created = spawnSync(process.execPath, [CLI, "user", "create", "--email", "td@studio.example", "--role", "employee"], { env, encoding: "utf8" });
    assert.equal(created.status, 0, created.stderr);
    const key = /^\s+(hkd_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(key, created.stdout);
    const more = spawnSync(process.execPath, [CLI, "key", "create", "--email", "td@studio.example"], { env, encoding: "utf8" });
    assert.equal(more.status, 0, more.stderr);
    const key2 = /^\s+(hkd_\S+)$/m.exec(more.stdout)?.[1];
    assert.ok(key2 && key2 !== key);
    const listed = spawnSync(process.execPath, [CLI, "user", "list"], { env, encoding: "utf8" });
    assert.match(listed.stdout, /EMPLOYEE\s+td@studio\.example/);

    const server = await serve({ HOOKD_DATA_DIR: dataDir });
    assert.deepEqual((await me(server.url, key)).body.data.me, { email: "td@studio.example", role: "EMPLOYEE" });
    assert.equal((await me(server.url, key2!)).status, 200);
    // The audit trail says the command line made the user and its keys, and hookd the first admin.
    const adminKey = /^\s+(hkd_\S+)$/m.exec(server.stdout())![1];
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ query: "{ auditEvents(first: 50) { nodes { actor action } } }" }),
    });
    const trail = ((await res.json()) as any).data.auditEvents.nodes.map((n: any) => `${n.actor} ${n.action}`).reverse();
    assert.deepEqual(trail, ["cli user.create", "cli apiKey.create", "cli apiKey.create", "hookd user.create", "hookd apiKey.create"]);
    await server.stop();
  });

  test("`hookd demo` runs the publish workflow end to end with the example hooks", () => {
    const demo = spawnSync(process.execPath, [CLI, "demo"], { encoding: "utf8", env: { ...process.env } });
    assert.equal(demo.status, 0, demo.stderr);
    assert.match(demo.stdout, /moon_comp_v002: approved -> .*\/moon\/comp\/v002/);
    assert.match(demo.stdout, /warning: moon_lighting\.exr: frames missing: 1003-1004/);
    assert.match(demo.stdout, /moon_comp_v007: REJECTED\n\s+warning: v007 is not the next version of moon comp: expected v002/);
    assert.match(demo.stdout, /job DONE; publish PUBLISHED/);
    assert.match(demo.stdout, /"comment": "v002: fixed the edge flicker"/);
  });

  test("SIGTERM stops in order: a running hook is cancelled and recorded, then the process exits 0", { timeout: 60_000 }, async () => {
    const dataDir = tempDir();
    const key = "hkd_sigterm_test_key_0123456789";
    const server = await serve({ HOOKD_DATA_DIR: dataDir, HOOKD_BOOTSTRAP_ADMIN_KEY: key, HOOKD_KILL_GRACE_MS: "200" });
    const gql = async (query: string) => {
      const res = await fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ query }) });
      return ((await res.json()) as { data: any }).data;
    };
    await gql(`mutation { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: "/bin/sleep 30" } }) { hook } }`);
    const [execution] = (await gql(`mutation { triggerHook(input: { hook: POST_DONE_SERVER }) { id } }`)).triggerHook;
    for (let i = 0; i < 100 && (await gql(`{ execution(id: "${execution.id}") { status } }`)).execution.status !== "RUNNING"; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await server.stop(), 0);
    assert.match(server.stdout(), /"msg":"SIGTERM: stopping"\}\n[\s\S]*"msg":"stopped"\}\n$/);
    // Started again, the execution is as the orderly stop recorded it (not failed by crash recovery).
    const again = await serve({ HOOKD_DATA_DIR: dataDir });
    try {
      const res = await fetch(`${again.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: `{ execution(id: "${execution.id}") { status error } }` }),
      });
      const { data } = (await res.json()) as { data: any };
      assert.deepEqual(data.execution, { status: "CANCELLED", error: "cancelled; process group killed" });
    } finally {
      await again.stop();
    }
  });

  test("bad input to the command says what is wrong and exits 2", () => {
    const dataDir = tempDir();
    const env = { ...process.env, ...ensureTestDatabaseSync(dataDir), HOOKD_DATA_DIR: dataDir };
    const noEmail = spawnSync(process.execPath, [CLI, "user", "create", "--role", "ADMIN"], { env, encoding: "utf8" });
    assert.equal(noEmail.status, 2);
    assert.match(noEmail.stderr, /--email is required/);
    const badRole = spawnSync(process.execPath, [CLI, "user", "create", "--email", "a@b.c", "--role", "boss"], { env, encoding: "utf8" });
    assert.equal(badRole.status, 2);
    assert.match(badRole.stderr, /input\.role: must be one of ADMIN, EMPLOYEE, STANDARD \(got 'BOSS'\)/);
    const unknown = spawnSync(process.execPath, [CLI, "frobnicate"], { env, encoding: "utf8" });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badPort = spawnSync(process.execPath, [CLI, "serve"], { env: { ...env, PORT: "http" }, encoding: "utf8" });
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /PORT must be a whole number from 0 to 65535 \(got 'http'\)/);
  });

  test("each command takes only its own options: another command's is refused, naming it (not ignored); --version prints the version", () => {
    const dataDir = tempDir();
    const env = { ...process.env, ...ensureTestDatabaseSync(dataDir), HOOKD_DATA_DIR: dataDir };
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8" });
    // --keep belongs to demo: prune used to run (and delete) as if it were not there.
    const prune = run("prune", "--keep");
    assert.equal(prune.status, 2, prune.stdout);
    assert.match(prune.stderr, /^hookd: hookd prune does not take --keep \(it takes --dry-run\)/);
    const list = run("user", "list", "--email", "a@b.c", "--role", "ADMIN");
    assert.equal(list.status, 2);
    assert.match(list.stderr, /hookd user list does not take --email, --role \(it takes no options\)/);
    assert.match(run("serve", "--url", "http://x").stderr, /hookd serve does not take --url \(it takes no options\)/);
    assert.match(run("frobnicate", "--keep").stderr, /unknown command 'frobnicate'/);
    const version = run("--version");
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), `hookd ${JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version}`);
    assert.equal(run("user", "list", "--help").status, 0, "--help goes with any command");
  });

  test("hookd agent reads the enrolment token from --token-file or HOOKD_AGENT_TOKEN (kept out of ps), one way only", () => {
    const dir = tempDir();
    const file = path.join(dir, "token");
    const agent = (args: string[], extra: Record<string, string> = {}) =>
      spawnSync(process.execPath, [CLI, "agent", "--url", "http://127.0.0.1:9", "--state-dir", path.join(dir, "state"), ...args], { env: { ...process.env, ...extra }, encoding: "utf8" });
    writeFileSync(file, "hke_from_a_file\n");
    const both = agent(["--token-file", file], { HOOKD_AGENT_TOKEN: "hke_from_env" });
    assert.equal(both.status, 2);
    assert.match(both.stderr, /hookd: give the enrolment token one way, not --token-file and HOOKD_AGENT_TOKEN/);
    assert.match(agent(["--token", "hke_x"], { HOOKD_AGENT_TOKEN: "hke_y" }).stderr, /not HOOKD_AGENT_TOKEN and --token/);
    assert.match(agent(["--token-file", path.join(dir, "missing")]).stderr, /--token-file: cannot read '.*missing': ENOENT/);
    writeFileSync(file, "\n");
    assert.match(agent(["--token-file", file]).stderr, /--token-file: '.*token' must hold the enrolment token \(hke_…\) alone on one line/);
  });
});
