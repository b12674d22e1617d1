import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { agentSocket, enrolAgent } from "./helpers/agent.js";
import { exists } from "./helpers/processes.js";
import { ADMIN_KEY, eventually, expectError, startServer, type TestServer } from "./helpers/server.js";
import { runCli } from "./helpers/serve-process.js";

// Remote agents as real processes on loopback: `node dist/src/cli.js agent ...` against a real hookd.

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/cli.js");
const TOKEN = `mutation($input: CreateAgentTokenInput!) { createAgentToken(input: $input) { token agentToken { id kind name expiresAt } } }`;
const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const TRIGGER = `mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status runner error logLineCount executionServer { id name } } }`;
const EXECUTION = `query($id: ID!) { execution(id: $id) { id status runner error exitCode logLineCount logLines(first: 10000) { seq stream text } } }`;
const SERVERS = `{ executionServers { id name hostname os kind online lastSeenAt labels } }`;

interface AgentProcess {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function startAgent(url: string, args: string[], env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, [CLI, "agent", "--url", url, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => out,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A hook script in `dir`, ready to run (its text starts with its #! line). */
function writeScript(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  chmodSync(file, 0o755);
  return file;
}

const configureHook = (server: TestServer, hook: string, linux: string) => server.ok(SET, { input: { hook, enabled: true, commands: { linux, mac: null, windows: null } } });

describe("remote agents", () => {
  let server: TestServer;
  let dir: string;
  const agents: AgentProcess[] = [];
  const leftovers: number[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-agent-test-"));
    server = await startServer({ HOOKD_LEASE_SECONDS: "1.5", HOOKD_KILL_GRACE_MS: "300" });
  });
  after(async () => {
    for (const a of agents) await a.stop("SIGKILL");
    for (const pid of leftovers) if (exists(pid)) process.kill(pid, "SIGKILL");
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const script = (name: string, text: string) => writeScript(dir, name, text);
  const configure = (hook: string, linux: string) => configureHook(server, hook, linux);
  const token = async (name: string, kind = "SERVER") => (await server.ok(TOKEN, { input: { kind, name } })).createAgentToken;
  const serverNamed = async (name: string) => ((await server.ok(SERVERS)).executionServers as any[]).find((s) => s.name === name);
  const execution = async (id: string) => (await server.ok(EXECUTION, { id })).execution;
  const launch = (args: string[], env: Record<string, string> = {}) => {
    const a = startAgent(server.url, args, env);
    agents.push(a);
    return a;
  };

  let renderB: { id: string; stateDir: string; agentId: string };

  test("a SERVER agent enrols with a single-use token, registers itself, and runs the workspace's hooks once it is the default execution server; the embedded runner does not", async () => {
    const { token: secret, agentToken } = await token("render-b");
    assert.equal(agentToken.kind, "SERVER");
    assert.equal(agentToken.name, "render-b");
    const expiresIn = new Date(agentToken.expiresAt).getTime() - Date.now();
    assert.ok(expiresIn > 3500_000 && expiresIn <= 3600_000, `expires in about 1 h (got ${expiresIn} ms)`);
    const stateDir = path.join(dir, "state-b");
    const agent = launch(["--token", secret, "--hostname", "render-b", "--state-dir", stateDir, "--labels", "gpu, linux"], { AGENT_MARK: "render-b" });
    const row = await eventually(async () => {
      const s = await serverNamed("render-b");
      return s?.online ? s : null;
    }, "render-b online");
    assert.deepEqual([row.hostname, row.os, row.kind, row.labels], ["render-b", "linux", "SERVER", ["gpu", "linux"]]);
    assert.ok(row.lastSeenAt);

    // The credential is kept where only the agent's user reads it; the token is used up.
    const file = path.join(stateDir, "agent.json");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(stateDir).mode & 0o777, 0o700);
    const state = JSON.parse(readFileSync(file, "utf8"));
    assert.match(state.credential, /^hka_/);
    assert.ok(!readFileSync(file, "utf8").includes(secret), "the enrolment token is not kept");
    const again = await fetch(`${server.url}/agent/enrol`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: secret, hostname: "thief", os: "linux" }),
    });
    assert.equal(again.status, 401);
    assert.match(((await again.json()) as any).error.message, /already used/);
    renderB = { id: row.id, stateDir, agentId: state.agentId };

    await server.ok(`mutation($id: ID!) { updateSettings(input: { defaultExecutionServer: $id }) { defaultExecutionServer { id } } }`, { id: row.id });
    const many = script("many.sh", `#!/bin/sh\necho "ran on $AGENT_MARK"\ni=1\nwhile [ $i -le 300 ]; do echo "line $i"; echo "err $i" >&2; i=$((i+1)); done\n`);
    await configure("POST_DONE_SERVER", many);
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: true } })).triggerHook;
    assert.equal(run.status, "SUCCEEDED", run.error);
    assert.equal(run.runner, `agent:${state.agentId}`);
    assert.equal(run.executionServer.name, "render-b");
    const stored = await execution(run.id);
    assert.equal(stored.logLineCount, 601);
    assert.deepEqual(
      stored.logLines.map((l: any) => l.seq),
      Array.from({ length: 601 }, (_, i) => i + 1),
      "every line once, in order",
    );
    assert.equal(stored.logLines[0].text, "ran on render-b", "it ran in the agent's process, not hookd's");
    assert.equal(stored.logLines.filter((l: any) => l.stream === "STDERR").length, 300);

