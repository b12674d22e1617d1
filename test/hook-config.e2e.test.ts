import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { expectError, startServer, type TestServer } from "./helpers/server.js";

const SET = `mutation($input: SetHookConfigInput!) {
  setHookConfig(input: $input) { hook scriptName enabled commands { linux mac windows } timeoutSeconds effectiveTimeoutSeconds executionServer { id } }
}`;
const GET = `query($hook: HookPoint!) { hookConfig(hook: $hook) { hook enabled commands { linux mac windows } timeoutSeconds } }`;
const EFFECTIVE = `query($queue: String, $hook: HookPoint!) {
  effectiveHooks(queue: $queue, hook: $hook) { source mode queue enabled os command timeoutSeconds willRun skipReason skipMessage executionServer { hostname } }
}`;

describe("settings", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("defaults after first start: hooks enabled, this server the default, no audit roles", async () => {
    const data = await server.ok(`{ settings { hooksEnabled auditRoles defaultExecutionServer { hostname kind online os } metadata { external internal } } }`);
    assert.equal(data.settings.hooksEnabled, true);
    assert.deepEqual(data.settings.auditRoles, []);
    assert.equal(data.settings.defaultExecutionServer.hostname, "hookd-test-host");
    assert.equal(data.settings.defaultExecutionServer.kind, "SERVER");
    assert.equal(data.settings.defaultExecutionServer.online, true);
    assert.equal(data.settings.defaultExecutionServer.os, "linux");
    assert.deepEqual(data.settings.metadata, { external: {}, internal: {} });
  });

  test("updateSettings changes what it is given and keeps the rest", async () => {
    const data = await server.ok(
      `mutation { updateSettings(input: { auditRoles: [EMPLOYEE], metadata: { internal: { secret: "s" }, external: { studio: "x" } } }) { hooksEnabled auditRoles metadata { external internal } } }`,
    );
    assert.deepEqual(data.updateSettings, { hooksEnabled: true, auditRoles: ["EMPLOYEE"], metadata: { external: { studio: "x" }, internal: { secret: "s" } } });
    const again = await server.ok(`mutation { updateSettings(input: { metadata: { external: { studio: "y" } } }) { metadata { external internal } } }`);
    assert.deepEqual(again.updateSettings.metadata, { external: { studio: "y" }, internal: { secret: "s" } });
  });

  test("STANDARD may never be an audit role", async () => {
    const res = await server.gql(`mutation { updateSettings(input: { auditRoles: [STANDARD] }) { auditRoles } }`);
    expectError(res, "BAD_USER_INPUT", /input\.auditRoles: STANDARD users may never audit/);
    const data = await server.ok(`{ settings { auditRoles } }`);
    assert.deepEqual(data.settings.auditRoles, ["EMPLOYEE"]);
  });

  test("an unknown default execution server is refused, naming the field", async () => {
    const res = await server.gql(`mutation { updateSettings(input: { defaultExecutionServer: "nope" }) { hooksEnabled } }`);
    expectError(res, "BAD_USER_INPUT", /input\.defaultExecutionServer: no execution server has id 'nope'/);
  });

  test("metadata must be a JSON object", async () => {
    const res = await server.gql(`mutation($m: JSONObject) { updateSettings(input: { metadata: { external: $m } }) { hooksEnabled } }`, { m: [1, 2] });
    expectError(res, "BAD_USER_INPUT", /JSONObject cannot represent non-object value/);
  });

  test("a non-admin cannot change settings: FORBIDDEN naming the operation", async () => {
    const employee = await server.user("emp@example.com", "EMPLOYEE");
    const res = await server.gql(`mutation { updateSettings(input: { hooksEnabled: false }) { hooksEnabled } }`, {}, employee.key);
    expectError(res, "FORBIDDEN", /mutation\.updateSettings requires the ADMIN role; your role is EMPLOYEE/);
    assert.equal((await server.ok(`{ settings { hooksEnabled } }`)).settings.hooksEnabled, true);
  });

  test("STANDARD users cannot read internal metadata", async () => {
    const standard = await server.user("std@example.com", "STANDARD");
    const res = await server.gql(`{ settings { metadata { internal } } }`, {}, standard.key);
    expectError(res, "FORBIDDEN", /MetadataPair\.internal requires the ADMIN or EMPLOYEE role/);
    const ok = await server.ok(`{ settings { metadata { external } } }`, {}, standard.key);
    assert.deepEqual(ok.settings.metadata.external, { studio: "y" });
  });
});

