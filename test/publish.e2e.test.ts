import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expectError, startServer, type TestServer } from "./helpers/server.js";

const PY = "/usr/bin/python3";
const EXAMPLES = fileURLToPath(new URL("../../examples/hooks/", import.meta.url));
const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const PRE = `mutation($input: PrePublishInput!) { prePublish(input: $input) {
  id state guidelines commentRequired timeReportRequired metadataRequired statuses { label value default }
  entries { id filename isDir size ident canPublish rejected canUpload warning info commentLabel path } answer } }`;
const SUBMIT = `mutation($input: SubmitPublishInput!) { submitPublish(input: $input) { id state job { id status tasks size } } }`;
const STATUS = `mutation($id: ID!, $status: JobStatus!) { updateJobStatus(id: $id, status: $status) { status message } }`;

const seq = (base: string, frames: number[], ext = "exr") => frames.map((f) => ({ filename: `${base}.${f}.${ext}`, size: 1000, is_dir: false }));
const dir = (filename: string, files: object[]) => ({ id: randomUUID(), filename, is_dir: true, files });

describe("the publish workflow with the example hooks", () => {
  let server: TestServer;
  let work: string;
  let root: string;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "hookd-publish-"));
    root = path.join(work, "projects");
    mkdirSync(path.join(root, "moon", "comp", "v001"), { recursive: true });
    mkdirSync(path.join(root, "moon", "lighting"), { recursive: true });
    server = await startServer();
    await server.ok(`mutation($p: String!) { createVolume(input: { code: "projects", paths: { linux: $p } }) { id } }`, { p: root });
  });
  after(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  const configureExamples = async () => {
    await server.ok(SET, {
      input: {
        hook: "PRE_PUBLISH_SERVER",
        enabled: true,
        commands: { linux: `${PY} ${path.join(EXAMPLES, "pre_publish.py")} --root ${root} --volume projects \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` },
      },
    });
    await server.ok(SET, { input: { hook: "PUBLISH_SERVER", enabled: true, commands: { linux: `${PY} ${path.join(EXAMPLES, "publish.py")} \${PATH_JSON_INPUT}` } } });
  };

  test("without a pre-publish hook the error says it is not configured", async () => {
    expectError(await server.gql(PRE, { input: { files: [dir("moon_comp_v002", seq("comp", [1001]))] } }), "CONFLICT", /pre-publish-server is not configured/);
  });

  test("prePublish returns the script's verdict: approvals, warnings, rejections, resolved paths", async () => {
    await configureExamples();
    const good = dir("moon_comp_v002", [...seq("moon_comp", [1001, 1002, 1003]), { filename: "preview.mov", size: 500, is_dir: false }]);
    const gaps = dir("moon_lighting_v001", seq("moon_lighting", [1001, 1002, 1005, 1006, 1008]));
    const odd = dir("moon_anim_v001", [
      ...seq(
        "anim",
        [1, 2].map((n) => 1000 + n),
      ),
      { filename: "setup.exe", size: 10, is_dir: false },
    ]);
    const stale = dir("moon_comp_v005", seq("c", [1001]));
    const single = { id: randomUUID(), filename: "Final_FINAL.mov", size: 42, is_dir: false };
    const unknown = dir("mars_comp_v001", seq("c", [1001]));
    mkdirSync(path.join(root, "moon", "anim"), { recursive: true });
    const { prePublish } = await server.ok(PRE, { input: { files: [good, gaps, odd, stale, single, unknown], hostname: "vendor-ws01", ip: "203.0.113.7" } });
    assert.equal(prePublish.state, "VALIDATED");
    assert.equal(prePublish.commentRequired, true);
    assert.equal(prePublish.timeReportRequired, true);
    assert.equal(prePublish.metadataRequired, false);
    assert.match(prePublish.guidelines, /<project>|&lt;project&gt;/);
    assert.deepEqual(prePublish.statuses, [
      { label: "Pending review", value: "pending_review", default: true },
      { label: "Final", value: "final", default: false },
    ]);
    const [e1, e2, e3, e4, e5, e6] = prePublish.entries;
    assert.deepEqual(e1, {
      id: good.id,
      filename: "moon_comp_v002",
      isDir: true,
      size: 3500,
      ident: "moon comp v002",
      canPublish: true,
      rejected: false,
      canUpload: true,
      warning: null,
      info: "3 frame(s) in 1 sequence(s)",
      commentLabel: "What changed in v002?",
      path: path.join(root, "moon", "comp", "v002"),
    });
    assert.equal(e2.canPublish, true);
    assert.equal(e2.warning, "moon_lighting.exr: frames missing: 1003-1004, 1007");
    assert.equal(e3.canPublish, false);
    assert.equal(e3.canUpload, true);
    assert.equal(e3.warning, "unexpected files: setup.exe");
    assert.deepEqual([e4.rejected, e4.warning], [true, "v005 is not the next version of moon comp: expected v002"]);
    assert.deepEqual([e5.rejected, e5.warning], [true, "deliver a version directory named <project>_<task>_v<NNN>, not a single file"]);
    assert.deepEqual([e6.rejected, e6.warning], [true, "unknown project 'mars'"]);
    assert.equal(prePublish.answer.files.length, 6, "the raw answer is there too");
  });

  test("submit, upload, ingest: publish-server writes the sidecar and the publish is PUBLISHED", async () => {
    await configureExamples();
    const good = dir("moon_comp_v002", seq("moon_comp", [1001, 1002]));
    const rejected = dir("moon_comp_v009", seq("x", [1001]));
    const { prePublish } = await server.ok(PRE, { input: { files: [good, rejected], metadata: { vendor: "interpost" } } });

    const refusals: [object[], RegExp][] = [
      [[{ id: rejected.id, comment: "x", timeReport: 1 }], /entry '.+' \(moon_comp_v009\) was rejected by pre-publish \(v009 is not the next version/],
      [[{ id: good.id, timeReport: 60 }], /entry '.+' needs a comment \(What changed in v002\?\)/],
      [[{ id: good.id, comment: "first pass" }], /needs a time report \(timeReport, in seconds\)/],
      [[{ id: good.id, comment: "first pass", timeReport: 60, status: "approved" }], /status 'approved' was not offered; choose one of 'pending_review', 'final'/],
      [[{ id: "nope", comment: "c", timeReport: 1 }], /unknown entry id 'nope'/],
      [[], /submit at least one entry/],
    ];
    for (const [entries, message] of refusals) {
      expectError(await server.gql(SUBMIT, { input: { publishId: prePublish.id, entries } }), "BAD_USER_INPUT", message);
    }
    assert.equal((await server.ok(`query($id: ID!) { publish(id: $id) { state job { id } } }`, { id: prePublish.id })).publish.state, "VALIDATED", "refusals change nothing");

    const { submitPublish } = await server.ok(SUBMIT, { input: { publishId: prePublish.id, entries: [{ id: good.id, comment: "first pass", timeReport: 5400, metadata: { artist: "ola" } }] } });
    assert.equal(submitPublish.state, "SUBMITTED");
    assert.equal(submitPublish.job.status, "SUBMITTED");
    assert.equal(submitPublish.job.size, 2000);
    assert.deepEqual(
      submitPublish.job.tasks.map((t: any) => [t.source.path, t.destination.path, t.destination.volume_hr, t.destination.relative_path]),
      [["moon_comp_v002", path.join(root, "moon", "comp", "v002"), "projects", "moon/comp/v002"]],
    );
    expectError(
      await server.gql(SUBMIT, { input: { publishId: prePublish.id, entries: [{ id: good.id, comment: "again", timeReport: 1 }] } }),
      "CONFLICT",
      /is SUBMITTED; only a VALIDATED publish can be submitted/,
    );

    // The transfer engine uploads, then reports the job done.
    mkdirSync(path.join(root, "moon", "comp", "v002"));
    const jobId = submitPublish.job.id;
    assert.equal((await server.ok(STATUS, { id: jobId, status: "DONE" })).updateJobStatus.status, "DONE");
    const publish = (await server.ok(`query($id: ID!) { publish(id: $id) { state error executions { hook status input } } }`, { id: prePublish.id })).publish;
    assert.equal(publish.state, "PUBLISHED");
    assert.equal(publish.error, null);
    assert.deepEqual(
      publish.executions.map((e: any) => [e.hook, e.status]),
      [
        ["PRE_PUBLISH_SERVER", "SUCCEEDED"],
        ["PUBLISH_SERVER", "SUCCEEDED"],
      ],
    );
    const ingestInput = publish.executions[1].input;
    assert.equal(ingestInput.hook, "publish-server");
    assert.deepEqual(ingestInput.metadata, { internal: {}, external: { vendor: "interpost" } });
    const [entry] = ingestInput.files;
    const volumeId = (await server.ok(`{ volume(code: "projects") { id } }`)).volume.id;
    assert.deepEqual(
      {
        path: entry.path,
        comment: entry.comment,
        status: entry.status,
        time_report: entry.time_report,
        metadata: entry.metadata,
        ident: entry.ident,
        can_publish: entry.can_publish,
        is_dir: entry.is_dir,
        filename: entry.filename,
        v: entry.v,
        v_hr: entry.v_hr,
        id: entry.id,
        size: entry.size,
      },
      {
        path: path.join(root, "moon", "comp", "v002"),
        comment: "first pass",
        status: "pending_review",
        time_report: 5400,
        metadata: { artist: "ola" },
        ident: "moon comp v002",
        can_publish: true,
        is_dir: true,
        filename: "moon_comp_v002",
        v: volumeId,
        v_hr: "projects",
        id: good.id,
        size: 2000,
      },
    );
    const sidecar = JSON.parse(readFileSync(path.join(root, "moon", "comp", "v002.publish.json"), "utf8"));
    assert.deepEqual(sidecar, {
      ident: "moon comp v002",
      filename: "moon_comp_v002",
      published_by: "admin@localhost",
      comment: "first pass",
      status: "pending_review",
      time_report: 5400,
      metadata: { artist: "ola" },
      volume: "projects",
      size: 2000,
    });
  });

  test("a failing publish-server fails the upload job; retrying the job re-runs it", async () => {
    await configureExamples();
    const delivery = dir("moon_lighting_v001", seq("moon_lighting", [1001]));
    const { prePublish } = await server.ok(PRE, { input: { files: [delivery] } });
    const { submitPublish } = await server.ok(SUBMIT, { input: { publishId: prePublish.id, entries: [{ id: delivery.id, comment: "wip", timeReport: 60, status: "final" }] } });
    const jobId = submitPublish.job.id;
    // Reported done, but nothing arrived: publish.py exits 1.
    const failed = (await server.ok(STATUS, { id: jobId, status: "DONE" })).updateJobStatus;
    assert.equal(failed.status, "FAILED");
    assert.match(failed.message, /^publish-server failed: exited with code 1; last stderr: not delivered: .*moon\/lighting\/v001 \(execution [0-9a-f-]{36}\)$/);
    let publish = (await server.ok(`query($id: ID!) { publish(id: $id) { state error } }`, { id: prePublish.id })).publish;
    assert.equal(publish.state, "FAILED");
    assert.match(publish.error, /not delivered/);

    mkdirSync(path.join(root, "moon", "lighting", "v001"));
    assert.equal((await server.ok(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: jobId })).retryJob.status, "DONE");
    publish = (await server.ok(`query($id: ID!) { publish(id: $id) { state error executions { id hook status attempt retryOf { id } } } }`, { id: prePublish.id })).publish;
    assert.equal(publish.state, "PUBLISHED");
    const ingest = publish.executions[1].id;
    // The retried publish-server is the next attempt of the failed one, linked to it.
    assert.deepEqual(
      publish.executions.map((e: any) => [e.hook, e.status, e.attempt, e.retryOf?.id ?? null]),
      [
        ["PRE_PUBLISH_SERVER", "SUCCEEDED", 1, null],
        ["PUBLISH_SERVER", "FAILED", 1, null],
        ["PUBLISH_SERVER", "SUCCEEDED", 2, ingest],
      ],
    );
    assert.equal(JSON.parse(readFileSync(path.join(root, "moon", "lighting", "v001.publish.json"), "utf8")).status, "final");
  });

  test("a STANDARD vendor publishes without write permission and sees only their own publishes", async () => {
    await configureExamples();
    const vendor = await server.user("vendor@interpost.example", "STANDARD");
    const other = await server.user("other@vendor.example", "STANDARD");
    const delivery = dir("moon_comp_v003", seq("moon_comp", [1001]));
    const { prePublish } = await server.ok(PRE, { input: { files: [delivery] } }, vendor.key);
    const { submitPublish } = await server.ok(SUBMIT, { input: { publishId: prePublish.id, entries: [{ id: delivery.id, comment: "v3", timeReport: 10 }] } }, vendor.key);
    assert.equal(submitPublish.state, "SUBMITTED");
    expectError(await server.gql(`query($id: ID!) { publish(id: $id) { state } }`, { id: prePublish.id }, other.key), "NOT_FOUND");
    expectError(await server.gql(`query($id: ID!) { publish(id: $id) { executions { id } } }`, { id: prePublish.id }, vendor.key), "FORBIDDEN");
    assert.equal((await server.ok(`query($id: ID!) { publish(id: $id) { entries { path } } }`, { id: prePublish.id }, vendor.key)).publish.entries[0].path, path.join(root, "moon", "comp", "v003"));
  });

  test("Job.publish leads from an upload job to its publish; publishes lists a STANDARD user's own, everyone's for ADMIN and EMPLOYEE, by pages", async () => {
    await configureExamples();
    const vendor = await server.user("lister@vendor.example", "STANDARD");
    const other = await server.user("bystander@vendor.example", "STANDARD");
    const employee = await server.user("coordinator@studio.example", "EMPLOYEE");
    // Both the next version (the example hook accepts only that); one is submitted.
    const deliveries = [1, 2].map(() => dir("moon_comp_v003", seq("moon_comp", [1001])));
    const ids: string[] = [];
    for (const delivery of deliveries) ids.push((await server.ok(PRE, { input: { files: [delivery] } }, vendor.key)).prePublish.id);
    const { submitPublish } = await server.ok(SUBMIT, { input: { publishId: ids[1], entries: [{ id: deliveries[1].id, comment: "v3 again", timeReport: 10 }] } }, vendor.key);
    const JOB = `query($id: ID!) { job(id: $id) { publish { id state user { email } job { id } } } }`;
    const linked = (await server.ok(JOB, { id: submitPublish.job.id }, vendor.key)).job.publish;
    assert.deepEqual(linked, { id: ids[1], state: "SUBMITTED", user: { email: "lister@vendor.example" }, job: { id: submitPublish.job.id } });
    assert.equal((await server.ok(JOB, { id: submitPublish.job.id })).job.publish.id, ids[1], "ADMIN follows the link too");
    expectError(await server.gql(JOB, { id: submitPublish.job.id }, other.key), "NOT_FOUND");
    const plain = (
      await server.ok(
        `mutation { submitJob(input: { name: "plain", source: "user:admin@localhost", destination: "user:admin@localhost", tasks: [{ source: "/a", destination: "/b", size: 1 }] }) { publish { id } } }`,
      )
    ).submitJob;
    assert.equal(plain.publish, null, "a job that is no upload has no publish");

    const LIST = `query($first: Int, $after: String, $filter: PublishFilterInput) { publishes(first: $first, after: $after, filter: $filter) { nodes { id user { email } } edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`;
    const list = async (key: string | undefined, variables: Record<string, unknown> = {}) => (await server.ok(LIST, { first: 500, ...variables }, key)).publishes;
    assert.deepEqual(
      (await list(vendor.key)).nodes.map((n: any) => n.id),
      [ids[1], ids[0]],
      "a STANDARD user's own, newest first",
    );
    assert.deepEqual(
      (await list(vendor.key, { filter: { state: "SUBMITTED" } })).nodes.map((n: any) => n.id),
      [ids[1]],
    );
    assert.deepEqual((await list(vendor.key, { filter: { user: other.id } })).nodes, [], "never another user's");
    assert.deepEqual((await list(other.key)).nodes, []);
    for (const key of [undefined, employee.key]) {
      const all = (await list(key)).nodes;
      assert.ok(ids.every((id) => all.some((n: any) => n.id === id)));
      assert.ok(new Set(all.map((n: any) => n.user.email)).size > 1, "everyone's");
      assert.deepEqual(
        (await list(key, { filter: { user: vendor.id } })).nodes.map((n: any) => n.id),
        [ids[1], ids[0]],
      );
    }
    const first = await list(vendor.key, { first: 1 });
    assert.deepEqual([first.nodes[0].id, first.pageInfo.hasNextPage, first.edges[0].cursor], [ids[1], true, first.pageInfo.endCursor]);
    const second = await list(vendor.key, { first: 1, after: first.pageInfo.endCursor });
    assert.deepEqual([second.nodes[0].id, second.pageInfo.hasNextPage], [ids[0], false]);
    expectError(await server.gql(LIST, { first: 0 }, vendor.key), "BAD_USER_INPUT", /first: must be a whole number from 1 to 500/);
  });
});

