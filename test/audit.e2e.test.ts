import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { expectError, startServer, type TestServer } from "./helpers/server.js";

const EVENTS = `query($filter: AuditFilterInput, $first: Int) { auditEvents(filter: $filter, first: $first) { nodes { at actor actorId action targetType targetId before after } pageInfo { hasNextPage endCursor } } }`;

describe("the audit trail", () => {
  let server: TestServer;
  const events = async (filter: Record<string, unknown> = {}, key?: string) => (await server.ok(EVENTS, { filter, first: 500 }, key)).auditEvents.nodes as any[];

  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("start-up records the first admin as done by hookd itself", async () => {
    const [created] = await events({ action: "user.create" });
    assert.equal(created.actor, "hookd");
    assert.equal(created.actorId, null);
    assert.equal(created.after.email, "admin@localhost");
    const [key] = await events({ action: "apiKey.create" });
    assert.equal(key.after.hash, undefined, "no secret ever reaches the trail");
    assert.equal(key.after.prefix.length, 12);
  });

  test("configuration changes record who, what, and the values before and after", async () => {
    const { me } = await server.ok(`{ me { id } }`);
    await server.ok(`mutation { updateSettings(input: { hooksEnabled: false }) { hooksEnabled } }`);
    await server.ok(`mutation { setHookConfig(input: { hook: POST_DONE_SERVER, enabled: true, commands: { linux: "/bin/true" } }) { hook } }`);
    await server.ok(`mutation { createQueue(input: { code: "vfx", priority: 10 }) { id } }`);
    await server.ok(`mutation { updateQueue(code: "vfx", input: { priority: 20 }) { id } }`);
    await server.ok(`mutation { setQueueHook(input: { queue: "vfx", hook: POST_DONE_SERVER, mode: APPEND, commands: { linux: "/bin/true" } }) { id } }`);
    await server.ok(`mutation { removeQueueHook(queue: "vfx", hook: POST_DONE_SERVER) { id } }`);
    await server.ok(`mutation { createVolume(input: { code: "p", paths: { linux: "/p" } }) { id } }`);
    await server.ok(`mutation { updateVolume(code: "p", input: { name: "P" }) { id } }`);
    await server.ok(`mutation { deleteVolume(code: "p") { id } }`);
    await server.ok(`mutation { deleteQueue(code: "vfx") { code } }`);
    await server.ok(`mutation { updateSettings(input: { hooksEnabled: true }) { hooksEnabled } }`);

    const all = await events();
    const mine = all.filter((e) => e.actorId === me.id).reverse();
    assert.deepEqual(
      mine.map((e) => e.action),
      ["settings.update", "hookConfig.set", "queue.create", "queue.update", "queueHook.set", "queueHook.remove", "volume.create", "volume.update", "volume.delete", "queue.delete", "settings.update"],
    );
    assert.ok(mine.every((e) => e.actor === "admin@localhost"));
    const [settingsOff] = mine;
    assert.equal(settingsOff.before.hooksEnabled, true);
    assert.equal(settingsOff.after.hooksEnabled, false);
    const queueUpdate = mine[3];
    assert.deepEqual([queueUpdate.before.priority, queueUpdate.after.priority], [10, 20]);
    assert.equal(mine[1].before, null, "a hook point configured for the first time had no before");
    assert.equal(mine[1].after.commands.linux, "/bin/true");
    assert.equal(mine[9].before.code, "vfx");
    assert.deepEqual(mine[9].after, { movedJobs: 0, movedTo: "default" });
    assert.equal(mine[5].targetId, "vfx/POST_DONE_SERVER");
  });

  test("a refused change records nothing", async () => {
    const count = (await events()).length;
    expectError(await server.gql(`mutation { createQueue(input: { code: "bad code" }) { id } }`), "BAD_USER_INPUT");
    expectError(await server.gql(`mutation { setHookConfig(input: { hook: POST_DONE_SERVER, timeoutSeconds: 0 }) { hook } }`), "BAD_USER_INPUT");
    assert.equal((await events()).length, count);
  });

  test("users, keys, trigger, retry and cancel are recorded", async () => {
    const user = await server.user("td@studio.example", "EMPLOYEE");
    const keys = await events({ action: "apiKey.create" });
    assert.equal(keys[0].after.userId, user.id);
    await server.ok(`mutation { setHookConfig(input: { hook: POST_FAILED_SERVER, enabled: true, commands: { linux: "/bin/false" } }) { hook } }`);
    const [execution] = (await server.ok(`mutation { triggerHook(input: { hook: POST_FAILED_SERVER, wait: true }) { id status } }`)).triggerHook;
    const retried = (await server.ok(`mutation($id: ID!) { retryExecution(id: $id) { id } }`, { id: execution.id })).retryExecution;
    const [trigger] = await events({ action: "execution.trigger", target: execution.id });
    assert.equal(trigger.after.hook, "POST_FAILED_SERVER");
    const [retry] = await events({ action: "execution.retry" });
    assert.equal(retry.targetId, retried.id);
    assert.equal(retry.before.retryOf, execution.id);

    await server.ok(`mutation { setHookConfig(input: { hook: POST_SUBMIT_SERVER, enabled: true, commands: { linux: "/bin/sleep 20" } }) { hook } }`);
    const [slow] = (await server.ok(`mutation { triggerHook(input: { hook: POST_SUBMIT_SERVER, wait: false }) { id } }`)).triggerHook;
    await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { status } }`, { id: slow.id });
    const [cancel] = await events({ action: "execution.cancel", target: slow.id });
    assert.equal(cancel.after.status, "CANCELLED");

    const created = (await server.ok(`mutation { createApiKey(label: "x") { apiKey { id } } }`)).createApiKey.apiKey;
    await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: created.id });
    const [revoke] = await events({ action: "apiKey.revoke", target: created.id });
    assert.equal(revoke.before.revokedAt, null);
    assert.ok(revoke.after.revokedAt);
  });

  test("filters: by actor (id or email) and since; pages newest first", async () => {
    const byEmail = await events({ actor: "admin@localhost" });
    const { me } = await server.ok(`{ me { id } }`);
    assert.deepEqual(byEmail, await events({ actor: me.id }));
    const future = await events({ since: new Date(Date.now() + 60_000).toISOString() });
    assert.deepEqual(future, []);
    const all = await events();
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const page: any = (await server.ok(`query($after: String) { auditEvents(first: 5, after: $after) { nodes { at action targetId } pageInfo { hasNextPage endCursor } } }`, { after: cursor }))
        .auditEvents;
      seen.push(...page.nodes.map((n: any) => `${n.at}|${n.action}|${n.targetId}`));
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor;
    }
    assert.deepEqual(
      seen,
      all.map((n) => `${n.at}|${n.action}|${n.targetId}`),
    );
  });

  test("ADMIN and audit roles read the trail; others are refused", async () => {
    const employee = await server.user("auditor@studio.example", "EMPLOYEE");
    const vendor = await server.user("vendor@example.com", "STANDARD");
    expectError(await server.gql(EVENTS, {}, employee.key), "FORBIDDEN", /auditEvents requires ADMIN or one of the workspace's audit roles/);
    expectError(await server.gql(EVENTS, {}, vendor.key), "FORBIDDEN");
    await server.ok(`mutation { updateSettings(input: { auditRoles: [EMPLOYEE] }) { auditRoles } }`);
    assert.ok((await events({}, employee.key)).length > 0);
    expectError(await server.gql(EVENTS, {}, vendor.key), "FORBIDDEN");
  });
});