describe("hook configurations", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("hookConfigs lists all ten hook points, unconfigured ones disabled", async () => {
    const data = await server.ok(`{ hookConfigs { hook scriptName enabled commands { linux } effectiveTimeoutSeconds } }`);
    assert.equal(data.hookConfigs.length, 10);
    const byHook = Object.fromEntries(data.hookConfigs.map((c: any) => [c.hook, c]));
    assert.equal(byHook.PRE_PUBLISH_SERVER.scriptName, "pre-publish-server");
    assert.equal(byHook.PRE_SUBMIT_SERVER.effectiveTimeoutSeconds, 30);
    assert.equal(byHook.POST_DONE_SERVER.effectiveTimeoutSeconds, 600);
    assert.ok(data.hookConfigs.every((c: any) => c.enabled === false && c.commands.linux === null));
  });

  test("size bounds on input fields (class-validator) refuse an oversized command line, naming the field, and store nothing", async () => {
    const result = await server.gql(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: `/bin/echo ${"x".repeat(8192)}` } } });
    expectError(result, "BAD_USER_INPUT", /^commands\.linux: linux must be shorter than or equal to 8192 characters$/);
    const { hookConfig } = await server.ok(`{ hookConfig(hook: POST_SUBMIT_SERVER) { enabled commands { linux } } }`);
    assert.deepEqual(hookConfig, { enabled: false, commands: { linux: null } });
  });

  test("setHookConfig stores per-OS command lines and a timeout", async () => {
    const input = {
      hook: "POST_DONE_SERVER",
      enabled: true,
      commands: { linux: `/usr/bin/python3 "/opt/hooks/post done.py" \${PATH_JSON_INPUT}`, windows: `"C:\\Program Files\\Python311\\python.exe" C:\\hooks\\post_done.py "\${PATH_JSON_INPUT}"` },
      timeoutSeconds: 120,
    };
    const data = await server.ok(SET, { input });
    assert.deepEqual(data.setHookConfig, {
      hook: "POST_DONE_SERVER",
      scriptName: "post-done-server",
      enabled: true,
      commands: { linux: input.commands.linux, mac: null, windows: input.commands.windows },
      timeoutSeconds: 120,
      effectiveTimeoutSeconds: 120,
      executionServer: null,
    });
    const read = await server.ok(GET, { hook: "POST_DONE_SERVER" });
    assert.equal(read.hookConfig.commands.linux, input.commands.linux);
  });

  test("fields left out keep their value; null clears an OS and the timeout", async () => {
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", commands: { mac: "/opt/hooks/mac.sh ${PATH_JSON_INPUT}" } } });
    const read = await server.ok(GET, { hook: "POST_DONE_SERVER" });
    assert.equal(read.hookConfig.enabled, true);
    assert.match(read.hookConfig.commands.linux, /post done\.py/);
    assert.equal(read.hookConfig.commands.mac, "/opt/hooks/mac.sh ${PATH_JSON_INPUT}");
    const cleared = await server.ok(SET, { input: { hook: "POST_DONE_SERVER", commands: { windows: null }, timeoutSeconds: null } });
    assert.equal(cleared.setHookConfig.commands.windows, null);
    assert.equal(cleared.setHookConfig.timeoutSeconds, null);
    assert.equal(cleared.setHookConfig.effectiveTimeoutSeconds, 600);
  });

  test("${PATH_JSON_OUTPUT} is accepted on pre-publish", async () => {
    const data = await server.ok(SET, {
      input: { hook: "PRE_PUBLISH_SERVER", enabled: true, commands: { linux: "/usr/bin/python3 /opt/pre.py ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}" } },
    });
    assert.equal(data.setHookConfig.effectiveTimeoutSeconds, 30);
  });

  test("${PATH_JSON_OUTPUT} is accepted on every other hook too: an optional answer whose message reaches the user", async () => {
    for (const hook of ["PRE_SUBMIT_SERVER", "POST_FAILED_SERVER", "POST_DONE_CLIENT"]) {
      const data = await server.ok(SET, { input: { hook, enabled: false, commands: { linux: "/opt/x.sh ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}" } } });
      assert.equal(data.setHookConfig.hook, hook);
      await server.ok(SET, { input: { hook, commands: { linux: null } } });
    }
  });

  const refused: [string, Record<string, unknown>, string, RegExp][] = [
    ["an unknown token", { commands: { linux: "/opt/x.sh ${HOME}" } }, "BAD_USER_INPUT", /input\.commands\.linux: .*\$\{HOME\}/],
    ["unbalanced quotes", { commands: { linux: `/opt/x.sh "\${PATH_JSON_INPUT}` } }, "BAD_USER_INPUT", /input\.commands\.linux: .*unbalanced/],
    ["unbalanced quotes on windows", { commands: { windows: `"C:\\Program Files\\x.exe \${PATH_JSON_INPUT}` } }, "BAD_USER_INPUT", /input\.commands\.windows: .*unbalanced/],
    ["an empty command", { commands: { linux: "   " } }, "BAD_USER_INPUT", /input\.commands\.linux: the command line is empty/],
    ["a zero timeout", { timeoutSeconds: 0 }, "BAD_USER_INPUT", /input\.timeoutSeconds: must be a positive whole number of seconds \(got 0\)/],
    ["a negative timeout", { timeoutSeconds: -5 }, "BAD_USER_INPUT", /input\.timeoutSeconds: must be a positive/],
    ["an unknown execution server", { executionServer: "no-such-server" }, "BAD_USER_INPUT", /input\.executionServer: no execution server has id 'no-such-server'/],
  ];
  for (const [what, fields, code, message] of refused) {
    test(`refused: ${what}, and nothing changes`, async () => {
      const before = await server.ok(GET, { hook: "POST_DONE_SERVER" });
      const res = await server.gql(SET, { input: { hook: "POST_DONE_SERVER", enabled: false, ...fields } });
      expectError(res, code, message);
      const after = await server.ok(GET, { hook: "POST_DONE_SERVER" });
      assert.deepEqual(after, before);
    });
  }

  test("an execution-server override is refused on client hooks", async () => {
    const { settings } = await server.ok(`{ settings { defaultExecutionServer { id } } }`);
    const res = await server.gql(SET, { input: { hook: "POST_DONE_CLIENT", executionServer: settings.defaultExecutionServer.id } });
    expectError(res, "BAD_USER_INPUT", /input\.executionServer: POST_DONE_CLIENT runs on the job's client/);
  });

  test("an unknown hook point is refused by the schema", async () => {
    const res = await server.gql(SET, { input: { hook: "POST_LUNCH_SERVER" } });
    expectError(res, "BAD_USER_INPUT", /POST_LUNCH_SERVER/);
  });

  test("reading hook configs needs ADMIN or an audit role", async () => {
    const employee = await server.user("auditor@example.com", "EMPLOYEE");
    expectError(await server.gql(`{ hookConfigs { hook } }`, {}, employee.key), "FORBIDDEN", /query\.hookConfigs requires ADMIN or one of the workspace's audit roles/);
    await server.ok(`mutation { updateSettings(input: { auditRoles: [EMPLOYEE] }) { auditRoles } }`);
    const data = await server.ok(`{ hookConfigs { hook } }`, {}, employee.key);
    assert.equal(data.hookConfigs.length, 10);
    expectError(await server.gql(SET, { input: { hook: "POST_DONE_SERVER", enabled: true } }, employee.key), "FORBIDDEN", /setHookConfig requires the ADMIN role/);
  });
});

