import "reflect-metadata";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { agentSocket, enrolAgent } from "./helpers/agent.js";
import { eventually, expectError, startServer, type TestServer } from "./helpers/server.js";
import { CLI } from "./helpers/serve-process.js";
import { databaseEnv } from "./helpers/test-database.js";

// Configuration history, rollback and configuration as code (issue 37), on one server: each test
// builds on the versions the ones before it recorded.

const HISTORY = `query($first: Int, $path: String) { configurationHistory(first: $first, path: $path) { version actor action target changes { path kind before after } } }`;
const SET_HOOK = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const EXPORT = `{ exportConfiguration }`;
const APPLY = `mutation($document: JSONObject!, $dryRun: Boolean) { applyConfiguration(document: $document, dryRun: $dryRun) { dryRun version changes { path kind before after } } }`;
const ROLLBACK = `mutation($version: Int!) { rollbackConfiguration(version: $version) { version changes { path kind before after } } }`;
const PUBLISH_LINE = "/opt/hooks/check.sh ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}";

function cli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("exit", (status) => resolve({ status, stdout, stderr })));
}

describe("configuration history and configuration as code", () => {
  let server: TestServer;
  let employee: { id: string; key: string };
  let standard: { id: string; key: string };

  const latest = async () => (await server.ok(HISTORY, { first: 1 })).configurationHistory[0];
  /** The one version `change` records: its changes, after checking the action and who made it. */
  const recorded = async (change: () => Promise<unknown>, action: string, actor = "admin@hookd.local") => {
    const before = (await latest()).version;
    await change();
    const [version, ...more] = (await server.ok(HISTORY, { first: 5 })).configurationHistory.filter((v: any) => v.version > before);
    assert.equal(more.length, 0, `one version per change, got ${more.length + 1}`);
    assert.ok(version, `${action} recorded no version`);
    assert.equal(version.version, before + 1);
    assert.equal(version.action, action);
    assert.equal(version.actor, actor);
    return version.changes;
  };

  before(async () => {
    server = await startServer({ HOOKD_SECRET_KEY: `${"A".repeat(43)}=` });
    employee = await server.user("td@studio.example", "EMPLOYEE");
    standard = await server.user("vendor@studio.example", "STANDARD");
  });
  after(() => server.close());

  test("every kind of configuration change is a numbered version with who, what and the exact change", async () => {
    const [first] = (await server.ok(`{ configurationVersion(version: 1) { version action actor changes { path } document } }`).then((d) => [d.configurationVersion])) as any[];
    assert.equal(first.action, "configuration.baseline");
    assert.deepEqual(first.changes, [], "the baseline has no version before it to differ from");
    assert.equal(first.document.queues.default.default, true);
    const admin = (await server.ok(`{ me { email } }`)).me.email;

    let changes = await recorded(() => server.ok(SET_HOOK, { input: { hook: "PRE_PUBLISH_SERVER", enabled: true, commands: { linux: PUBLISH_LINE } } }), "hookConfig.set", admin);
    assert.deepEqual(changes, [
      {
        path: "hooks.PRE_PUBLISH_SERVER",
        kind: "ADDED",
        before: null,
        after: { enabled: true, commands: { linux: PUBLISH_LINE, mac: null, windows: null }, timeoutSeconds: null, executionServer: null, policy: null },
      },
    ]);
    changes = await recorded(() => server.ok(SET_HOOK, { input: { hook: "PRE_PUBLISH_SERVER", timeoutSeconds: 20 } }), "hookConfig.set", admin);
    assert.deepEqual(changes, [{ path: "hooks.PRE_PUBLISH_SERVER.timeoutSeconds", kind: "CHANGED", before: null, after: 20 }]);
    changes = await recorded(() => server.ok(SET_HOOK, { input: { hook: "PRE_PUBLISH_SERVER", policy: { maxConcurrent: 2 } } }), "hookConfig.set", admin);
    assert.deepEqual(changes, [{ path: "hooks.PRE_PUBLISH_SERVER.policy", kind: "CHANGED", before: null, after: { retry: null, maxConcurrent: 2, concurrencyKey: null, env: [] } }]);

    changes = await recorded(() => server.ok(`mutation { createQueue(input: { code: "vfx.2", priority: 700 }) { id } }`), "queue.create", admin);
    assert.deepEqual(
      changes.map((c: any) => `${c.kind} ${c.path}`),
      ['ADDED queues["vfx.2"]'],
    );
    changes = await recorded(
      () => server.ok(`mutation { setQueueHook(input: { queue: "vfx.2", hook: POST_DONE_SERVER, mode: APPEND, commands: { linux: "/opt/hooks/ingest.sh \${PATH_JSON_INPUT}" } }) { id } }`),
      "queueHook.set",
      admin,
    );
    assert.deepEqual(
      changes.map((c: any) => `${c.kind} ${c.path}`),
      ['ADDED queues["vfx.2"].hooks.POST_DONE_SERVER'],
    );
    changes = await recorded(() => server.ok(`mutation { updateSettings(input: { auditRoles: [EMPLOYEE] }) { hooksEnabled } }`), "settings.update", admin);
    assert.deepEqual(changes, [{ path: "settings.auditRoles", kind: "CHANGED", before: [], after: ["EMPLOYEE"] }]);
    changes = await recorded(() => server.ok(`mutation { createVolume(input: { code: "projects", paths: { linux: "/srv/projects" } }) { id } }`), "volume.create", admin);
    assert.deepEqual(
      changes.map((c: any) => `${c.kind} ${c.path}`),
      ["ADDED volumes.projects"],
    );

    // Secrets by name only; a new value is a version of its own, with no value anywhere in it.
    changes = await recorded(() => server.ok(`mutation { setSecret(name: "SHOTGRID_KEY", value: "s3cr3t-value") { name } }`), "secret.set", admin);
    assert.deepEqual(changes, [{ path: "secrets", kind: "CHANGED", before: [], after: ["SHOTGRID_KEY"] }]);
    changes = await recorded(() => server.ok(`mutation { setSecret(name: "SHOTGRID_KEY", value: "an0ther-value") { name } }`), "secret.set", admin);
    assert.deepEqual(changes, []);
    const all = JSON.stringify(await server.ok(`{ configurationHistory(first: 200) { changes { before after } document } }`));
    assert.ok(!all.includes("s3cr3t-value") && !all.includes("an0ther-value"), "a secret's value reached the history");
    changes = await recorded(() => server.ok(`mutation { removeSecret(name: "SHOTGRID_KEY") { name } }`), "secret.remove", admin);
    assert.deepEqual(changes, [{ path: "secrets", kind: "CHANGED", before: ["SHOTGRID_KEY"], after: [] }]);

    // Saving what is already there is no change, so no version.
    const now = (await latest()).version;
    await server.ok(SET_HOOK, { input: { hook: "PRE_PUBLISH_SERVER", timeoutSeconds: 20 } });
    assert.equal((await latest()).version, now);

    // A hook's own history: the versions whose changes touch it.
    const hookHistory = (await server.ok(HISTORY, { first: 50, path: "hooks.PRE_PUBLISH_SERVER" })).configurationHistory;
    assert.deepEqual(
      hookHistory.map((v: any) => v.changes.map((c: any) => c.path).join()),
      ["hooks.PRE_PUBLISH_SERVER.policy", "hooks.PRE_PUBLISH_SERVER.timeoutSeconds", "hooks.PRE_PUBLISH_SERVER"],
    );
  });

  test("the diff between any two versions is exact, in either direction", async () => {
    const versions = (await server.ok(HISTORY, { first: 200 })).configurationHistory;
    const hookAdded = versions.find((v: any) => v.changes.some((c: any) => c.path === "hooks.PRE_PUBLISH_SERVER" && c.kind === "ADDED")).version;
    const volumeAdded = versions.find((v: any) => v.action === "volume.create").version;
    const DIFF = `query($from: Int!, $to: Int!) { configurationDiff(from: $from, to: $to) { path kind before after } }`;
    const forward = (await server.ok(DIFF, { from: hookAdded, to: volumeAdded })).configurationDiff;
    assert.deepEqual(forward, [
      { path: "settings.auditRoles", kind: "CHANGED", before: [], after: ["EMPLOYEE"] },
      { path: "hooks.PRE_PUBLISH_SERVER.timeoutSeconds", kind: "CHANGED", before: null, after: 20 },
      { path: "hooks.PRE_PUBLISH_SERVER.policy", kind: "CHANGED", before: null, after: { retry: null, maxConcurrent: 2, concurrencyKey: null, env: [] } },
      {
        path: 'queues["vfx.2"]',
        kind: "ADDED",
        before: null,
        after: {
          name: "vfx.2",
          priority: 700,
          default: false,
          status: "WAITING",
          description: null,
          metadata: { external: {}, internal: {} },
          hooks: { POST_DONE_SERVER: { mode: "APPEND", enabled: true, commands: { linux: "/opt/hooks/ingest.sh ${PATH_JSON_INPUT}", mac: null, windows: null }, timeoutSeconds: null, policy: null } },
        },
      },
      { path: "volumes.projects", kind: "ADDED", before: null, after: { name: "projects", paths: { linux: "/srv/projects", mac: null, windows: null }, metadata: { external: {}, internal: {} } } },
    ]);
    const backward = (await server.ok(DIFF, { from: volumeAdded, to: hookAdded })).configurationDiff;
    assert.deepEqual(
      backward.map((c: any) => ({ path: c.path, kind: c.kind })),
      forward.map((c: any) => ({ path: c.path, kind: c.kind === "ADDED" ? "REMOVED" : c.kind })),
    );
    expectError(await server.gql(DIFF, { from: 1, to: 99_999 }), "NOT_FOUND", /configuration version '99999'/);
  });

  test("rollback restores a version in one step, is itself a version, is audited, and only an ADMIN may", async () => {
    const versions = (await server.ok(HISTORY, { first: 200 })).configurationHistory;
    const beforeTimeout = versions.find((v: any) => v.changes.some((c: any) => c.path === "hooks.PRE_PUBLISH_SERVER" && c.kind === "ADDED")).version;
    const restored = (await server.ok(`{ configurationVersion(version: ${beforeTimeout}) { document } }`)).configurationVersion.document;

    // Reads: ADMIN and the audit roles (EMPLOYEE here), never STANDARD. Rollback and apply: ADMIN only.
    assert.ok((await server.ok(HISTORY, { first: 1 }, employee.key)).configurationHistory.length === 1);
    expectError(await server.gql(HISTORY, { first: 1 }, standard.key), "FORBIDDEN");
    expectError(await server.gql(EXPORT, {}, standard.key), "FORBIDDEN");
    expectError(await server.gql(ROLLBACK, { version: beforeTimeout }, employee.key), "FORBIDDEN");
    expectError(await server.gql(APPLY, { document: restored, dryRun: true }, employee.key), "FORBIDDEN");

    const before = (await latest()).version;
    const result = (await server.ok(ROLLBACK, { version: beforeTimeout })).rollbackConfiguration;
    assert.equal(result.version, before + 1);
    const hook = (await server.ok(`{ hookConfig(hook: PRE_PUBLISH_SERVER) { enabled timeoutSeconds policy { maxConcurrent } commands { linux } } }`)).hookConfig;
    assert.deepEqual(hook, { enabled: true, timeoutSeconds: null, policy: null, commands: { linux: PUBLISH_LINE } });
    assert.equal(
      (await server.ok(`{ queues { code } }`)).queues.some((q: any) => q.code === "vfx.2"),
      false,
      "the queue created after that version is gone",
    );
    assert.deepEqual((await server.ok(`{ settings { auditRoles } }`)).settings.auditRoles, []);
    const exported = (await server.ok(EXPORT)).exportConfiguration;
    assert.deepEqual({ ...exported, executionServers: null }, { ...restored, executionServers: null });

    const version = await latest();
    assert.equal(version.action, "configuration.rollback");
    assert.equal(version.target, `version ${beforeTimeout}`);
    assert.deepEqual(version.changes, result.changes);
    const audit = (await server.ok(`{ auditEvents(filter: { action: "configuration.rollback" }) { nodes { actor targetId } } }`)).auditEvents.nodes;
    assert.deepEqual(audit, [{ actor: version.actor, targetId: String(version.version) }]);

    // And the rollback itself can be undone: back to the version before it.
    await server.ok(ROLLBACK, { version: before });
    assert.equal((await server.ok(`{ hookConfig(hook: PRE_PUBLISH_SERVER) { timeoutSeconds } }`)).hookConfig.timeoutSeconds, 20);
    expectError(await server.gql(ROLLBACK, { version: 99_999 }), "NOT_FOUND");
  });

  test("apply of an export is a no-op; a dry run lists exactly the changes and changes nothing", async () => {
    const exported = (await server.ok(EXPORT)).exportConfiguration;
    const versionBefore = (await latest()).version;
    const same = (await server.ok(APPLY, { document: exported })).applyConfiguration;
    assert.deepEqual(same, { dryRun: false, version: null, changes: [] });
    assert.equal((await latest()).version, versionBefore);

    const wanted = structuredClone(exported);
    wanted.queues["vfx.2"].priority = 900;
    wanted.queues.render = { priority: 100, hooks: { PRE_SUBMIT_SERVER: { mode: "OVERRIDE", commands: { linux: "/opt/hooks/strict.sh ${PATH_JSON_INPUT}" } } } };
    delete wanted.hooks.PRE_PUBLISH_SERVER;
    wanted.volumes.projects.paths.mac = "/Volumes/projects";
    const dry = (await server.ok(APPLY, { document: wanted, dryRun: true })).applyConfiguration;
    assert.equal(dry.dryRun, true);
    assert.equal(dry.version, null);
    assert.deepEqual(dry.changes, [
      { path: "hooks.PRE_PUBLISH_SERVER", kind: "REMOVED", before: exported.hooks.PRE_PUBLISH_SERVER, after: null },
      { path: 'queues["vfx.2"].priority', kind: "CHANGED", before: 700, after: 900 },
      {
        path: "queues.render",
        kind: "ADDED",
        before: null,
        after: {
          name: "render",
          priority: 100,
          default: false,
          status: "WAITING",
          description: null,
          metadata: { external: {}, internal: {} },
          hooks: {
            PRE_SUBMIT_SERVER: { mode: "OVERRIDE", enabled: true, commands: { linux: "/opt/hooks/strict.sh ${PATH_JSON_INPUT}", mac: null, windows: null }, timeoutSeconds: null, policy: null },
          },
        },
      },
      { path: "volumes.projects.paths.mac", kind: "CHANGED", before: null, after: "/Volumes/projects" },
    ]);
    assert.deepEqual((await server.ok(EXPORT)).exportConfiguration, exported, "a dry run changed the configuration");
    assert.equal((await latest()).version, versionBefore);

    const applied = (await server.ok(APPLY, { document: wanted })).applyConfiguration;
    assert.equal(applied.version, versionBefore + 1);
    assert.deepEqual(applied.changes, dry.changes);
    const now = (await server.ok(EXPORT)).exportConfiguration;
    assert.equal(now.hooks.PRE_PUBLISH_SERVER, undefined);
    assert.equal(now.queues.render.hooks.PRE_SUBMIT_SERVER.mode, "OVERRIDE");
    assert.equal((await server.ok(`{ effectiveHooks(hook: PRE_SUBMIT_SERVER, queue: "render") { source mode } }`)).effectiveHooks[1].mode, "OVERRIDE");
    assert.equal((await latest()).action, "configuration.apply");
    // And the applied document, exported again, applies as a no-op.
    assert.deepEqual((await server.ok(APPLY, { document: now, dryRun: true })).applyConfiguration.changes, []);
  });

  test("a bad document changes nothing and its error names the path and the rule", async () => {
    const exported = (await server.ok(EXPORT)).exportConfiguration;
    const versionBefore = (await latest()).version;
    const bad = (edit: (doc: any) => void) => {
      const doc = structuredClone(exported);
      // A good change first, so "nothing changed" means the whole document was refused.
      doc.queues.render.priority = 1;
      edit(doc);
      return doc;
    };
    const cases: [string, (doc: any) => void, RegExp][] = [
      ["queues.render.hooks.PRE_SUBMIT_SERVER.commands.linux", (d) => (d.queues.render.hooks.PRE_SUBMIT_SERVER.commands.linux = "/x ${PATH_TO_NOWHERE}"), /PATH_TO_NOWHERE/],
      ['queues["vfx.2"].priorty', (d) => (d.queues["vfx.2"].priorty = 3), /unknown field; expected one of name, priority/],
      ["queues", (d) => (d.queues["vfx.2"].default = true), /exactly one queue must have default: true \(found 2: default, vfx\.2\)/],
      ["settings.auditRoles[0]", (d) => (d.settings.auditRoles = ["STANDARD"]), /STANDARD users may never audit/],
      ["hooks.POST_DONE_SERVER.executionServer", (d) => (d.hooks.POST_DONE_SERVER = { enabled: true, executionServer: "nowhere" }), /no site server \(kind SERVER\) is named 'nowhere'/],
      ["secrets[0]", (d) => (d.secrets = ["NOT_SET"]), /secret 'NOT_SET' is not set here/],
      ["volumes.projects.paths.linux", (d) => (d.volumes.projects.paths.linux = "relative/path"), /must be an absolute path/],
      ["format", (d) => (d.format = "something-else"), /must be 'hookd-configuration\/1'/],
    ];
    for (const [field, edit, rule] of cases) {
      const res = await server.gql(APPLY, { document: bad(edit) });
      expectError(res, "BAD_USER_INPUT", rule);
      assert.equal(res.errors![0].extensions?.field, field);
      assert.ok(res.errors![0].message.startsWith(`${field}: `), res.errors![0].message);
    }
    assert.deepEqual((await server.ok(EXPORT)).exportConfiguration, exported, "a refused document changed something");
    assert.equal((await latest()).version, versionBefore);
  });

  test("hookd config export writes the document; config apply --dry-run prints the diff; a refused apply exits 2 naming the path", async () => {
    const env = { HOOKD_DATA_DIR: server.dataDir, ...databaseEnv(server.dataDir) };
    const current = (await server.ok(EXPORT)).exportConfiguration;
    const exportFile = path.join(server.dataDir, "exported.json");
    const changed = path.join(server.dataDir, "changed.json");
    const refused = path.join(server.dataDir, "refused.json");
    writeFileSync(changed, JSON.stringify({ ...current, queues: { ...current.queues, render: { ...current.queues.render, priority: 42 } } }));
    writeFileSync(refused, JSON.stringify({ ...current, queues: { ...current.queues, render: { ...current.queues.render, priority: 5000 } } }));
    // Side by side: each CLI start costs seconds, and none of these changes anything.
    const [exported, dry, bad] = await Promise.all([cli(["config", "export", "--out", exportFile], env), cli(["config", "apply", changed, "--dry-run"], env), cli(["config", "apply", refused], env)]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.deepEqual(JSON.parse(readFileSync(exportFile, "utf8")), current);
    assert.equal(dry.status, 0, dry.stderr);
    assert.equal(dry.stdout, `~ queues.render.priority: ${current.queues.render.priority} -> 42\ndry run: nothing was changed (1 change(s); run without --dry-run to apply)\n`);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /queues\.render\.priority: must be a whole number from 0 to 1000 \(got 5000\)/);
    assert.deepEqual((await server.ok(EXPORT)).exportConfiguration, current);
  });

  test("replay: a stricter pre-publish candidate on real past inputs lists exactly the entries whose verdict changes, and touches nothing else", async () => {
    // The script in use approves everything; the candidate rejects names that are not shot_v001-like,
    // and refuses to run at all without "replay": true in its input (what a careful script checks).
    const current = path.join(server.dataDir, "approve.mjs");
    const candidate = path.join(server.dataDir, "strict.mjs");
    const answer = (body: string) => `import { readFileSync, writeFileSync } from "node:fs";\nconst input = JSON.parse(readFileSync(process.argv[2], "utf8"));\n${body}\n`;
    writeFileSync(current, answer(`writeFileSync(process.argv[3], JSON.stringify({ files: input.files.map((f) => ({ id: f.id, can_publish: true, path: "/srv/in/" + f.filename })) }));`));
    writeFileSync(
      candidate,
      answer(`if (input.replay !== true) process.exit(3);
if (process.env.TRACKER_TOKEN !== "tracker-token-1") process.exit(4);
writeFileSync(process.argv[3], JSON.stringify({ files: input.files.map((f) => /^[a-z]+_v[0-9]{3}/.test(f.filename)
  ? { id: f.id, can_publish: true, path: "/srv/in/" + f.filename }
  : { id: f.id, can_publish: false, rejected: true, warning: "name it like shot_v001" }) }));`),
    );
    const line = (script: string) => `${process.execPath} ${script} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}`;
    // The hook point's secrets reach the candidate as they would reach a real run.
    await server.ok(`mutation { setSecret(name: "TRACKER_TOKEN", value: "tracker-token-1") { name } }`);
    await server.ok(SET_HOOK, { input: { hook: "PRE_PUBLISH_SERVER", enabled: true, commands: { linux: line(current) }, policy: { env: ["TRACKER_TOKEN"] } } });
    const PRE = `mutation($input: PrePublishInput!) { prePublish(input: $input) { id state entries { id canPublish rejected path warning } } }`;
    const good = { id: randomUUID(), filename: "moon_v001.exr", size: 10, is_dir: false };
    const bad = { id: randomUUID(), filename: "Final_FINAL.mov", size: 20, is_dir: false };
    const other = { id: randomUUID(), filename: "sun_v002.exr", size: 30, is_dir: false };
    const first = (await server.ok(PRE, { input: { files: [good, bad] } })).prePublish;
    const second = (await server.ok(PRE, { input: { files: [other] } })).prePublish;
    const PUBLISH = `query($id: ID!) { publish(id: $id) { state entries { id canPublish rejected path warning } executions { id status } } }`;
    const before = await Promise.all([first.id, second.id].map(async (id) => (await server.ok(PUBLISH, { id })).publish));
    const EXECUTIONS = `{ executions(first: 200) { nodes { id hook source } } }`;
    const executionsBefore = (await server.ok(EXECUTIONS)).executions.nodes;
    const selfServer = (await server.ok(`{ settings { defaultExecutionServer { id } } }`)).settings.defaultExecutionServer.id;

    const REPLAY = `mutation($filter: ReplayFilterInput!, $candidate: ReplayCandidateInput!) { replayExecutions(filter: $filter, candidate: $candidate) {
      hook entries { statusChanged answerProblem original { id status publishId } replay { id status source input executionServer { id } jobId publishId retryOf { id } }
      verdictChanges { id filename field before after } } } }`;
    const filter = { hook: "PRE_PUBLISH_SERVER", limit: 2 };
    expectError(await server.gql(REPLAY, { filter, candidate: { commands: { linux: line(candidate) } } }, employee.key), "FORBIDDEN");
    expectError(
      await server.gql(REPLAY, { filter: { ...filter, limit: 201 }, candidate: { commands: { linux: line(candidate) } } }),
      "BAD_USER_INPUT",
      /filter\.limit: must be a whole number from 1 to 200/,
    );
    const report = (await server.ok(REPLAY, { filter, candidate: { commands: { linux: line(candidate) } } })).replayExecutions;
    assert.equal(report.entries.length, 2);
    const [replayedSecond, replayedFirst] = report.entries;
    assert.equal(replayedFirst.original.publishId, first.id);
    assert.equal(replayedSecond.original.publishId, second.id);
    for (const entry of report.entries) {
      assert.equal(entry.replay.status, "SUCCEEDED", "the candidate saw replay: true and its secret");
      assert.equal(entry.replay.source, "REPLAY");
      assert.equal(entry.replay.input.replay, true);
      assert.equal(entry.replay.executionServer.id, selfServer, "it ran where the hook point runs");
      assert.deepEqual([entry.replay.jobId, entry.replay.publishId, entry.replay.retryOf], [null, null, null]);
      assert.equal(entry.statusChanged, false);
      assert.equal(entry.answerProblem, null);
    }
    assert.deepEqual(replayedSecond.verdictChanges, []);
    assert.deepEqual(replayedFirst.verdictChanges, [
      { id: bad.id, filename: bad.filename, field: "can_publish", before: true, after: false },
      { id: bad.id, filename: bad.filename, field: "rejected", before: null, after: true },
      { id: bad.id, filename: bad.filename, field: "path", before: "/srv/in/Final_FINAL.mov", after: null },
      { id: bad.id, filename: bad.filename, field: "warning", before: null, after: "name it like shot_v001" },
    ]);

    // The publishes are as they were, and nothing but the two replays ran.
    const after = await Promise.all([first.id, second.id].map(async (id) => (await server.ok(PUBLISH, { id })).publish));
    assert.deepEqual(after, before);
    const executionsAfter = (await server.ok(EXECUTIONS)).executions.nodes;
    const added = executionsAfter.filter((e: any) => !executionsBefore.some((b: any) => b.id === e.id));
    assert.deepEqual(added.map((e: any) => `${e.hook} ${e.source}`).sort(), ["PRE_PUBLISH_SERVER REPLAY", "PRE_PUBLISH_SERVER REPLAY"]);
    // A replay is never replayed itself: only real runs are material.
    const again = (await server.ok(REPLAY, { filter: { hook: "PRE_PUBLISH_SERVER", limit: 5 }, candidate: { commands: { linux: line(candidate) } } })).replayExecutions;
    assert.ok(again.entries.every((e: any) => !added.some((a: any) => a.id === e.original.id)));
  });

  test("replays run where the hook point runs: on an agent's server, the agent gets them, marked as replays", async () => {
    const enrolled = await enrolAgent(server, "ingest-agent");
    const socket = agentSocket(server.url, enrolled.credential);
    try {
      const runs = (await server.ok(`{ executions(first: 20, filter: { hook: PRE_PUBLISH_SERVER, status: SUCCEEDED }) { nodes { id input source } } }`)).executions.nodes;
      const original = runs.find((e: any) => e.source !== "REPLAY");
      await server.ok(SET_HOOK, { input: { hook: "PRE_PUBLISH_SERVER", executionServer: enrolled.executionServerId } });
      // The agent's server appeared by enrolment, not by this change: the version lists only the override.
      assert.deepEqual(
        (await latest()).changes.map((c: any) => `${c.path} ${c.after}`),
        ["hooks.PRE_PUBLISH_SERVER.executionServer ingest-agent"],
      );
      const REPLAY = `mutation($filter: ReplayFilterInput!, $candidate: ReplayCandidateInput!) { replayExecutions(filter: $filter, candidate: $candidate) {
        entries { verdictChanges { id field before after } replay { id status source runner executionServer { id } } } } }`;
      // No process serves ingest-agent: the test plays its agent while the replay waits.
      const pending = server.ok(REPLAY, { filter: { hook: "PRE_PUBLISH_SERVER", ids: [original.id] }, candidate: { commands: { linux: "/opt/hooks/v2.py ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}" } } });
      const queued = await eventually(async () => {
        const nodes = (await server.ok(`query($s: ID!) { executions(first: 5, filter: { executionServer: $s, status: QUEUED }) { nodes { id source } } }`, { s: enrolled.executionServerId }))
          .executions.nodes;
        return nodes.find((n: any) => n.source === "REPLAY");
      }, "the replay queued for the agent's server");
      const claim = (await socket.run(`mutation($id: ID!) { agentClaim(executionId: $id) { id command input jobId publishId } }`, { id: queued.id })).data.agentClaim;
      assert.equal(claim.command, "/opt/hooks/v2.py ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}");
      assert.deepEqual([claim.input.replay, claim.jobId, claim.publishId], [true, null, null]);
      const files = original.input.files.map((f: any) => ({ id: f.id, can_publish: true, path: `/agent/${f.filename}` }));
      const FINISH = `mutation($id: ID!, $outcome: AgentOutcomeInput) { agentFinish(executionId: $id, outcome: $outcome, lastSeq: 0) }`;
      assert.equal((await socket.run(FINISH, { id: queued.id, outcome: { status: "SUCCEEDED", exitCode: 0, output: { files } } })).data.agentFinish, true);
      const [entry] = (await pending).replayExecutions.entries;
      assert.equal(entry.replay.id, queued.id);
      assert.equal(entry.replay.status, "SUCCEEDED");
      assert.equal(entry.replay.executionServer.id, enrolled.executionServerId);
      assert.deepEqual(
        entry.verdictChanges.map((c: any) => `${c.field} ${c.after}`),
        original.input.files.map((f: any) => `path /agent/${f.filename}`),
      );
    } finally {
      await socket.client.dispose();
      await server.ok(SET_HOOK, { input: { hook: "PRE_PUBLISH_SERVER", executionServer: null } });
    }
  });
});
