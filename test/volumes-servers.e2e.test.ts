import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { expectError, startServer, type TestServer } from "./helpers/server.js";

const FIELDS = `code name paths { linux mac windows } metadata { external internal }`;

describe("volumes", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("createVolume with a path prefix per OS", async () => {
    const data = await server.ok(
      `mutation { createVolume(input: { code: "projects", name: "Projects", paths: { linux: "/mnt/projects", mac: "/Volumes/projects", windows: "P:\\\\" }, metadata: { external: { site: "oslo" }, internal: { cost: 3 } } }) { ${FIELDS} } }`,
    );
    assert.deepEqual(data.createVolume, {
      code: "projects",
      name: "Projects",
      paths: { linux: "/mnt/projects", mac: "/Volumes/projects", windows: "P:\\" },
      metadata: { external: { site: "oslo" }, internal: { cost: 3 } },
    });
    assert.deepEqual((await server.ok(`{ volumes { code } }`)).volumes, [{ code: "projects" }]);
    assert.equal((await server.ok(`{ volume(code: "projects") { name } }`)).volume.name, "Projects");
  });

  test("UNC paths are absolute on windows", async () => {
    const data = await server.ok(`mutation { createVolume(input: { code: "nas", paths: { windows: "\\\\\\\\nas01\\\\share" } }) { code name paths { windows linux } } }`);
    assert.deepEqual(data.createVolume, { code: "nas", name: "nas", paths: { windows: "\\\\nas01\\share", linux: null } });
  });

  const refused: [string, string, string, RegExp][] = [
    ["a relative linux prefix", `{ code: "v1", paths: { linux: "mnt/x" } }`, "BAD_USER_INPUT", /input\.paths\.linux: must be an absolute path starting with \/ \(got 'mnt\/x'\)/],
    ["a relative windows prefix", `{ code: "v2", paths: { windows: "share\\\\x" } }`, "BAD_USER_INPUT", /input\.paths\.windows: must be an absolute path like D:/],
    ["an empty prefix", `{ code: "v3", paths: { mac: " " } }`, "BAD_USER_INPUT", /input\.paths\.mac: is empty/],
    ["a bad code", `{ code: "a b" }`, "BAD_USER_INPUT", /input\.code: may contain only letters/],
    ["a duplicate code", `{ code: "projects" }`, "CONFLICT", /input\.code: a volume with code 'projects' already exists/],
  ];
  for (const [what, input, code, message] of refused) {
    test(`createVolume refuses ${what}, and nothing changes`, async () => {
      const before = await server.ok(`{ volumes { ${FIELDS} } }`);
      expectError(await server.gql(`mutation { createVolume(input: ${input}) { code } }`), code, message);
      assert.deepEqual(await server.ok(`{ volumes { ${FIELDS} } }`), before);
    });
  }

  test("updateVolume changes given fields; null removes an OS prefix", async () => {
    const data = await server.ok(`mutation { updateVolume(code: "projects", input: { paths: { mac: null, linux: "/srv/projects" }, name: "Projects (new)" }) { ${FIELDS} } }`);
    assert.deepEqual(data.updateVolume.paths, { linux: "/srv/projects", mac: null, windows: "P:\\" });
    assert.equal(data.updateVolume.name, "Projects (new)");
    assert.deepEqual(data.updateVolume.metadata.internal, { cost: 3 });
    expectError(await server.gql(`mutation { updateVolume(code: "ghost", input: { name: "x" }) { code } }`), "NOT_FOUND", /volume 'ghost' does not exist/);
    expectError(await server.gql(`mutation { updateVolume(code: "projects", input: { code: "nas" }) { code } }`), "CONFLICT");
  });

  test("STANDARD users see volumes but not their server paths or internal metadata", async () => {
    const standard = await server.user("vendor@example.com", "STANDARD");
    const data = await server.ok(`{ volumes { code name metadata { external } } }`, {}, standard.key);
    assert.equal(data.volumes.length, 2);
    expectError(await server.gql(`{ volumes { paths { linux } } }`, {}, standard.key), "FORBIDDEN", /Volume\.paths requires the ADMIN or EMPLOYEE role/);
    expectError(await server.gql(`{ volumes { metadata { internal } } }`, {}, standard.key), "FORBIDDEN");
    expectError(await server.gql(`mutation { createVolume(input: { code: "x" }) { code } }`, {}, standard.key), "FORBIDDEN", /createVolume requires the ADMIN role/);
  });

  test("deleteVolume removes it; again is NOT_FOUND", async () => {
    assert.equal((await server.ok(`mutation { deleteVolume(code: "nas") { code } }`)).deleteVolume.code, "nas");
    assert.deepEqual((await server.ok(`{ volumes { code } }`)).volumes, [{ code: "projects" }]);
    expectError(await server.gql(`mutation { deleteVolume(code: "nas") { code } }`), "NOT_FOUND");
  });
});

describe("execution servers", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("the running hookd registers itself, online, as the default", async () => {
    const data = await server.ok(`{ executionServers { id name hostname os kind online lastSeenAt labels } settings { defaultExecutionServer { id } } }`);
    assert.equal(data.executionServers.length, 1);
    const self = data.executionServers[0];
    assert.equal(self.hostname, "hookd-test-host");
    assert.equal(self.os, "linux");
    assert.equal(self.kind, "SERVER");
    assert.equal(self.online, true);
    assert.ok(Date.now() - Date.parse(self.lastSeenAt) < 60_000);
    assert.equal(data.settings.defaultExecutionServer.id, self.id);
  });

  test("STANDARD users cannot list execution servers", async () => {
    const standard = await server.user("vendor@example.com", "STANDARD");
    expectError(await server.gql(`{ executionServers { hostname } }`, {}, standard.key), "FORBIDDEN", /executionServers requires the ADMIN or EMPLOYEE role/);
  });
});
