import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { expectError, startServer, type TestServer } from "./helpers/server.js";

const FIELDS = `code name priority default status description metadata { external internal } jobCount`;

describe("queues", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const queues = async () => (await server.ok(`{ queues { code default priority } }`)).queues as { code: string; default: boolean; priority: number }[];

  test("first start creates one default queue", async () => {
    const data = await server.ok(`{ queues { ${FIELDS} } }`);
    assert.equal(data.queues.length, 1);
    assert.equal(data.queues[0].code, "default");
    assert.equal(data.queues[0].default, true);
    assert.equal(data.queues[0].status, "WAITING");
  });

  test("createQueue with defaults, and queue(code) reads it back", async () => {
    const data = await server.ok(`mutation { createQueue(input: { code: "vfx.comp_2-A" }) { ${FIELDS} } }`);
    assert.deepEqual(data.createQueue, {
      code: "vfx.comp_2-A",
      name: "vfx.comp_2-A",
      priority: 500,
      default: false,
      status: "WAITING",
      description: null,
      metadata: { external: {}, internal: {} },
      jobCount: 0,
    });
    const read = await server.ok(`query { queue(code: "vfx.comp_2-A") { code priority } }`);
    assert.deepEqual(read.queue, { code: "vfx.comp_2-A", priority: 500 });
  });

  test("createQueue with every field", async () => {
    const data = await server.ok(
      `mutation { createQueue(input: { code: "urgent", name: "Urgent", priority: 1000, status: PAUSED, description: "rush", metadata: { external: { a: 1 }, internal: { b: 2 } } }) { ${FIELDS} } }`,
    );
    assert.deepEqual(data.createQueue, {
      code: "urgent",
      name: "Urgent",
      priority: 1000,
      default: false,
      status: "PAUSED",
      description: "rush",
      metadata: { external: { a: 1 }, internal: { b: 2 } },
      jobCount: 0,
    });
    assert.deepEqual(
      (await queues()).map((q) => q.code),
      ["urgent", "default", "vfx.comp_2-A"],
    );
  });

  const refused: [string, string, string, RegExp][] = [
    ["a priority over 1000", `{ code: "p1", priority: 1001 }`, "BAD_USER_INPUT", /input\.priority: must be a whole number from 0 to 1000 \(got 1001\)/],
    ["a negative priority", `{ code: "p2", priority: -1 }`, "BAD_USER_INPUT", /input\.priority: must be a whole number from 0 to 1000 \(got -1\)/],
    ["a code with a space and a slash", `{ code: "bad code/x" }`, "BAD_USER_INPUT", /input\.code: may contain only letters, digits, '\.', '_' and '-' \(found " ", "\/" in 'bad code\/x'\)/],
    ["an empty code", `{ code: "" }`, "BAD_USER_INPUT", /input\.code: must not be empty/],
    ["a duplicate code", `{ code: "urgent" }`, "CONFLICT", /input\.code: a queue with code 'urgent' already exists/],
  ];
  for (const [what, input, code, message] of refused) {
    test(`createQueue refuses ${what}, and nothing changes`, async () => {
      const before = await queues();
      expectError(await server.gql(`mutation { createQueue(input: ${input}) { code } }`), code, message);
      assert.deepEqual(await queues(), before);
    });
  }

  test("updateQueue changes given fields only and can rename", async () => {
    const data = await server.ok(`mutation { updateQueue(code: "urgent", input: { priority: 900, status: WAITING, code: "rush" }) { ${FIELDS} } }`);
    assert.equal(data.updateQueue.code, "rush");
    assert.equal(data.updateQueue.priority, 900);
    assert.equal(data.updateQueue.status, "WAITING");
    assert.equal(data.updateQueue.name, "Urgent");
    assert.deepEqual(data.updateQueue.metadata, { external: { a: 1 }, internal: { b: 2 } });
    expectError(await server.gql(`{ queue(code: "urgent") { code } }`), "NOT_FOUND", /queue 'urgent' does not exist/);
  });

  test("updateQueue refuses a rename onto an existing code and an out-of-range priority", async () => {
    expectError(await server.gql(`mutation { updateQueue(code: "rush", input: { code: "default" }) { code } }`), "CONFLICT", /already exists/);
    expectError(await server.gql(`mutation { updateQueue(code: "rush", input: { priority: 5000 }) { code } }`), "BAD_USER_INPUT", /input\.priority/);
    expectError(await server.gql(`mutation { updateQueue(code: "ghost", input: { priority: 1 }) { code } }`), "NOT_FOUND", /queue 'ghost'/);
  });

  test("making another queue the default moves the flag: exactly one default", async () => {
    await server.ok(`mutation { updateQueue(code: "rush", input: { default: true }) { code } }`);
    assert.deepEqual(
      (await queues()).filter((q) => q.default).map((q) => q.code),
      ["rush"],
    );
    await server.ok(`mutation { createQueue(input: { code: "newdef", default: true }) { code } }`);
    assert.deepEqual(
      (await queues()).filter((q) => q.default).map((q) => q.code),
      ["newdef"],
    );
    await server.ok(`mutation { updateQueue(code: "default", input: { default: true }) { code } }`);
    assert.deepEqual(
      (await queues()).filter((q) => q.default).map((q) => q.code),
      ["default"],
    );
  });

  test("the default queue cannot be un-defaulted", async () => {
    expectError(await server.gql(`mutation { updateQueue(code: "default", input: { default: false }) { code } }`), "BAD_USER_INPUT", /input\.default: 'default' is the default queue/);
  });

  test("deleting the default queue is refused", async () => {
    expectError(await server.gql(`mutation { deleteQueue(code: "default") { code } }`), "CONFLICT", /'default' is the default queue; make another queue the default/);
  });

  test("deleting a queue moves its jobs to the default queue", async () => {
    for (const name of ["one", "two"]) {
      await server.ok(
        `mutation($name: String!) { submitJob(input: { name: $name, queue: "rush", source: "user:admin@localhost", destination: "user:admin@localhost", tasks: [{ source: "/in/a", destination: "/out/a", size: 1 }] }) { id } }`,
        { name },
      );
    }
    assert.equal((await server.ok(`{ queue(code: "rush") { jobCount } }`)).queue.jobCount, 2);
    const data = await server.ok(`mutation { deleteQueue(code: "rush") { code movedJobs movedTo { code jobCount } } }`);
    assert.deepEqual(data.deleteQueue, { code: "rush", movedJobs: 2, movedTo: { code: "default", jobCount: 2 } });
    expectError(await server.gql(`{ queue(code: "rush") { code } }`), "NOT_FOUND");
  });

  test("the last queue cannot be deleted", async () => {
    for (const q of await queues()) if (!q.default) await server.ok(`mutation($c: String!) { deleteQueue(code: $c) { code } }`, { c: q.code });
    expectError(await server.gql(`mutation { deleteQueue(code: "default") { code } }`), "CONFLICT", /'default' is the last queue/);
  });

  test("only an ADMIN changes queues; everyone authenticated reads them", async () => {
    const standard = await server.user("vendor@example.com", "STANDARD");
    expectError(await server.gql(`mutation { createQueue(input: { code: "x" }) { code } }`, {}, standard.key), "FORBIDDEN", /mutation\.createQueue requires the ADMIN role; your role is STANDARD/);
    expectError(await server.gql(`mutation { deleteQueue(code: "default") { code } }`, {}, standard.key), "FORBIDDEN");
    const data = await server.ok(`{ queues { code metadata { external } } }`, {}, standard.key);
    assert.equal(data.queues.length, 1);
    expectError(await server.gql(`{ queues { metadata { internal } } }`, {}, standard.key), "FORBIDDEN", /internal/);
  });
});

