import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HOOK_POINTS, hookPointInfo, HookPoint } from "../src/domain/hook-points.js";
import { samplePayload } from "../src/services/sample-payload.js";
import { HOOKD_VERSION } from "../src/version.js";
import { eventually, expectError, startServer, type TestServer } from "./helpers/server.js";

// What hooks receive, key by key (docs/hook-payloads.md): a real hook script copies the file at
// ${PATH_JSON_INPUT} byte for byte, and the test reads that copy.

const PY = "/usr/bin/python3";
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { id code createdAt } }`;
const STATUS = `mutation($id: ID!, $status: JobStatus!) { updateJobStatus(id: $id, status: $status) { status message } }`;
const ORIGINAL_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;
const UPLOAD_JOB_FIELDS = [
  "id",
  "code",
  "name",
  "status",
  "created",
  "queue",
  "queue_hr",
  "source",
  "source_hr",
  "destination",
  "destination_hr",
  "engine",
  "engine_hr",
  "tasks",
  "clients",
  "version",
];
const originalForm = (iso: string) => iso.slice(0, 19);

describe("the JSON hooks receive", () => {
  let server: TestServer;
  let dir: string;
  let out: string;
  let vendor: { id: string; key: string };
  let clientId: string;
  let volumeId: string;
  let serverId: string;
  /** The last real input seen per dashed hook name, for the sample comparison. */
  const real = new Map<string, any>();

  const captured = (hook: string): any[] =>
    readdirSync(out)
      .filter((f) => f.startsWith(hook + ".") && f.endsWith(".json"))
      .sort()
      .map((f) => JSON.parse(readFileSync(path.join(out, f), "utf8")));
  const ofJob = async (hook: string, jobId: string, n = 1) => {
    const all = await eventually(async () => {
      const mine = captured(hook).filter((c) => c.id === jobId);
      return mine.length >= n && mine;
    }, `${hook} for job ${jobId}`);
    real.set(hook, all[all.length - 1]);
    return all[all.length - 1];
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-payloads-"));
    out = path.join(dir, "out");
    mkdirSync(out);
    mkdirSync(path.join(dir, "projects"));
    // Copies its input as it is; as pre-publish it approves every entry, with extra keys of its own.
    const script = path.join(dir, "dump.py");
    writeFileSync(
      script,
      `#!${PY}
import json, os, shutil, sys
src = sys.argv[1]
hook = json.load(open(src))["hook"]
# Named by execution id (time-ordered), written aside and renamed: a reader never sees half a file.
dst = os.path.join(${JSON.stringify(out)}, "%s.%s.json" % (hook, os.environ["HOOKD_EXECUTION_ID"]))
shutil.copyfile(src, dst + ".tmp")
os.rename(dst + ".tmp", dst)
if hook == "pre-publish-server":
    d = json.load(open(src))
    files = [{"id": f["id"], "ident": f["filename"], "can_publish": True, "path": "volume=projects/incoming/" + f["filename"],
              "warning": "check frame 1002", "info": "looks complete", "comment_label": "What changed?", "can_upload": False, "shot_id": "sq010_sh020"} for f in d["files"]]
    json.dump({"files": files, "comment": False, "statuses": [{"label": "Review", "value": "pending_review", "default": True}]}, open(sys.argv[2], "w"))
