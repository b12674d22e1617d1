import "reflect-metadata";
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { agentSocket, enrolAgent } from "./helpers/agent.js";
import { eventually, expectError, startServer, type TestServer } from "./helpers/server.js";

// Hook policies (issue 22) with real hookd servers and real scripts: APPEND order, retries with
// backoff, exit-code classification, a restart between attempts, cancel, secrets and masking.

const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook policy { retry { maxAttempts } env } } }`;
const SET_QUEUE_HOOK = `mutation($input: SetQueueHookInput!) { setQueueHook(input: $input) { id } }`;
const TRIGGER = `mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status attempt exitCode error source mode startedAt finishedAt skipReason } }`;
const EXECUTION = `query($id: ID!) { execution(id: $id) { id status attempt exitCode error startedAt finishedAt createdAt notBefore nextAttemptAt nextAttempt { id status attempt } retryOf { id } logLines { seq stream text } } }`;
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { id } }`;
const ms = (iso: string) => new Date(iso).getTime();

function script(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

describe("hook policies", () => {
  let server: TestServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-policies-"));
    server = await startServer();
    await server.ok(`mutation { createQueue(input: { code: "vfx" }) { id } }`);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    for (const hook of ["PRE_SUBMIT_SERVER", "POST_SUBMIT_SERVER"]) await server.ok(SET, { input: { hook, enabled: false, commands: { linux: null }, policy: null } });
    await server.gql(`mutation { removeQueueHook(queue: "vfx", hook: POST_SUBMIT_SERVER) { id } }`);
    await server.gql(`mutation { removeQueueHook(queue: "vfx", hook: PRE_SUBMIT_SERVER) { id } }`);
  });
  const execution = async (id: string) => (await server.ok(EXECUTION, { id })).execution;

  test("a queue's APPEND entry starts only after the workspace entry has finished", async () => {
    const slow = script(dir, "slow.sh", `sleep 1; date +%s%N > ${dir}/workspace.done`);
    const append = script(dir, "append.sh", `test -f ${dir}/workspace.done && echo "workspace entry was done"`);
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: slow } } });
    await server.ok(SET_QUEUE_HOOK, { input: { queue: "vfx", hook: "POST_SUBMIT_SERVER", mode: "APPEND", commands: { linux: append } } });
    const effective = (await server.ok(`{ effectiveHooks(hook: POST_SUBMIT_SERVER, queue: "vfx") { source mode willRun } }`)).effectiveHooks;
    assert.deepEqual(
      effective.map((e: any) => `${e.source}/${e.mode}`),
      ["WORKSPACE/null", "QUEUE/APPEND"],
    );
    const ran = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", queue: "vfx", wait: true } })).triggerHook;
    assert.deepEqual(
      ran.map((e: any) => [e.source, e.status]),
      [
        ["WORKSPACE", "SUCCEEDED"],
        ["QUEUE", "SUCCEEDED"],
      ],
      JSON.stringify(ran),
    );
    // The append script succeeds only if the workspace entry's file exists when it runs.
    assert.ok(ms(ran[1].startedAt) >= ms(ran[0].finishedAt), "the APPEND entry started after the workspace entry finished");
    rmSync(path.join(dir, "workspace.done"), { force: true });
  });

  test("a refusing workspace entry of a blocking hook stops the chain: the APPEND entry is SKIPPED and never runs", async () => {
    const refuse = script(dir, "refuse.sh", `sleep 0.3; echo "REJECTED: locked" >&2; exit 3`);
    const marker = path.join(dir, "append-ran");
    const append = script(dir, "append-pre.sh", `touch ${marker}`);
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: refuse } } });
    await server.ok(SET_QUEUE_HOOK, { input: { queue: "vfx", hook: "PRE_SUBMIT_SERVER", mode: "APPEND", commands: { linux: append } } });
    const result = await server.gql(SUBMIT, {
      input: { name: "refused", queue: "vfx", source: "user:admin@localhost", destination: "user:admin@localhost", tasks: [{ source: "/a", destination: "/b", size: 1 }] },
    });
    expectError(result, "HOOK_FAILED", /pre-submit-server refused the job: exited with code 3/);
    const runs = (await server.ok(`{ executions(filter: { hook: PRE_SUBMIT_SERVER, queue: "vfx" }, first: 2) { nodes { source status skipReason error } } }`)).executions.nodes;
    const appended = runs.find((e: any) => e.source === "QUEUE");
    assert.equal(appended.status, "SKIPPED");
    assert.equal(appended.skipReason, "EARLIER_ENTRY_FAILED");
    assert.match(appended.error, /not run: the entry before it \(execution .+\) ended FAILED: exited with code 3/);
    assert.equal(existsSync(marker), false, "the APPEND script never ran");
  });

  test("retries with backoff: each attempt its own execution, linked, with HOOKD_ATTEMPT and one HOOKD_IDEMPOTENCY_KEY", async () => {
    const log = path.join(dir, "attempts.log");
    const flaky = script(dir, "flaky.sh", `echo "$HOOKD_ATTEMPT $HOOKD_IDEMPOTENCY_KEY" >> ${log}; [ "$HOOKD_ATTEMPT" -ge 3 ] && exit 0; echo "busy" >&2; exit 75`);
    await server.ok(SET, {
      input: {
        hook: "POST_SUBMIT_SERVER",
        enabled: true,
        commands: { linux: flaky },
        policy: { retry: { maxAttempts: 3, initialDelaySeconds: 0.3, factor: 2, jitter: 0, retryExitCodes: ["75-78"] } },
      },
    });
    const effective = (
      await server.ok(
        `{ effectiveHooks(hook: POST_SUBMIT_SERVER) { policy { retry { maxAttempts initialDelaySeconds factor maxDelaySeconds jitter retryExitCodes permanentExitCodes retryTimedOut retryRunnerLost } } } }`,
      )
    ).effectiveHooks;
    assert.deepEqual(effective[0].policy.retry, {
      maxAttempts: 3,
      initialDelaySeconds: 0.3,
      factor: 2,
      maxDelaySeconds: 300,
      jitter: 0,
      retryExitCodes: ["75-78"],
      permanentExitCodes: [],
      retryTimedOut: true,
      retryRunnerLost: true,
    });
    const [last] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", wait: true } })).triggerHook;
    assert.equal(last.status, "SUCCEEDED");
    assert.equal(last.attempt, 3);
    const third = await execution(last.id);
    const firstId = third.retryOf.id;
    const first = await execution(firstId);
    const second = await execution(first.nextAttempt.id);
    assert.equal(first.status, "FAILED");
    assert.equal(first.exitCode, 75);
    assert.equal(second.attempt, 2);
    assert.equal(second.retryOf.id, firstId);
    assert.equal(second.nextAttempt.id, third.id);
    assert.equal(third.nextAttempt, null);
    // Backoff: 0.3 s, then 0.6 s (no jitter); wide tolerances, the order is what counts.
    const gap1 = ms(first.nextAttemptAt) - ms(first.finishedAt);
    const gap2 = ms(second.nextAttemptAt) - ms(second.finishedAt);
    assert.ok(gap1 >= 250 && gap1 < 1000, `first backoff ${gap1} ms`);
    assert.ok(gap2 >= 550 && gap2 < 1500, `second backoff ${gap2} ms`);
    assert.ok(ms(second.startedAt) >= ms(first.nextAttemptAt), "attempt 2 did not start before its time");
    assert.ok(ms(third.startedAt) >= ms(second.nextAttemptAt), "attempt 3 did not start before its time");
    assert.match(first.logLines.at(-1).text, /attempt 1 of 3: exit code 75; attempt 2 \(execution .+\) at /);
    assert.deepEqual(readFileSync(log, "utf8").trim().split("\n"), [`1 ${firstId}`, `2 ${firstId}`, `3 ${firstId}`]);
  });

  test("exit codes: permanent ones and ones outside the list do not retry; listed ones do", async () => {
    const exitWith = script(dir, "exit-with.sh", `exit $(cat ${dir}/code)`);
    await server.ok(SET, {
      input: {
        hook: "POST_SUBMIT_SERVER",
        enabled: true,
        commands: { linux: exitWith },
        policy: { retry: { maxAttempts: 2, initialDelaySeconds: 0, jitter: 0, retryExitCodes: ["1-80"], permanentExitCodes: ["2"] } },
      },
    });
    const run = async (code: number) => {
      writeFileSync(path.join(dir, "code"), String(code));
      const [e] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", wait: true } })).triggerHook;
      const chain = await execution(e.id);
      return chain.retryOf ? await execution(chain.retryOf.id) : chain;
    };
    const permanent = await run(2);
    assert.equal(permanent.nextAttempt, null);
    assert.match(permanent.logLines.at(-1).text, /attempt 1 of 2: not retried: exit code 2 is marked permanent/);
    const unlisted = await run(99);
    assert.equal(unlisted.nextAttempt, null);
    assert.match(unlisted.logLines.at(-1).text, /not retried: exit code 99 is not among the codes that retry/);
    const listed = await run(7);
    assert.equal(listed.nextAttempt.attempt, 2);
    assert.equal(listed.nextAttempt.status, "FAILED");
  });

  test("a chain run again by hand after its attempts ran out gets the policy's attempts afresh", async () => {
    const fail = script(dir, "always-fails.sh", "exit 1");
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: fail }, policy: { retry: { maxAttempts: 2, initialDelaySeconds: 0, jitter: 0 } } } });
    const [second] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", wait: true } })).triggerHook;
    assert.equal(second.attempt, 2);
    assert.match((await execution(second.id)).logLines.at(-1).text, /attempt 2 of 2: exit code 1; no attempts left/);
    const again = (await server.ok(`mutation($id: ID!) { retryExecution(id: $id) { id attempt } }`, { id: second.id })).retryExecution;
    assert.equal(again.attempt, 3);
    const third = await eventually(async () => {
      const e = await execution(again.id);
      return e.nextAttempt ? e : null;
    }, "attempt 3 failed and is retried");
    assert.match(third.logLines.at(-1).text, /attempt 3 \(1 of 2 since attempt 3, run again by hand\): exit code 1; attempt 4/);
    const fourth = await eventually(async () => {
      const e = await execution(third.nextAttempt.id);
      return e.status === "FAILED" ? e : null;
    }, "attempt 4 ran");
    assert.equal(fourth.attempt, 4);
    assert.equal(fourth.retryOf.id, third.retryOf.id, "one chain");
    assert.equal(fourth.nextAttempt, null);
    assert.match(fourth.logLines.at(-1).text, /attempt 4 \(2 of 2 since attempt 3, run again by hand\): exit code 1; no attempts left/);
  });

  test("refused policies name the field and the rule", async () => {
    const bad: [unknown, RegExp][] = [
      [{ retry: { maxAttempts: 0 } }, /input\.policy\.retry\.maxAttempts: must be a whole number from 1 to 20 \(got 0\)/],
      [{ retry: { maxAttempts: 2, retryExitCodes: ["9-3"] } }, /input\.policy\.retry\.retryExitCodes\[0\]: must be an exit code from 1 to 255/],
      [{ retry: { maxAttempts: 2, jitter: 2 } }, /input\.policy\.retry\.jitter: must be a number from 0 to 1 \(got 2\)/],
      [{ concurrencyKey: "${job..queue}" }, /input\.policy\.concurrencyKey: '\$\{job\.\.queue\}' is not a path/],
      [{ env: ["HOOKD_X"] }, /input\.policy\.env\[0\]: 'HOOKD_X': HOOKD_ variables are hookd's own/],
    ];
    for (const [policy, message] of bad) expectError(await server.gql(SET, { input: { hook: "POST_DONE_SERVER", policy } }), "BAD_USER_INPUT", message);
    assert.equal((await server.ok(`{ hookConfig(hook: POST_DONE_SERVER) { policy { env } } }`)).hookConfig.policy, null, "nothing was stored");
  });

  test("cancelling a failed attempt whose retry waits cancels the retry: the chain stops", async () => {
    const fail = script(dir, "fail.sh", "exit 1");
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: fail }, policy: { retry: { maxAttempts: 5, initialDelaySeconds: 600 } } } });
    const [first] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER" } })).triggerHook;
    const failed = await eventually(async () => {
      const e = await execution(first.id);
      return e.nextAttempt ? e : null;
    }, "the retry is scheduled");
    assert.equal(failed.nextAttempt.status, "QUEUED");
    assert.ok(ms(failed.nextAttemptAt) - ms(failed.finishedAt) > 400_000, "600 s less at most 20 % jitter");
    const cancelled = (await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { id status } }`, { id: first.id })).cancelExecution;
    assert.deepEqual(cancelled, { id: failed.nextAttempt.id, status: "CANCELLED" });
    assert.equal((await execution(failed.nextAttempt.id)).nextAttempt, null);
  });
});

describe("hook policies across a restart", () => {
  test("a retry stored before hookd stopped runs after it starts again", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-policies-restart-"));
    const hookDir = mkdtempSync(path.join(tmpdir(), "hookd-policies-restart-hooks-"));
    try {
      const flaky = script(hookDir, "flaky.sh", `echo "$HOOKD_ATTEMPT" >> ${hookDir}/runs; [ "$HOOKD_ATTEMPT" -ge 2 ]`);
      let server = await startServer({}, { dataDir });
      await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: flaky }, policy: { retry: { maxAttempts: 2, initialDelaySeconds: 2, jitter: 0 } } } });
      const [first] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER" } })).triggerHook;
      const failed = await eventually(async () => {
        const e = (await server.ok(EXECUTION, { id: first.id })).execution;
        return e.nextAttempt ? e : null;
      }, "the retry is scheduled");
      await server.close();
      assert.deepEqual(readFileSync(path.join(hookDir, "runs"), "utf8").trim().split("\n"), ["1"], "only the first attempt ran before the stop");
      server = await startServer({}, { dataDir });
      try {
        const done = await eventually(async () => {
          const e = (await server.ok(EXECUTION, { id: failed.nextAttempt.id })).execution;
          return e.status === "SUCCEEDED" ? e : null;
        }, "attempt 2 ran after the restart");
        assert.equal(done.attempt, 2);
        assert.ok(ms(done.startedAt) >= ms(failed.nextAttemptAt));
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(hookDir, { recursive: true, force: true });
    }
  });
});

describe("concurrency keys and secrets", () => {
  let server: TestServer;
  let dir: string;
  const SECRET = "s3cr3t-Value-0123456789abcdef";

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-policies-keys-"));
    server = await startServer({ HOOKD_SECRET_KEY: "k".repeat(43).replace(/k/g, "A") + "=" });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const execution = async (id: string) => (await server.ok(EXECUTION + "", { id })).execution;

  test("maxConcurrent holds when two runners claim at the same moment: one takes the slot, the other run waits", async () => {
    // Two agents (raw sockets) of one server claim two runs together, round after round; on
    // PostgreSQL the two claims run in concurrent transactions.
    const enrolled = await enrolAgent(server, "racing");
    const sockets = [agentSocket(server.url, enrolled.credential), agentSocket(server.url, enrolled.credential)];
    const CLAIM = `mutation($id: ID!) { agentClaim(executionId: $id) { id } }`;
    const FINISH = `mutation($id: ID!) { agentFinish(executionId: $id, outcome: { status: SUCCEEDED }, lastSeq: 0) }`;
    try {
      await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: true, commands: { linux: "/bin/true" }, policy: { maxConcurrent: 1 } } });
      for (let round = 0; round < 10; round++) {
        const trigger = async () => (await server.ok(TRIGGER, { input: { hook: "POST_FAILED_SERVER", executionServer: enrolled.executionServerId } })).triggerHook[0].id as string;
        const ids = [await trigger(), await trigger()];
        const claims = await Promise.all(ids.map((id, i) => sockets[i].run(CLAIM, { id })));
        const taken = claims.filter((c) => c.data?.agentClaim).map((c) => c.data.agentClaim.id);
        assert.equal(taken.length, 1, `round ${round}: one claim took the one slot (${JSON.stringify(claims)})`);
        const waiting = (await execution(ids.find((id) => id !== taken[0])!)) as any;
        assert.equal(waiting.status, "QUEUED");
        await sockets[0].run(FINISH, { id: taken[0] });
        await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { id } }`, { id: waiting.id });
      }
    } finally {
      for (const s of sockets) await s.client.dispose();
      await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: false, policy: null } });
    }
  });

  test("runs with the same concurrency key run one at a time, in order, while another key's runs go on", async () => {
    // A1 holds its key until the test has seen A2 wait, and until B (another key) has run meanwhile.
    const hook = path.join(dir, "keyed.py");
    writeFileSync(
      hook,
      `#!/usr/bin/env python3\nimport json, os, sys, time\nd = json.load(open(sys.argv[-1]))\ntag = d["tag"]\nroot = ${JSON.stringify(dir)}\nif tag == "A1":\n    for f in ("B.done", "release"):\n        t = time.time()\n        while not os.path.exists(os.path.join(root, f)) and time.time() - t < 20: time.sleep(0.02)\nif tag == "A2":\n    print("A1 done before A2:", os.path.exists(os.path.join(root, "A1.done")))\nopen(os.path.join(root, tag + ".done"), "w").close()\n`,
    );
    chmodSync(hook, 0o755);
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `${hook} \${PATH_JSON_INPUT}` }, policy: { concurrencyKey: "${queue_hr}" } } });
    const trigger = async (tag: string, key: string) => (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: { tag, queue_hr: key } } })).triggerHook[0].id as string;
    const a1 = await trigger("A1", "comp");
    await eventually(async () => (await execution(a1)).status === "RUNNING", "A1 runs");
    const a2 = await trigger("A2", "comp");
    const b = await trigger("B", "lighting");
    const waiting = await eventually(async () => {
      const e = (await server.ok(`query($id: ID!) { execution(id: $id) { status waitingFor concurrencyKey } }`, { id: a2 })).execution;
      return e.waitingFor?.includes("same concurrency key") ? e : null;
    }, "A2 waits for A1");
    assert.equal(waiting.status, "QUEUED");
    assert.equal(waiting.concurrencyKey, "comp");
    assert.match(waiting.waitingFor, new RegExp(`waits for execution ${a1} \\(RUNNING\\), which has the same concurrency key 'comp'`));
    await eventually(async () => (await execution(b)).status === "SUCCEEDED", "B (another key) ran while A1 held its key");
    assert.equal((await execution(a1)).status, "RUNNING");
    writeFileSync(path.join(dir, "release"), "");
    const second = await eventually(async () => {
      const e = await execution(a2);
      return e.status === "SUCCEEDED" ? e : null;
    }, "A2 ran after A1");
    assert.deepEqual(
      second.logLines.map((l: any) => l.text),
      ["A1 done before A2: True"],
    );
  });

  test("secrets: write-only, given to hooks through env, masked in every stored and streamed line", async () => {
    expectError(await server.gql(`mutation { setSecret(name: "1BAD", value: "whatever") { name } }`), "BAD_USER_INPUT", /name: '1BAD' is not a secret name/);
    const set = (await server.ok(`mutation { setSecret(name: "API_TOKEN", value: "${SECRET}") { name updatedAt } }`)).setSecret;
    assert.equal(set.name, "API_TOKEN");
    assert.deepEqual((await server.ok(`{ secrets { name } }`)).secrets, [{ name: "API_TOKEN" }]);
    const audit = JSON.stringify((await server.ok(`{ auditEvents(filter: { action: "secret.set" }) { nodes { before after } } }`)).auditEvents);
    assert.ok(!audit.includes(SECRET), "the audit trail has no value");
    const go = path.join(dir, "go");
    const leaky = script(
      dir,
      "leaky.sh",
      [
        `while [ ! -f ${go} ]; do sleep 0.02; done`,
        `[ "$API_TOKEN" = "${SECRET}" ] && echo "env ok"`,
        `echo "whole: $API_TOKEN"`,
        // Split across two writes (two output chunks) of one line.
        `head=\${API_TOKEN%????????}; printf 'split: %s' "$head"; sleep 0.2; printf '%s end\\n' "\${API_TOKEN#"$head"}"`,
        `printf '{"auth":"%s","n":1}\\n' "$API_TOKEN"`,
        // A line longer than a stored row (64 KiB): the secret straddles the cut between two pieces.
        `printf '%65526s' '' | tr ' ' x; printf '%s\\n' "$API_TOKEN"`,
        `echo "failed with $API_TOKEN" >&2`,
        `printf 'last line without a newline %s' "$API_TOKEN"`,
        "exit 1",
      ].join("\n"),
    );
    await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: true, commands: { linux: leaky }, policy: { env: ["API_TOKEN", "NOT_SET"] } } });
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_FAILED_SERVER" } })).triggerHook;
    const streamed: string[] = [];
    const stop = server.app.services.pubsub.subscribe("executionLog", run.id, (lines) => {
      for (const l of lines) streamed.push(l.text);
    });
    writeFileSync(go, "");
    const done = await eventually(async () => {
      const e = (await server.ok(`query($id: ID!) { execution(id: $id) { status error logLineCount logLines(first: 100) { text stream } } }`, { id: run.id })).execution;
      return e.status === "FAILED" ? e : null;
    }, "the leaky hook ran");
    stop();
    const stored: string[] = done.logLines.map((l: any) => l.text);
    assert.equal(stored[0], "env ok", "the hook got its secret");
    for (const text of [...stored, ...streamed, done.error]) {
      assert.ok(!text.includes(SECRET), `no line holds the secret: ${text.slice(-120)}`);
      for (let n = 8; n < SECRET.length; n++) assert.ok(!text.endsWith(SECRET.slice(0, n)) || text.endsWith("***"), `no line ends in part of it: ${text.slice(-60)}`);
    }
    assert.ok(stored.includes("whole: ***"));
    assert.ok(stored.includes("split: *** end"));
    assert.ok(stored.includes(`{"auth":"***","n":1}`));
    assert.ok(stored.includes("failed with ***"));
    assert.ok(stored.includes("last line without a newline ***"));
    // The long line's pieces (a stored row holds 64 KiB at most), masked across the cut.
    const long = stored.findIndex((t) => t.startsWith("xxxx"));
    assert.ok(stored[long] + stored[long + 1] === `${"x".repeat(65526)}***`, `the long line's pieces end in ${JSON.stringify(stored[long].slice(-20))} + ${JSON.stringify(stored[long + 1])}`);
    assert.match(done.error, /exited with code 1; last stderr: failed with \*\*\*/);
    assert.ok(streamed.length > 0, "lines were streamed");
  });

  test("on an agent too, a secret cut where a long line is split into rows is masked", async () => {
    await server.ok(`mutation { setSecret(name: "API_TOKEN", value: "${SECRET}") { name } }`);
    const { token } = (await server.ok(`mutation { createAgentToken(input: { kind: SERVER, name: "mask-agent" }) { token } }`)).createAgentToken;
    const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/cli.js");
    const agent = spawn(process.execPath, [cli, "agent", "--url", server.url, "--token", token, "--hostname", "mask-agent", "--state-dir", path.join(dir, "agent-state")], { stdio: "ignore" });
    try {
      const agentServer = await eventually(async () => {
        const s = (await server.ok(`{ executionServers { id name online } }`)).executionServers.find((x: any) => x.name === "mask-agent");
        return s?.online ? s : null;
      }, "the agent is online");
      // The secret straddles the 64 KiB cut (65526 x, then 10 of its characters in the first row).
      const long = script(dir, "long-line.sh", `printf '%65526s' '' | tr ' ' x; printf '%s\\n' "$API_TOKEN"; echo "after"`);
      await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: long }, policy: { env: ["API_TOKEN"] } } });
      const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", executionServer: agentServer.id, wait: true } })).triggerHook;
      assert.equal(run.status, "SUCCEEDED", JSON.stringify(run));
      const stored: string[] = (await server.ok(`query($id: ID!) { execution(id: $id) { runner logLines { text } } }`, { id: run.id })).execution.logLines.map((l: any) => l.text);
      for (const text of stored) assert.ok(!text.includes(SECRET.slice(0, 10)) && !text.includes(SECRET.slice(10)), `no row holds a part of the secret: ...${text.slice(-40)}`);
      assert.equal(stored.join("|"), `${"x".repeat(65526)}|***|after`);
    } finally {
      agent.kill("SIGKILL");
      await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: false, policy: null } });
    }
  });
});