describe("queue hooks", () => {
  let server: TestServer;
  const SET = `mutation($input: SetQueueHookInput!) { setQueueHook(input: $input) { hook mode enabled commands { linux mac windows } timeoutSeconds } }`;
  before(async () => {
    server = await startServer();
    await server.ok(`mutation { createQueue(input: { code: "vfx" }) { code } }`);
  });
  after(() => server.close());

  test("setQueueHook creates an entry, enabled by default, listed on the queue", async () => {
    const data = await server.ok(SET, { input: { queue: "vfx", hook: "POST_SUBMIT_SERVER", mode: "APPEND", commands: { linux: "/opt/a.sh ${PATH_JSON_INPUT}" } } });
    assert.deepEqual(data.setQueueHook, {
      hook: "POST_SUBMIT_SERVER",
      mode: "APPEND",
      enabled: true,
      commands: { linux: "/opt/a.sh ${PATH_JSON_INPUT}", mac: null, windows: null },
      timeoutSeconds: null,
    });
    const read = await server.ok(`{ queue(code: "vfx") { hooks { hook mode } } }`);
    assert.deepEqual(read.queue.hooks, [{ hook: "POST_SUBMIT_SERVER", mode: "APPEND" }]);
  });

  test("setQueueHook again replaces mode and keeps commands not given", async () => {
    const data = await server.ok(SET, { input: { queue: "vfx", hook: "POST_SUBMIT_SERVER", mode: "OVERRIDE", commands: { mac: "/opt/m.sh" }, timeoutSeconds: 9 } });
    assert.deepEqual(data.setQueueHook, {
      hook: "POST_SUBMIT_SERVER",
      mode: "OVERRIDE",
      enabled: true,
      commands: { linux: "/opt/a.sh ${PATH_JSON_INPUT}", mac: "/opt/m.sh", windows: null },
      timeoutSeconds: 9,
    });
    assert.equal((await server.ok(`{ queue(code: "vfx") { hooks { hook } } }`)).queue.hooks.length, 1);
  });

  const refused: [string, Record<string, unknown>, string, RegExp][] = [
    ["an unknown queue", { queue: "nope" }, "NOT_FOUND", /queue 'nope' does not exist/],
    ["an unknown token", { commands: { linux: "/opt/a.sh ${INPUT}" } }, "BAD_USER_INPUT", /input\.commands\.linux: .*\$\{INPUT\}/],
    ["an unbalanced quote", { commands: { mac: "/opt/a.sh 'x" } }, "BAD_USER_INPUT", /input\.commands\.mac: .*unbalanced/],
    ["an empty command", { commands: { linux: "" } }, "BAD_USER_INPUT", /input\.commands\.linux: the command line is empty/],
    ["a zero timeout", { timeoutSeconds: 0 }, "BAD_USER_INPUT", /input\.timeoutSeconds: must be a positive/],
  ];
  for (const [what, fields, code, message] of refused) {
    test(`setQueueHook refuses ${what}, and nothing changes`, async () => {
      const before = await server.ok(`{ queue(code: "vfx") { hooks { hook mode enabled commands { linux mac windows } timeoutSeconds } } }`);
      expectError(await server.gql(SET, { input: { queue: "vfx", hook: "POST_SUBMIT_SERVER", mode: "APPEND", commands: {}, ...fields } }), code, message);
      assert.deepEqual(await server.ok(`{ queue(code: "vfx") { hooks { hook mode enabled commands { linux mac windows } timeoutSeconds } } }`), before);
    });
  }

  test("an unknown mode is refused by the schema", async () => {
    expectError(await server.gql(SET, { input: { queue: "vfx", hook: "POST_SUBMIT_SERVER", mode: "REPLACE", commands: {} } }), "BAD_USER_INPUT", /REPLACE/);
  });

  test("removeQueueHook removes the entry; removing it again is NOT_FOUND", async () => {
    const data = await server.ok(`mutation { removeQueueHook(queue: "vfx", hook: POST_SUBMIT_SERVER) { hook mode } }`);
    assert.deepEqual(data.removeQueueHook, { hook: "POST_SUBMIT_SERVER", mode: "OVERRIDE" });
    assert.deepEqual((await server.ok(`{ queue(code: "vfx") { hooks { hook } } }`)).queue.hooks, []);
    expectError(await server.gql(`mutation { removeQueueHook(queue: "vfx", hook: POST_SUBMIT_SERVER) { hook } }`), "NOT_FOUND", /queue hook 'vfx\/POST_SUBMIT_SERVER'/);
  });

  test("only an ADMIN sets queue hooks", async () => {
    const employee = await server.user("e@example.com", "EMPLOYEE");
    expectError(await server.gql(SET, { input: { queue: "vfx", hook: "POST_SUBMIT_SERVER", mode: "APPEND", commands: {} } }, employee.key), "FORBIDDEN", /setQueueHook requires the ADMIN role/);
    expectError(await server.gql(`mutation { removeQueueHook(queue: "vfx", hook: POST_SUBMIT_SERVER) { hook } }`, {}, employee.key), "FORBIDDEN");
  });

  test("deleting a queue deletes its hook entries", async () => {
    await server.ok(SET, { input: { queue: "vfx", hook: "POST_DONE_SERVER", mode: "APPEND", commands: { linux: "/opt/d.sh" } } });
    await server.ok(`mutation { deleteQueue(code: "vfx") { code } }`);
    assert.equal(await server.app.dataSource.getRepository("QueueHook").count(), 0);
  });
});
