import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ADMIN_KEY, eventually, expectError, startServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/ws.js";

const PY = "/usr/bin/python3";
const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { id code name status size source sourceHr destination destinationHr engine tasks queue { code } user { email } } }`;
const STATUS = `mutation($id: ID!, $status: JobStatus!, $message: String) { updateJobStatus(id: $id, status: $status, message: $message) { id status failCount message } }`;
const JOB_FIELDS = [
  "hook",
  "id",
  "code",
  "name",
  "version",
  "status",
  "created",
  "size",
  "user",
  "user_hr",
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
  "metadata",
  "settings",
];

describe("jobs and their hooks", () => {
  let server: TestServer;
  let dir: string;
  let out: string;
  let capture: string;
  let selfId: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-jobs-"));
    out = path.join(dir, "out");
    // Writes what it received to out/<hook>.<n>.json; exits with the code in the env of the test's choosing.
    capture = path.join(dir, "capture.py");
    writeFileSync(
      capture,
      `#!${PY}\nimport json, os, sys\nd = json.load(open(sys.argv[-1]))\ntag = sys.argv[1] if len(sys.argv) > 2 else d["hook"]\nn = len([f for f in os.listdir(${JSON.stringify(out)}) if f.startswith(tag + ".")])\np = os.path.join(${JSON.stringify(out)}, "%s.%d.json" % (tag, n))\njson.dump({"input": d, "job_env": os.environ.get("HOOKD_JOB_ID")}, open(p + ".part", "w"))\nos.rename(p + ".part", p)\nprint("captured", tag)\n`,
    );
    chmodSync(capture, 0o755);
    server = await startServer();
    selfId = (await server.ok(`{ settings { defaultExecutionServer { id } } }`)).settings.defaultExecutionServer.id;
    await server.ok(
      `mutation { createVolume(input: { code: "projects", paths: { linux: "/mnt/projects" }, metadata: { external: { level: "volume", v: 1 }, internal: { cost: "volume" } } }) { id } }`,
    );
    await server.ok(`mutation { updateSettings(input: { metadata: { external: { level: "workspace", studio: "oslo" }, internal: { secret: "ws", cost: "ws" } } }) { hooksEnabled } }`);
    await server.ok(`mutation { createQueue(input: { code: "vfx", name: "VFX deliveries", metadata: { external: { level: "queue", q: true }, internal: { budget: 7 } } }) { id } }`);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    for (const hook of ["PRE_SUBMIT_SERVER", "PRE_SUBMIT_CLIENT", "POST_SUBMIT_SERVER", "POST_SUBMIT_CLIENT", "POST_DONE_SERVER", "POST_DONE_CLIENT", "POST_FAILED_SERVER", "POST_FAILED_CLIENT"]) {
      await server.ok(SET, { input: { hook, enabled: false, commands: { linux: null } } });
    }
  });

  const hookOn = (hook: string, extra = "") => server.ok(SET, { input: { hook, enabled: true, commands: { linux: `${capture} ${extra} \${PATH_JSON_INPUT}`.replace("  ", " ") } } });
  const captured = (tag: string) =>
    readdirSync(out)
      .filter((f) => f.startsWith(tag + ".") && f.endsWith(".json"))
      .sort()
      .map((f) => JSON.parse(readFileSync(path.join(out, f), "utf8")) as { input: any; job_env: string });
  const job = (extra: Record<string, unknown> = {}) => ({
    name: "Moonshot delivery",
    queue: "vfx",
    source: "user:admin@localhost",
    destination: "volume:projects",
    tasks: [
      { source: "/Users/vendor/out/moonshot.tif", destination: "volume=projects/moon/incoming/moonshot.tif", size: 3_000_000_000 },
      { source: "/Users/vendor/out/notes.txt", destination: "/mnt/projects/moon/incoming/notes.txt", size: 1200 },
    ],
    metadata: { external: { level: "job", shot: "sq010_sh020" }, internal: { budget: 9 } },
    ...extra,
  });
  let spoken = 0;
  /** A hook that copies `answer` to ${PATH_JSON_OUTPUT} (text as is, else as JSON; none when undefined), writes `stderr`, and exits with `code`. */
  const speaking = (answer: unknown, code: number, stderr = "") => {
    const name = `speak-${spoken++}`;
    const answerFile = path.join(dir, `${name}.json`);
    if (answer !== undefined) writeFileSync(answerFile, typeof answer === "string" ? answer : JSON.stringify(answer));
    const script = path.join(dir, `${name}.py`);
    const copy = answer !== undefined ? `shutil.copy(${JSON.stringify(answerFile)}, sys.argv[2])\n` : "";
    writeFileSync(script, `#!${PY}\nimport shutil, sys\n${copy}sys.stderr.write(${JSON.stringify(stderr)})\nprint("on stdout: /srv/stdout-only")\nsys.exit(${code})\n`);
    chmodSync(script, 0o755);
    return `${script} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}`;
  };
  /** A STANDARD user's job: external metadata only. */
  const vendorJob = (email: string, extra: Record<string, unknown> = {}) => job({ source: `user:${email}`, metadata: { external: { level: "job" } }, ...extra });
  const HOOK_SECRET = /s3cr3t|srv\/keys|stdout-only|exited with code|execution [0-9a-f]{8}-/;
  const executionsOf = async (id: string) => (await server.ok(`query($id: ID!) { job(id: $id) { executions { hook status error skipReason waitingFor } } }`, { id })).job.executions as any[];

  test("submitJob: post-submit-server receives exactly the SPEC §4 fields, with metadata merged workspace → volume → queue → job", async () => {
    await hookOn("POST_SUBMIT_SERVER");
    const { submitJob } = await server.ok(SUBMIT, { input: job() });
    assert.equal(submitJob.status, "SUBMITTED");
    assert.equal(submitJob.code, "moonshot_delivery");
    assert.equal(submitJob.size, 3_000_001_200);
    assert.equal(submitJob.sourceHr, "admin@localhost");
    assert.equal(submitJob.destinationHr, "projects");
    assert.equal(submitJob.queue.code, "vfx");
    const [{ input, job_env }] = await eventually(async () => captured("post-submit-server").length === 1 && captured("post-submit-server"), "post-submit-server to run");
    assert.equal(job_env, submitJob.id);
    assert.deepEqual(Object.keys(input).sort(), [...JOB_FIELDS].sort());
    const { me } = await server.ok(`{ me { id } }`);
    const queue = (await server.ok(`{ queue(code: "vfx") { id } }`)).queue;
    const volume = (await server.ok(`{ volume(code: "projects") { id } }`)).volume;
    assert.equal(input.hook, "post-submit-server");
    assert.equal(input.id, submitJob.id);
    assert.equal(input.code, "moonshot_delivery");
    assert.equal(input.name, "Moonshot delivery");
    assert.match(input.version, /^\d+\.\d+\.\d+/);
    assert.equal(input.status, "waiting");
    assert.match(input.created, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    assert.equal(input.size, 3_000_001_200);
    assert.equal(input.user, me.id);
    assert.equal(input.user_hr, "admin@localhost");
    assert.equal(input.queue, queue.id);
    assert.equal(input.queue_hr, "VFX deliveries");
    assert.equal(input.source, `user:${me.id}`);
    assert.equal(input.source_hr, "admin@localhost");
    assert.equal(input.destination, `volume:${volume.id}`);
    assert.equal(input.destination_hr, "projects");
    assert.equal(input.engine, "default");
    assert.equal(input.engine_hr, "default");
    assert.deepEqual(input.tasks, {
      "0": {
        source: { path: "/Users/vendor/out/moonshot.tif", volume: null, volume_hr: null, relative_path: null },
        destination: { path: "/mnt/projects/moon/incoming/moonshot.tif", volume: volume.id, volume_hr: "projects", relative_path: "moon/incoming/moonshot.tif" },
        size: 3_000_000_000,
        metadata: {},
      },
      "1": {
        source: { path: "/Users/vendor/out/notes.txt", volume: null, volume_hr: null, relative_path: null },
        destination: { path: "/mnt/projects/moon/incoming/notes.txt", volume: volume.id, volume_hr: "projects", relative_path: "moon/incoming/notes.txt" },
        size: 1200,
        metadata: {},
      },
    });
    assert.deepEqual(input.metadata, {
      internal: { secret: "ws", cost: "volume", budget: 9 },
      external: { level: "job", studio: "oslo", v: 1, q: true, shot: "sq010_sh020" },
    });
    assert.deepEqual(input.clients, [
      {
        role: "server",
        id: selfId,
        name: "hookd-test-host",
        hostname: "hookd-test-host",
        os: "linux",
        metadata: { internal: { secret: "ws", cost: "ws" }, external: { level: "workspace", studio: "oslo" } },
      },
    ]);
  });

  test("a failing pre-submit-server refuses the job: HOOK_FAILED with its error and stderr, no job, the execution kept for audit", async () => {
    const refuse = path.join(dir, "refuse.sh");
    writeFileSync(refuse, `#!/bin/sh\necho "checking"\necho "REJECTED: destination is locked for delivery" >&2\nexit 4\n`);
    chmodSync(refuse, 0o755);
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: `${refuse} \${PATH_JSON_INPUT}` } } });
    await hookOn("POST_SUBMIT_SERVER");
    const res = await server.gql(SUBMIT, { input: job({ code: "refused_job" }) });
    expectError(res, "HOOK_FAILED", /^pre-submit-server refused the job: exited with code 4; last stderr: REJECTED: destination is locked for delivery \(execution [0-9a-f-]{36}\)$/);
    const jobs = (await server.ok(`{ jobs(first: 500) { nodes { code } } }`)).jobs.nodes;
    assert.ok(!jobs.some((j: any) => j.code === "refused_job"), "no job exists");
    const executionId = /execution ([0-9a-f-]{36})/.exec(res.errors![0].message)![1];
    const execution = (await server.ok(`query($id: ID!) { execution(id: $id) { hook status exitCode jobId logLines { text } } }`, { id: executionId })).execution;
    assert.equal(execution.status, "FAILED");
    assert.equal(execution.exitCode, 4);
    assert.ok(execution.jobId, "linked to the job id it would have had");
    assert.equal(captured("post-submit-server").length, 0, "post-submit never ran");
    // The code is free again.
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: false } });
    assert.equal((await server.ok(SUBMIT, { input: job({ code: "refused_job" }) })).submitJob.code, "refused_job");
  });

  test("a passing pre-submit-server runs before the job exists and sees it whole", async () => {
    await hookOn("PRE_SUBMIT_SERVER");
    const { submitJob } = await server.ok(SUBMIT, { input: job() });
    const [{ input }] = captured("pre-submit-server");
    assert.equal(input.id, submitJob.id);
    assert.equal(input.hook, "pre-submit-server");
    assert.equal(submitJob.code, "moonshot_delivery_2", "codes generated from the name stay unique");
  });

  test("a STANDARD user's job refused by pre-submit-server carries the hook's message, and only that; ADMIN reads the details too", async () => {
    const vendor = await server.user("refused@vendor.example", "STANDARD");
    const said = "Job names may not contain 'bad'.\nRename it and submit again.";
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: speaking({ message: said }, 1, "token=s3cr3t in /srv/keys\n") } } });
    const res = await server.gql(SUBMIT, { input: vendorJob("refused@vendor.example", { name: "bad delivery" }) }, vendor.key);
    assert.equal(res.errors?.length, 1);
    assert.equal(res.errors![0].message, `pre-submit-server refused the job: ${said}`);
    assert.deepEqual(res.errors![0].extensions, { code: "HOOK_FAILED", hook: "PRE_SUBMIT_SERVER", hookMessage: said });
    assert.doesNotMatch(JSON.stringify(res), HOOK_SECRET);
    const admin = await server.gql(SUBMIT, { input: job({ name: "bad delivery" }) });
    expectError(admin, "HOOK_FAILED", /^pre-submit-server refused the job: exited with code 1; last stderr: token=s3cr3t in \/srv\/keys \(execution [0-9a-f-]{36}\)$/);
    assert.equal((admin.errors![0].extensions as any).hookMessage, said);
    // A refusing hook that says nothing: the plain refusal, hookMessage null.
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", commands: { linux: speaking(undefined, 2, "token=s3cr3t\n") } } });
    const silent = await server.gql(SUBMIT, { input: vendorJob("refused@vendor.example") }, vendor.key);
    expectError(silent, "HOOK_FAILED", /^pre-submit-server refused the job; nothing was stored/);
    assert.equal((silent.errors![0].extensions as any).hookMessage, null);
    assert.doesNotMatch(JSON.stringify(silent), HOOK_SECRET);
  });

  test("the hook's message is plain text: control and format characters removed, newlines kept, at most 2000 characters", async () => {
    const vendor = await server.user("texts@vendor.example", "STANDARD");
    const refusedWith = async (message: unknown) => {
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: speaking({ message }, 1) } } });
      const res = await server.gql(SUBMIT, { input: vendorJob("texts@vendor.example") }, vendor.key);
      expectError(res, "HOOK_FAILED");
      return (res.errors![0].extensions as any).hookMessage as string | null;
    };
    assert.equal(
      await refusedWith("  a\u0000b\u0007c \u001b[31mred\u001b[0m\r\nline\ttwo\u202eevil\u200b\u0085\n\n\n\n<b>kept as text</b>\rlast  "),
      "abc [31mred[0m\nline twoevil\n\n<b>kept as text</b>\nlast",
    );
    const long = await refusedWith(`${"é".repeat(1500)}${"🎬".repeat(1500)}`);
    assert.equal(Array.from(long!).length, 2000, "capped at 2000 characters (code points)");
    assert.ok(long!.endsWith("🎬…"), "a cut message ends with an ellipsis");
    assert.equal(await refusedWith(" \u0007\n "), null, "nothing left: no message");
    assert.equal(await refusedWith({ html: "<i>x</i>" }), null, "a message that is not text is none");
  });

  test("HOOKD-MESSAGE: lines on stderr are the message when the answer gives none; the rest of stderr stays with ADMIN", async () => {
    const vendor = await server.user("stderr@vendor.example", "STANDARD");
    const stderr = "debug: token=s3cr3t\nHOOKD-MESSAGE: The destination is locked.\nmore debug in /srv/keys\nHOOKD-MESSAGE: Try again after 18:00.\n";
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: speaking(undefined, 3, stderr) } } });
    const res = await server.gql(SUBMIT, { input: vendorJob("stderr@vendor.example") }, vendor.key);
    expectError(res, "HOOK_FAILED", /^pre-submit-server refused the job: The destination is locked\.\nTry again after 18:00\.$/);
    assert.equal((res.errors![0].extensions as any).hookMessage, "The destination is locked.\nTry again after 18:00.");
    assert.doesNotMatch(JSON.stringify(res), HOOK_SECRET);
    // The answer's message wins over the prefix.
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", commands: { linux: speaking({ message: "From the answer." }, 3, stderr) } } });
    const both = await server.gql(SUBMIT, { input: vendorJob("stderr@vendor.example") }, vendor.key);
    assert.equal((both.errors![0].extensions as any).hookMessage, "From the answer.");
  });

  test("a passing pre-submit hook may answer too: its message is on the job; no answer or a broken one still submits", async () => {
    const vendor = await server.user("passes@vendor.example", "STANDARD");
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: speaking({ message: "Accepted; it goes out tonight." }, 0, "token=s3cr3t\n") } } });
    const accepted = (await server.ok(SUBMIT, { input: vendorJob("passes@vendor.example") }, vendor.key)).submitJob;
    const { job: read } = await server.ok(`query($id: ID!) { job(id: $id) { hookMessages { hook message at } } }`, { id: accepted.id }, vendor.key);
    assert.deepEqual(
      read.hookMessages.map((m: any) => [m.hook, m.message]),
      [["PRE_SUBMIT_SERVER", "Accepted; it goes out tonight."]],
    );
    assert.ok(!Number.isNaN(Date.parse(read.hookMessages[0].at)));
    for (const answer of [undefined, '{"message": ']) {
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", commands: { linux: speaking(answer, 0) } } });
      const { submitJob } = await server.ok(SUBMIT, { input: vendorJob("passes@vendor.example") }, vendor.key);
      assert.deepEqual((await server.ok(`query($id: ID!) { job(id: $id) { hookMessages { message } } }`, { id: submitJob.id }, vendor.key)).job.hookMessages, []);
      const [execution] = await executionsOf(submitJob.id);
      assert.equal(execution.status, "SUCCEEDED");
      if (answer) assert.match(execution.error, /^the output file at \$\{PATH_JSON_OUTPUT\} was ignored: the output file is not valid JSON/);
    }
  });

  test("a post-failed hook tells the job's owner what to do next: Job.hookMessages, the latest message per hook point", async () => {
    const owner = await server.user("failing@vendor.example", "STANDARD");
    const other = await server.user("nosy@vendor.example", "STANDARD");
    const counter = path.join(dir, "failures");
    const script = path.join(dir, "post-failed-says.py");
    writeFileSync(
      script,
      `#!${PY}\nimport json, sys\nwith open(${JSON.stringify(counter)}, "a") as f: f.write("x")\nn = len(open(${JSON.stringify(counter)}).read())\nprint("token=s3cr3t", file=sys.stderr)\njson.dump({"message": "Failure %d: free space on the destination, then retry." % n}, open(sys.argv[2], "w"))\n`,
    );
    chmodSync(script, 0o755);
    await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: true, commands: { linux: `${script} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` } } });
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: speaking({ message: "Queued behind 3 deliveries." }, 0) } } });
    const { submitJob } = await server.ok(SUBMIT, { input: vendorJob("failing@vendor.example") }, owner.key);
    const MESSAGES = `query($id: ID!) { job(id: $id) { hookMessages { hook message } } }`;
    await server.ok(STATUS, { id: submitJob.id, status: "FAILED", message: "disk full" }, owner.key);
    await eventually(async () => (await server.ok(MESSAGES, { id: submitJob.id }, owner.key)).job.hookMessages.length === 2, "post-failed's message");
    await server.ok(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: submitJob.id }, owner.key);
    await server.ok(STATUS, { id: submitJob.id, status: "FAILED" }, owner.key);
    const latest = await eventually(async () => {
      const m = (await server.ok(MESSAGES, { id: submitJob.id }, owner.key)).job.hookMessages;
      return m.some((x: any) => x.message.startsWith("Failure 2")) && m;
    }, "the second post-failed message");
    assert.deepEqual(latest, [
      { hook: "POST_SUBMIT_SERVER", message: "Queued behind 3 deliveries." },
      { hook: "POST_FAILED_SERVER", message: "Failure 2: free space on the destination, then retry." },
    ]);
    expectError(await server.gql(MESSAGES, { id: submitJob.id }, other.key), "NOT_FOUND");
  });

  test("status: RUNNING, then DONE runs post-done once; DONE again is refused", async () => {
    await hookOn("POST_DONE_SERVER");
    const { submitJob } = await server.ok(SUBMIT, { input: job() });
    assert.equal((await server.ok(STATUS, { id: submitJob.id, status: "RUNNING", message: "42%" })).updateJobStatus.status, "RUNNING");
    assert.equal((await server.ok(STATUS, { id: submitJob.id, status: "RUNNING", message: "80%" })).updateJobStatus.message, "80%");
    assert.equal((await server.ok(STATUS, { id: submitJob.id, status: "DONE" })).updateJobStatus.status, "DONE");
    const done = await eventually(async () => captured("post-done-server").length === 1 && captured("post-done-server"), "post-done-server");
    assert.equal(done[0].input.status, "done");
    expectError(await server.gql(STATUS, { id: submitJob.id, status: "DONE" }), "CONFLICT", /job 'moonshot_delivery_\d+' is DONE; it cannot become DONE/);
    expectError(await server.gql(STATUS, { id: submitJob.id, status: "RUNNING" }), "CONFLICT", /is DONE; it cannot become RUNNING/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(captured("post-done-server").length, 1, "post-done ran once");
    const executions = await executionsOf(submitJob.id);
    assert.deepEqual(
      executions.map((e) => [e.hook, e.status]),
      [["POST_DONE_SERVER", "SUCCEEDED"]],
    );
  });

  test("FAILED runs post-failed every time it fails; retryJob moves it back to RUNNING", async () => {
    await hookOn("POST_FAILED_SERVER");
    const { submitJob } = await server.ok(SUBMIT, { input: job() });
    assert.deepEqual((await server.ok(STATUS, { id: submitJob.id, status: "FAILED", message: "disk full" })).updateJobStatus, {
      id: submitJob.id,
      status: "FAILED",
      failCount: 1,
      message: "disk full",
    });
    expectError(await server.gql(STATUS, { id: submitJob.id, status: "RUNNING" }), "CONFLICT", /use retryJob/);
    assert.equal((await server.ok(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: submitJob.id })).retryJob.status, "RUNNING");
    expectError(await server.gql(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: submitJob.id }), "CONFLICT", /only a FAILED job can be retried/);
    assert.equal((await server.ok(STATUS, { id: submitJob.id, status: "FAILED" })).updateJobStatus.failCount, 2);
    const runs = await eventually(async () => captured("post-failed-server").length === 2 && captured("post-failed-server"), "two post-failed runs");
    assert.ok(runs.every((r) => r.input.status === "failed"));
  });

  test("unknown job ids and bad input say what is wrong", async () => {
    expectError(await server.gql(STATUS, { id: "nope", status: "RUNNING" }), "NOT_FOUND", /job 'nope' does not exist/);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ source: "admin@localhost" }, "BAD_USER_INPUT", /input\.source: must be a party ident <entitytype>:<entityid>/],
      [{ source: "planet:mars" }, "BAD_USER_INPUT", /input\.source: unknown entity type 'planet'; known: user, volume, client, server/],
      [{ destination: "volume:nowhere" }, "BAD_USER_INPUT", /input\.destination: no volume has id or code 'nowhere'/],
      [{ tasks: [] }, "BAD_USER_INPUT", /input\.tasks: a job needs at least one task/],
      [{ tasks: [{ source: "/a", destination: "volume=nowhere/x", size: 1 }] }, "BAD_USER_INPUT", /input\.tasks\[0\]\.destination: unknown volume 'nowhere'/],
      [{ tasks: [{ source: "/a", destination: "volume=projects/../etc", size: 1 }] }, "BAD_USER_INPUT", /input\.tasks\[0\]\.destination: must not contain '\.\.' \(a step up to the parent folder\)/],
      [{ tasks: [{ source: "/a", destination: "/b", size: -1 }] }, "BAD_USER_INPUT", /input\.tasks\[0\]\.size: must be a whole number of bytes/],
      [{ queue: "ghost" }, "NOT_FOUND", /queue 'ghost' does not exist/],
      [{ code: "bad code" }, "BAD_USER_INPUT", /input\.code: may contain only/],
      [{ code: "moonshot_delivery" }, "CONFLICT", /input\.code: a job with code 'moonshot_delivery' already exists/],
      [{ client: selfId }, "BAD_USER_INPUT", /input\.client: 'hookd-test-host' is a site server, not a client/],
    ];
    for (const [fields, code, message] of cases) expectError(await server.gql(SUBMIT, { input: job(fields) }), code, message);
  });

  test("a paused queue accepts jobs but holds them", async () => {
    await server.ok(`mutation { createQueue(input: { code: "held", status: PAUSED }) { id } }`);
    const { submitJob } = await server.ok(SUBMIT, { input: job({ queue: "held" }) });
    assert.equal(submitJob.status, "SUBMITTED");
    expectError(await server.gql(STATUS, { id: submitJob.id, status: "RUNNING" }), "CONFLICT", /is held: its queue 'held' is paused/);
    await server.ok(`mutation { updateQueue(code: "held", input: { status: WAITING }) { code } }`);
    assert.equal((await server.ok(STATUS, { id: submitJob.id, status: "RUNNING" })).updateJobStatus.status, "RUNNING");
  });

  describe("client hooks", () => {
    test("run on an elevated user's client registered on this host, with both metadata parts", async () => {
      const employee = await server.user("td@studio.example", "EMPLOYEE");
      const client = (await server.ok(`mutation { registerClient(input: { name: "td-workstation", hostname: "hookd-test-host", os: "linux" }) { id kind } }`, {}, employee.key)).registerClient;
      assert.equal(client.kind, "CLIENT");
      await hookOn("PRE_SUBMIT_CLIENT");
      await hookOn("POST_SUBMIT_CLIENT");
      const { submitJob } = await server.ok(SUBMIT, { input: job({ client: client.id, source: "user:td@studio.example" }) }, employee.key);
      const [pre] = captured("pre-submit-client");
      assert.equal(pre.input.hook, "pre-submit-client");
      assert.deepEqual(pre.input.metadata.internal, { secret: "ws", cost: "volume", budget: 9 });
      assert.deepEqual(
        pre.input.clients.map((c: any) => [c.role, c.name]),
        [
          ["server", "hookd-test-host"],
          ["client", "td-workstation"],
        ],
      );
      assert.equal(pre.input.clients[1].user_hr, "td@studio.example");
      const executions = await eventually(async () => {
        const e = await executionsOf(submitJob.id);
        return e.length === 2 && e.every((x) => x.status === "SUCCEEDED") && e;
      }, "post-submit-client to finish");
      assert.equal(captured("post-submit-client").length, 1);
      assert.deepEqual(
        executions.map((e) => [e.hook, e.status]),
        [
          ["PRE_SUBMIT_CLIENT", "SUCCEEDED"],
          ["POST_SUBMIT_CLIENT", "SUCCEEDED"],
        ],
      );
    });

    test("a refusing pre-submit-client's message reaches the EMPLOYEE submitting, not its stderr", async () => {
      const employee = await server.user("td2@studio.example", "EMPLOYEE");
      const client = (await server.ok(`mutation { registerClient(input: { name: "td2-workstation", hostname: "hookd-test-host", os: "linux" }) { id } }`, {}, employee.key)).registerClient;
      await server.ok(SET, {
        input: { hook: "PRE_SUBMIT_CLIENT", enabled: true, commands: { linux: speaking(undefined, 1, "token=s3cr3t\nHOOKD-MESSAGE: Save your scene before sending it.\n") } },
      });
      const res = await server.gql(SUBMIT, { input: job({ client: client.id, source: "user:td2@studio.example" }) }, employee.key);
      assert.equal(res.errors?.[0].message, "pre-submit-client refused the job: Save your scene before sending it.");
      assert.deepEqual(res.errors?.[0].extensions, { code: "HOOK_FAILED", hook: "PRE_SUBMIT_CLIENT", hookMessage: "Save your scene before sending it." });
      assert.doesNotMatch(JSON.stringify(res), HOOK_SECRET);
    });

    test("never run for a STANDARD user's client: recorded SKIPPED with the reason", async () => {
      const vendor = await server.user("vendor@example.com", "STANDARD");
      const client = (await server.ok(`mutation { registerClient(input: { name: "vendor-laptop", hostname: "hookd-test-host", os: "linux" }) { id } }`, {}, vendor.key)).registerClient;
      await hookOn("PRE_SUBMIT_CLIENT");
      await hookOn("POST_DONE_CLIENT");
      const { submitJob } = await server.ok(
        SUBMIT,
        { input: job({ client: client.id, source: "user:vendor@example.com", metadata: { external: { level: "job", shot: "sq010_sh020" } } }) },
        vendor.key,
      );
      await server.ok(STATUS, { id: submitJob.id, status: "DONE" }, vendor.key);
      assert.equal(captured("pre-submit-client").length + captured("post-done-client").length, 0);
      const executions = await executionsOf(submitJob.id);
      assert.deepEqual(
        executions.map((e) => [e.hook, e.status, e.skipReason]),
        [
          ["PRE_SUBMIT_CLIENT", "SKIPPED", "CLIENT_NOT_ELEVATED"],
          ["POST_DONE_CLIENT", "SKIPPED", "CLIENT_NOT_ELEVATED"],
        ],
      );
      assert.match(executions[0].error, /client hooks never run for a STANDARD user's client \('vendor-laptop' belongs to vendor@example\.com\)/);
    });

    test("a client that is not connected leaves its execution QUEUED, saying which server it waits for", async () => {
      const employee = (await server.ok(`{ users { id email } }`)).users.find((u: any) => u.email === "td@studio.example");
      const remote = (await server.ok(`mutation($u: ID!) { registerClient(input: { name: "remote-ws", hostname: "ws042.studio.example", os: "linux", user: $u }) { id } }`, { u: employee.id }))
        .registerClient;
      await hookOn("POST_SUBMIT_CLIENT");
      const { submitJob } = await server.ok(SUBMIT, { input: job({ client: remote.id }) });
      const [execution] = await executionsOf(submitJob.id);
      assert.equal(execution.hook, "POST_SUBMIT_CLIENT");
      assert.equal(execution.status, "QUEUED");
      assert.match(execution.waitingFor, /^client 'remote-ws' \(ws042\.studio\.example\): it is not connected/);
      // A blocking client hook waits for it at most its timeout: then the submission is refused, saying why.
      await hookOn("PRE_SUBMIT_CLIENT");
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_CLIENT", timeoutSeconds: 1 } });
      expectError(await server.gql(SUBMIT, { input: job({ client: remote.id }) }), "HOOK_FAILED", /pre-submit-client refused the job: no runner for client remote-ws came online within 1 s/);
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_CLIENT", timeoutSeconds: null } });
    });
  });

  describe("queue overrides in action", () => {
    test("OVERRIDE runs the queue's command instead of the workspace's; APPEND runs after it; a disabled workspace hook with APPEND runs only the queue's", async () => {
      await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `${capture} workspace \${PATH_JSON_INPUT}` } } });
      await server.ok(`mutation { createQueue(input: { code: "ovr" }) { id } }`);
      await server.ok(`mutation { createQueue(input: { code: "app" }) { id } }`);
      await server.ok(`mutation($c: String!) { setQueueHook(input: { queue: "ovr", hook: POST_DONE_SERVER, mode: OVERRIDE, commands: { linux: $c } }) { id } }`, {
        c: `${capture} queue-ovr \${PATH_JSON_INPUT}`,
      });
      await server.ok(`mutation($c: String!) { setQueueHook(input: { queue: "app", hook: POST_DONE_SERVER, mode: APPEND, commands: { linux: $c } }) { id } }`, {
        c: `${capture} queue-app \${PATH_JSON_INPUT}`,
      });
      const done = async (queue: string) => {
        const { submitJob } = await server.ok(SUBMIT, { input: job({ queue }) });
        await server.ok(STATUS, { id: submitJob.id, status: "DONE" });
        await eventually(async () => (await executionsOf(submitJob.id)).every((e) => e.status === "SUCCEEDED"), "the runs");
        return submitJob.id as string;
      };

      const overridden = await done("ovr");
      assert.deepEqual(
        (await executionsOf(overridden)).map((e) => e.hook),
        ["POST_DONE_SERVER"],
      );
      assert.equal(captured("workspace").length, 0);
      assert.equal(captured("queue-ovr").length, 1);
      assert.equal(captured("queue-ovr")[0].input.hook, "post-done-server");
      assert.equal(captured("queue-ovr")[0].input.queue_hr, "ovr");

      const appended = await done("app");
      const ran = (await server.ok(`query($id: ID!) { job(id: $id) { executions { source mode logLines { text } } } }`, { id: appended })).job.executions;
      assert.deepEqual(
        ran.map((e: any) => [e.source, e.mode, e.logLines[0].text]),
        [
          ["WORKSPACE", null, "captured workspace"],
          ["QUEUE", "APPEND", "captured queue-app"],
        ],
      );
      assert.deepEqual(captured("workspace")[0].input, captured("queue-app")[0].input, "both entries get the same JSON");

      await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: false } });
      const onlyQueue = await done("app");
      assert.deepEqual((await server.ok(`query($id: ID!) { job(id: $id) { executions { source } } }`, { id: onlyQueue })).job.executions, [{ source: "QUEUE" }]);
      assert.equal(captured("workspace").length, 1);
      assert.equal(captured("queue-app").length, 2);
    });
  });

  describe("visibility", () => {
    test("STANDARD users see and report only their own jobs, never executions or internal metadata", async () => {
      const a = await server.user("a@vendor.example", "STANDARD");
      const b = await server.user("b@vendor.example", "STANDARD");
      const mine = (await server.ok(SUBMIT, { input: job({ source: "user:a@vendor.example", metadata: { external: { level: "job", shot: "sq010_sh020" } } }) }, a.key)).submitJob;
      const theirs = (await server.ok(SUBMIT, { input: job({ source: "user:b@vendor.example", metadata: { external: { level: "job", shot: "sq010_sh020" } } }) }, b.key)).submitJob;
      const listed = (await server.ok(`{ jobs { nodes { id } } }`, {}, a.key)).jobs.nodes.map((n: any) => n.id);
      assert.deepEqual(listed, [mine.id]);
      expectError(await server.gql(`query($id: ID!) { job(id: $id) { code } }`, { id: theirs.id }, a.key), "NOT_FOUND");
      expectError(await server.gql(STATUS, { id: theirs.id, status: "RUNNING" }, a.key), "NOT_FOUND");
      expectError(await server.gql(`query($id: ID!) { job(id: $id) { executions { id } } }`, { id: mine.id }, a.key), "FORBIDDEN");
      expectError(await server.gql(`query($id: ID!) { job(id: $id) { metadata { internal } } }`, { id: mine.id }, a.key), "FORBIDDEN");
      assert.deepEqual((await server.ok(`query($id: ID!) { job(id: $id) { metadata { external } } }`, { id: mine.id }, a.key)).job.metadata.external, { level: "job", shot: "sq010_sh020" });
      const all = (await server.ok(`{ jobs(first: 500) { nodes { id } } }`)).jobs.nodes.map((n: any) => n.id);
      assert.ok(all.includes(mine.id) && all.includes(theirs.id), "ADMIN sees all");
    });

    test("jobs: filters and cursor pagination, newest first", async () => {
      const all = (await server.ok(`{ jobs(first: 500) { nodes { id status } } }`)).jobs.nodes;
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 100; i++) {
        const page: any = (await server.ok(`query($after: String) { jobs(first: 4, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }`, { after: cursor })).jobs;
        seen.push(...page.nodes.map((n: any) => n.id));
        if (!page.pageInfo.hasNextPage) break;
        cursor = page.pageInfo.endCursor;
      }
      assert.deepEqual(
        seen,
        all.map((n: any) => n.id),
      );
      const done = (await server.ok(`{ jobs(filter: { status: DONE }, first: 500) { nodes { status } } }`)).jobs.nodes;
      assert.ok(done.length > 0 && done.every((n: any) => n.status === "DONE"));
    });

    test("jobUpdated follows one job's status", async () => {
      const { submitJob } = await server.ok(SUBMIT, { input: job() });
      const sub = subscribe<{ jobUpdated: { status: string; message: string | null } }>(server.url, ADMIN_KEY, `subscription($id: ID!) { jobUpdated(id: $id) { id code status message } }`, {
        id: submitJob.id,
      });
      await new Promise((r) => setTimeout(r, 200));
      await server.ok(STATUS, { id: submitJob.id, status: "RUNNING", message: "50%" });
      await server.ok(STATUS, { id: submitJob.id, status: "DONE" });
      await eventually(async () => sub.events.length === 2, "two events");
      assert.deepEqual(
        sub.events.map((e) => [e.jobUpdated.status, e.jobUpdated.message]),
        [
          ["RUNNING", "50%"],
          ["DONE", "50%"],
        ],
      );
      await sub.dispose();
    });
  });
});