describe("pre-publish answers that break the rules", () => {
  let server: TestServer;
  let work: string;
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "hookd-answers-"));
    server = await startServer();
    await server.ok(`mutation { createVolume(input: { code: "projects", paths: { linux: "/mnt/projects" } }) { id } }`);
  });
  after(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** A pre-publish hook whose answer is computed by `body` (Python, with `d` the input, `ids` the entry ids). */
  const answering = async (body: string, timeout?: number) => {
    const file = path.join(work, `answer-${randomUUID()}.py`);
    writeFileSync(file, `#!${PY}\nimport json, sys, time\nd = json.load(open(sys.argv[1]))\nids = [f["id"] for f in d["files"]]\n${body}\n`);
    chmodSync(file, 0o755);
    await server.ok(SET, { input: { hook: "PRE_PUBLISH_SERVER", enabled: true, timeoutSeconds: timeout ?? null, commands: { linux: `${file} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` } } });
  };
  const write = (answer: string) => `json.dump(${answer}, open(sys.argv[2], "w"))`;
  const entries = () => [dir("a_b_v001", seq("a", [1001])), { id: randomUUID(), filename: "notes.txt", size: 12, is_dir: false }];

  const cases: [string, string, RegExp][] = [
    ["an entry left unanswered", write(`{"files": [{"id": ids[0], "can_publish": True, "path": "/mnt/x"}]}`), /entry '.+' \(notes\.txt\) was not answered/],
    ["an unknown id", write(`{"files": [{"id": i, "rejected": True} for i in ids] + [{"id": "ghost"}]}`), /files\[2\]: unknown id 'ghost': no entry with that id was sent/],
    ["an entry answered twice", write(`{"files": [{"id": i, "rejected": True} for i in ids] + [{"id": ids[0], "rejected": True}]}`), /entry '.+' is answered twice \(files\[0\] and files\[2\]\)/],
    ["a boolean that is not one", write(`{"files": [{"id": i, "can_publish": "yes", "path": "/mnt/x"} for i in ids]}`), /entry '.+': can_publish must be true or false \(got "yes"\)/],
    ["an uploadable entry without a path", write(`{"files": [{"id": i, "can_upload": True} for i in ids]}`), /entry '.+' \(a_b_v001\) may be uploaded \(can_upload is true\) but has no path/],
    [
      "two default statuses",
      write(`{"statuses": [{"label": "A", "value": "a", "default": True}, {"label": "B", "value": "b", "default": True}], "files": [{"id": i, "rejected": True} for i in ids]}`),
      /statuses: at most one may be the default \("a", "b" are\)/,
    ],
    ["an unknown volume", write(`{"files": [{"id": i, "can_publish": True, "path": "volume=nowhere/x"} for i in ids]}`), /entry '.+': path: unknown volume 'nowhere'/],
    [
      "a relative path",
      write(`{"files": [{"id": i, "can_publish": True, "path": "deliveries/x"} for i in ids]}`),
      /entry '.+': path: must be an absolute path .* or in volume notation .*\(got 'deliveries\/x'\)/,
    ],
    ["no files list", write(`{"guidelines": "hi"}`), /the answer must have a files list/],
    ["no output file", "print('forgot to answer')", /the hook exited 0 but wrote no output file at \$\{PATH_JSON_OUTPUT\}/],
    ["invalid JSON", `open(sys.argv[2], "w").write('{"files": [')`, /the output file is not valid JSON: Unexpected end of JSON input at line 1, column 12 \(position 11\)/],
    ["a failing script", `print("boom", file=sys.stderr); sys.exit(3)`, /pre-publish-server failed: exited with code 3; last stderr: boom/],
    ["a message that is not text", write(`{"message": ["a"], "files": [{"id": i, "rejected": True} for i in ids]}`), /answer: message must be text \(got /],
  ];
  for (const [what, body, message] of cases) {
    test(`refused: ${what}, naming the entry and the rule; the execution is FAILED too`, async () => {
      await answering(body);
      const res = await server.gql(PRE, { input: { files: entries() } });
      expectError(res, "HOOK_FAILED", message);
      const id = /execution ([0-9a-f-]{36})/.exec(res.errors![0].message)![1];
      const execution = (await server.ok(`query($id: ID!) { execution(id: $id) { status error } }`, { id })).execution;
      assert.equal(execution.status, "FAILED");
      assert.match(execution.error, message.source.startsWith("pre-publish") ? /./ : message);
    });
  }

  test("a refusing pre-publish's message reaches every role, and nothing else of its output", async () => {
    await answering(`print("token=s3cr3t in /srv/keys", file=sys.stderr)\nprint("stdout-only")\n${write(`{"message": "Frame 1002 is missing.\\nSend the full range."}`)}\nsys.exit(1)`);
    const said = "Frame 1002 is missing.\nSend the full range.";
    const vendor = await server.user("refused@vendor.example", "STANDARD");
    const employee = await server.user("td@studio.example", "EMPLOYEE");
    for (const key of [vendor.key, employee.key]) {
      const res = await server.gql(PRE, { input: { files: entries() } }, key);
      assert.equal(res.errors?.[0].message, `pre-publish-server refused this publish: ${said}`);
      assert.deepEqual(res.errors?.[0].extensions, { code: "HOOK_FAILED", hook: "PRE_PUBLISH_SERVER", hookMessage: said });
      assert.doesNotMatch(JSON.stringify(res), /s3cr3t|srv\/keys|stdout-only|exited with code|execution [0-9a-f]{8}-/);
    }
    const admin = await server.gql(PRE, { input: { files: entries() } });
    expectError(admin, "HOOK_FAILED", /^pre-publish-server failed: exited with code 1; last stderr: token=s3cr3t in \/srv\/keys \(execution [0-9a-f-]{36}\)$/);
    assert.equal((admin.errors![0].extensions as any).hookMessage, said);
  });

  test("a passing pre-publish's message is Publish.message, as plain text; HOOKD-MESSAGE: lines on stderr when the answer has none", async () => {
    const rejectAll = `"files": [{"id": i, "rejected": True} for i in ids]`;
    await answering(write(`{"message": "Thanks!\\u0007 <b>Review</b>\\u202e is on Friday.", ${rejectAll}}`));
    const vendor = await server.user("thanked@vendor.example", "STANDARD");
    const { prePublish } = await server.ok(`mutation($input: PrePublishInput!) { prePublish(input: $input) { id message } }`, { input: { files: entries() } }, vendor.key);
    assert.equal(prePublish.message, "Thanks! <b>Review</b> is on Friday.");
    assert.equal((await server.ok(`query($id: ID!) { publish(id: $id) { message } }`, { id: prePublish.id }, vendor.key)).publish.message, prePublish.message);
    await answering(`print("HOOKD-MESSAGE: From stderr.", file=sys.stderr)\nprint("token=s3cr3t", file=sys.stderr)\n${write(`{${rejectAll}}`)}`);
    const again = (await server.ok(`mutation($input: PrePublishInput!) { prePublish(input: $input) { message } }`, { input: { files: entries() } }, vendor.key)).prePublish;
    assert.equal(again.message, "From stderr.");
    await answering(write(`{${rejectAll}}`));
    assert.equal((await server.ok(`mutation($input: PrePublishInput!) { prePublish(input: $input) { message } }`, { input: { files: entries() } }, vendor.key)).prePublish.message, null);
  });

  test("refused: a pre-publish that times out (default budget 30 s; here 1 s)", async () => {
    await answering("time.sleep(20)", 1);
    expectError(await server.gql(PRE, { input: { files: entries() } }), "HOOK_FAILED", /pre-publish-server failed: timed out after 1 s; process group killed/);
  });

  test("bad entries from the caller are refused before any hook runs", async () => {
    const id = randomUUID();
    const bad: [unknown, RegExp][] = [
      [[], /input\.files: must be a non-empty list/],
      [[{ filename: "x", size: 1 }], /input\.files\[0\]: id must be a non-empty text/],
      [
        [
          { id, filename: "a", size: 1 },
          { id, filename: "b", size: 1 },
        ],
        /input\.files\[1\]: id '.+' is used twice/,
      ],
      [[{ id, filename: "../etc", size: 1 }], /filename '\.\.\/etc' must be a plain name/],
      [[{ id, filename: "x", size: -4 }], /size must be a whole number of bytes, 0 or more/],
      [[{ id, filename: "d", is_dir: "yes" }], /is_dir must be true or false/],
    ];
    for (const [files, message] of bad) expectError(await server.gql(PRE, { input: { files } }), "BAD_USER_INPUT", message);
  });

  test("directory sizes are computed when absent", async () => {
    await answering(write(`{"files": [{"id": f["id"], "rejected": True, "info": str(f["size"])} for f in d["files"]]}`));
    const nested = {
      id: randomUUID(),
      filename: "shot",
      is_dir: true,
      files: [
        { filename: "a.exr", size: 10 },
        { filename: "sub", is_dir: true, files: [{ filename: "b.exr", size: 5 }] },
      ],
    };
    const { prePublish } = await server.ok(PRE, { input: { files: [nested] } });
    assert.equal(prePublish.entries[0].size, 15);
    assert.equal(prePublish.entries[0].info, "15");
  });
});