describe("effective hooks", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: "/opt/ws.sh ${PATH_JSON_INPUT}" } } });
    await server.ok(`mutation { createQueue(input: { code: "vfx", name: "VFX" }) { code } }`);
    await server.ok(`mutation { createQueue(input: { code: "edit" }) { code } }`);
  });
  after(() => server.close());

  test("the workspace entry alone, in the default queue", async () => {
    const data = await server.ok(EFFECTIVE, { hook: "POST_DONE_SERVER" });
    assert.deepEqual(data.effectiveHooks, [
      {
        source: "WORKSPACE",
        mode: null,
        queue: null,
        enabled: true,
        os: "linux",
        command: "/opt/ws.sh ${PATH_JSON_INPUT}",
        timeoutSeconds: 600,
        willRun: true,
        skipReason: null,
        skipMessage: null,
        executionServer: { hostname: "hookd-test-host" },
      },
    ]);
  });

  test("a point never configured says so", async () => {
    const data = await server.ok(EFFECTIVE, { hook: "POST_FAILED_SERVER" });
    assert.equal(data.effectiveHooks.length, 1);
    assert.equal(data.effectiveHooks[0].willRun, false);
    assert.equal(data.effectiveHooks[0].skipReason, "NOT_CONFIGURED");
  });

  test("APPEND runs after the workspace entry", async () => {
    await server.ok(`mutation { setQueueHook(input: { queue: "vfx", hook: POST_DONE_SERVER, mode: APPEND, commands: { linux: "/opt/vfx.sh \${PATH_JSON_INPUT}" }, timeoutSeconds: 5 }) { id } }`);
    const data = await server.ok(EFFECTIVE, { queue: "vfx", hook: "POST_DONE_SERVER" });
    assert.deepEqual(
      data.effectiveHooks.map((e: any) => [e.source, e.mode, e.queue, e.command, e.timeoutSeconds, e.willRun]),
      [
        ["WORKSPACE", null, null, "/opt/ws.sh ${PATH_JSON_INPUT}", 600, true],
        ["QUEUE", "APPEND", "vfx", "/opt/vfx.sh ${PATH_JSON_INPUT}", 5, true],
      ],
    );
  });

  test("OVERRIDE replaces the workspace entry, which is listed as overridden", async () => {
    await server.ok(`mutation { setQueueHook(input: { queue: "edit", hook: POST_DONE_SERVER, mode: OVERRIDE, commands: { linux: "/opt/edit.sh \${PATH_JSON_INPUT}" } }) { id } }`);
    const data = await server.ok(EFFECTIVE, { queue: "edit", hook: "POST_DONE_SERVER" });
    assert.deepEqual(
      data.effectiveHooks.map((e: any) => [e.source, e.mode, e.willRun, e.skipReason]),
      [
        ["WORKSPACE", null, false, "OVERRIDDEN"],
        ["QUEUE", "OVERRIDE", true, null],
      ],
    );
    assert.match(data.effectiveHooks[0].skipMessage, /queue 'edit'/);
  });

  test("a disabled workspace hook with an APPEND queue entry runs only the queue's", async () => {
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: false } });
    const data = await server.ok(EFFECTIVE, { queue: "vfx", hook: "POST_DONE_SERVER" });
    assert.deepEqual(
      data.effectiveHooks.map((e: any) => [e.source, e.willRun, e.skipReason]),
      [
        ["WORKSPACE", false, "HOOK_DISABLED"],
        ["QUEUE", true, null],
      ],
    );
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true } });
  });

  test("a disabled queue entry does not override", async () => {
    await server.ok(`mutation { setQueueHook(input: { queue: "edit", hook: POST_DONE_SERVER, mode: OVERRIDE, enabled: false, commands: {} }) { id enabled } }`);
    const data = await server.ok(EFFECTIVE, { queue: "edit", hook: "POST_DONE_SERVER" });
    assert.deepEqual(
      data.effectiveHooks.map((e: any) => [e.source, e.willRun, e.skipReason]),
      [
        ["WORKSPACE", true, null],
        ["QUEUE", false, "HOOK_DISABLED"],
      ],
    );
  });

  test("no command for the server's OS is explained", async () => {
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { windows: "C:\\hooks\\x.exe ${PATH_JSON_INPUT}" } } });
    const data = await server.ok(EFFECTIVE, { hook: "POST_SUBMIT_SERVER" });
    assert.equal(data.effectiveHooks[0].skipReason, "NO_COMMAND_FOR_OS");
    assert.match(data.effectiveHooks[0].skipMessage, /no command line for linux/);
  });

  test("hooks disabled in the settings: nothing runs, and every entry says why", async () => {
    await server.ok(`mutation { updateSettings(input: { hooksEnabled: false }) { hooksEnabled } }`);
    const data = await server.ok(EFFECTIVE, { queue: "vfx", hook: "POST_DONE_SERVER" });
    assert.deepEqual(
      data.effectiveHooks.map((e: any) => e.skipReason),
      ["HOOKS_DISABLED", "HOOKS_DISABLED"],
    );
    await server.ok(`mutation { updateSettings(input: { hooksEnabled: true }) { hooksEnabled } }`);
  });

  test("an unknown queue is NOT_FOUND", async () => {
    expectError(await server.gql(EFFECTIVE, { queue: "nope", hook: "POST_DONE_SERVER" }), "NOT_FOUND", /queue 'nope' does not exist/);
  });
});
