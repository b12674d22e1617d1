import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import os from "node:os";
import { defaultAddonPath } from "../src/executor/addon-spawner.js";
import { groupAlive } from "../src/executor/process-group.js";
import { ExecutionServer, ExecutionServerKind } from "../src/entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../src/entities/execution.entity.js";
import { exists } from "./helpers/processes.js";
import { serveProcess } from "./helpers/serve-process.js";
import { ADMIN_KEY, eventually, expectError, startServer, type TestServer } from "./helpers/server.js";
import { databaseEnv, onPostgres } from "./helpers/test-database.js";

const PY = "/usr/bin/python3";
const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const TRIGGER = `mutation($input: TriggerHookInput!) {
  triggerHook(input: $input) { id hook scriptName status exitCode signal error skipReason argv command os attempt input output logLineCount droppedBytes startedAt finishedAt durationMs timeoutSeconds }
}`;
const LOG = `query($id: ID!, $after: Int, $first: Int) { execution(id: $id) { status logLines(after: $after, first: $first) { seq stream text at } } }`;

/** A directory of hook scripts for one test file. */
function scripts() {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd hooks "));
  return {
    dir,
    write(name: string, body: string, mode = 0o755): string {
      const file = path.join(dir, name);
      writeFileSync(file, body);
      chmodSync(file, mode);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// Every case runs with both ways of starting hooks: the spawn addon (the default where it was
// built) and execa, the portable one.
// The addon needs a C compiler at build time (and Linux): where it was not built, its cases are skipped.
const addonBuilt = existsSync(defaultAddonPath());
for (const spawner of ["addon", "execa"] as const)
  describe(`executor: running hooks (${spawner} spawner)`, { skip: spawner === "addon" && !addonBuilt ? "the spawn addon was not built (npm run build with a C compiler on Linux)" : false }, () => {
    let server: TestServer;
    let hooks: ReturnType<typeof scripts>;
    let tempParent: string;

    before(async () => {
      hooks = scripts();
      // A temp dir with a space: the input path must reach the script as one argument.
      tempParent = mkdtempSync(path.join(tmpdir(), "hookd temp "));
      server = await startServer({ HOOKD_TEMP_DIR: tempParent, HOOKD_KILL_GRACE_MS: "300", HOOKD_SPAWNER: spawner });
    });
    after(async () => {
      await server.close();
      hooks.remove();
      rmSync(tempParent, { recursive: true, force: true });
    });

    const configure = (hook: string, commands: Record<string, string | null>, extra: Record<string, unknown> = {}) =>
      server.ok(SET, { input: { hook, enabled: true, commands: { linux: null, mac: null, windows: null, ...commands }, ...extra } });
    const trigger = async (hook: string, payload: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
      (await server.ok(TRIGGER, { input: { hook, payload, wait: true, ...extra } })).triggerHook as any[];
    const logOf = async (id: string) => (await server.ok(LOG, { id, first: 10000 })).execution.logLines as { seq: number; stream: string; text: string }[];

    test("triggerHook with wait answers exactly what the store then holds (the waiter does not read it back)", async () => {
      const say = hooks.write("say.sh", `#!/bin/sh\necho "out $1"\necho "err" >&2\nexit 3\n`);
      await configure("POST_DONE_SERVER", { linux: `${q(say)} \${PATH_JSON_INPUT}` });
      const FIELDS =
        "id hook source mode queue command argv os jobId publishId input output status exitCode signal error waitingFor skipReason timeoutSeconds attempt logLineCount droppedBytes createdAt startedAt finishedAt scriptName durationMs executionServer { id } retryOf { id } triggeredBy { email } logLines { seq stream text }";
      const answered = (
        await server.ok(`mutation($input: TriggerHookInput!) { triggerHook(input: $input) { ${FIELDS} } }`, { input: { hook: "POST_DONE_SERVER", payload: { code: "same" }, wait: true } })
      ).triggerHook[0];
      assert.equal(answered.status, "FAILED");
      assert.equal(answered.logLineCount, 3);
      const stored = (await server.ok(`query($id: ID!) { execution(id: $id) { ${FIELDS} } }`, { id: answered.id })).execution;
      assert.deepEqual(answered, stored);
    });

    test("the input JSON reaches the script through ${PATH_JSON_INPUT}, as one argument even with spaces, with the HOOKD_ environment", async () => {
      const echo = hooks.write(
        "echo args.py",
        `#!${PY}
import json, os, stat, sys
path = sys.argv[2]
st = os.stat(path)
print(json.dumps({"argv": sys.argv[1:], "input": json.load(open(path)), "mode": oct(stat.S_IMODE(st.st_mode)),
  "dirmode": oct(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)),
  "env": {k: v for k, v in os.environ.items() if k.startswith("HOOKD_") and not k.startswith("HOOKD_TEST_")}}))
`,
      );
      await configure("POST_DONE_SERVER", { linux: `${q(echo)} --in \${PATH_JSON_INPUT} --also=\${PATH_JSON_INPUT}`, windows: "C:\\hooks\\never.exe ${PATH_JSON_INPUT}" });
      const [execution] = await trigger("POST_DONE_SERVER", { code: "my job" });
      assert.equal(execution.status, "SUCCEEDED", execution.error);
      assert.equal(execution.os, "linux");
      assert.equal(execution.exitCode, 0);
      const [line] = await logOf(execution.id);
      const seen = JSON.parse(line.text);
      assert.equal(seen.argv.length, 3);
      assert.equal(seen.argv[0], "--in");
      assert.ok(seen.argv[1].startsWith(tempParent + path.sep), `${seen.argv[1]} is under the temp dir with a space`);
      assert.equal(seen.argv[2], `--also=${seen.argv[1]}`);
      assert.deepEqual(execution.argv, [echo, ...seen.argv]);
      assert.equal(seen.input.hook, "post-done-server");
      assert.equal(seen.input.code, "my job", "the payload is merged over the sample");
      assert.equal(seen.input.user_hr, "vendor@example.com", "sample fields are there");
      assert.deepEqual(seen.input, execution.input);
      assert.equal(seen.mode, "0o600");
      assert.equal(seen.dirmode, "0o700");
      // HOOKD_STORE_ID names the store the run is recorded in, so a restart can find its leftovers.
      // HOOKD_RUNNER: the runner's marker, by which its watchdog finds the hook's processes (hook-watchdog.ts).
      const { HOOKD_RUNNER: runner, ...env } = seen.env;
      assert.match(runner, /^[0-9a-f]{24}$/);
      assert.deepEqual(env, { HOOKD_HOOK: "post-done-server", HOOKD_EXECUTION_ID: execution.id, HOOKD_ATTEMPT: "1", HOOKD_IDEMPOTENCY_KEY: execution.id });
      assert.match(execution.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/, "executions get time-ordered (version 7) ids");
      assert.equal(existsSync(seen.argv[1]), false, "the temp input file is removed afterwards");
      // One private directory per hookd process, empty between runs.
      const workDirs = readdirSync(tempParent);
      assert.equal(workDirs.length, 1);
      assert.deepEqual(readdirSync(path.join(tempParent, workDirs[0])), []);
    });

    test("a non-zero exit fails with the code and the last stderr lines", async () => {
      const fail = hooks.write("fail.sh", `#!/bin/sh\necho "working"\necho "first problem" >&2\necho "ERROR: shot sq010 not found" >&2\nexit 2\n`);
      await configure("POST_FAILED_SERVER", { linux: `${q(fail)} \${PATH_JSON_INPUT}` });
      const [execution] = await trigger("POST_FAILED_SERVER");
      assert.equal(execution.status, "FAILED");
      assert.equal(execution.exitCode, 2);
      assert.equal(execution.error, "exited with code 2; last stderr: first problem | ERROR: shot sq010 not found");
      const lines = await logOf(execution.id);
      assert.deepEqual(
        lines.map((l) => [l.seq, l.stream, l.text]),
        [
          [1, "STDOUT", "working"],
          [2, "STDERR", "first problem"],
          [3, "STDERR", "ERROR: shot sq010 not found"],
          [4, "SYSTEM", execution.error],
        ],
      );
    });

    test("a missing interpreter: command not found", async () => {
      await configure("POST_SUBMIT_SERVER", { linux: "python4 /opt/hooks/x.py ${PATH_JSON_INPUT}" });
      const [execution] = await trigger("POST_SUBMIT_SERVER");
      assert.equal(execution.status, "FAILED");
      assert.equal(execution.error, "command not found: python4");
    });

    test("a script that is not executable: permission denied", async () => {
      const noexec = hooks.write("noexec.sh", "#!/bin/sh\necho hi\n", 0o644);
      await configure("POST_SUBMIT_SERVER", { linux: `${q(noexec)} \${PATH_JSON_INPUT}` });
      const [execution] = await trigger("POST_SUBMIT_SERVER");
      assert.equal(execution.status, "FAILED");
      assert.match(execution.error, new RegExp(`^permission denied: ${noexec.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    });

    test("a script whose #! interpreter is missing says so", async () => {
      const bad = hooks.write("bad-shebang.py", "#!/usr/bin/python4\nprint('hi')\n");
      await configure("POST_SUBMIT_SERVER", { linux: `${q(bad)} \${PATH_JSON_INPUT}` });
      const [execution] = await trigger("POST_SUBMIT_SERVER");
      assert.equal(execution.status, "FAILED");
      assert.match(execution.error, /^interpreter not found: \/usr\/bin\/python4 \(from the #! line of .*bad-shebang\.py\)/);
    });

    test("a hook that sleeps past its timeout is TIMED_OUT and its group killed", async () => {
      const slow = hooks.write("slow.sh", "#!/bin/sh\necho started\nsleep 30\necho never\n");
      await configure("POST_SUBMIT_SERVER", { linux: `${q(slow)} \${PATH_JSON_INPUT}` }, { timeoutSeconds: 1 });
      const [execution] = await trigger("POST_SUBMIT_SERVER");
      assert.equal(execution.status, "TIMED_OUT");
      assert.equal(execution.error, "timed out after 1 s; process group killed");
      assert.deepEqual(
        (await logOf(execution.id)).map((l) => l.text),
        ["started", "timed out after 1 s; process group killed"],
      );
      await configure("POST_SUBMIT_SERVER", {}, { timeoutSeconds: null });
    });

    test("a grandchild that ignores SIGTERM dies with the group: nothing is left behind", async () => {
      const marker = `hookd-grandchild-${process.pid}-${Date.now()}`;
      // The inner sh ignores SIGTERM and so does its sleep (ignored signals survive exec): only the
      // group SIGKILL ends them. pgrep -f finds the inner sh by the marker in its command line.
      const stubborn = hooks.write("stubborn.sh", `#!/bin/sh\nsh -c 'trap "" TERM; sleep 60; echo ${marker}' &\necho "spawned"\nwait\n`);
      await configure("POST_SUBMIT_SERVER", { linux: `${q(stubborn)} \${PATH_JSON_INPUT}` }, { timeoutSeconds: 1 });
      const [execution] = await trigger("POST_SUBMIT_SERVER");
      assert.equal(execution.status, "TIMED_OUT");
      const ps = spawn("pgrep", ["-f", marker]);
      const code = await new Promise((r) => ps.on("exit", r));
      assert.equal(code, 1, `no process named ${marker} may survive`);
      await configure("POST_SUBMIT_SERVER", {}, { timeoutSeconds: null });
    });

    test("a daemon that escapes the group with the hook's output open cannot hold the run: TIMED_OUT, and every process of the run ended", async () => {
      const pidFile = path.join(hooks.dir, `escaped-${spawner}.pid`);
      // setsid leaves the group; the daemon keeps the hook's stdout and stderr open.
      const escaping = hooks.write(
        `escaping-${spawner}.sh`,
        `#!/bin/sh
setsid sleep 300 &
echo $! > ${q(pidFile)}
echo "daemon started"
sleep 300
`,
      );
      await configure("POST_FAILED_SERVER", { linux: `${q(escaping)} \${PATH_JSON_INPUT}` }, { timeoutSeconds: 1 });
      const [execution] = await trigger("POST_FAILED_SERVER");
      assert.equal(execution.status, "TIMED_OUT");
      const daemon = Number(readFileSync(pidFile, "utf8"));
      await eventually(async () => !exists(daemon), "the escaped daemon to be ended");
      // A hook that exits while its escaped daemon holds the output: the run ends anyway (SUCCEEDED);
      // the daemon it started on purpose is left running.
      const leaving = hooks.write(
        `leaving-${spawner}.sh`,
        `#!/bin/sh
setsid sleep 300 &
echo $! > ${q(pidFile)}
echo "left a daemon"
`,
      );
      await configure("POST_FAILED_SERVER", { linux: `${q(leaving)} \${PATH_JSON_INPUT}` }, { timeoutSeconds: 30 });
      const [left] = await trigger("POST_FAILED_SERVER");
      assert.equal(left.status, "SUCCEEDED");
      const kept = Number(readFileSync(pidFile, "utf8"));
      assert.ok(exists(kept), "a daemon a finished run left on purpose is not hookd's to end");
      process.kill(kept, "SIGKILL");
      await configure("POST_FAILED_SERVER", {}, { timeoutSeconds: null });
    });

    test("interleaved stdout and stderr keep their order; a partial last line is kept", async () => {
      const mixed = hooks.write(
        "mixed.py",
        `#!${PY}
import sys, time
for i in range(5):
    sys.stdout.write("out %d\\n" % i); sys.stdout.flush(); time.sleep(0.1)
    sys.stderr.write("err %d\\n" % i); sys.stderr.flush(); time.sleep(0.1)
sys.stdout.write("no newline at the end"); sys.stdout.flush()
`,
      );
      await configure("POST_DONE_CLIENT", { linux: `${q(mixed)} \${PATH_JSON_INPUT}` });
      const { settings } = await server.ok(`{ settings { defaultExecutionServer { id } } }`);
      const [execution] = await trigger("POST_DONE_CLIENT", {}, { executionServer: settings.defaultExecutionServer.id });
      assert.equal(execution.status, "SUCCEEDED", execution.error);
      const lines = await logOf(execution.id);
      const expected = [0, 1, 2, 3, 4].flatMap((i) => [
        ["STDOUT", `out ${i}`],
        ["STDERR", `err ${i}`],
      ]);
      assert.deepEqual(
        lines.map((l) => [l.stream, l.text]),
        [...expected, ["STDOUT", "no newline at the end"]],
      );
      assert.deepEqual(
        lines.map((l) => l.seq),
        lines.map((_, i) => i + 1),
      );
    });

    test("a hook printing 50 MB quickly: the cap keeps the first 8 MiB and the last 2 MiB, one system line says what was dropped between, memory stays bounded", async () => {
      const flood = hooks.write(
        "flood.py",
        `#!${PY}
import sys
w = sys.stdout.write
line = "x" * 90
for i in range(500000):
    w("%08d %s\\n" % (i, line))
`,
      );
      await configure("POST_DONE_SERVER", { linux: `${q(flood)} \${PATH_JSON_INPUT}` });
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const [execution] = await trigger("POST_DONE_SERVER");
      clearInterval(sampler);
      assert.equal(execution.status, "SUCCEEDED", execution.error);
      // 100-byte lines: the head holds 8 MiB of them, the tail 2 MiB.
      const head = Math.floor((8 * 1024 * 1024) / 100);
      const tail = Math.floor((2 * 1024 * 1024) / 100);
      const stored = head + 1 + tail;
      assert.equal(execution.logLineCount, stored);
      assert.equal(execution.droppedBytes, (500000 - head - tail) * 100);
      // The server process (this one) must not hold the 50 MB: it stores 10 MiB and counts the rest.
      assert.ok(peak - rssBefore < 200 * 1024 * 1024, `RSS grew by ${Math.round((peak - rssBefore) / 1048576)} MiB`);
      const count = await server.app.dataSource
        .createQueryBuilder()
        .select("COUNT(*)", "n")
        .addSelect("MIN(l.seq)", "lo")
        .addSelect("MAX(l.seq)", "hi")
        .from("execution_log_line", "l")
        .where("l.executionId = :id", { id: execution.id })
        .getRawOne();
      // PostgreSQL counts in bigint, which its driver hands over as a string.
      assert.deepEqual({ ...count, n: Number(count.n) }, { n: stored, lo: 1, hi: stored });
      const firstPage = (await server.ok(LOG, { id: execution.id, after: 0, first: 3 })).execution.logLines;
      assert.deepEqual(
        firstPage.map((l: any) => l.text.slice(0, 8)),
        ["00000000", "00000001", "00000002"],
      );
      const between = (await server.ok(LOG, { id: execution.id, after: head - 1, first: 3 })).execution.logLines;
      assert.equal(between[0].text.slice(0, 8), String(head - 1).padStart(8, "0"), "the head is stored in order, none skipped");
      assert.equal(between[1].stream, "SYSTEM");
      assert.equal(
        between[1].text,
        `output cap of 10.0 MiB reached: ${500000 - head - tail} lines (${(((500000 - head - tail) * 100) / 1048576).toFixed(1)} MiB) after the first ${head} were not stored; the last ${tail} lines (2.0 MiB) follow; the hook kept running`,
      );
      assert.equal(between[2].text.slice(0, 8), String(500000 - tail).padStart(8, "0"), "the tail starts where the dropped middle ends");
      const lastPage = (await server.ok(LOG, { id: execution.id, after: stored - 1, first: 10 })).execution.logLines;
      assert.deepEqual(
        lastPage.map((l: any) => l.text.slice(0, 8)),
        ["00499999"],
        "the last line the hook printed is kept",
      );
    });

    test("nothing a remote user sends reaches a shell: hostile names arrive only inside the JSON", async () => {
      const pwned = path.join(hooks.dir, "pwned");
      const capture = path.join(hooks.dir, "captured.json");
      const keep = hooks.write("keep.py", `#!${PY}\nimport shutil, sys\nshutil.copy(sys.argv[1], ${JSON.stringify(capture)})\nprint(len(sys.argv))\n`);
      await configure("PRE_SUBMIT_SERVER", { linux: `${q(keep)} \${PATH_JSON_INPUT}` });
      const hostile = [
        `; rm -rf ~`,
        `$(touch ${pwned})`,
        `\`touch ${pwned}\``,
        `"; touch ${pwned}; echo "`,
        `'; touch ${pwned}; echo '`,
        `line one\nline two; touch ${pwned}`,
        `broken surrogate \ud800 and ✓ ünïcödé`,
        `| touch ${pwned} &`,
      ];
      const payload = { name: hostile[1], tasks: hostile.map((filename, i) => ({ source: { path: `/in/${filename}` }, destination: { path: `/out/${i}/${filename}` } })) };
      const [execution] = await trigger("PRE_SUBMIT_SERVER", payload);
      assert.equal(execution.status, "SUCCEEDED", execution.error);
      assert.equal(execution.argv.length, 2, "only the script and the input path");
      assert.equal(existsSync(pwned), false, "no shell ever ran");
      const received = JSON.parse(readFileSync(capture, "utf8"));
      assert.deepEqual(received.tasks, JSON.parse(JSON.stringify(payload.tasks)));
      assert.equal(received.name, hostile[1]);
      assert.equal((await logOf(execution.id))[0].text, "2");
    });

    test("pre-publish: ${PATH_JSON_OUTPUT} is read back; missing or invalid output fails clearly", async () => {
      const answer = hooks.write(
        "answer.py",
        `#!${PY}\nimport json, sys\nd = json.load(open(sys.argv[1]))\njson.dump({"files": [{"id": f["id"], "can_publish": True} for f in d["files"]]}, open(sys.argv[2], "w"))\n`,
      );
      await configure("PRE_PUBLISH_SERVER", { linux: `${q(answer)} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` });
      const [ok] = await trigger("PRE_PUBLISH_SERVER");
      assert.equal(ok.status, "SUCCEEDED", ok.error);
      assert.deepEqual(ok.output, { files: ok.input.files.map((f: any) => ({ id: f.id, can_publish: true })) });

      const silent = hooks.write("silent.sh", "#!/bin/sh\nexit 0\n");
      await configure("PRE_PUBLISH_SERVER", { linux: `${q(silent)} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` });
      const [missing] = await trigger("PRE_PUBLISH_SERVER");
      assert.equal(missing.status, "FAILED");
      assert.equal(missing.error, "the hook exited 0 but wrote no output file at ${PATH_JSON_OUTPUT}");

      const garbage = hooks.write("garbage.sh", `#!/bin/sh\nprintf '{"files": [' > "$2"\n`);
      await configure("PRE_PUBLISH_SERVER", { linux: `${q(garbage)} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` });
      const [invalid] = await trigger("PRE_PUBLISH_SERVER");
      assert.equal(invalid.status, "FAILED");
      assert.match(invalid.error, /^the output file is not valid JSON: Unexpected end of JSON input at line 1, column 12 \(position 11\)$/);
      // Deep nesting is refused by rule, with where, not by the parser's stack.
      const deep = hooks.write("deep.sh", `#!/bin/sh\nawk 'BEGIN { for (i = 0; i < 5000; i++) printf "["; for (i = 0; i < 5000; i++) printf "]" }' > "$2"\n`);
      await configure("PRE_PUBLISH_SERVER", { linux: `${q(deep)} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` });
      const [nested] = await trigger("PRE_PUBLISH_SERVER");
      assert.equal(nested.status, "FAILED");
      assert.match(nested.error, /^the output file nests objects and arrays more than 64 levels deep \(level 65 opens at line 1, column 65, position 64\)/);
    });

    test("per-OS selection: no command for this server's OS is recorded SKIPPED, and hooks disabled too", async () => {
      await configure("POST_FAILED_CLIENT", { windows: "C:\\hooks\\x.exe ${PATH_JSON_INPUT}" });
      const { settings } = await server.ok(`{ settings { defaultExecutionServer { id } } }`);
      const [skipped] = await trigger("POST_FAILED_CLIENT", {}, { executionServer: settings.defaultExecutionServer.id });
      assert.equal(skipped.status, "SKIPPED");
      assert.equal(skipped.skipReason, "NO_COMMAND_FOR_OS");
      assert.match(skipped.error, /no command line for linux/);
      // A client hook tried without a client has nowhere to run: recorded SKIPPED, never left waiting.
      await configure("POST_FAILED_CLIENT", { linux: "/bin/true" });
      const [nowhere] = await trigger("POST_FAILED_CLIENT");
      assert.deepEqual([nowhere.status, nowhere.skipReason], ["SKIPPED", "NO_EXECUTION_SERVER"]);
      assert.match(nowhere.error, /runs on a job's client; name the client/);

      await server.ok(`mutation { updateSettings(input: { hooksEnabled: false }) { hooksEnabled } }`);
      const [disabled] = await trigger("POST_FAILED_SERVER");
      assert.equal(disabled.status, "SKIPPED");
      assert.equal(disabled.skipReason, "HOOKS_DISABLED");
      await server.ok(`mutation { updateSettings(input: { hooksEnabled: true }) { hooksEnabled } }`);
    });

    test("triggering a hook point that is not configured says why nothing runs", async () => {
      expectError(
        await server.gql(TRIGGER, { input: { hook: "PUBLISH_SERVER", wait: true } }),
        "BAD_USER_INPUT",
        /input\.hook: nothing runs for PUBLISH_SERVER: PUBLISH_SERVER is not configured in the workspace/,
      );
    });

    test("queue entries run in order: the workspace's, then the queue's APPEND", async () => {
      const say = hooks.write("say.sh", `#!/bin/sh\necho "$1"\n`);
      await configure("POST_SUBMIT_SERVER", { linux: `${q(say)} workspace` });
      await server.ok(`mutation { createQueue(input: { code: "vfx" }) { code } }`);
      await server.ok(`mutation($c: String!) { setQueueHook(input: { queue: "vfx", hook: POST_SUBMIT_SERVER, mode: APPEND, commands: { linux: $c } }) { id } }`, { c: `${q(say)} queue` });
      const executions = await trigger("POST_SUBMIT_SERVER", {}, { queue: "vfx" });
      assert.deepEqual(
        executions.map((e) => e.status),
        ["SUCCEEDED", "SUCCEEDED"],
      );
      assert.deepEqual(await Promise.all(executions.map(async (e) => (await logOf(e.id))[0].text)), ["workspace", "queue"]);
    });

    test("retry: a new execution with the same input and configuration, attempt + 1, linked to the first", async () => {
      const flaky = hooks.write("flaky.sh", `#!/bin/sh\nif [ -f ${q(path.join(hooks.dir, "fixed"))} ]; then echo ok; else echo broken >&2; exit 3; fi\n`);
      await configure("POST_DONE_SERVER", { linux: `${q(flaky)} \${PATH_JSON_INPUT}` });
      const [first] = await trigger("POST_DONE_SERVER", { code: "retry-me" });
      assert.equal(first.status, "FAILED");
      // The configuration changes afterwards; a retry still runs the snapshot it was given.
      await configure("POST_DONE_SERVER", { linux: "/bin/false" });
      writeFileSync(path.join(hooks.dir, "fixed"), "");
      const retried = (await server.ok(`mutation($id: ID!) { retryExecution(id: $id) { id attempt status command retryOf { id } } }`, { id: first.id })).retryExecution;
      assert.equal(retried.attempt, 2);
      assert.equal(retried.retryOf.id, first.id);
      assert.equal(retried.command, first.command);
      const done = await eventually(async () => {
        const e = (await server.ok(`query($id: ID!) { execution(id: $id) { status input attempt } }`, { id: retried.id })).execution;
        return e.status !== "QUEUED" && e.status !== "RUNNING" ? e : null;
      }, "the retry to finish");
      assert.equal(done.status, "SUCCEEDED");
      assert.deepEqual(done.input, first.input);
      const third = (await server.ok(`mutation($id: ID!) { retryExecution(id: $id) { attempt retryOf { id } } }`, { id: retried.id })).retryExecution;
      assert.deepEqual(third, { attempt: 3, retryOf: { id: first.id } });
    });

    test("retrying a running execution or an unknown one is refused", async () => {
      expectError(await server.gql(`mutation { retryExecution(id: "nope") { id } }`), "NOT_FOUND", /execution 'nope' does not exist/);
    });

    test("cancel: a running hook's group is killed and the execution CANCELLED; cancelling again is refused", async () => {
      const wait = hooks.write("wait.sh", "#!/bin/sh\necho waiting\nsleep 30\n");
      await configure("POST_SUBMIT_SERVER", { linux: `${q(wait)} \${PATH_JSON_INPUT}` });
      const [started] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", wait: false } })).triggerHook;
      await eventually(async () => (await server.ok(`query($id: ID!) { execution(id: $id) { status logLineCount } }`, { id: started.id })).execution.status === "RUNNING", "the hook to run");
      const cancelled = (await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { status error } }`, { id: started.id })).cancelExecution;
      assert.deepEqual(cancelled, { status: "CANCELLED", error: "cancelled; process group killed" });
      expectError(await server.gql(`mutation($id: ID!) { cancelExecution(id: $id) { status } }`, { id: started.id }), "CONFLICT", /already finished: CANCELLED/);
    });

    test("executions: filters and cursor pagination, newest first", async () => {
      const all = (await server.ok(`{ executions(first: 500) { nodes { id hook status createdAt } pageInfo { hasNextPage } } }`)).executions;
      assert.equal(all.pageInfo.hasNextPage, false);
      const times = all.nodes.map((n: any) => Date.parse(n.createdAt));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
      );
      const seen: string[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const page: any = (await server.ok(`query($after: String) { executions(first: 3, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, { after })).executions;
        seen.push(...page.edges.map((e: any) => e.node.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      assert.deepEqual(
        seen,
        all.nodes.map((n: any) => n.id),
      );
      const failed = (await server.ok(`{ executions(filter: { status: FAILED, hook: POST_FAILED_SERVER }) { nodes { hook status } } }`)).executions.nodes;
      assert.ok(failed.length >= 1);
      assert.ok(failed.every((n: any) => n.hook === "POST_FAILED_SERVER" && n.status === "FAILED"));
      const vfx = (await server.ok(`{ executions(filter: { queue: "vfx" }) { nodes { hook } } }`)).executions.nodes;
      assert.equal(vfx.length, 2);
      expectError(await server.gql(`{ executions(after: "garbage") { nodes { id } } }`), "BAD_USER_INPUT", /after: is not a cursor/);
      expectError(await server.gql(`{ executions(first: 0) { nodes { id } } }`), "BAD_USER_INPUT", /first: must be a whole number from 1 to 500/);
    });

    test("only an ADMIN triggers, retries and cancels; audit roles read executions and logs", async () => {
      const employee = await server.user("emp@example.com", "EMPLOYEE");
      const standard = await server.user("vendor@example.com", "STANDARD");
      expectError(await server.gql(TRIGGER, { input: { hook: "POST_DONE_SERVER" } }, employee.key), "FORBIDDEN", /triggerHook requires the ADMIN role/);
      expectError(await server.gql(`{ executions { nodes { id } } }`, {}, employee.key), "FORBIDDEN");
      await server.ok(`mutation { updateSettings(input: { auditRoles: [EMPLOYEE] }) { auditRoles } }`);
      const nodes = (await server.ok(`{ executions(first: 1) { nodes { id logLines { text } } } }`, {}, employee.key)).executions.nodes;
      assert.equal(nodes.length, 1);
      expectError(await server.gql(`mutation($id: ID!) { retryExecution(id: $id) { id } }`, { id: nodes[0].id }, employee.key), "FORBIDDEN");
      expectError(await server.gql(`{ executions { nodes { id } } }`, {}, standard.key), "FORBIDDEN");
      expectError(await server.gql(`query($id: ID!) { execution(id: $id) { id } }`, { id: nodes[0].id }, standard.key), "FORBIDDEN");
    });
  });

describe("executor: concurrency limit", () => {
  let server: TestServer;
  let hooks: ReturnType<typeof scripts>;
  before(async () => {
    hooks = scripts();
    server = await startServer({ HOOKD_EXECUTOR_CONCURRENCY: "2" });
  });
  after(async () => {
    await server.close();
    hooks.remove();
  });

  test("what exceeds the limit waits QUEUED, in order, and runs when a slot frees", async () => {
    const release = path.join(hooks.dir, "release");
    const gate = hooks.write("gate.sh", `#!/bin/sh\necho "start $1"\nwhile [ ! -f ${q(release)} ]; do sleep 0.02; done\necho "end $1"\n`);
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `${q(gate)} \${PATH_JSON_INPUT}` } } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false } })).triggerHook[0].id);
    const statuses = async () => Promise.all(ids.map(async (id) => (await server.ok(`query($id: ID!) { execution(id: $id) { status } }`, { id })).execution.status as string));
    await eventually(async () => (await statuses()).filter((s) => s === "RUNNING").length === 2, "two running");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await statuses(), ["RUNNING", "RUNNING", "QUEUED", "QUEUED"]);
    writeFileSync(release, "");
    await eventually(async () => (await statuses()).every((s) => s === "SUCCEEDED"), "all four to succeed");
    const rows = await server.app.dataSource.getRepository(Execution).find({ where: ids.map((id) => ({ id })) });
    const started = ids.map((id) => rows.find((r) => r.id === id)!.startedAt!.getTime());
    assert.ok(started[2] >= started[0] && started[3] >= started[1], "later ones start after earlier ones");
  });

  test("cancelling a QUEUED execution records it without running it", async () => {
    const release = path.join(hooks.dir, "release2");
    const gate = hooks.write("gate2.sh", `#!/bin/sh\nwhile [ ! -f ${q(release)} ]; do sleep 0.02; done\n`);
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", commands: { linux: `${q(gate)} \${PATH_JSON_INPUT}` } } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", wait: false } })).triggerHook[0].id);
    const cancelled = (await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { status error startedAt } }`, { id: ids[2] })).cancelExecution;
    assert.deepEqual(cancelled, { status: "CANCELLED", error: "cancelled before it started", startedAt: null });
    writeFileSync(release, "");
    await eventually(async () => {
      const s = await Promise.all(ids.slice(0, 2).map(async (id) => (await server.ok(`query($id: ID!) { execution(id: $id) { status } }`, { id })).execution.status));
      return s.every((x) => x === "SUCCEEDED");
    }, "the others to finish");
    assert.equal((await server.ok(`query($id: ID!) { execution(id: $id) { status logLineCount } }`, { id: ids[2] })).execution.status, "CANCELLED");
  });
});

describe("executor: leases, waiting and restarts", () => {
  const base = {
    createdAt: new Date(),
    hook: "POST_DONE_SERVER",
    source: "WORKSPACE",
    configId: "POST_DONE_SERVER",
    input: {},
    timeoutSeconds: 30,
    attempt: 1,
    logLineCount: 0,
    droppedBytes: 0,
    os: "linux",
  } as const;
  const read = async (server: TestServer, id: string) => (await server.ok(`query($id: ID!) { execution(id: $id) { status error waitingFor runner } }`, { id })).execution;
  const renderB = (server: TestServer) => {
    const repo = server.app.dataSource.getRepository(ExecutionServer);
    return repo.save(repo.create({ name: "render-b", hostname: "render-b.studio", os: "linux", kind: ExecutionServerKind.SERVER, online: false, labels: [] }));
  };

  test("start-up ends only what this runner held and what nobody holds any more; QUEUED work survives and runs", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-restart-"));
    const groups: number[] = [];
    let server: TestServer | undefined;
    try {
      server = await startServer({}, { dataDir });
      const self = server.app.bootstrap.self;
      const other = await renderB(server);
      const repo = server.app.dataSource.getRepository(Execution);
      // What a crash leaves: a RUNNING row of this runner whose process group still runs (with
      // the environment hookd gives hooks), one whose recorded group id now belongs to an
      // unrelated program (which must survive), QUEUED work for this server and another, and
      // RUNNING rows of another runner: one whose lease is live, one whose lease expired.
      const mineId = randomUUID();
      const leftover = spawn("/bin/sh", ["-c", "sleep 60 & wait"], { detached: true, stdio: "ignore", env: { ...process.env, HOOKD_EXECUTION_ID: mineId } });
      const unrelated = spawn("/bin/sh", ["-c", "sleep 60 & wait"], { detached: true, stdio: "ignore" });
      groups.push(leftover.pid!, unrelated.pid!);
      await once(leftover, "spawn");
      const running = (fields: Partial<Execution>) =>
        repo.save(repo.create({ ...base, status: ExecutionStatus.RUNNING, startedAt: new Date(), leaseExpiresAt: new Date(Date.now() + 60_000), ...fields } as Partial<Execution>));
      const mine = await running({ id: mineId, pid: leftover.pid!, runnerId: `hookd:${self.id}`, executionServerId: self.id });
      const reused = await running({ pid: unrelated.pid!, runnerId: `hookd:${self.id}`, executionServerId: self.id });
      const othersLive = await running({ runnerId: `hookd:${other.id}`, executionServerId: other.id });
      const othersStale = await running({ runnerId: `hookd:${other.id}`, executionServerId: other.id, leaseExpiresAt: new Date(Date.now() - 5_000) });
      const queued = (serverId: string) =>
        repo.save(repo.create({ ...base, status: ExecutionStatus.QUEUED, command: "/bin/echo resumed", executionServerId: serverId, deadlineAt: new Date(Date.now() + 60_000) } as Partial<Execution>));
      const queuedHere = await queued(self.id);
      const queuedThere = await queued(other.id);
      await server.close();

      server = await startServer({}, { dataDir });
      const s = server;
      assert.deepEqual(await read(s, mine.id), {
        status: "FAILED",
        error: "interrupted: hookd stopped while this execution was running; its leftover process group was ended",
        waitingFor: null,
        runner: `hookd:${self.id}`,
      });
      assert.equal((await read(s, reused.id)).error, "interrupted: hookd stopped while this execution was running");
      assert.ok(exists(-unrelated.pid!), "an unrelated program that reused the group id is left alone");
      await eventually(async () => !exists(-leftover.pid!), "the leftover group to be gone");
      assert.equal((await read(s, othersLive.id)).status, "RUNNING", "another runner's live lease is not ours to end");
      const stale = await read(s, othersStale.id);
      assert.equal(stale.status, "FAILED");
      assert.match(stale.error, /^runner render-b stopped renewing its lease at \d\d:\d\d:\d\d UTC; the hook's outcome is unknown$/);
      await eventually(async () => (await read(s, queuedHere.id)).status === "SUCCEEDED", "the queued run to run after the restart");
      assert.deepEqual(
        (await server.ok(LOG, { id: queuedHere.id })).execution.logLines.map((l: any) => l.text),
        ["resumed"],
      );
      assert.equal((await read(s, queuedThere.id)).status, "QUEUED", "another server's QUEUED work is untouched");
    } finally {
      await server?.close();
      for (const pgid of groups) {
        try {
          process.kill(-pgid, "SIGKILL");
        } catch {
          // ended
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("input files a killed hookd left in the temp directory are removed at the next start; a running process's are not", async () => {
    const temp = mkdtempSync(path.join(tmpdir(), "hookd-leftovers-"));
    const gone = spawn("/bin/true");
    await once(gone, "exit");
    const living = spawn("/bin/sleep", ["30"]);
    try {
      const dead = path.join(temp, `hookd-${gone.pid}-AbC123`);
      const alive = path.join(temp, `hookd-${living.pid}-XyZ789`);
      for (const dir of [dead, alive]) {
        mkdirSync(dir);
        writeFileSync(path.join(dir, "0190-execution.input.json"), JSON.stringify({ metadata: { internal: { secret: "s" } } }));
      }
      const server = await startServer({ HOOKD_TEMP_DIR: temp });
      try {
        assert.equal(existsSync(dead), false, "a dead hookd's input files are removed");
        assert.equal(existsSync(alive), true, "a running process's directory is left alone");
      } finally {
        await server.close();
      }
    } finally {
      living.kill("SIGKILL");
      rmSync(temp, { recursive: true, force: true });
    }
  });

  test("a hook configured for another server does not run here: QUEUED with waitingFor, across a restart, until the limit fails it", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-waiting-"));
    const hooks = scripts();
    let server: TestServer | undefined;
    try {
      server = await startServer({}, { dataDir });
      const other = await renderB(server);
      const marker = path.join(hooks.dir, "ran-here");
      const hook = hooks.write("mark.sh", `#!/bin/sh\ntouch ${q(marker)}\n`);
      await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `${q(hook)} \${PATH_JSON_INPUT}` }, executionServer: other.id } });
      await server.ok(`mutation { updateSettings(input: { scheduleToStartSeconds: 3 }) { scheduleToStartSeconds } }`);
      const [queued] = (await server.ok(`mutation { triggerHook(input: { hook: POST_DONE_SERVER }) { id status waitingFor executionServer { name } } }`)).triggerHook;
      assert.deepEqual([queued.status, queued.waitingFor, queued.executionServer.name], ["QUEUED", "execution server 'render-b' (render-b.studio): no runner for it is online", "render-b"]);
      // Filtered by where it runs: render-b's list holds it, this server's does not.
      const byServer = async (id: string) => (await server!.ok(`query($s: ID) { executions(filter: { executionServer: $s }) { nodes { id } } }`, { s: id })).executions.nodes.map((n: any) => n.id);
      assert.deepEqual(await byServer(other.id), [queued.id]);
      assert.ok(!(await byServer(server.app.bootstrap.self.id)).includes(queued.id));
      await server.close();
      server = await startServer({}, { dataDir });
      assert.equal((await read(server, queued.id)).status, "QUEUED", "a restart keeps it waiting");
      const s = server;
      const failed = await eventually(async () => {
        const e = await read(s, queued.id);
        return e.status !== "QUEUED" && e;
      }, "the limit to fail it");
      assert.deepEqual([failed.status, failed.error], ["FAILED", "no runner for execution server render-b came online within 3 s"]);
      assert.equal(existsSync(marker), false, "it never ran on this hookd");
    } finally {
      await server?.close();
      hooks.remove();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("kill -9 of hookd mid-run: its hook's processes, also one that left the group, end within the kill grace; a restart records the run FAILED", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-kill9-"));
    const hooks = scripts();
    let server: TestServer | undefined;
    let child: ChildProcess | undefined;
    let hookGroup = 0;
    try {
      // Seed another server's QUEUED work first, through an in-process hookd on the same data.
      server = await startServer({}, { dataDir, hostname: os.hostname() });
      const other = await renderB(server);
      const repo = server.app.dataSource.getRepository(Execution);
      const queuedThere = await repo.save(
        repo.create({ ...base, status: ExecutionStatus.QUEUED, command: "/bin/true", executionServerId: other.id, deadlineAt: new Date(Date.now() + 600_000) } as Partial<Execution>),
      );
      await server.close();
      server = undefined;

      const hookd = await serveProcess({ HOOKD_DATA_DIR: dataDir, HOOKD_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, HOOKD_KILL_GRACE_MS: "300" });
      child = hookd.child;
      const url = hookd.url;
      const call = async (query: string, variables: Record<string, unknown> = {}) => {
        const res = await fetch(`${url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
          body: JSON.stringify({ query, variables }),
        });
        const body = (await res.json()) as { data?: any; errors?: unknown };
        assert.equal(body.errors, undefined, JSON.stringify(body.errors));
        return body.data;
      };
      // Two heartbeats every 100 ms: a child in the hook's group, and a grandchild that left it (setsid).
      const beats = path.join(dataDir, "beats");
      const beat = (name: string) => `while :; do date +%s%N >> ${q(path.join(beats, name))}; sleep 0.1; done`;
      mkdirSync(beats);
      const sleeper = hooks.write("sleeper.sh", `#!/bin/sh\necho started\n${beat("group")} &\nsetsid sh -c ${q(beat("escaped"))} &\nsleep 60 &\nwait\n`);
      await call(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `${q(sleeper)} \${PATH_JSON_INPUT}` } } });
      const [{ id }] = (await call(`mutation { triggerHook(input: { hook: POST_DONE_SERVER }) { id } }`)).triggerHook;
      hookGroup = await eventually(async () => {
        const row = await readExecution(dataDir, id);
        return row?.status === "RUNNING" && row.pid;
      }, "the hook to run with its group recorded");
      await eventually(async () => existsSync(path.join(beats, "escaped")), "the escaped grandchild to beat");
      child.kill("SIGKILL");
      await once(child, "exit");
      const killedAt = Date.now();
      // hookd's watchdog ends them: SIGTERM at once, SIGKILL after the 300 ms grace.
      await sleep(1500);
      for (const name of ["group", "escaped"]) {
        const last = Number(readFileSync(path.join(beats, name), "utf8").trim().split("\n").at(-1)) / 1e6;
        assert.ok(last < killedAt + 300 + 200, `the ${name} heartbeat went on ${Math.round(last - killedAt)} ms after kill -9 of hookd`);
      }
      // Zombies do not count: orphans wait for PID 1 (a container's init may reap them late).
      assert.ok(!(await groupAlive(hookGroup)), "the hook's group outlived hookd");

      server = await startServer({}, { dataDir, hostname: os.hostname() });
      assert.deepEqual(await read(server, id), {
        status: "FAILED",
        error: "interrupted: hookd stopped while this execution was running",
        waitingFor: null,
        runner: `hookd:${server.app.bootstrap.self.id}`,
      });
      assert.equal((await read(server, queuedThere.id)).status, "QUEUED", "another server's QUEUED work is untouched");
    } finally {
      child?.kill("SIGKILL");
      await server?.close();
      if (hookGroup) {
        try {
          process.kill(-hookGroup, "SIGKILL");
        } catch {
          // ended
        }
      }
      hooks.remove();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads an execution straight from a data directory's SQLite file (while another process serves it). */
async function readExecution(dataDir: string, id: string): Promise<{ status: string; pid: number | null } | undefined> {
  if (onPostgres) {
    const client = new pg.Client({ connectionString: databaseEnv(dataDir).HOOKD_DATABASE_URL });
    await client.connect();
    try {
      return (await client.query(`SELECT status, pid FROM execution WHERE id = $1`, [id])).rows[0];
    } finally {
      await client.end();
    }
  }
  const db = new Database(path.join(dataDir, "hookd.sqlite"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT status, pid FROM execution WHERE id = ?`).get(id) as { status: string; pid: number | null } | undefined;
  } finally {
    db.close();
  }
}