    // Agent stopped: its server goes offline, and its work waits QUEUED (the embedded runner does not take it).
    await agent.stop();
    await eventually(async () => !(await serverNamed("render-b")).online, "render-b offline");
    const [queued] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false } })).triggerHook;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await execution(queued.id)).status, "QUEUED");

    // Started again without a token: the kept credential; it takes what waited.
    const restarted = launch(["--state-dir", stateDir, "--hostname", "render-b"], { AGENT_MARK: "render-b again" });
    const done = await eventually(async () => {
      const e = await execution(queued.id);
      return e.status === "SUCCEEDED" ? e : null;
    }, "the queued run to finish on the restarted agent");
    assert.equal(done.runner, `agent:${state.agentId}`);
    assert.equal(done.logLines[0].text, "ran on render-b again");
    assert.match(restarted.output(), /connected to/);
  });

  test("cancel of a remote run ends its whole process group on the agent's side", async () => {
    const pids = path.join(dir, "cancel.pids");
    const tree = script("tree.sh", `#!/bin/sh\nsleep 60 &\necho "$$ $!" > '${pids}'\necho ready\nwait\n`);
    await configure("POST_DONE_SERVER", tree);
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false } })).triggerHook;
    await eventually(async () => (await execution(run.id)).logLines.some((l: any) => l.text === "ready"), "the hook to start on the agent");
    const [shell, child] = readFileSync(pids, "utf8").trim().split(" ").map(Number);
    leftovers.push(shell, child);
    assert.ok(exists(shell) && exists(child));
    await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { id } }`, { id: run.id });
    const ended = await eventually(async () => {
      const e = await execution(run.id);
      return e.status === "CANCELLED" ? e : null;
    }, "the run to be CANCELLED");
    assert.match(ended.error, /cancelled/);
    await eventually(async () => !exists(shell) && !exists(child), "the hook's process group to be gone");
  });

  test("a hook configured for render-b runs on render-b's agent, and its timeout ends the whole process group there", async () => {
    // The workspace default goes back to hookd's own server: only the hook's override names render-b.
    await server.ok(`mutation($id: ID!) { updateSettings(input: { defaultExecutionServer: $id }) { hooksEnabled } }`, { id: server.app.bootstrap.self.id });
    const pids = path.join(dir, "timeout.pids");
    const tree = script("timeout.sh", `#!/bin/sh\nsleep 60 &\necho "$$ $!" > '${pids}'\necho ready\nwait\n`);
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: tree, mac: null, windows: null }, timeoutSeconds: 1, executionServer: renderB.id } });
    try {
      const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: true } })).triggerHook;
      const [shell, child] = readFileSync(pids, "utf8").trim().split(" ").map(Number);
      leftovers.push(shell, child);
      assert.equal(run.status, "TIMED_OUT", run.error);
      assert.equal(run.runner, `agent:${renderB.agentId}`);
      assert.equal(run.executionServer.name, "render-b");
      assert.match(run.error, /timed out after 1 s/);
      await eventually(async () => !exists(shell) && !exists(child), "the hook's process group to be gone");
    } finally {
      await server.ok(SET, { input: { hook: "POST_DONE_SERVER", timeoutSeconds: null, executionServer: null } });
      await server.ok(`mutation($id: ID!) { updateSettings(input: { defaultExecutionServer: $id }) { hooksEnabled } }`, { id: renderB.id });
    }
  });

  test("pre-publish on the agent answers prePublish with the JSON it wrote to ${PATH_JSON_OUTPUT}", async () => {
    const approve = script(
      "approve.py",
      `#!/usr/bin/python3\nimport json, os, sys\nd = json.load(open(sys.argv[1]))\njson.dump({"guidelines": "checked on " + os.environ["AGENT_MARK"], "files": [{"id": f["id"], "can_publish": True, "path": "/mnt/" + f["filename"]} for f in d["files"]]}, open(sys.argv[2], "w"))\n`,
    );
    await server.ok(SET, { input: { hook: "PRE_PUBLISH_SERVER", enabled: true, commands: { linux: `${approve} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}`, mac: null, windows: null } } });
    try {
      const id = "11111111-2222-3333-4444-555555555555";
      const { prePublish } = await server.ok(`mutation($f: [JSONObject!]!) { prePublish(input: { files: $f }) { state guidelines entries { id canPublish path } } }`, {
        f: [{ id, filename: "shot.exr", size: 1 }],
      });
      assert.equal(prePublish.state, "VALIDATED");
      assert.match(prePublish.guidelines, /checked on render-b/, "the answer came from the agent's process");
      assert.deepEqual(prePublish.entries, [{ id, canPublish: true, path: "/mnt/shot.exr" }]);
    } finally {
      await server.ok(SET, { input: { hook: "PRE_PUBLISH_SERVER", enabled: false } });
    }
  });

  test("kill -9 of the agent mid-run fails the run when its lease expires, saying so; the restarted agent takes new work without a new token", async () => {
    const pidFile = path.join(dir, "long.pid");
    const long = script("long.sh", `#!/bin/sh\necho $$ > '${pidFile}'\necho started\nexec sleep 60\n`);
    await configure("POST_DONE_SERVER", long);
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false } })).triggerHook;
    await eventually(async () => (await execution(run.id)).logLines.some((l: any) => l.text === "started"), "the hook to start");
    leftovers.push(Number(readFileSync(pidFile, "utf8")));
    const running = agents.at(-1)!;
    await running.stop("SIGKILL");
    const failed = await eventually(async () => {
      const e = await execution(run.id);
      return e.status === "FAILED" ? e : null;
    }, "the run to fail at lease expiry");
    assert.match(failed.error, /stopped renewing its lease/);
    assert.match(failed.error, /^runner render-b \(agent\) stopped renewing its lease/);
    assert.equal(failed.logLines.at(-1).text, failed.error);

    const quick = script("quick.sh", `#!/bin/sh\necho quick\n`);
    await configure("POST_DONE_SERVER", quick);
    launch(["--state-dir", renderB.stateDir, "--hostname", "render-b"]);
    await eventually(async () => (await serverNamed("render-b")).online, "render-b online again");
    const [next] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: true } })).triggerHook;
    assert.equal(next.status, "SUCCEEDED", next.error);
    assert.equal(next.runner, `agent:${renderB.agentId}`);
  });

  test("a CLIENT agent runs post-done-client for its user's job on its own machine, and its pre-submit-client refusal refuses a submission", async () => {
    const ana = await server.user("ana@studio.example", "EMPLOYEE");
    const { token: secret, agentToken } = (await server.ok(TOKEN, { input: { kind: "CLIENT", name: "ana-ws", user: ana.id } })).createAgentToken;
    assert.equal(agentToken.kind, "CLIENT");
    // From a file: the token stays out of ps.
    const tokenFile = path.join(dir, "ana-token");
    writeFileSync(tokenFile, `${secret}\n`, { mode: 0o600 });
    launch(["--token-file", tokenFile, "--name", "ana-ws", "--hostname", "ana-ws", "--state-dir", path.join(dir, "state-ana")], { AGENT_MARK: "ana's machine" });
    const client = await eventually(async () => {
      const s = await serverNamed("ana-ws");
      return s?.online ? s : null;
    }, "ana-ws online");
    assert.deepEqual([client.kind, client.hostname], ["CLIENT", "ana-ws"]);
    await configure("POST_DONE_CLIENT", script("client.sh", `#!/bin/sh\necho "client hook on $AGENT_MARK"\n`));
    const job = { name: "shot", source: `user:ana@studio.example`, destination: `user:ana@studio.example`, tasks: [{ source: "/a", destination: "/b", size: 1 }], client: client.id };
    const { submitJob } = await server.ok(`mutation($i: SubmitJobInput!) { submitJob(input: $i) { id } }`, { i: job }, ana.key);
    await server.ok(`mutation($id: ID!) { updateJobStatus(id: $id, status: DONE) { status } }`, { id: submitJob.id }, ana.key);
    const run = await eventually(async () => {
      const { job } = await server.ok(`query($id: ID!) { job(id: $id) { executions { id hook status runner } } }`, { id: submitJob.id });
      return (job.executions as any[]).find((e) => e.hook === "POST_DONE_CLIENT" && e.status !== "QUEUED" && e.status !== "RUNNING");
    }, "post-done-client to finish");
    assert.equal(run.status, "SUCCEEDED");
    assert.match(run.runner, /^agent:/);
    assert.equal((await execution(run.id)).logLines[0].text, "client hook on ana's machine");

    // A blocking client hook through the agent: its refusal refuses the submission.
    await configure("PRE_SUBMIT_CLIENT", script("refuse.sh", `#!/bin/sh\necho "no renders from $AGENT_MARK today" >&2\nexit 1\n`));
    try {
      const refused = await server.gql(`mutation($i: SubmitJobInput!) { submitJob(input: $i) { id } }`, { i: { ...job, name: "refused" } }, ana.key);
      // ana (EMPLOYEE, no audit role) gets the plain refusal; the hook's own words are on its execution.
      expectError(refused, "HOOK_FAILED", /^pre-submit-client refused the job; nothing was stored/);
      const { executions } = await server.ok(`{ executions(filter: { hook: PRE_SUBMIT_CLIENT, status: FAILED }, first: 1) { nodes { error } } }`);
      assert.match(executions.nodes[0].error, /no renders from ana's machine today/);
    } finally {
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_CLIENT", enabled: false } });
    }
  });

  test("a CLIENT agent on hookd's own host and OS is its client's only runner: the embedded runner never takes its hooks", async () => {
    const bob = await server.user("bob@studio.example", "EMPLOYEE");
    const { token: secret } = (await server.ok(TOKEN, { input: { kind: "CLIENT", name: "bob-ws", user: bob.id } })).createAgentToken;
    const self = server.app.bootstrap.self;
    // From the environment: the token stays out of ps.
    launch(["--hostname", self.hostname, "--state-dir", path.join(dir, "state-bob")], { AGENT_MARK: "bob's agent", HOOKD_AGENT_TOKEN: secret });
    const client = await eventually(async () => {
      const s = await serverNamed("bob-ws");
      return s?.online ? s : null;
    }, "bob-ws online");
    assert.deepEqual([client.hostname, client.os], [self.hostname, self.os], "same host and OS as hookd");
    await configure("POST_DONE_CLIENT", script("bob.sh", `#!/bin/sh\necho "ran by $AGENT_MARK"\n`));
    const job = { name: "shot", source: "user:bob@studio.example", destination: "user:bob@studio.example", tasks: [{ source: "/a", destination: "/b", size: 1 }], client: client.id };
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { submitJob } = await server.ok(`mutation($i: SubmitJobInput!) { submitJob(input: $i) { id } }`, { i: { ...job, name: `shot-${i}` } }, bob.key);
      await server.ok(`mutation($id: ID!) { updateJobStatus(id: $id, status: DONE) { status } }`, { id: submitJob.id }, bob.key);
      ids.push(submitJob.id);
    }
    for (const id of ids) {
      const run = await eventually(async () => {
        const { job } = await server.ok(`query($id: ID!) { job(id: $id) { executions { id hook status runner } } }`, { id });
        return (job.executions as any[]).find((e) => e.hook === "POST_DONE_CLIENT" && e.status !== "QUEUED" && e.status !== "RUNNING");
      }, "post-done-client to finish");
      assert.equal(run.status, "SUCCEEDED");
      assert.match(run.runner, /^agent:/, "run by bob-ws's agent, not hookd's embedded runner");
      assert.equal((await execution(run.id)).logLines[0].text, "ran by bob's agent");
    }
  });

  test("registerClient never renames or re-types another client on the same host, nor changes the machine of a client an agent runs", async () => {
    const carl = await server.user("carl@studio.example", "EMPLOYEE");
    const REGISTER = `mutation($i: RegisterClientInput!) { registerClient(input: $i) { id name hostname os } }`;
    const first = (await server.ok(REGISTER, { i: { name: "carl-maya", hostname: "carl-ws", os: "linux" } }, carl.key)).registerClient;
    const second = (await server.ok(REGISTER, { i: { name: "carl-nuke", hostname: "carl-ws", os: "windows" } }, carl.key)).registerClient;
    assert.notEqual(second.id, first.id, "another name on the same host is another client");
    const again = (await server.ok(REGISTER, { i: { name: "carl-maya", hostname: "carl-ws", os: "linux" } }, carl.key)).registerClient;
    assert.deepEqual(again, first, "the same name updates the same client");
    const rows = (await server.ok(SERVERS)).executionServers as any[];
    assert.deepEqual(
      rows
        .filter((r) => r.hostname === "carl-ws")
        .map((r) => `${r.name} ${r.os}`)
        .sort(),
      ["carl-maya linux", "carl-nuke windows"],
    );

    // A client its agent runs: its hostname and OS are the agent's.
    const { token: secret } = (await server.ok(TOKEN, { input: { kind: "CLIENT", name: "carl-maya", user: carl.id } })).createAgentToken;
    const res = await fetch(`${server.url}/agent/enrol`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: secret, hostname: "carl-ws", os: "linux" }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).executionServerId, first.id, "the agent took the client of its name");
    const retyped = await server.gql(REGISTER, { i: { name: "carl-maya", hostname: "carl-ws", os: "windows" } }, carl.key);
    expectError(retyped, "CONFLICT", /^input\.os: client 'carl-maya' is run by agent 'carl-maya' on carl-ws \(linux\); its hostname and OS are the agent's/);
    const moved = await server.gql(REGISTER, { i: { name: "carl-maya", hostname: "elsewhere", os: "linux" } }, carl.key);
    expectError(moved, "CONFLICT", /^input\.hostname: client 'carl-maya' is run by agent/);
    const after = ((await server.ok(SERVERS)).executionServers as any[]).find((r) => r.id === first.id);
    assert.deepEqual([after.hostname, after.os], ["carl-ws", "linux"], "nothing changed");
  });

  test("a revoked agent is disconnected at once, its credential refused, and what it ran fails when its lease expires", async () => {
    const { token: secret } = await token("render-e");
    const agent = launch(["--token", secret, "--hostname", "render-e", "--state-dir", path.join(dir, "state-e")]);
    const row = await eventually(async () => {
      const s = await serverNamed("render-e");
      return s?.online ? s : null;
    }, "render-e online");
    const pidFile = path.join(dir, "revoke.pid");
    await configure("POST_DONE_SERVER", script("revoked.sh", `#!/bin/sh\necho $$ > '${pidFile}'\necho started\nexec sleep 60\n`));
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false, executionServer: row.id } })).triggerHook;
    await eventually(async () => (await execution(run.id)).logLines.some((l: any) => l.text === "started"), "the hook to start");
    const hookPid = Number(readFileSync(pidFile, "utf8"));
    leftovers.push(hookPid);
    const { executionServers } = await server.ok(`{ executionServers { name agents { id name prefix revokedAt } } }`);
    const [enrolled] = (executionServers as any[]).find((s) => s.name === "render-e").agents;
    assert.equal(enrolled.revokedAt, null);
    const { revokeAgent } = await server.ok(`mutation($id: ID!) { revokeAgent(id: $id) { id revokedAt } }`, { id: enrolled.id });
    assert.ok(revokeAgent.revokedAt);
    await eventually(async () => agent.child.exitCode !== null, "the agent to exit");
    assert.equal(agent.child.exitCode, 2);
    assert.match(agent.output(), /refused the agent's credential \(4403 this agent was revoked\)/);
    await eventually(async () => !exists(hookPid), "the agent to end its hook on the way out");
    await eventually(async () => !(await serverNamed("render-e")).online, "render-e offline");
    const failed = await eventually(async () => {
      const e = await execution(run.id);
      return e.status === "FAILED" ? e : null;
    }, "the run to fail at lease expiry");
    assert.match(failed.error, /stopped renewing its lease/);
    // Started again with its kept credential: refused.
    const again = launch(["--state-dir", path.join(dir, "state-e")]);
    await eventually(async () => again.child.exitCode !== null, "the restarted agent to give up");
    assert.equal(again.child.exitCode, 2);
    assert.match(again.output(), /revoked/);
  });

  test("log lines are stored by the agent's seq: resent ones once, a gap not at all, and the outcome only once every line is there", async () => {
    const enrolled = await enrolAgent(server, "render-c");
    const socket = agentSocket(server.url, enrolled.credential);
    try {
      await configure("POST_DONE_SERVER", script("never.sh", "#!/bin/sh\nexit 0\n"));
      // Queued for render-c, which no process serves: the test plays its agent.
      const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false, executionServer: enrolled.executionServerId } })).triggerHook;
      assert.equal(run.status, "QUEUED");
      const LOG = `mutation($id: ID!, $lines: [AgentLogLineInput!]!) { agentLog(executionId: $id, lines: $lines) { acknowledged } }`;
      const line = (seq: number) => ({ seq, stream: "STDOUT", at: new Date().toISOString(), text: `line ${seq}` });
      expectError({ status: 200, ...(await socket.run(LOG, { id: run.id, lines: [line(1)] })) }, "CONFLICT", /no longer held by this agent/);
      const claim = await socket.run(`mutation($id: ID!) { agentClaim(executionId: $id) { id hook timeoutSeconds leaseSeconds } }`, { id: run.id });
      assert.equal(claim.data.agentClaim.id, run.id);
      assert.equal((await socket.run(LOG, { id: run.id, lines: [1, 2, 3].map(line) })).data.agentLog.acknowledged, 3);
      assert.equal((await socket.run(LOG, { id: run.id, lines: [2, 3, 4].map(line) })).data.agentLog.acknowledged, 4, "resent lines are ignored, the new one stored");
      assert.equal((await socket.run(LOG, { id: run.id, lines: [7, 8].map(line) })).data.agentLog.acknowledged, 4, "a gap stores nothing");
      // The packed form the agent process sends: the same rules, each field checked.
      const PACKED = `mutation($id: ID!, $packed: JSON) { agentLog(executionId: $id, packed: $packed) { acknowledged } }`;
      const at = new Date().toISOString();
      expectError(
        {
          status: 200,
          ...(await socket.run(PACKED, {
            id: run.id,
            packed: [
              [5, "STDOUT", at, "line 5"],
              [6, "LOUD", at, "x"],
            ],
          })),
        },
        "BAD_USER_INPUT",
        /^packed\[1\]\[1\]: stream must be STDOUT, STDERR or SYSTEM \(got "LOUD"\)/,
      );
      expectError({ status: 200, ...(await socket.run(PACKED, { id: run.id, packed: [[5, "STDOUT", "yesterday", "line 5"]] })) }, "BAD_USER_INPUT", /^packed\[0\]\[2\]: at must be an ISO 8601 time/);
      assert.equal(
        (
          await socket.run(PACKED, {
            id: run.id,
            packed: [
              [4, "STDOUT", at, "again"],
              [5, "STDOUT", at, "line 5"],
            ],
          })
        ).data.agentLog.acknowledged,
        5,
        "a resent line ignored, the new one stored",
      );
      const FINISH = `mutation($id: ID!, $lastSeq: Int!) { agentFinish(executionId: $id, outcome: { status: FAILED, exitCode: 2, error: "exited with code 2" }, lastSeq: $lastSeq) }`;
      expectError({ status: 200, ...(await socket.run(FINISH, { id: run.id, lastSeq: 8 })) }, "CONFLICT", /holds lines 1\.\.5.*send lines 6\.\.8/);
      assert.equal((await socket.run(FINISH, { id: run.id, lastSeq: 5 })).data.agentFinish, true);
      const stored = await execution(run.id);
      assert.equal(stored.status, "FAILED");
      assert.equal(stored.exitCode, 2);
      assert.deepEqual(
        stored.logLines.map((l: any) => `${l.seq} ${l.text}`),
        ["1 line 1", "2 line 2", "3 line 3", "4 line 4", "5 line 5", "6 exited with code 2"],
      );
      assert.equal(stored.logLineCount, 6);
      assert.deepEqual(await socket.run(FINISH, { id: run.id, lastSeq: 6 }), { data: { agentFinish: false } }, "a second outcome (a finish sent again) is not stored");
    } finally {
      await socket.client.dispose();
    }
  });

  test("agentFinish takes the outcome packed as one JSON object, each field checked; the typed outcome still works; one of the two, never both", async () => {
    const enrolled = await enrolAgent(server, "render-p");
    const socket = agentSocket(server.url, enrolled.credential);
    try {
      await configure("POST_DONE_SERVER", script("never.sh", "#!/bin/sh\nexit 0\n"));
      const queue = async () => (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false, executionServer: enrolled.executionServerId } })).triggerHook[0].id as string;
      const [packedRun, typedRun] = [await queue(), await queue()];
      for (const id of [packedRun, typedRun]) assert.equal((await socket.run(`mutation($id: ID!) { agentClaim(executionId: $id) { id } }`, { id })).data.agentClaim.id, id);
      const FINISH = `mutation($id: ID!, $outcome: AgentOutcomeInput, $packedOutcome: JSON, $packed: JSON, $lastSeq: Int!) { agentFinish(executionId: $id, outcome: $outcome, packedOutcome: $packedOutcome, lastSeq: $lastSeq, packed: $packed) }`;
      const at = new Date().toISOString();
      const finish = (id: string, given: Record<string, unknown>) => socket.run(FINISH, { id, lastSeq: 1, packed: [[1, "STDOUT", at, `the line of ${id}`]], ...given });
      const refused: [unknown, RegExp][] = [
        ["FAILED", /^packedOutcome: must be an object \{ status, exitCode, signal, error, output, droppedBytes \}/],
        [[{ status: "FAILED" }], /^packedOutcome: must be an object/],
        [{ exitCode: 1 }, /^packedOutcome\.status: must be one of SUCCEEDED, FAILED, TIMED_OUT, CANCELLED \(got undefined\)/],
        [{ status: "RUNNING" }, /^packedOutcome\.status: must be one of SUCCEEDED, FAILED, TIMED_OUT, CANCELLED \(got "RUNNING"\)/],
        [{ status: "FAILED", exitCode: 1.5 }, /^packedOutcome\.exitCode: must be a whole number from -2147483648 to 2147483647, or null \(got 1\.5\)/],
        [{ status: "FAILED", exitCode: "2" }, /^packedOutcome\.exitCode: must be a whole number/],
        [{ status: "FAILED", signal: 9 }, /^packedOutcome\.signal: must be a string or null \(got 9\)/],
        [{ status: "FAILED", error: { why: "x" } }, /^packedOutcome\.error: must be a string or null/],
        [{ status: "SUCCEEDED", output: ["approved"] }, /^packedOutcome\.output: must be a JSON object or null/],
        [{ status: "FAILED", droppedBytes: -1 }, /^packedOutcome\.droppedBytes: must be a whole number from 0 to 2147483647, or null \(got -1\)/],
        [{ status: "FAILED", exitcode: 2 }, /^packedOutcome\.exitcode: is not a field of an outcome \(status, exitCode, signal, error, output, droppedBytes\)/],
      ];
      for (const [packedOutcome, message] of refused) expectError({ status: 200, ...(await finish(packedRun, { packedOutcome })) }, "BAD_USER_INPUT", message);
      expectError(
        { status: 200, ...(await finish(packedRun, { outcome: { status: "FAILED" }, packedOutcome: { status: "FAILED" } })) },
        "BAD_USER_INPUT",
        /^packedOutcome: give outcome or packedOutcome, not both/,
      );
      expectError({ status: 200, ...(await finish(packedRun, {})) }, "BAD_USER_INPUT", /^outcome: give outcome or packedOutcome/);
      // The last lines and the outcome are one write: a finish refused by hookd stores neither.
      expectError({ status: 200, ...(await finish(packedRun, { packedOutcome: { status: "SUCCEEDED" }, lastSeq: 2 })) }, "CONFLICT", /holds lines 1\.\.1 .*send lines 2\.\.2/);
      const refusedRun = await execution(packedRun);
      assert.equal(refusedRun.status, "RUNNING", "a refused finish stores no outcome");
      assert.deepEqual(refusedRun.logLines, [], "nor the lines that came with it");

      const answer = { guidelines: "checked on render-p", files: [{ id: "f1", can_publish: true }] };
      const packedOutcome = { status: "FAILED", exitCode: 3, signal: null, error: "exited with code 3", output: answer, droppedBytes: 1234 };
      assert.deepEqual(await finish(packedRun, { packedOutcome }), { data: { agentFinish: true } });
      const FULL = `query($id: ID!) { execution(id: $id) { status exitCode signal error output droppedBytes logLineCount logLines { seq stream text } } }`;
      const stored = (await server.ok(FULL, { id: packedRun })).execution;
      assert.deepEqual(
        { ...stored, logLines: stored.logLines.map((l: any) => `${l.seq} ${l.stream} ${l.text}`) },
        {
          status: "FAILED",
          exitCode: 3,
          signal: null,
          error: "exited with code 3",
          output: answer,
          droppedBytes: 1234,
          logLineCount: 2,
          logLines: [`1 STDOUT the line of ${packedRun}`, "2 SYSTEM exited with code 3"],
        },
      );
      // The typed form, as older agents send it.
      assert.deepEqual(await finish(typedRun, { outcome: { status: "SUCCEEDED", exitCode: 0, output: { ok: true }, droppedBytes: 7 } }), { data: { agentFinish: true } });
      const typed = (await server.ok(FULL, { id: typedRun })).execution;
      assert.deepEqual([typed.status, typed.exitCode, typed.output, typed.droppedBytes, typed.logLineCount], ["SUCCEEDED", 0, { ok: true }, 7, 1]);
    } finally {
      await socket.client.dispose();
    }
  });

  test("an agent credential reaches only the agent's operations, on executions of its own server", async () => {
    const enrolled = await enrolAgent(server, "render-d");
    const socket = agentSocket(server.url, enrolled.credential);
    try {
      // Over HTTP it is no API key.
      expectError(await server.gql(`{ me { id } }`, {}, enrolled.credential), "UNAUTHENTICATED", /agent credential is not an API key/);
      // Over its socket, no other operation exists for it.
      for (const query of [
        `{ me { id } }`,
        `{ executionServers { id } }`,
        `mutation { createAgentToken(input: { kind: SERVER, name: "x" }) { token } }`,
        `mutation { cancelExecution(id: "x") { id } }`,
      ]) {
        const result = await socket.run(query);
        assert.match(result.errors?.[0]?.message ?? "", /Cannot query field/, `${query}: ${JSON.stringify(result)}`);
        assert.equal(result.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
      }
      assert.equal((await socket.run(`{ agent { name kind } }`)).data.agent.name, "render-d");
      // Another server's execution (hookd's own): as if it did not exist.
      const self = (await server.ok(`{ settings { defaultExecutionServer { id } } }`)).settings.defaultExecutionServer.id;
      const embedded = ((await server.ok(SERVERS)).executionServers as any[]).find((s) => s.name === "hookd-test-host");
      const [other] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false, executionServer: self } })).triggerHook;
      const [theirs] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false, executionServer: embedded.id } })).triggerHook;
      for (const id of [other.id, theirs.id]) {
        expectError({ status: 200, ...(await socket.run(`mutation($id: ID!) { agentClaim(executionId: $id) { id } }`, { id })) }, "NOT_FOUND", /not assigned to agent 'render-d'/);
        expectError({ status: 200, ...(await socket.run(`mutation($id: ID!) { agentFinish(executionId: $id, outcome: { status: SUCCEEDED }, lastSeq: 0) }`, { id })) }, "NOT_FOUND", /not assigned/);
      }
      // And an API key cannot call the agent's operations.
      expectError(await server.gql(`mutation { agentClaim(executionId: "x") { id } }`, {}, ADMIN_KEY), "GRAPHQL_VALIDATION_FAILED", /Cannot query field "agentClaim"/);
    } finally {
      await socket.client.dispose();
    }
  });
});