`,
    );
    chmodSync(script, 0o755);
    server = await startServer();
    serverId = (await server.ok(`{ settings { defaultExecutionServer { id } } }`)).settings.defaultExecutionServer.id;
    for (const hook of HOOK_POINTS) {
      const line = `${script} \${PATH_JSON_INPUT}${hook === HookPoint.PRE_PUBLISH_SERVER ? " ${PATH_JSON_OUTPUT}" : ""}`;
      await server.ok(`mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`, { input: { hook, enabled: true, commands: { linux: line } } });
    }
    await server.ok(`mutation { updateSettings(input: { metadata: { external: { lvl: "workspace", studio: "oslo" }, internal: { ws_secret: 1, lvl: "workspace" } } }) { hooksEnabled } }`);
    volumeId = (
      await server.ok(`mutation($p: String!) { createVolume(input: { code: "projects", name: "Project storage", paths: { linux: $p }, metadata: { external: { lvl: "volume" } } }) { id } }`, {
        p: path.join(dir, "projects"),
      })
    ).createVolume.id;
    await server.ok(`mutation { createQueue(input: { code: "vfx", name: "VFX deliveries", metadata: { external: { lvl: "queue", q: true }, internal: { budget: 7 } } }) { id } }`);
    vendor = await server.user("vendor@example.com", "EMPLOYEE");
    // User metadata: set at creation (here: after, through updateUser); a half left out is kept.
    await server.ok(`mutation($id: ID!) { updateUser(id: $id, input: { metadata: { external: { lvl: "user", company: "Vendor Ltd" }, internal: { rate: "B" } } }) { id } }`, { id: vendor.id });
    const { updateUser } = await server.ok(`mutation($id: ID!) { updateUser(id: $id, input: { metadata: { internal: { rate: "B", lvl: "user" } } }) { metadata { external internal } } }`, {
      id: vendor.id,
    });
    assert.deepEqual(updateUser.metadata, { external: { lvl: "user", company: "Vendor Ltd" }, internal: { rate: "B", lvl: "user" } });
    // The vendor's client on this host (so its client hooks run here), with metadata of its own.
    clientId = (
      await server.ok(
        `mutation { registerClient(input: { name: "vendor-ws", hostname: "hookd-test-host", os: "linux", metadata: { external: { lvl: "client", site: "london" }, internal: { seat: 3 } } }) { id metadata { external } } }`,
        {},
        vendor.key,
      )
    ).registerClient.id;
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const job = (extra: Record<string, unknown> = {}) => ({
    name: "Moonshot delivery",
    queue: "vfx",
    source: "user:vendor@example.com",
    destination: "volume:projects",
    client: clientId,
    tasks: [
      { source: "/Users/vendor/out/moonshot.tif", destination: "volume=projects/moon/moonshot.tif", size: 3_000_000_000, metadata: { frame_range: "1001-1100" } },
      { source: "/Users/vendor/out/notes.txt", destination: "volume=projects/moon/notes.txt", size: 1200 },
    ],
    metadata: { external: { lvl: "job", shot: "sq010_sh020" } },
    ...extra,
  });

  test('job hooks: original status words, original dates, tasks from "0", settings, metadata workspace → volume → queue → user → job, clients aggregated over the workspace, and a job\'s own hook data', async () => {
    const settings = { priority: 3, bucketsize: 2, nested: { a: [1, 2] } };
    const hooks = [{ when: "hook-job-post-done-server", data: { note: "from the job specification" } }];
    const { submitJob } = await server.ok(SUBMIT, { input: job({ settings, hooks }) }, vendor.key);

    const pre = await ofJob("pre-submit-server", submitJob.id);
    assert.equal(pre.status, "waiting");
    const post = await ofJob("post-submit-server", submitJob.id);
    assert.deepEqual(Object.keys(post).sort(), [
      "clients",
      "code",
      "created",
      "destination",
      "destination_hr",
      "engine",
      "engine_hr",
      "hook",
      "id",
      "metadata",
      "name",
      "queue",
      "queue_hr",
      "settings",
      "size",
      "source",
      "source_hr",
      "status",
      "tasks",
      "user",
      "user_hr",
      "version",
    ]);
    assert.equal(post.status, "waiting");
    assert.match(post.created, ORIGINAL_DATE);
    assert.equal(post.created, originalForm(submitJob.createdAt), "the job's creation, in UTC without Z");
    assert.deepEqual(Object.keys(post.tasks), ["0", "1"]);
    assert.deepEqual(post.tasks["0"], {
      source: { path: "/Users/vendor/out/moonshot.tif", volume: null, volume_hr: null, relative_path: null },
      destination: { path: path.join(dir, "projects", "moon", "moonshot.tif"), volume: volumeId, volume_hr: "projects", relative_path: "moon/moonshot.tif" },
      size: 3_000_000_000,
      metadata: { frame_range: "1001-1100" },
    });
    assert.deepEqual(post.tasks["1"].metadata, {});
    assert.deepEqual(post.settings, settings);
    assert.deepEqual(post.metadata, {
      internal: { ws_secret: 1, lvl: "user", budget: 7, rate: "B" },
      external: { lvl: "job", studio: "oslo", q: true, company: "Vendor Ltd", shot: "sq010_sh020" },
    });
    const workspace = { internal: { ws_secret: 1, lvl: "workspace" }, external: { lvl: "workspace", studio: "oslo" } };
    assert.deepEqual(post.clients, [
      { role: "server", id: serverId, name: "hookd-test-host", hostname: "hookd-test-host", os: "linux", metadata: workspace },
      {
        role: "client",
        id: clientId,
        name: "vendor-ws",
        hostname: "hookd-test-host",
        os: "linux",
        user: vendor.id,
        user_hr: "vendor@example.com",
        metadata: { internal: { ws_secret: 1, lvl: "workspace", seat: 3 }, external: { lvl: "client", studio: "oslo", site: "london" } },
      },
    ]);
    assert.ok(!("data" in post), "data only for the hook point the job names");
    await ofJob("pre-submit-client", submitJob.id);
    await ofJob("post-submit-client", submitJob.id);

    await server.ok(STATUS, { id: submitJob.id, status: "RUNNING" }, vendor.key);
    await server.ok(STATUS, { id: submitJob.id, status: "DONE" }, vendor.key);
    const done = await ofJob("post-done-server", submitJob.id);
    assert.equal(done.status, "done");
    assert.deepEqual(done.data, { note: "from the job specification" });
    const doneClient = await ofJob("post-done-client", submitJob.id);
    assert.equal(doneClient.status, "done");
    assert.ok(!("data" in doneClient));

    const { submitJob: failing } = await server.ok(SUBMIT, { input: job({ name: "Failing delivery" }) }, vendor.key);
    await server.ok(STATUS, { id: failing.id, status: "FAILED" }, vendor.key);
    assert.equal((await ofJob("post-failed-server", failing.id)).status, "failed");
    assert.equal((await ofJob("post-failed-client", failing.id)).status, "failed");

    const { job: stored } = await server.ok(`query($id: ID!) { job(id: $id) { settings hooks { hook data } } }`, { id: submitJob.id }, vendor.key);
    assert.deepEqual(stored, { settings, hooks: [{ hook: "POST_DONE_SERVER", data: { note: "from the job specification" } }] });
  });

  test("a job's own hooks are checked: known job hook points, each once", async () => {
    const refusals: [unknown[], RegExp][] = [
      [[{ when: "hook-job-pre-publish-server", data: {} }], /input\.hooks\[0\]\.when: a job cannot carry pre-publish-server/],
      [[{ when: "hook-job-post-lunch" }], /input\.hooks\[0\]\.when: unknown hook point 'hook-job-post-lunch'; one of hook-job-pre-submit-server, .*hook-job-publish-server/],
      [[{ when: "publish-server" }, { when: "PUBLISH_SERVER" }], /input\.hooks\[1\]\.when: 'PUBLISH_SERVER' is given twice/],
    ];
    for (const [hooks, message] of refusals) expectError(await server.gql(SUBMIT, { input: job({ name: "refused", hooks }) }, vendor.key), "BAD_USER_INPUT", message);
    assert.equal((await server.ok(`{ jobs(filter: {}) { nodes { name } } }`)).jobs.nodes.filter((j: any) => j.name === "refused").length, 0);
  });

  test("publish hooks: aggregated metadata; publish-server has the upload job's fields, each entry pre-publish's whole answer merged with the submission, and v_hr the volume's name", async () => {
    const comp = {
      id: "0b6c1f0e-4a1d-4c62-9d8e-3a2b1c0d9e8f",
      filename: "moon_comp_v002",
      is_dir: true,
      files: [
        { filename: "moon_comp.1001.exr", size: 100 },
        { filename: "moon_comp.1002.exr", size: 100 },
      ],
    };
    const notes = { id: "7d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", filename: "notes.txt", is_dir: false, size: 5 };
    const { prePublish } = await server.ok(
      `mutation($input: PrePublishInput!) { prePublish(input: $input) { id } }`,
      { input: { files: [comp, notes], client: clientId, hostname: "vendor-ws", ip: "203.0.113.7", metadata: { note: "sent by the vendor" } } },
      vendor.key,
    );
    const [pre] = captured("pre-publish-server");
    real.set("pre-publish-server", pre);
    assert.deepEqual(Object.keys(pre).sort(), ["client", "files", "hook", "hostname", "ip", "metadata", "size", "user", "user_hr"]);
    assert.deepEqual(pre.metadata, { internal: { ws_secret: 1, lvl: "user", rate: "B" }, external: { lvl: "user", studio: "oslo", company: "Vendor Ltd", note: "sent by the vendor" } });
    assert.deepEqual([pre.user, pre.user_hr, pre.client, pre.hostname, pre.ip, pre.size], [vendor.id, "vendor@example.com", clientId, "vendor-ws", "203.0.113.7", 205]);

    const { submitPublish } = await server.ok(
      `mutation($input: SubmitPublishInput!) { submitPublish(input: $input) { job { id code createdAt } } }`,
      { input: { publishId: prePublish.id, entries: [{ id: comp.id, comment: "first pass", timeReport: 5400, metadata: { artist: "ola" } }, { id: notes.id }] } },
      vendor.key,
    );
    const upload = submitPublish.job;
    const submitted = await ofJob("post-submit-server", upload.id);
    await server.ok(STATUS, { id: upload.id, status: "RUNNING" }, vendor.key);
    await server.ok(STATUS, { id: upload.id, status: "DONE" }, vendor.key);
    const ingest = captured("publish-server").find((c) => c.id === upload.id);
    assert.ok(ingest, "publish-server ran for the upload job");
    real.set("publish-server", ingest);
    assert.deepEqual(Object.keys(ingest).sort(), [...UPLOAD_JOB_FIELDS, "hook", "user", "user_hr", "client", "hostname", "ip", "metadata", "size", "files"].sort());
    for (const key of UPLOAD_JOB_FIELDS.filter((k) => k !== "status")) assert.deepEqual(ingest[key], submitted[key], key);
    assert.equal(ingest.status, "running", "publish-server runs before the upload job is done");
    assert.equal(ingest.created, originalForm(upload.createdAt));
    assert.equal(ingest.hook, "publish-server");
    assert.deepEqual(ingest.metadata, pre.metadata);
    assert.equal(ingest.size, 205);
    const [dirEntry, fileEntry] = ingest.files;
    assert.deepEqual(dirEntry, {
      id: comp.id,
      filename: "moon_comp_v002",
      is_dir: true,
      size: 200,
      files: [
        { filename: "moon_comp.1001.exr", size: 100, is_dir: false },
        { filename: "moon_comp.1002.exr", size: 100, is_dir: false },
      ],
      ident: "moon_comp_v002",
      can_publish: true,
      can_upload: false,
      warning: "check frame 1002",
      info: "looks complete",
      comment_label: "What changed?",
      shot_id: "sq010_sh020",
      path: path.join(dir, "projects", "incoming", "moon_comp_v002"),
      v: volumeId,
      v_hr: "Project storage",
      comment: "first pass",
      status: "pending_review",
      time_report: 5400,
      metadata: { artist: "ola" },
    });
    assert.deepEqual([fileEntry.id, fileEntry.comment, fileEntry.status, fileEntry.time_report, fileEntry.metadata, fileEntry.shot_id], [notes.id, null, "pending_review", null, {}, "sq010_sh020"]);
  });

  test("a job carrying publish-server of its own (the original client's publish) runs it when reported DONE, with the job's fields, the files and the data", async () => {
    const files = [{ id: "33d59998-c980-4b82-9f6d-06ce27201d26", filename: "first_file", size: 10240, is_dir: false, can_upload: true, path: "/mnt/x/first_file", comment: "hi" }];
    const { submitJob } = await server.ok(SUBMIT, { input: job({ name: "abcd1234_publish", hooks: [{ when: "hook-job-publish-server", data: { files } }] }) }, vendor.key);
    await server.ok(STATUS, { id: submitJob.id, status: "DONE" }, vendor.key);
    const ingest = await eventually(async () => captured("publish-server").find((c) => c.id === submitJob.id), "publish-server for the job");
    assert.deepEqual(Object.keys(ingest).sort(), [...UPLOAD_JOB_FIELDS, "hook", "user", "user_hr", "client", "hostname", "ip", "metadata", "size", "files", "data"].sort());
    assert.deepEqual(ingest.files, files);
    assert.deepEqual(ingest.data, { files });
    assert.equal(ingest.code, "abcd1234_publish");
    assert.equal(ingest.size, 10240);
    assert.equal((await server.ok(`query($id: ID!) { job(id: $id) { status } }`, { id: submitJob.id })).job.status, "DONE");
  });

  test("a job's own publish-server that fails fails the job, saying why; retried and reported DONE again, it runs again", async () => {
    const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
    const { hookConfig } = await server.ok(`{ hookConfig(hook: PUBLISH_SERVER) { commands { linux } } }`);
    await server.ok(SET, { input: { hook: "PUBLISH_SERVER", commands: { linux: "/bin/false ${PATH_JSON_INPUT}" } } });
    try {
      const { submitJob } = await server.ok(SUBMIT, { input: job({ name: "failing own publish", hooks: [{ when: "publish-server", data: { files: [] } }] }) }, vendor.key);
      const failed = (await server.ok(STATUS, { id: submitJob.id, status: "DONE" }, vendor.key)).updateJobStatus;
      assert.equal(failed.status, "FAILED");
      assert.match(failed.message, /^publish-server failed: exited with code 1/);
      await server.ok(SET, { input: { hook: "PUBLISH_SERVER", commands: { linux: hookConfig.commands.linux } } });
      assert.equal((await server.ok(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: submitJob.id }, vendor.key)).retryJob.status, "RUNNING");
      assert.equal((await server.ok(STATUS, { id: submitJob.id, status: "DONE" }, vendor.key)).updateJobStatus.status, "DONE");
      assert.ok(
        captured("publish-server").some((c) => c.id === submitJob.id),
        "publish-server ran again",
      );
    } finally {
      await server.ok(SET, { input: { hook: "PUBLISH_SERVER", commands: { linux: hookConfig.commands.linux } } });
    }
  });

  test("the sample payload of a test run has, for every hook point, exactly the keys a real payload of that kind has", () => {
    const keys = (o: any) => Object.keys(o).sort();
    for (const hook of HOOK_POINTS) {
      const dashed = hookPointInfo(hook).dashed;
      const actual = real.get(dashed);
      assert.ok(actual, `a real ${dashed} payload was captured`);
      const sample = samplePayload(hook, HOOKD_VERSION);
      // `data` is there only for a job that carries a hook of its own for that point; samples carry none.
      assert.deepEqual(
        keys(sample),
        keys(actual).filter((k) => k !== "data"),
        dashed,
      );
      assert.equal(sample.hook, dashed);
      if (actual.tasks) {
        const counted = (o: object) => Object.keys(o).map((_, i) => String(i));
        assert.deepEqual(Object.keys(sample.tasks as object), counted(sample.tasks as object), `${dashed}: sample tasks keyed "0", "1", ...`);
        assert.deepEqual(Object.keys(actual.tasks), counted(actual.tasks), `${dashed}: tasks keyed "0", "1", ...`);
        assert.deepEqual(keys((sample.tasks as any)["0"]), keys(actual.tasks["0"]), `${dashed} tasks`);
        assert.deepEqual(keys((sample.tasks as any)["0"].destination), keys(actual.tasks["0"].destination), `${dashed} task paths`);
        for (const role of ["server", "client"]) {
          assert.deepEqual(keys((sample.clients as any[]).find((c) => c.role === role)), keys(actual.clients.find((c: any) => c.role === role)), `${dashed} ${role}`);
        }
        assert.deepEqual(keys(sample.metadata), keys(actual.metadata), `${dashed} metadata`);
        if (dashed !== "publish-server") assert.match(String(sample.created), ORIGINAL_DATE);
      }
      if (actual.files) {
        assert.deepEqual(keys(sample.metadata), ["external", "internal"]);
        // Directory entries and file entries each have the same keys as the real ones.
        for (const isDir of [true, false]) {
          // shot_id is this test's script's own extra key.
          const realKeys = keys(actual.files.find((f: any) => f.is_dir === isDir)).filter((k) => k !== "shot_id");
          assert.deepEqual(keys((sample.files as any[]).find((f) => f.is_dir === isDir)), realKeys, `${dashed} files (is_dir ${isDir})`);
        }
      }
    }
  });
});
