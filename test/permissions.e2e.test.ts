import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isObjectType } from "graphql";
import { ADMIN_KEY, startServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/ws.js";
import { agentSocket, enrolAgent } from "./helpers/agent.js";
import { buildAgentSchema } from "../src/agent/agent-schema.js";

// Every operation of the schema × every kind of caller → allowed, or the exact error code.
// "allowed" means the permission check passed: the operation may still answer NOT_FOUND or
// BAD_USER_INPUT for the (often made-up) target, but never FORBIDDEN or UNAUTHENTICATED.

type Role = "admin" | "auditor" | "employee" | "owner" | "other" | "nokey" | "revoked" | "agent";
const ROLES: Role[] = ["admin", "auditor", "employee", "owner", "other", "nokey", "revoked", "agent"];
type Rule = "ANY" | "OWNER" | "ELEVATED" | "AUDIT" | "ADMIN";

/** What each rule allows; everyone else gets the code given. */
const EXPECT: Record<Rule, Record<Role, string>> = {
  ANY: { admin: "allowed", auditor: "allowed", employee: "allowed", owner: "allowed", other: "allowed", nokey: "UNAUTHENTICATED", revoked: "UNAUTHENTICATED", agent: "UNAUTHENTICATED" },
  OWNER: { admin: "allowed", auditor: "allowed", employee: "allowed", owner: "allowed", other: "NOT_FOUND", nokey: "UNAUTHENTICATED", revoked: "UNAUTHENTICATED", agent: "UNAUTHENTICATED" },
  ELEVATED: { admin: "allowed", auditor: "allowed", employee: "allowed", owner: "FORBIDDEN", other: "FORBIDDEN", nokey: "UNAUTHENTICATED", revoked: "UNAUTHENTICATED", agent: "UNAUTHENTICATED" },
  AUDIT: { admin: "allowed", auditor: "allowed", employee: "FORBIDDEN", owner: "FORBIDDEN", other: "FORBIDDEN", nokey: "UNAUTHENTICATED", revoked: "UNAUTHENTICATED", agent: "UNAUTHENTICATED" },
  ADMIN: { admin: "allowed", auditor: "FORBIDDEN", employee: "FORBIDDEN", owner: "FORBIDDEN", other: "FORBIDDEN", nokey: "UNAUTHENTICATED", revoked: "UNAUTHENTICATED", agent: "UNAUTHENTICATED" },
};

interface Fixtures {
  jobId: string;
  publishId: string;
  executionId: string;
}

type Op = { rule: Rule; doc: (f: Fixtures) => { query: string; variables?: Record<string, unknown> } };
const u = () => randomUUID().slice(0, 8);
const GHOST = "00000000-0000-0000-0000-000000000000";
const JOB = (owner: string) => ({ name: `job ${u()}`, source: `user:${owner}`, destination: `user:${owner}`, tasks: [{ source: "/a", destination: "/b", size: 1 }] });

const TABLE: Record<string, Op> = {
  "Query.me": { rule: "ANY", doc: () => ({ query: "{ me { id } }" }) },
  "Query.settings": { rule: "ANY", doc: () => ({ query: "{ settings { hooksEnabled } }" }) },
  "Query.queues": { rule: "ANY", doc: () => ({ query: "{ queues { code } }" }) },
  "Query.queue": { rule: "ANY", doc: () => ({ query: `{ queue(code: "default") { code } }` }) },
  "Query.volumes": { rule: "ANY", doc: () => ({ query: "{ volumes { code } }" }) },
  "Query.volume": { rule: "ANY", doc: () => ({ query: `{ volume(code: "ghost") { code } }` }) },
  "Query.jobs": { rule: "ANY", doc: () => ({ query: "{ jobs { nodes { id } } }" }) },
  "Query.job": { rule: "OWNER", doc: (f) => ({ query: `query($id: ID!) { job(id: $id) { code } }`, variables: { id: f.jobId } }) },
  "Query.publishes": { rule: "ANY", doc: () => ({ query: "{ publishes { nodes { id } } }" }) },
  "Query.publish": { rule: "OWNER", doc: (f) => ({ query: `query($id: ID!) { publish(id: $id) { state } }`, variables: { id: f.publishId } }) },
  "Query.executionServers": { rule: "ELEVATED", doc: () => ({ query: "{ executionServers { id } }" }) },
  "Query.auditEvents": { rule: "AUDIT", doc: () => ({ query: "{ auditEvents { nodes { action } } }" }) },
  "Query.execution": { rule: "AUDIT", doc: (f) => ({ query: `query($id: ID!) { execution(id: $id) { status } }`, variables: { id: f.executionId } }) },
  "Query.executions": { rule: "AUDIT", doc: () => ({ query: "{ executions { nodes { id } } }" }) },
  "Query.hookConfigs": { rule: "AUDIT", doc: () => ({ query: "{ hookConfigs { hook } }" }) },
  "Query.hookConfig": { rule: "AUDIT", doc: () => ({ query: "{ hookConfig(hook: POST_DONE_SERVER) { hook } }" }) },
  "Query.effectiveHooks": { rule: "AUDIT", doc: () => ({ query: "{ effectiveHooks(hook: POST_DONE_SERVER) { willRun } }" }) },
  "Query.users": { rule: "ADMIN", doc: () => ({ query: "{ users { id } }" }) },
  "Query.configurationHistory": { rule: "AUDIT", doc: () => ({ query: "{ configurationHistory { version } }" }) },
  "Query.configurationVersion": { rule: "AUDIT", doc: () => ({ query: "{ configurationVersion(version: 1) { version } }" }) },
  "Query.configurationDiff": { rule: "AUDIT", doc: () => ({ query: "{ configurationDiff(from: 1, to: 1) { path } }" }) },
  "Query.exportConfiguration": { rule: "AUDIT", doc: () => ({ query: "{ exportConfiguration }" }) },
  "Mutation.applyConfiguration": { rule: "ADMIN", doc: () => ({ query: "mutation { applyConfiguration(document: {}, dryRun: true) { dryRun } }" }) },
  "Mutation.rollbackConfiguration": { rule: "ADMIN", doc: () => ({ query: "mutation { rollbackConfiguration(version: 999999) { version } }" }) },
  "Mutation.replayExecutions": {
    rule: "ADMIN",
    doc: () => ({ query: `mutation { replayExecutions(filter: { hook: POST_DONE_SERVER, ids: ["${GHOST}"] }, candidate: { commands: { linux: "/bin/true" } }) { hook } }` }),
  },

  "Mutation.submitJob": { rule: "ANY", doc: () => ({ query: `mutation($i: SubmitJobInput!) { submitJob(input: $i) { id } }`, variables: { i: JOB("admin@localhost") } }) },
  "Mutation.registerClient": { rule: "ANY", doc: () => ({ query: `mutation { registerClient(input: { name: "ws", hostname: "ws-${u()}", os: "linux" }) { id } }` }) },
  "Mutation.prePublish": {
    rule: "ANY",
    doc: () => ({ query: `mutation($f: [JSONObject!]!) { prePublish(input: { files: $f }) { id } }`, variables: { f: [{ id: randomUUID(), filename: "x", size: 1 }] } }),
  },
  "Mutation.createApiKey": { rule: "ANY", doc: () => ({ query: `mutation { createApiKey(label: "t") { apiKey { id } } }` }) },
  "Mutation.revokeApiKey": { rule: "ANY", doc: () => ({ query: `mutation { revokeApiKey(id: "${GHOST}") { id } }` }) },
  "Mutation.updateJobStatus": { rule: "OWNER", doc: (f) => ({ query: `mutation($id: ID!) { updateJobStatus(id: $id, status: RUNNING) { status } }`, variables: { id: f.jobId } }) },
  "Mutation.retryJob": { rule: "OWNER", doc: (f) => ({ query: `mutation($id: ID!) { retryJob(id: $id) { status } }`, variables: { id: f.jobId } }) },
  "Mutation.submitPublish": {
    rule: "OWNER",
    doc: (f) => ({ query: `mutation($id: ID!) { submitPublish(input: { publishId: $id, entries: [{ id: "ghost" }] }) { state } }`, variables: { id: f.publishId } }),
  },
  "Query.samplePayload": { rule: "ADMIN", doc: () => ({ query: `{ samplePayload(hook: POST_DONE_SERVER) }` }) },
  "Mutation.triggerHook": { rule: "ADMIN", doc: () => ({ query: `mutation { triggerHook(input: { hook: POST_FAILED_CLIENT }) { id } }` }) },
  "Mutation.retryExecution": { rule: "ADMIN", doc: () => ({ query: `mutation { retryExecution(id: "${GHOST}") { id } }` }) },
  "Mutation.cancelExecution": { rule: "ADMIN", doc: () => ({ query: `mutation { cancelExecution(id: "${GHOST}") { id } }` }) },
  "Mutation.setHookConfig": { rule: "ADMIN", doc: () => ({ query: `mutation { setHookConfig(input: { hook: POST_FAILED_CLIENT, enabled: false }) { hook } }` }) },
  "Mutation.createQueue": { rule: "ADMIN", doc: () => ({ query: `mutation { createQueue(input: { code: "q-${u()}" }) { id } }` }) },
  "Mutation.updateQueue": { rule: "ADMIN", doc: () => ({ query: `mutation { updateQueue(code: "ghost", input: { priority: 1 }) { id } }` }) },
  "Mutation.deleteQueue": { rule: "ADMIN", doc: () => ({ query: `mutation { deleteQueue(code: "ghost") { code } }` }) },
  "Mutation.setQueueHook": { rule: "ADMIN", doc: () => ({ query: `mutation { setQueueHook(input: { queue: "ghost", hook: POST_DONE_SERVER, mode: APPEND, commands: {} }) { id } }` }) },
  "Mutation.removeQueueHook": { rule: "ADMIN", doc: () => ({ query: `mutation { removeQueueHook(queue: "ghost", hook: POST_DONE_SERVER) { id } }` }) },
  "Query.secrets": { rule: "ADMIN", doc: () => ({ query: "{ secrets { name } }" }) },
  "Mutation.setSecret": { rule: "ADMIN", doc: () => ({ query: `mutation { setSecret(name: "S_${u()}", value: "value-of-a-secret") { name } }` }) },
  "Mutation.removeSecret": { rule: "ADMIN", doc: () => ({ query: `mutation { removeSecret(name: "GHOST") { name } }` }) },
  "Mutation.updateSettings": { rule: "ADMIN", doc: () => ({ query: `mutation { updateSettings(input: { hooksEnabled: true }) { hooksEnabled } }` }) },
  "Mutation.createUser": { rule: "ADMIN", doc: () => ({ query: `mutation { createUser(input: { email: "u-${u()}@example.com", role: STANDARD }) { id } }` }) },
  "Mutation.updateUser": { rule: "ADMIN", doc: () => ({ query: `mutation { updateUser(id: "${GHOST}", input: { metadata: { external: { a: 1 } } }) { id } }` }) },
  "Mutation.createVolume": { rule: "ADMIN", doc: () => ({ query: `mutation { createVolume(input: { code: "v-${u()}" }) { id } }` }) },
  "Mutation.updateVolume": { rule: "ADMIN", doc: () => ({ query: `mutation { updateVolume(code: "ghost", input: { name: "x" }) { id } }` }) },
  "Mutation.createAgentToken": { rule: "ADMIN", doc: () => ({ query: `mutation { createAgentToken(input: { kind: SERVER, name: "a-${u()}" }) { token } }` }) },
  "Mutation.revokeAgent": { rule: "ADMIN", doc: () => ({ query: `mutation { revokeAgent(id: "${GHOST}") { id } }` }) },
  "Mutation.deleteVolume": { rule: "ADMIN", doc: () => ({ query: `mutation { deleteVolume(code: "ghost") { id } }` }) },

  "Subscription.jobUpdated": { rule: "OWNER", doc: (f) => ({ query: `subscription($id: ID!) { jobUpdated(id: $id) { status } }`, variables: { id: f.jobId } }) },
  "Subscription.publishUpdated": { rule: "OWNER", doc: (f) => ({ query: `subscription($id: ID!) { publishUpdated(id: $id) { state } }`, variables: { id: f.publishId } }) },
  "Subscription.executionLog": { rule: "AUDIT", doc: (f) => ({ query: `subscription($id: ID!) { executionLog(executionId: $id) { lines { seq } } }`, variables: { id: f.executionId } }) },
  "Subscription.executionUpdated": { rule: "AUDIT", doc: () => ({ query: `subscription { executionUpdated { id } }` }) },
};

describe("permissions: every operation × every caller", () => {
  let server: TestServer;
  let work: string;
  const keys = {} as Record<Role, string | null>;
  let fixtures: Fixtures;
  let agent: { credential: string; executionServerId: string };

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "hookd-perm-"));
    server = await startServer();
    keys.admin = ADMIN_KEY;
    keys.nokey = null;
    const employee = await server.user("employee@studio.example", "EMPLOYEE");
    keys.employee = employee.key;
    keys.auditor = employee.key; // the same EMPLOYEE, once EMPLOYEE is an audit role
    const owner = await server.user("owner@vendor.example", "STANDARD");
    keys.owner = owner.key;
    keys.other = (await server.user("other@vendor.example", "STANDARD")).key;
    const revoked = await server.user("gone@vendor.example", "STANDARD");
    const keyId = (await server.ok(`query { me { apiKeys { id } } }`, {}, revoked.key)).me.apiKeys[0].id;
    await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: keyId });
    keys.revoked = revoked.key;
    // An agent's own credential is no API key: it reaches none of these (its own operations: below).
    agent = await enrolAgent(server, "perm-agent");
    keys.agent = agent.credential;

    const approve = path.join(work, "approve.py");
    writeFileSync(
      approve,
      `#!/usr/bin/python3\nimport json, sys\nd = json.load(open(sys.argv[1]))\njson.dump({"files": [{"id": f["id"], "can_publish": True, "path": "/tmp/x"} for f in d["files"]]}, open(sys.argv[2], "w"))\n`,
    );
    chmodSync(approve, 0o755);
    await server.ok(`mutation($l: String!) { setHookConfig(input: { hook: PRE_PUBLISH_SERVER, enabled: true, commands: { linux: $l } }) { hook } }`, {
      l: `${approve} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}`,
    });
    await server.ok(`mutation { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: "/bin/true" } }) { hook } }`);
    const jobId = (await server.ok(`mutation($i: SubmitJobInput!) { submitJob(input: $i) { id } }`, { i: JOB("owner@vendor.example") }, owner.key)).submitJob.id;
    const publishId = (await server.ok(`mutation($f: [JSONObject!]!) { prePublish(input: { files: $f }) { id } }`, { f: [{ id: randomUUID(), filename: "x", size: 1 }] }, owner.key)).prePublish.id;
    const executionId = (await server.ok(`mutation { triggerHook(input: { hook: POST_DONE_SERVER, wait: true }) { id } }`)).triggerHook[0].id;
    fixtures = { jobId, publishId, executionId };
  });
  after(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("the table covers every operation in the schema (add an entry for a new one)", () => {
    const schema = server.app.schema;
    const ops = ["Query", "Mutation", "Subscription"].flatMap((type) => {
      const t = schema.getType(type);
      return t && isObjectType(t) ? Object.keys(t.getFields()).map((f) => `${type}.${f}`) : [];
    });
    assert.deepEqual([...ops].sort(), Object.keys(TABLE).sort());
  });

  async function attempt(op: string, role: Role): Promise<string> {
    const { query, variables } = TABLE[op].doc(fixtures);
    if (op.startsWith("Subscription.")) {
      const sub = subscribe(server.url, keys[role], query, variables);
      const end = await Promise.race([sub.ended, new Promise<null>((r) => setTimeout(() => r(null), 400))]);
      await sub.dispose();
      if (end === null || end.completed) return "allowed";
      if (end.close) return end.close.code === 4401 ? "UNAUTHENTICATED" : `close ${end.close.code}`;
      const code = end.errors?.[0]?.extensions?.code ?? "ERROR";
      return code === "FORBIDDEN" || code === "UNAUTHENTICATED" || (code === "NOT_FOUND" && TABLE[op].rule === "OWNER") ? code : "allowed";
    }
    const res = await server.gql(query, variables ?? {}, keys[role]);
    if (!res.errors) return "allowed";
    const code = res.errors[0].extensions?.code ?? "ERROR";
    if (code === "GRAPHQL_VALIDATION_FAILED" || code === "INTERNAL_SERVER_ERROR") return `${code}: ${res.errors[0].message}`;
    // NOT_FOUND is the expected answer to a non-owner; for everyone else it is about the made-up target.
    return code === "FORBIDDEN" || code === "UNAUTHENTICATED" || (code === "NOT_FOUND" && TABLE[op].rule === "OWNER" && role === "other") ? code : "allowed";
  }

  test("agent credential on its own socket: no operation of the schema exists for it", async () => {
    const socket = agentSocket(server.url, agent.credential);
    try {
      const wrong: string[] = [];
      for (const op of Object.keys(TABLE)) {
        const { query, variables } = TABLE[op].doc(fixtures);
        const res = await socket.run(query, variables);
        if (res.errors?.[0]?.extensions?.code !== "GRAPHQL_VALIDATION_FAILED") wrong.push(`${op}: ${JSON.stringify(res).slice(0, 200)}`);
      }
      assert.deepEqual(wrong, []);
    } finally {
      await socket.client.dispose();
    }
  });

  test("the agent's operations: only an agent credential reaches them, and only on its own server's executions", async () => {
    const agentSchema = await buildAgentSchema(server.app.services);
    const AGENT_OPS: Record<string, { query: string; variables?: Record<string, unknown> }> = {
      "Query.agent": { query: "{ agent { id } }" },
      "Mutation.agentClaim": { query: `mutation($id: ID!) { agentClaim(executionId: $id) { id } }`, variables: { id: fixtures.executionId } },
      "Mutation.agentRenew": { query: `mutation($id: ID!) { agentRenew(executionIds: [$id]) { lost } }`, variables: { id: fixtures.executionId } },
      "Mutation.agentLog": {
        query: `mutation($id: ID!) { agentLog(executionId: $id, lines: [{ seq: 1, stream: STDOUT, at: "2026-01-01T00:00:00Z", text: "x" }]) { acknowledged } }`,
        variables: { id: fixtures.executionId },
      },
      "Mutation.agentFinish": { query: `mutation($id: ID!) { agentFinish(executionId: $id, outcome: { status: SUCCEEDED }, lastSeq: 0) }`, variables: { id: fixtures.executionId } },
      "Subscription.agentAssignments": { query: `subscription { agentAssignments(hello: { hostname: "h", os: "linux" }) { queued } }` },
    };
    const ops = ["Query", "Mutation", "Subscription"].flatMap((type) => {
      const t = agentSchema.getType(type);
      return t && isObjectType(t) ? Object.keys(t.getFields()).map((f) => `${type}.${f}`) : [];
    });
    assert.deepEqual([...ops].sort(), Object.keys(AGENT_OPS).sort(), "the table covers every agent operation");
    const wrong: string[] = [];
    for (const [op, { query, variables }] of Object.entries(AGENT_OPS)) {
      // API keys of every role, over HTTP: the operation does not exist in their schema.
      for (const role of ["admin", "employee", "owner"] as Role[]) {
        const res = await server.gql(query, variables ?? {}, keys[role]);
        if (res.errors?.[0]?.extensions?.code !== "GRAPHQL_VALIDATION_FAILED") wrong.push(`${op} as ${role}: ${JSON.stringify(res).slice(0, 200)}`);
      }
    }
    // The agent itself: the fixture's execution belongs to hookd's own server, not the agent's.
    const socket = agentSocket(server.url, agent.credential);
    try {
      for (const op of ["Mutation.agentClaim", "Mutation.agentLog", "Mutation.agentFinish"]) {
        const res = await socket.run(AGENT_OPS[op].query, AGENT_OPS[op].variables);
        if (res.errors?.[0]?.extensions?.code !== "NOT_FOUND") wrong.push(`${op} as the agent, on another server's execution: ${JSON.stringify(res).slice(0, 200)}`);
      }
      const renewed = await socket.run(AGENT_OPS["Mutation.agentRenew"].query, AGENT_OPS["Mutation.agentRenew"].variables);
      assert.deepEqual(renewed.data?.agentRenew?.lost, [fixtures.executionId], "renewing another runner's execution extends nothing");
      assert.ok((await socket.run(AGENT_OPS["Query.agent"].query)).data?.agent?.id);
    } finally {
      await socket.client.dispose();
    }
    assert.deepEqual(wrong, []);
  });

  test("a refusing hook's message reaches every role in extensions.hookMessage; its stderr only ADMIN and audit roles", async () => {
    const says = path.join(work, "says-no.py");
    writeFileSync(
      says,
      `#!/usr/bin/python3\nimport json, sys\nprint("token=s3cr3t in /srv/keys", file=sys.stderr)\njson.dump({"message": "Deliveries to this queue close at 18:00.\\u0007"}, open(sys.argv[2], "w"))\nsys.exit(1)\n`,
    );
    chmodSync(says, 0o755);
    // A queue of its own, so the other tests' submissions are not refused.
    await server.ok(`mutation { createQueue(input: { code: "says-no" }) { id } }`);
    await server.ok(`mutation($l: String!) { setQueueHook(input: { queue: "says-no", hook: PRE_SUBMIT_SERVER, mode: OVERRIDE, enabled: true, commands: { linux: $l } }) { id } }`, {
      l: `${says} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}`,
    });
    const said = "Deliveries to this queue close at 18:00.";
    const emails: Record<string, string> = { admin: "admin@localhost", auditor: "employee@studio.example", employee: "employee@studio.example", owner: "owner@vendor.example" };
    try {
      for (const role of ["admin", "auditor", "employee", "owner"] as Role[]) {
        await server.ok(`mutation($r: [UserRole!]!) { updateSettings(input: { auditRoles: $r }) { auditRoles } }`, { r: role === "auditor" ? ["EMPLOYEE"] : [] });
        const res = await server.gql(`mutation($i: SubmitJobInput!) { submitJob(input: $i) { id } }`, { i: { ...JOB(emails[role]), queue: "says-no" } }, keys[role]);
        const error = res.errors?.[0];
        assert.ok(error, `${role}: ${JSON.stringify(res)}`);
        assert.deepEqual(error.extensions, { code: "HOOK_FAILED", hook: "PRE_SUBMIT_SERVER", hookMessage: said }, role);
        if (role === "admin" || role === "auditor") assert.match(error.message, /last stderr: token=s3cr3t in \/srv\/keys \(execution /, role);
        else {
          assert.equal(error.message, `pre-submit-server refused the job: ${said}`, role);
          assert.doesNotMatch(JSON.stringify(res), /s3cr3t|srv\/keys|execution [0-9a-f]{8}-/, role);
        }
      }
    } finally {
      await server.ok(`mutation { updateSettings(input: { auditRoles: [] }) { auditRoles } }`);
    }
  });

  test("publishes and Job.publish: a STANDARD user's own; ADMIN, EMPLOYEE and audit roles everyone's", async () => {
    const LIST = `{ publishes(first: 500) { nodes { id } } }`;
    const listed = async (role: Role) => (await server.gql(LIST, {}, keys[role])).data?.publishes.nodes.map((n: any) => n.id) as string[];
    for (const role of ["admin", "employee", "owner"] as Role[]) assert.ok((await listed(role)).includes(fixtures.publishId), `${role} lists the owner's publish`);
    assert.ok(!(await listed("other")).includes(fixtures.publishId), "another STANDARD user does not");
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { publish { id } } }`, { id: fixtures.jobId }, keys.owner);
    assert.equal(job.publish, null, "a job that is no upload has no publish");
  });

  for (const role of ROLES) {
    test(`${role}: each operation is allowed or refused with the exact code`, async () => {
      await server.ok(`mutation($r: [UserRole!]!) { updateSettings(input: { auditRoles: $r }) { auditRoles } }`, { r: role === "auditor" ? ["EMPLOYEE"] : [] });
      const wrong: string[] = [];
      for (const op of Object.keys(TABLE)) {
        const expected = EXPECT[TABLE[op].rule][role];
        const actual = await attempt(op, role);
        if (actual !== expected) wrong.push(`${op}: expected ${expected}, got ${actual}`);
      }
      assert.deepEqual(wrong, []);
    });
  }
});

describe("internal metadata never reaches a STANDARD user", () => {
  let server: TestServer;
  const SECRET = `TOP-SECRET-${randomUUID()}`;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("at every level, in any answer a STANDARD user can get", async () => {
    const internal = { secret: SECRET };
    await server.ok(`mutation($m: JSONObject) { updateSettings(input: { metadata: { internal: $m, external: { studio: "x" } } }) { hooksEnabled } }`, { m: internal });
    await server.ok(`mutation($m: JSONObject) { createQueue(input: { code: "vfx", default: true, metadata: { internal: $m } }) { id } }`, { m: internal });
    await server.ok(`mutation($m: JSONObject) { createVolume(input: { code: "projects", paths: { linux: "/mnt/p" }, metadata: { internal: $m } }) { id } }`, { m: internal });
    const vendor = await server.user("vendor@example.com", "STANDARD");
    const job = (
      await server.ok(
        `mutation($m: JSONObject) { submitJob(input: { name: "j", source: "user:vendor@example.com", destination: "volume:projects", tasks: [{ source: "/a", destination: "volume=projects/x", size: 1 }], metadata: { external: $m } }) { id } }`,
        { m: { note: "x" } },
        vendor.key,
      )
    ).submitJob;
    await server.ok(`mutation($id: ID!, $m: JSONObject) { updateUser(id: $id, input: { metadata: { internal: $m } }) { id } }`, { id: vendor.id, m: internal });
    // The client's internal metadata is set by an ADMIN (a STANDARD user may set none).
    await server.ok(`mutation($m: JSONObject, $u: ID!) { registerClient(input: { name: "ws", hostname: "vendor-ws", os: "mac", user: $u, metadata: { internal: $m } }) { id } }`, {
      m: internal,
      u: vendor.id,
    });

    for (const query of [
      `{ settings { metadata { internal } } }`,
      `{ queues { metadata { internal } } }`,
      `{ volumes { metadata { internal } } }`,
      `query($id: ID!) { job(id: $id) { metadata { internal } } }`,
      `{ me { metadata { internal } } }`,
      `query($id: ID!) { job(id: $id) { user { metadata { internal } } } }`,
    ]) {
      const res = await server.gql(query, { id: job.id }, vendor.key);
      assert.equal(res.errors?.[0].extensions?.code, "FORBIDDEN", query);
      assert.ok(!JSON.stringify(res).includes(SECRET), query);
    }
    // Everything a STANDARD user may read, in one go: the secret appears nowhere.
    const everything = await server.gql(
      `query($id: ID!) { me { email apiKeys { prefix } metadata { external } } settings { hooksEnabled auditRoles metadata { external } } queues { code metadata { external } }
        volumes { code metadata { external } } jobs { nodes { id code tasks metadata { external } queue { code } } } job(id: $id) { tasks source destination } }`,
      { id: job.id },
      vendor.key,
    );
    assert.equal(everything.errors, undefined, JSON.stringify(everything.errors));
    assert.ok(!JSON.stringify(everything).includes(SECRET));
  });
});