/** A port free now, so a restarted hookd comes back at the same address. */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A TCP relay between the agent and hookd whose connections the test can cut. */
interface Relay {
  url: string;
  cut(): void;
  block(): void;
  unblock(): void;
  /** What hookd sent the agent so far (server frames are not masked: the JSON reads as it is). */
  received(): string;
  /** hookd's bytes stop reaching the agent (until cut); the agent's still reach hookd. */
  drop(): void;
  close(): Promise<void>;
}

async function relay(target: number): Promise<Relay> {
  const open = new Set<net.Socket>();
  let blocked = false;
  let received = "";
  let dropping = new Set<net.Socket>();
  const srv = net.createServer((client) => {
    if (blocked) return void client.destroy();
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(upstream);
    upstream.on("data", (d: Buffer) => {
      received += d.toString("latin1");
      if (!dropping.has(client)) client.write(d);
    });
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    cut: () => {
      for (const s of open) s.destroy();
    },
    /** Cuts what is open and refuses new connections until unblock(). */
    block: () => {
      blocked = true;
      for (const s of open) s.destroy();
    },
    unblock: () => {
      blocked = false;
    },
    received: () => received,
    drop: () => {
      dropping = new Set(open);
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

describe("remote agents: connections lost mid-run", () => {
  let dir: string;
  let dataDir: string;
  let port: number;
  let server: TestServer;
  const agents: (AgentProcess & { name?: string })[] = [];
  const leftovers: number[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-agent-loss-"));
    dataDir = path.join(dir, "data");
    port = await freePort();
    // Leases long enough to outlast a hookd restart.
    server = await startServer({ PORT: String(port), HOOKD_LEASE_SECONDS: "20" }, { dataDir });
  });
  after(async () => {
    for (const a of agents) await a.stop("SIGKILL");
    for (const pid of leftovers) if (exists(pid)) process.kill(pid, "SIGKILL");
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const script = (name: string, text: string) => writeScript(dir, name, text);
  const slow = (n: number) => script(`slow-${n}.sh`, `#!/bin/sh\ni=1\nwhile [ $i -le ${n} ]; do echo "line $i"; sleep 0.02; i=$((i+1)); done\n`);
  const postDoneRuns = (linux: string) => configureHook(server, "POST_DONE_SERVER", linux);
  const trigger = async () => (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: false } })).triggerHook[0];
  const execution = async (id: string) => (await server.ok(EXECUTION, { id })).execution;
  const expectAllLines = (e: any, n: number) => {
    assert.equal(e.status, "SUCCEEDED", e.error);
    assert.equal(e.logLineCount, n);
    assert.deepEqual(
      e.logLines.map((l: any) => `${l.seq} ${l.text}`),
      Array.from({ length: n }, (_, i) => `${i + 1} line ${i + 1}`),
      "every line stored once, in order, with no gap",
    );
  };

  const agentOf = (name: string) => agents.find((a) => a.name === name)!;

  async function setUp(name: string, url: string, args: string[] = []): Promise<string> {
    const { token } = (await server.ok(TOKEN, { input: { kind: "SERVER", name } })).createAgentToken;
    const agent = startAgent(url, ["--token", token, "--hostname", name, "--state-dir", path.join(dir, name), ...args]);
    agents.push(Object.assign(agent, { name }));
    const row = await eventually(async () => ((await server.ok(SERVERS)).executionServers as any[]).find((s) => s.name === name && s.online), `${name} online`);
    await server.ok(`mutation($id: ID!) { updateSettings(input: { defaultExecutionServer: $id }) { hooksEnabled } }`, { id: row.id });
    return row.id;
  }

  test("hookd agent-token create prints a token the agent enrols with; a token for another name is refused and stays good", async () => {
    // Not spawnSync: the in-process server must keep answering meanwhile.
    const cli = await runCli(["agent-token", "create", "--kind", "server", "--name", "render-cli"], { HOOKD_DATA_DIR: dataDir });
    assert.equal(cli.status, 0, cli.stderr);
    const token = /\b(hke_[A-Za-z0-9_-]+)/.exec(cli.stdout)?.[1];
    assert.ok(token, cli.stdout);
    assert.match(cli.stdout, /SERVER agent 'render-cli', single use/);
    const enrol = (name: string) =>
      fetch(`${server.url}/agent/enrol`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, name, hostname: "h", os: "linux" }) });
    const wrong = await enrol("render-other");
    assert.equal(wrong.status, 400);
    assert.match(((await wrong.json()) as any).error.message, /this enrolment token is for 'render-cli', not 'render-other'/);
    const right = await enrol("render-cli");
    assert.equal(right.status, 200);
    assert.match(((await right.json()) as any).credential, /^hka_/);
    const bad = await runCli(["agent-token", "create", "--kind", "client", "--name", "ws"], { HOOKD_DATA_DIR: dataDir });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /input.user: a CLIENT agent runs the hooks of one user's client: name the user/);
  });

  test("an agent on hookd's machine keeps its own execution server: a hookd (re)started on that hostname never takes it over", async () => {
    const enrolled = await enrolAgent(server, "same-host-agent", "moved-host");
    await server.close();
    server = await startServer({ PORT: String(port), HOOKD_LEASE_SECONDS: "20" }, { dataDir, hostname: "moved-host" });
    const self = server.app.bootstrap.self;
    assert.notEqual(self.id, enrolled.executionServerId, "hookd registered its own server");
    assert.deepEqual(self.labels, ["embedded"]);
    const agentRow = ((await server.ok(SERVERS)).executionServers as any[]).find((r) => r.id === enrolled.executionServerId);
    assert.deepEqual([agentRow.name, agentRow.hostname, agentRow.online], ["same-host-agent", "moved-host", false]);
    await server.close();
    server = await startServer({ PORT: String(port), HOOKD_LEASE_SECONDS: "20" }, { dataDir });
  });

  test("hookd restarts while an agent runs a hook: the agent reconnects and finishes, every line stored once", async () => {
    await setUp("render-r", `http://127.0.0.1:${port}`);
    await postDoneRuns(slow(150));
    const run = await trigger();
    await eventually(async () => (await execution(run.id)).logLines.length >= 20, "some lines stored");
    await server.close();
    await new Promise((r) => setTimeout(r, 300));
    server = await startServer({ PORT: String(port), HOOKD_LEASE_SECONDS: "20" }, { dataDir });
    const done = await eventually(
      async () => {
        const e = await execution(run.id);
        return e.status === "RUNNING" || e.status === "QUEUED" ? null : e;
      },
      "the run to finish after the restart",
      30_000,
    );
    expectAllLines(done, 150);
  });

  test("the agent's socket is cut mid-log: it reconnects and the log resumes from the acknowledged seq", async () => {
    const cutter = await relay(port);
    try {
      await setUp("render-s", cutter.url);
      await postDoneRuns(slow(150));
      const run = await trigger();
      await eventually(async () => (await execution(run.id)).logLines.length >= 20, "some lines stored");
      cutter.cut();
      await new Promise((r) => setTimeout(r, 200));
      cutter.cut();
      const done = await eventually(
        async () => {
          const e = await execution(run.id);
          return e.status === "RUNNING" ? null : e;
        },
        "the run to finish after the cut",
        30_000,
      );
      expectAllLines(done, 150);
      assert.match(agents.at(-1)!.output(), /disconnected from hookd/);
    } finally {
      await cutter.close();
    }
  });

  test("kill -9 of an agent ends its hook (its watchdog); the restarted agent reports the run FAILED at once, not at lease expiry", async () => {
    await setUp("render-k", `http://127.0.0.1:${port}`);
    const stateDir = path.join(dir, "render-k");
    const pids = path.join(dir, "killed.pids");
    const tree = script("killed.sh", `#!/bin/sh\nsleep 60 &\necho "$$ $!" > '${pids}'\necho started\nwait\n`);
    await postDoneRuns(tree);
    const run = await trigger();
    await eventually(async () => (await execution(run.id)).logLines.some((l: any) => l.text === "started"), "the hook to start");
    const [shell, child] = readFileSync(pids, "utf8").trim().split(" ").map(Number);
    leftovers.push(shell, child);
    // Written once the hook has run 50 ms (most hooks are done sooner).
    const recordFile = path.join(stateDir, "runs", `${run.id}.json`);
    await eventually(async () => existsSync(recordFile), "the run record");
    const record = JSON.parse(readFileSync(recordFile, "utf8"));
    assert.equal(record.pid, shell, "the run's process group is kept in the state dir");
    await agentOf("render-k").stop("SIGKILL");
    // The agent's watchdog ends its hooks (hook-watchdog.ts); the record stays RUNNING until somebody reports.
    await eventually(async () => !exists(shell) && !exists(child), "the hook to end with its agent");
    assert.equal((await execution(run.id)).status, "RUNNING");

    const restarted = startAgent(`http://127.0.0.1:${port}`, ["--state-dir", stateDir, "--hostname", "render-k"]);
    agents.push(restarted);
    // The lease is 20 s: this is the restarted agent's report, not hookd's expiry.
    const failed = await eventually(async () => {
      const e = await execution(run.id);
      return e.status === "FAILED" ? e : null;
    }, "the restarted agent to report the run");
    assert.match(failed.error, /^the agent restarted while this hook ran \(its previous process was killed or crashed\); the hook's outcome is unknown$/);
    assert.deepEqual(
      failed.logLines.map((l: any) => l.text),
      ["started", failed.error],
    );
    await eventually(async () => readdirSync(path.join(stateDir, "runs")).length === 0, "the run's record to be removed");
    // Said once hookd answered the report, which may be after the record shows it.
    await eventually(async () => /was running when the agent last stopped: reported FAILED/.test(restarted.output()), "the restarted agent to say it reported the run");
  });

  test("lines the agent cannot send while cut off go to a spool file in its state dir and are sent from the acknowledged seq after it reconnects", async () => {
    const cutter = await relay(port);
    try {
      await setUp("render-p", cutter.url);
      const stateDir = path.join(dir, "render-p");
      const marker = path.join(dir, "spool.done");
      const gate = path.join(dir, "spool.go");
      // 100 lines, then (once the test has cut the socket) 8000 more of 1 KB at once, twice the text the agent keeps in memory (4 MiB).
      const pad = "x".repeat(1000);
      const hook = script(
        "spool.sh",
        `#!/bin/sh\ni=1\nwhile [ $i -le 100 ]; do echo "line $i ${pad}"; i=$((i+1)); done\nwhile [ ! -e '${gate}' ]; do sleep 0.02; done\nwhile [ $i -le 8100 ]; do echo "line $i ${pad}"; i=$((i+1)); done\ntouch '${marker}'\nsleep 0.5\n`,
      );
      await postDoneRuns(hook);
      const run = await trigger();
      await eventually(async () => (await execution(run.id)).logLines.length >= 100, "the first lines stored");
      cutter.block();
      writeFileSync(gate, "");
      await eventually(async () => existsSync(marker), "the hook to write the rest");
      const spool = path.join(stateDir, "runs", `${run.id}.log`);
      const spooled = await eventually(async () => {
        const lines = existsSync(spool)
          ? readFileSync(spool, "utf8")
              .split("\n")
              .filter((l) => l !== "")
          : [];
        return lines.length >= 3000 ? lines : null;
      }, "the unsent lines to be in the spool file");
      assert.equal(statSync(spool).mode & 0o777, 0o600);
      const first = JSON.parse(spooled[0]);
      assert.ok(first.seq > 100 && first.text === `line ${first.seq} ${pad}`, `the spool holds lines past what memory keeps (first: ${spooled[0].slice(0, 80)})`);
      assert.ok((await execution(run.id)).logLines.length <= 100 + 1000, "hookd did not get them meanwhile");
      cutter.unblock();
      const done = await eventually(
        async () => {
          const e = await execution(run.id);
          return e.status === "RUNNING" ? null : e;
        },
        "the run to finish after the reconnect",
        30_000,
      ).catch((err) => {
        throw new Error(`${err.message}; the agent said: ${agentOf("render-p").output().slice(-3000)}`);
      });
      assert.equal(done.status, "SUCCEEDED", done.error);
      assert.equal(done.logLineCount, 8100);
      const { execution: page } = await server.ok(`query($id: ID!) { execution(id: $id) { logLines(first: 10000) { seq text } } }`, { id: run.id });
      assert.deepEqual(
        page.logLines.map((l: any) => `${l.seq} ${l.text}`),
        Array.from({ length: 8100 }, (_, i) => `${i + 1} line ${i + 1} ${pad}`),
        "every line stored once, in order, with no gap",
      );
      await eventually(async () => !existsSync(spool), "the spool removed with the run");
    } finally {
      cutter.unblock();
      await cutter.close();
    }
  });

  const count = (text: string, needle: string) => text.split(needle).length - 1;
  const finished = (id: string, what: string) =>
    eventually(
      async () => {
        const e = await execution(id);
        return e.status === "RUNNING" || e.status === "QUEUED" ? null : e;
      },
      what,
      30_000,
    );

  test("an agent that says its concurrency is offered each run with its assignment (hookd claims for it): it never sends agentClaim", async () => {
    const tap = await relay(port);
    try {
      await setUp("render-o", tap.url);
      const hook = script("offered.sh", `#!/bin/sh\necho "offered run"\n`);
      await postDoneRuns(hook);
      for (let i = 0; i < 3; i++) {
        const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, wait: true } })).triggerHook;
        assert.equal(run.status, "SUCCEEDED", run.error);
        assert.match(run.runner, /^agent:/);
        assert.deepEqual(
          (await execution(run.id)).logLines.map((l: any) => l.text),
          ["offered run"],
        );
      }
      const text = tap.received();
      assert.equal(count(text, '"offered":[{'), 3, "each run came as an offer");
      // Every agentClaim would be answered with its name in the data.
      assert.equal(count(text, '"agentClaim"'), 0, "the agent claimed nothing itself");
    } finally {
      await tap.close();
    }
  });

  test("an agent's concurrency holds with offers: with --concurrency 2 and 4 long hooks queued, at most 2 run at once, and all 4 run", async () => {
    const tap = await relay(port);
    try {
      await setUp("render-c", tap.url, ["--concurrency", "2"]);
      const times = path.join(dir, "concurrency.times");
      const hook = script("concurrency.sh", `#!/bin/sh\necho "start $(date +%s%N)" >> '${times}'\nsleep 0.6\necho "end $(date +%s%N)" >> '${times}'\n`);
      await postDoneRuns(hook);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await trigger()).id);
      let most = 0;
      for (;;) {
        const states = await Promise.all(ids.map(async (id) => (await execution(id)).status));
        most = Math.max(most, states.filter((s) => s === "RUNNING").length);
        if (states.every((s) => s !== "RUNNING" && s !== "QUEUED")) {
          assert.deepEqual(states, ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
          break;
        }
        await new Promise((r) => setTimeout(r, 30));
      }
      assert.equal(most, 2, "two RUNNING at once, never more");
      // The hooks' own clock: never more than two processes at once.
      let running = 0;
      let peak = 0;
      const events = readFileSync(times, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .sort((a, b) => Number(BigInt(a[1]) - BigInt(b[1])) || (a[0] === "end" ? -1 : 1));
      for (const [kind] of events) peak = Math.max(peak, (running += kind === "start" ? 1 : -1));
      assert.equal(events.length, 8);
      assert.equal(peak, 2);
      assert.equal(count(tap.received(), '"agentClaim"'), 0, "the last two were offered when a slot freed, not claimed");
    } finally {
      await tap.close();
    }
  });

  test("two agents of one execution server, each --concurrency 1: 4 queued runs are shared between them, one at a time on each, each run once", async () => {
    // A second token of the same name enrols a second agent of the same execution server.
    const serverId = await setUp("render-pair", server.url, ["--concurrency", "1"]);
    const { token } = (await server.ok(TOKEN, { input: { kind: "SERVER", name: "render-pair" } })).createAgentToken;
    const second = startAgent(server.url, ["--token", token, "--hostname", "render-pair-2", "--state-dir", path.join(dir, "render-pair-2"), "--concurrency", "1"], { AGENT_MARK: "second" });
    agents.push(Object.assign(second, { name: "render-pair-2" }));
    await eventually(async () => second.output().includes("connected to"), "the second agent connected");
    const agentIds = [path.join(dir, "render-pair"), path.join(dir, "render-pair-2")].map((d) => JSON.parse(readFileSync(path.join(d, "agent.json"), "utf8")));
    assert.deepEqual(
      agentIds.map((s) => s.executionServerId),
      [serverId, serverId],
      "both agents serve the same execution server",
    );
    assert.notEqual(agentIds[0].agentId, agentIds[1].agentId);
    const byMark: Record<string, string> = { first: agentIds[0].agentId, second: agentIds[1].agentId };
    const times = path.join(dir, "pair.times");
    const hook = script(
      "pair.sh",
      `#!/bin/sh\necho "start \${AGENT_MARK:-first} $HOOKD_EXECUTION_ID $(date +%s%N)" >> '${times}'\nsleep 0.5\necho "end \${AGENT_MARK:-first} $HOOKD_EXECUTION_ID $(date +%s%N)" >> '${times}'\n`,
    );
    await postDoneRuns(hook);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await trigger()).id);
    const done = await Promise.all(ids.map((id) => finished(id, `run ${id} finished`)));
    assert.deepEqual(
      done.map((e) => e.status),
      ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"],
      JSON.stringify(done.map((e) => e.error)),
    );
    const events = readFileSync(times, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
      .sort((a, b) => Number(BigInt(a[3]) - BigInt(b[3])) || (a[0] === "end" ? -1 : 1));
    const starts = events.filter(([kind]) => kind === "start");
    assert.deepEqual(starts.map(([, , id]) => id).sort(), [...ids].sort(), "each run started once, none twice");
    const ranBy = new Map(starts.map(([, mark, id]) => [id, mark]));
    for (const e of done) {
      const runner = (await server.ok(`query($id: ID!) { execution(id: $id) { runner } }`, { id: e.id })).execution.runner;
      assert.equal(runner, `agent:${byMark[ranBy.get(e.id)!]}`, "the run is recorded as the agent's that ran it");
    }
    assert.deepEqual(new Set(ranBy.values()), new Set(["first", "second"]), "both agents ran some");
    for (const mark of ["first", "second"]) {
      let running = 0;
      let peak = 0;
      for (const [kind, m] of events) if (m === mark) peak = Math.max(peak, (running += kind === "start" ? 1 : -1));
      assert.equal(peak, 1, `never more than one run at once on the ${mark} agent`);
    }
  });

  test("an offer lost with the agent's socket: the agent hears the run is leased to it when it reconnects, claims it again and runs it once", async () => {
    const tap = await relay(port);
    try {
      await setUp("render-lost", tap.url);
      const ran = path.join(dir, "lost-offer.ran");
      const hook = script("lost-offer.sh", `#!/bin/sh\necho ran >> '${ran}'\necho "ran once"\n`);
      await postDoneRuns(hook);
      // hookd's bytes (the offer) go nowhere: claimed for the agent, which never hears of it on this socket.
      tap.drop();
      const run = await trigger();
      const leased = await eventually(async () => {
        const e = await execution(run.id);
        return e.status === "RUNNING" ? e : null;
      }, "hookd to claim the run for the agent");
      assert.match(leased.runner, /^agent:/);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!existsSync(ran), "the agent did not get the offer");
      tap.cut();
      const done = await finished(run.id, "the run to finish after the agent reconnected");
      assert.equal(done.status, "SUCCEEDED", done.error);
      assert.equal(done.runner, leased.runner);
      assert.deepEqual(
        done.logLines.map((l: any) => l.text),
        ["ran once"],
      );
      assert.equal(readFileSync(ran, "utf8"), "ran\n", "the hook ran exactly once");
    } finally {
      await tap.close();
    }
  });

  test("an offer lost when the agent process dies: the restarted agent reports the run FAILED at once and never runs it", async () => {
    const tap = await relay(port);
    try {
      await setUp("render-died", tap.url);
      const ran = path.join(dir, "died.ran");
      const hook = script("died.sh", `#!/bin/sh\necho ran >> '${ran}'\n`);
      await postDoneRuns(hook);
      tap.drop();
      const run = await trigger();
      await eventually(async () => (await execution(run.id)).status === "RUNNING", "hookd to claim the run for the agent");
      // The process cannot tell an offer it never got from a run it started just before it died.
      await agentOf("render-died").stop("SIGKILL");
      tap.cut();
      const restarted = startAgent(tap.url, ["--state-dir", path.join(dir, "render-died"), "--hostname", "render-died"]);
      agents.push(restarted);
      // The lease is 20 s: this is the restarted agent's report, not hookd's expiry.
      const done = await eventually(
        async () => {
          const e = await execution(run.id);
          return e.status === "FAILED" ? e : null;
        },
        "the restarted agent to report the run",
        10_000,
      );
      assert.match(done.error, /^the agent restarted while this hook ran \(its previous process was killed or crashed\); the hook's outcome is unknown$/);
      assert.ok(!existsSync(ran), "the hook never ran");
      await eventually(async () => /was running when the agent last stopped: reported FAILED/.test(restarted.output()), "the agent to say so");
    } finally {
      await tap.close();
    }
  });

  test("hookd agent list and hookd agent revoke <name>: a running hookd disconnects the agent at once and refuses its credential", async () => {
    await setUp("render-v", `http://127.0.0.1:${port}`);
    // Not spawnSync: the in-process server must keep answering meanwhile.
    const cli = (...args: string[]) => runCli(args, { HOOKD_DATA_DIR: dataDir });
    const listed = await cli("agent", "list");
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /SERVER {2}render-v {2}hka_\S+… {2}render-v linux \S+ {2}online/);
    const revoked = await cli("agent", "revoke", "render-v");
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.match(revoked.stdout, /^revoked agent render-v \(hka_/);
    const agent = agentOf("render-v");
    await eventually(async () => agent.child.exitCode !== null, "the agent to be disconnected and exit");
    assert.equal(agent.child.exitCode, 2);
    assert.match(agent.output(), /refused the agent's credential \(4403 this agent was revoked\)/);
    assert.match((await cli("agent", "list")).stdout, /render-v .* revoked \d{4}-/);
    // Its kept credential is refused by the running hookd (its credential cache saw the other process's write).
    const again = startAgent(`http://127.0.0.1:${port}`, ["--state-dir", path.join(dir, "render-v")]);
    agents.push(again);
    await eventually(async () => again.child.exitCode !== null, "the restarted agent to give up");
    assert.equal(again.child.exitCode, 2);
    assert.match(again.output(), /revoked/);
    const none = await cli("agent", "revoke", "render-v");
    assert.equal(none.status, 2);
    assert.match(none.stderr, /every agent named 'render-v' is revoked already/);
    assert.match((await cli("agent", "revoke", "nobody")).stderr, /no agent has the id or name 'nobody' \(hookd agent list shows them\)/);
  });

  test("hookd agent-token list and revoke: a revoked token enrols nothing; a used one is not revoked but named", async () => {
    // Not spawnSync: the in-process server must keep answering meanwhile.
    const cli = (...args: string[]) => runCli(args, { HOOKD_DATA_DIR: dataDir });
    const created = await cli("agent-token", "create", "--kind", "server", "--name", "render-t");
    assert.equal(created.status, 0, created.stderr);
    const token = /\b(hke_[A-Za-z0-9_-]+)/.exec(created.stdout)![1];
    const id = /\(id ([0-9a-f-]{36});/.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    assert.match((await cli("agent-token", "list")).stdout, new RegExp(`${id}  SERVER  render-t  until `));
    const revoked = await cli("agent-token", "revoke", id!);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.match(revoked.stdout, /no agent can enrol with it/);
    assert.doesNotMatch((await cli("agent-token", "list")).stdout, new RegExp(id!));
    const res = await fetch(`${server.url}/agent/enrol`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, hostname: "h", os: "linux" }) });
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as any).error.message, /invalid enrolment token \(unknown, or revoked\)/);
    // A used token: the agent it enrolled is what to revoke.
    const used = await cli("agent-token", "create", "--kind", "server", "--name", "render-u");
    const usedToken = /\b(hke_[A-Za-z0-9_-]+)/.exec(used.stdout)![1];
    const usedId = /\(id ([0-9a-f-]{36});/.exec(used.stdout)![1];
    const ok = await fetch(`${server.url}/agent/enrol`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: usedToken, hostname: "h", os: "linux" }) });
    assert.equal(ok.status, 200);
    const refused = await cli("agent-token", "revoke", usedId);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /was used on .*: revoke the agent it enrolled instead \(hookd agent revoke render-u\)/);
  });
});

describe("agent enrolment: failed attempts are rate-limited like other authentications", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ HOOKD_AUTH_FAILURES: "3", HOOKD_AUTH_FAILURE_WINDOW_SECONDS: "2" });
  });
  after(async () => {
    await server.close();
  });

  test("POST /agent/enrol: past the allowance refused tokens get 429 with Retry-After, while a good token still enrols", async () => {
    const enrol = (token: string) =>
      fetch(`${server.url}/agent/enrol`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, hostname: "h", os: "linux" }) });
    const { token } = (await server.ok(`mutation { createAgentToken(input: { kind: SERVER, name: "render-rl" }) { token } }`)).createAgentToken;
    for (let i = 0; i < 3; i++) assert.equal((await enrol(`hke_guess${i}`)).status, 401);
    const limited = await enrol("hke_guess3");
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    const body = (await limited.json()) as any;
    assert.equal(body.error.code, "TOO_MANY_REQUESTS");
    assert.match(body.error.message, /too many failed authentications from this address; retry after \d+ s/);
    // Others' failures do not lock out a valid token: it enrols at once.
    const res = await enrol(token);
    assert.equal(res.status, 200, await res.clone().text());
    // Once the window is over, a wrong token is told why again.
    await eventually(async () => (await enrol("hke_guess4")).status === 401, "the window to end");
  });
});
