import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { getIntrospectionQuery } from "graphql";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { MAX_DOCUMENT_TOKENS, MAX_JSON_DEPTH } from "../src/http/json-depth.js";
import { MAX_ANSWER_BYTES, MAX_COST } from "../src/schema/query-cost.js";
import { ADMIN_KEY, eventually, expectError, startServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/ws.js";
import { ensureTestDatabase } from "./helpers/test-database.js";

// Regression tests for issue 24 (hostile input, races): each failed before its fix.

const SUBMIT = `mutation($i: SubmitJobInput!) { submitJob(input: $i) { id code name status } }`;
const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const PRE = `mutation($input: PrePublishInput!) { prePublish(input: $input) { id } }`;
const SUBMIT_PUBLISH = `mutation($input: SubmitPublishInput!) { submitPublish(input: $input) { id state job { id name tasks } } }`;

const tasks = (n: number, dest = (i: number) => `volume=projects/moon/f${i}.exr`) => Array.from({ length: n }, (_, i) => ({ source: `/out/f${i}.exr`, destination: dest(i), size: 1 }));

describe("hardening", () => {
  let server: TestServer;
  let work: string;
  let vendor: { id: string; key: string };
  let other: { id: string; key: string };
  let script: (name: string, body: string) => string;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "hookd-hardening-"));
    script = (name, body) => {
      const file = path.join(work, name);
      writeFileSync(file, body);
      chmodSync(file, 0o755);
      return file;
    };
    server = await startServer();
    await server.ok(`mutation { createVolume(input: { code: "projects", paths: { linux: "/srv/projects" } }) { id } }`);
    vendor = await server.user("vendor@example.com", "STANDARD");
    other = await server.user("other@example.com", "STANDARD");
  });
  after(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  describe("response amplification", () => {
    let jobId: string;
    before(async () => {
      jobId = (await server.ok(SUBMIT, { i: { name: "big", source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(300) } }, vendor.key)).submitJob.id;
    });

    test("tasks come a page at a time (first/after, 100 by default) with taskCount", async () => {
      const { job } = await server.ok(`query($id: ID!) { job(id: $id) { taskCount all: tasks page: tasks(first: 2, after: 250) } }`, { id: jobId }, vendor.key);
      assert.equal(job.taskCount, 300);
      assert.equal(job.all.length, 100);
      assert.deepEqual(
        job.page.map((t: any) => t.source.path),
        ["/out/f250.exr", "/out/f251.exr"],
      );
      expectError(await server.gql(`query($id: ID!) { job(id: $id) { tasks(first: 1001) } }`, { id: jobId }, vendor.key), "BAD_USER_INPUT", /first: must be a whole number from 1 to 1000/);
    });

    test("lists are weighed by their page size: many aliases of big pages are refused before they run, over HTTP and WebSocket", async () => {
      const aliases = Array.from({ length: 120 }, (_, i) => `a${i}: job(id: $id) { tasks(first: 1000) }`).join(" ");
      const query = `query($id: ID!) { ${aliases} }`;
      const res = await server.gql(query, { id: jobId }, vendor.key);
      assert.equal(res.status, 400);
      expectError(res, "QUERY_TOO_COSTLY", new RegExp(`the operation costs \\d+; the limit is ${MAX_COST}`));
      const ws = subscribe(server.url, vendor.key, query, { id: jobId });
      const ended = await ws.ended;
      await ws.dispose();
      assert.equal(ended.errors?.[0]?.extensions?.code, "QUERY_TOO_COSTLY", JSON.stringify(ended));
      // A connection's page size multiplies what its nodes select.
      expectError(await server.gql(`{ jobs(first: 500) { nodes { tasks(first: 1000) } } }`, {}, vendor.key), "QUERY_TOO_COSTLY");
      await server.ok(`{ jobs(first: 500) { nodes { id code } pageInfo { endCursor } } }`, {}, vendor.key);
      // 150 aliases of the default page stay under the limit and answer a bounded page each.
      const fine = await server.ok(`query($id: ID!) { ${Array.from({ length: 150 }, (_, i) => `a${i}: job(id: $id) { tasks }`).join(" ")} }`, { id: jobId }, vendor.key);
      assert.equal(fine.a149.tasks.length, 100);
    });

    test("an answer over the size cap is replaced by a clear error", async () => {
      const external = { blob: "x".repeat(250 * 1024) };
      const { submitJob } = await server.ok(SUBMIT, { i: { name: "meta", source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1), metadata: { external } } }, vendor.key);
      const count = Math.ceil(MAX_ANSWER_BYTES / (250 * 1024)) + 4;
      const res = await server.gql(`query($id: ID!) { ${Array.from({ length: count }, (_, i) => `a${i}: job(id: $id) { metadata { external } }`).join(" ")} }`, { id: submitJob.id }, vendor.key);
      expectError(res, "RESPONSE_TOO_LARGE", new RegExp(`the limit is ${MAX_ANSWER_BYTES} bytes`));
      assert.equal(res.data, undefined);
    });
  });

  describe("limits on documents and JSON", () => {
    test("the standard introspection query loads (GraphiQL and other tools need it)", async () => {
      const { __schema } = await server.ok(getIntrospectionQuery());
      assert.ok(__schema.types.some((t: any) => t.name === "Job"));
    });

    test("JSON nested deeper than the limit is refused with a clear error, not a stack overflow", async () => {
      // Written out: JSON.stringify itself cannot walk 100k levels.
      const deep = '{"a":'.repeat(100_000) + "{}" + "}".repeat(100_000);
      const i = JSON.stringify({ name: "deep", source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1), metadata: { external: "DEEP" } }).replace('"DEEP"', deep);
      const body = `{"query":${JSON.stringify(SUBMIT)},"variables":{"i":${i}}}`;
      const res = await fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${vendor.key}` }, body });
      assert.equal(res.status, 400);
      const answer = (await res.json()) as any;
      assert.equal(answer.errors[0].extensions.code, "BAD_REQUEST");
      assert.match(answer.errors[0].message, new RegExp(`the request body is nested more than ${MAX_JSON_DEPTH} levels deep`));
      // Written inline in the document, it is refused before graphql-js parses it.
      const inline = await server.gql(
        `mutation { submitJob(input: { name: "deep", source: "volume:projects", destination: "volume:projects", tasks: [{ source: "/a", destination: "/b", size: 1 }], metadata: { external: ${"{a:".repeat(100_000)}{}${"}".repeat(100_000)} } }) { id } }`,
        {},
        vendor.key,
      );
      assert.equal(inline.status, 400);
      expectError(inline, "BAD_REQUEST", new RegExp(`the query document is nested more than ${MAX_JSON_DEPTH} levels deep`));
      // And over WebSocket.
      const ws = subscribe(server.url, vendor.key, "query($m: JSONObject) { me { id } }", { m: JSON.parse('{"a":'.repeat(1000) + "{}" + "}".repeat(1000)) });
      const ended = await ws.ended;
      await ws.dispose();
      assert.match(ended.errors?.[0]?.message ?? "", new RegExp(`variables is nested more than ${MAX_JSON_DEPTH} levels deep`), JSON.stringify(ended));
    });

    test("GET /graphql?query= is held to the same depth limits as a POST body: the document, its variables and extensions", async () => {
      const get = async (params: Record<string, string>) => {
        const res = await fetch(`${server.url}/graphql?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${vendor.key}`, "apollo-require-preflight": "1" } });
        return { status: res.status, ...((await res.json()) as any) };
      };
      assert.equal((await get({ query: "{ me { id } }" })).data.me.id, vendor.id, "a plain GET query works");
      const deepValue = '{"a":'.repeat(100) + "{}" + "}".repeat(100);
      const variables = await get({ query: "query($m: JSONObject) { me { id } }", variables: `{"m":${deepValue}}` });
      assert.equal(variables.status, 400);
      expectError(variables, "BAD_REQUEST", new RegExp(`^variables is nested more than ${MAX_JSON_DEPTH} levels deep`));
      expectError(await get({ query: "{ me { id } }", extensions: `{"x":${deepValue}}` }), "BAD_REQUEST", /^extensions is nested more than/);
      const inline = await get({ query: `{ jobs(filter: { queue: ${"[".repeat(100)}"x"${"]".repeat(100)} }) { nodes { id } } }` });
      assert.equal(inline.status, 400);
      expectError(inline, "BAD_REQUEST", new RegExp(`^the query document is nested more than ${MAX_JSON_DEPTH} levels deep`));
    });

    test("a document of more than MAX_DOCUMENT_TOKENS tokens is refused by the parser, over HTTP and WebSocket alike", async () => {
      const huge = `{ ${Array.from({ length: MAX_DOCUMENT_TOKENS / 3 + 10 }, (_, i) => `a${i}: __typename`).join(" ")} }`;
      const http = await server.gql(huge, {}, vendor.key);
      expectError(http, "GRAPHQL_PARSE_FAILED", new RegExp(`Document contains more tha[nt] ${MAX_DOCUMENT_TOKENS} tokens`));
      const ws = subscribe(server.url, vendor.key, huge);
      const ended = await ws.ended;
      await ws.dispose();
      assert.match(ended.errors?.[0]?.message ?? "", new RegExp(`Document contains more tha[nt] ${MAX_DOCUMENT_TOKENS} tokens`), JSON.stringify(ended).slice(0, 500));
    });
  });

  describe("ownership", () => {
    test("a STANDARD user cannot name another user's client in submitJob or prePublish", async () => {
      const theirs = (await server.ok(`mutation { registerClient(input: { name: "other-ws", hostname: "hookd-test-host", os: "linux" }) { id } }`, {}, other.key)).registerClient.id;
      const job = { name: `c ${randomUUID()}`, source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1), client: theirs };
      expectError(await server.gql(SUBMIT, { i: job }, vendor.key), "BAD_USER_INPUT", /input.client: no execution server has id/);
      expectError(await server.gql(PRE, { input: { files: [{ id: randomUUID(), filename: "x", size: 1 }], client: theirs } }, vendor.key), "BAD_USER_INPUT", /input.client: no client has id/);
      // Their own client is theirs to name; an ADMIN may name any.
      await server.ok(SUBMIT, { i: { ...job, name: `c ${randomUUID()}`, source: `user:${other.id}` } }, other.key);
      await server.ok(SUBMIT, { i: { ...job, name: `c ${randomUUID()}` } });
    });

    test("a STANDARD user cannot set internal metadata (FORBIDDEN, nothing stored)", async () => {
      const name = `internal ${randomUUID()}`;
      const res = await server.gql(SUBMIT, { i: { name, source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1), metadata: { internal: { budget: 1 } } } }, vendor.key);
      expectError(res, "FORBIDDEN", /input.metadata.internal: STANDARD users may not set internal metadata/);
      const { jobs } = await server.ok(`{ jobs(first: 500) { nodes { name } } }`);
      assert.ok(!jobs.nodes.some((j: any) => j.name === name));
    });

    test("a STANDARD user's tasks show volume paths in volume notation; elevated users see the server path", async () => {
      const { submitJob } = await server.ok(
        SUBMIT,
        { i: { name: "paths", source: `user:${vendor.id}`, destination: "volume:projects", tasks: [{ source: "/out/a.exr", destination: "/srv/projects/moon/a.exr", size: 1 }] } },
        vendor.key,
      );
      const query = `query($id: ID!) { job(id: $id) { tasks } }`;
      const mine = (await server.ok(query, { id: submitJob.id }, vendor.key)).job.tasks[0];
      assert.equal(mine.destination.path, "volume=projects/moon/a.exr");
      assert.equal(mine.source.path, "/out/a.exr");
      assert.ok(!JSON.stringify(mine).includes("/srv/projects"));
      assert.equal((await server.ok(query, { id: submitJob.id })).job.tasks[0].destination.path, "/srv/projects/moon/a.exr");
    });

    test("naming another user as a party is refused alike whether the email exists or not (no email oracle)", async () => {
      const job = (party: string) => ({ name: `p ${randomUUID()}`, source: party, destination: "volume:projects", tasks: tasks(1) });
      const exists = await server.gql(SUBMIT, { i: job("user:other@example.com") }, vendor.key);
      const missing = await server.gql(SUBMIT, { i: job("user:nobody@example.com") }, vendor.key);
      expectError(exists, "BAD_USER_INPUT", /may name only themselves/);
      assert.equal(exists.errors![0].message, missing.errors![0].message);
      await server.ok(SUBMIT, { i: job("user:vendor@example.com") }, vendor.key);
    });

    test("refusals shown to a STANDARD user carry no hook stderr, execution ids or volume list; ADMIN gets the details", async () => {
      const fail = script("refuse.sh", "#!/bin/sh\necho 'secret-stderr-detail' >&2\nexit 3\n");
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: fail } } });
      try {
        const job = { name: `r ${randomUUID()}`, source: "volume:projects", destination: "volume:projects", tasks: tasks(1) };
        const plain = await server.gql(SUBMIT, { i: job }, vendor.key);
        expectError(plain, "HOOK_FAILED", /pre-submit-server refused the job/);
        assert.doesNotMatch(plain.errors![0].message, /secret-stderr-detail|execution [0-9a-f-]{36}/);
        const detailed = await server.gql(SUBMIT, { i: { ...job, name: `r ${randomUUID()}` } });
        expectError(detailed, "HOOK_FAILED", /secret-stderr-detail.*execution [0-9a-f-]{36}/s);
      } finally {
        await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: false } });
      }
      const unknown = await server.gql(
        SUBMIT,
        { i: { name: "u", source: `user:${vendor.id}`, destination: "volume:projects", tasks: [{ source: "/a", destination: "volume=nosuch/x", size: 1 }] } },
        vendor.key,
      );
      expectError(unknown, "BAD_USER_INPUT", /unknown volume 'nosuch'/);
      assert.doesNotMatch(unknown.errors![0].message, /projects/);
    });
  });

  describe("paths", () => {
    const one = (destination: string) => ({ name: `path ${randomUUID()}`, source: "volume:projects", destination: "volume:projects", tasks: [{ source: "/out/a", destination, size: 1 }] });
    const taskOf = async (destination: string) => {
      const { submitJob } = await server.ok(SUBMIT, { i: one(destination) });
      return (await server.ok(`query($id: ID!) { job(id: $id) { tasks } }`, { id: submitJob.id })).job.tasks[0].destination;
    };

    test("'..' is refused in every notation, naming the field and the rule; '.' and doubled separators are only tidied", async () => {
      const rule = (field: string) => new RegExp(`^${field.replace(/[[\]]/g, "\\$&")}: must not contain '\\.\\.' \\(a step up to the parent folder\\): write the path without it \\(got '.*'\\)$`);
      const mine = (task: { source: string; destination: string }) => ({ name: `dd ${randomUUID()}`, source: `user:${vendor.id}`, destination: "volume:projects", tasks: [{ ...task, size: 1 }] });
      // A STANDARD user's destination used to be stored as /etc/passwd.
      expectError(await server.gql(SUBMIT, { i: mine({ source: "/out/a", destination: "/srv/projects/../../etc/passwd" }) }, vendor.key), "BAD_USER_INPUT", rule("input.tasks[0].destination"));
      expectError(await server.gql(SUBMIT, { i: mine({ source: "/srv/projects/./../projects-evil/x", destination: "/srv/projects/a" }) }, vendor.key), "BAD_USER_INPUT", rule("input.tasks[0].source"));
      expectError(await server.gql(SUBMIT, { i: mine({ source: "/out/a", destination: "volume=projects/moon/../../x" }) }, vendor.key), "BAD_USER_INPUT", rule("input.tasks[0].destination"));
      expectError(await server.gql(SUBMIT, { i: one("/srv/projects/moon/..") }), "BAD_USER_INPUT", rule("input.tasks[0].destination"));
      // A name that merely starts with dots is a name.
      assert.equal((await taskOf("/srv/projects/..moon/x..")).relative_path, "..moon/x..");
      const inside = await taskOf("/srv/projects/moon/./sun//x.exr");
      assert.equal(inside.path, "/srv/projects/moon/sun/x.exr");
      assert.equal(inside.relative_path, "moon/sun/x.exr");
      assert.equal(inside.volume_hr, "projects");
      // And in a volume's own prefix.
      expectError(await server.gql(`mutation { createVolume(input: { code: "dd", paths: { linux: "/srv/../etc" } }) { id } }`), "BAD_USER_INPUT", rule("input.paths.linux"));
    });

    test("a STANDARD user may name an absolute path outside every volume: stored as written, on no volume, shown to them as written", async () => {
      const { submitJob } = await server.ok(
        SUBMIT,
        { i: { name: `out ${randomUUID()}`, source: `user:${vendor.id}`, destination: "volume:projects", tasks: [{ source: "/home/vendor/a.exr", destination: "/mnt/elsewhere/a.exr", size: 1 }] } },
        vendor.key,
      );
      const { job } = await server.ok(`query($id: ID!) { job(id: $id) { tasks } }`, { id: submitJob.id }, vendor.key);
      assert.deepEqual(job.tasks[0].destination, { path: "/mnt/elsewhere/a.exr", volume: null, volume_hr: null, relative_path: null });
    });

    test("NUL characters and relative task paths are refused", async () => {
      expectError(await server.gql(SUBMIT, { i: one("/srv/projects/a\u0000b") }), "BAD_USER_INPUT", /input.tasks\[0\].destination: must not contain a NUL character/);
      expectError(await server.gql(SUBMIT, { i: one("moon/a.exr") }), "BAD_USER_INPUT", /input.tasks\[0\].destination: must be an absolute path .* or in volume notation/);
    });

    test("a volume is resolved with one read of the volumes per job, not one per path", async () => {
      const volumes = server.app.services.volumes;
      const list = volumes.list.bind(volumes);
      let reads = 0;
      volumes.list = () => {
        reads++;
        return list();
      };
      try {
        await server.ok(SUBMIT, { i: { name: `many ${randomUUID()}`, source: "volume:projects", destination: "volume:projects", tasks: tasks(500) } });
      } finally {
        volumes.list = list;
      }
      assert.equal(reads, 1);
    });
  });

  describe("publish names", () => {
    before(async () => {
      // Approves every entry into the projects volume, under its own name.
      const hook = script(
        "approve.mjs",
        `#!/usr/bin/env node\nimport { readFileSync, writeFileSync } from "node:fs";\nconst input = JSON.parse(readFileSync(process.argv[2], "utf8"));\nwriteFileSync(process.argv[3], JSON.stringify({ files: input.files.map((f) => ({ id: f.id, can_publish: true, path: { "nul-path": "/srv/projects/a\\u0000b", "up-path": "/srv/projects/../../etc/x", "dot-up-path": "/srv/projects/./../projects-evil/x", "volume-up-path": "volume=projects/../x" }[f.filename] ?? "volume=projects/in/" + f.id })) }));\n`,
      );
      await server.ok(SET, { input: { hook: "PRE_PUBLISH_SERVER", enabled: true, commands: { linux: `${hook} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` } } });
    });
    after(async () => {
      await server.ok(SET, { input: { hook: "PRE_PUBLISH_SERVER", enabled: false } });
    });

    const publish = async (filenames: string[]) => {
      const files = filenames.map((filename) => ({ id: randomUUID(), filename, size: 10 }));
      const { prePublish } = await server.ok(PRE, { input: { files } }, vendor.key);
      return server.gql(SUBMIT_PUBLISH, { input: { publishId: prePublish.id, entries: files.map((f) => ({ id: f.id })) } }, vendor.key);
    };

    test("a long file name that passes prePublish also passes submitPublish (the generated job name fits)", async () => {
      const res = await publish(["a".repeat(250), "b"]);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      assert.ok(res.data.submitPublish.job.name.length <= 255);
      assert.match(res.data.submitPublish.job.name, /^publish a+… and 1 more$/);
      expectError(await server.gql(PRE, { input: { files: [{ id: randomUUID(), filename: "c".repeat(256), size: 1 }] } }, vendor.key), "BAD_USER_INPUT", /filename must be at most 255 characters/);
      expectError(await server.gql(PRE, { input: { files: [{ id: randomUUID(), filename: "half", size: 1.5 }] } }, vendor.key), "BAD_USER_INPUT", /size must be a whole number of bytes/);
    });

    test("pre-publish entries carry only the keys of the spec, nested ones too", async () => {
      const res = await server.gql(PRE, { input: { files: [{ id: randomUUID(), filename: "d", is_dir: true, files: [{ filename: "f", size: 1, path: "/etc/shadow" }] }] } }, vendor.key);
      expectError(res, "BAD_USER_INPUT", /input.files\[0\].files\[0\]: unknown key 'path'; an entry has only id, filename, size, is_dir, files/);
    });

    test("file names are names, never paths to parse", async () => {
      const res = await publish(["volume=nosuchvolume", "volume=projects"]);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      const sources = res.data.submitPublish.job.tasks.map((t: any) => t.source);
      assert.deepEqual(sources, [
        { path: "volume=nosuchvolume", volume: null, volume_hr: null, relative_path: null },
        { path: "volume=projects", volume: null, volume_hr: null, relative_path: null },
      ]);
    });

    test("a NUL character in a pre-publish answer's path fails the answer", async () => {
      const res = await server.gql(PRE, { input: { files: [{ id: randomUUID(), filename: "nul-path", size: 1 }] } });
      expectError(res, "HOOK_FAILED", /the pre-publish answer breaks the rules: entry '.+': path: must not contain a NUL character/);
    });

    test("'..' in a pre-publish answer's path fails the answer, naming the entry and the rule (it used to reach publish-server as /etc/x)", async () => {
      for (const filename of ["up-path", "dot-up-path", "volume-up-path"]) {
        const id = randomUUID();
        const res = await server.gql(PRE, { input: { files: [{ id, filename, size: 1 }] } });
        expectError(res, "HOOK_FAILED", new RegExp(`the pre-publish answer breaks the rules: entry '${id}': path: must not contain '\\.\\.' \\(a step up to the parent folder\\)`));
      }
    });

    test("a failed ingest's stderr and execution id reach ADMIN, not the STANDARD publisher (job message, publish error, publishUpdated)", async () => {
      const fail = script("ingest.sh", "#!/bin/sh\necho 'secret-ingest-detail' >&2\nexit 4\n");
      await server.ok(SET, { input: { hook: "PUBLISH_SERVER", enabled: true, commands: { linux: `${fail} \${PATH_JSON_INPUT}` } } });
      try {
        const res = await publish(["ingest-me"]);
        assert.equal(res.errors, undefined, JSON.stringify(res.errors));
        const { id, job } = res.data.submitPublish;
        const sub = subscribe(server.url, vendor.key, `subscription($id: ID!) { publishUpdated(id: $id) { state error } }`, { id });
        await new Promise((r) => setTimeout(r, 300));
        const done = await server.ok(`mutation($id: ID!) { updateJobStatus(id: $id, status: DONE) { status message } }`, { id: job.id }, vendor.key);
        assert.equal(done.updateJobStatus.status, "FAILED");
        const query = `query($id: ID!) { publish(id: $id) { state error job { message } } }`;
        const mine = (await server.ok(query, { id }, vendor.key)).publish;
        await eventually(async () => sub.events.length > 0, "publishUpdated");
        await sub.dispose();
        for (const text of [done.updateJobStatus.message, mine.error, mine.job.message, sub.events[0].publishUpdated.error]) {
          assert.match(text, /publish-server could not ingest the upload/);
          assert.doesNotMatch(text, /secret-ingest-detail|execution [0-9a-f-]{36}/);
        }
        const theirs = (await server.ok(query, { id })).publish;
        assert.match(theirs.error, /secret-ingest-detail.*execution [0-9a-f-]{36}/);
        assert.match(theirs.job.message, /secret-ingest-detail/);
      } finally {
        await server.ok(SET, { input: { hook: "PUBLISH_SERVER", enabled: false } });
      }
    });

    test("publishUpdated ends with UNAUTHENTICATED when its key is revoked", async () => {
      const key = (await server.ok(`mutation { createApiKey(label: "pub") { secret apiKey { id } } }`, {}, vendor.key)).createApiKey;
      const { prePublish } = await server.ok(PRE, { input: { files: [{ id: randomUUID(), filename: "watched", size: 1 }] } }, vendor.key);
      const sub = subscribe(server.url, key.secret, `subscription($id: ID!) { publishUpdated(id: $id) { state } }`, { id: prePublish.id });
      await new Promise((r) => setTimeout(r, 300));
      await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: key.apiKey.id }, vendor.key);
      const ended = await Promise.race([sub.ended, new Promise<{ errors?: undefined }>((r) => setTimeout(() => r({}), 10_000))]);
      await sub.dispose();
      assert.equal(ended.errors?.[0]?.extensions?.code, "UNAUTHENTICATED", JSON.stringify(ended));
    });

    test("publish entries come a page at a time with entryCount", async () => {
      const files = ["e1", "e2", "e3"].map((filename) => ({ id: randomUUID(), filename, size: 1 }));
      const { prePublish } = await server.ok(PRE, { input: { files } }, vendor.key);
      const { publish: p } = await server.ok(`query($id: ID!) { publish(id: $id) { entryCount entries(first: 1, after: 1) { filename } answer } }`, { id: prePublish.id }, vendor.key);
      assert.equal(p.entryCount, 3);
      assert.deepEqual(p.entries, [{ filename: "e2" }]);
      assert.equal(p.answer.files.length, 3);
    });
  });

  describe("races and partial answers", () => {
    test("20 submissions at once with one name and no code are all accepted, each with its own code", async () => {
      // A blocking hook holds each submission between choosing its code and storing the job, as in production.
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: "/bin/true" } } });
      try {
        const name = `Daily Delivery ${randomUUID().slice(0, 8)}`;
        const base = name.toLowerCase().replace(/ /g, "_");
        const results = await Promise.all(
          Array.from({ length: 20 }, () => server.gql(SUBMIT, { i: { name, source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1) } }, vendor.key)),
        );
        assert.deepEqual(
          results.filter((r) => r.errors).map((r) => r.errors![0].message),
          [],
        );
        const codes = results.map((r) => r.data.submitJob.code as string);
        assert.deepEqual([...codes].sort(), [base, ...Array.from({ length: 19 }, (_, i) => `${base}_${i + 2}`)].sort());
      } finally {
        await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: false } });
      }
    });

    test("a generated code taken while the blocking hooks ran (by a caller naming it, or another instance) is replaced by a free one, not refused", async () => {
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: script("pause.sh", "#!/bin/sh\nsleep 1\n") } } });
      try {
        const name = `Taken ${randomUUID().slice(0, 8)}`;
        const code = name.toLowerCase().replace(/ /g, "_");
        const naming = server.gql(SUBMIT, { i: { name: "naming it", code, source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1) } }, vendor.key);
        await new Promise((r) => setTimeout(r, 300));
        const generated = server.gql(SUBMIT, { i: { name, source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1) } }, vendor.key);
        const [first, second] = await Promise.all([naming, generated]);
        assert.equal(first.errors, undefined, JSON.stringify(first.errors));
        assert.equal(first.data.submitJob.code, code);
        assert.equal(second.errors, undefined, JSON.stringify(second.errors));
        assert.equal(second.data.submitJob.code, `${code}_2`);
      } finally {
        await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: false } });
      }
    });

    test("deleting the queue while a submission's pre-submit runs refuses it cleanly, with nothing stored", async () => {
      await server.ok(`mutation { createQueue(input: { code: "doomed" }) { id } }`);
      const slow = script("slow.sh", "#!/bin/sh\nsleep 1\n");
      await server.ok(`mutation($c: String!) { setQueueHook(input: { queue: "doomed", hook: PRE_SUBMIT_SERVER, mode: OVERRIDE, commands: { linux: $c } }) { id } }`, { c: slow });
      await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: "/bin/true" } } });
      try {
        const name = `race ${randomUUID()}`;
        const submitting = server.gql(SUBMIT, { i: { name, queue: "doomed", source: "volume:projects", destination: "volume:projects", tasks: tasks(1) } });
        await eventually(
          async () => (await server.ok(`{ executions(filter: { hook: PRE_SUBMIT_SERVER, queue: "doomed" }) { nodes { status } } }`)).executions.nodes.some((e: any) => e.status === "RUNNING"),
          "pre-submit running",
        );
        await server.ok(`mutation { deleteQueue(code: "doomed") { code } }`);
        expectError(await submitting, "CONFLICT", /queue 'doomed' was deleted while the job was being submitted; nothing was stored/);
        const { jobs } = await server.ok(`{ jobs(first: 500) { nodes { name } } }`);
        assert.ok(!jobs.nodes.some((j: any) => j.name === name));
      } finally {
        await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: false } });
      }
    });

    test("a submission whose answer selects a field the caller may not read is refused before the job exists", async () => {
      const name = `sel ${randomUUID()}`;
      const res = await server.gql(
        `mutation($i: SubmitJobInput!) { submitJob(input: $i) { id executions { id } } }`,
        { i: { name, source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1) } },
        vendor.key,
      );
      expectError(res, "FORBIDDEN", /Job.executions requires/);
      const { jobs } = await server.ok(`{ jobs(first: 500) { nodes { name } } }`);
      assert.ok(!jobs.nodes.some((j: any) => j.name === name));
      const pre = await server.gql(
        `mutation($input: PrePublishInput!) { prePublish(input: $input) { id executions { id } } }`,
        { input: { files: [{ id: randomUUID(), filename: "x", size: 1 }] } },
        vendor.key,
      );
      expectError(pre, "FORBIDDEN", /Publish.executions requires/);
    });

    test("a job in a PAUSED queue can go neither RUNNING nor straight to DONE", async () => {
      await server.ok(`mutation { createQueue(input: { code: "held", status: PAUSED }) { id } }`);
      const { submitJob } = await server.ok(SUBMIT, { i: { name: `held ${randomUUID()}`, queue: "held", source: "volume:projects", destination: "volume:projects", tasks: tasks(1) } });
      for (const status of ["RUNNING", "DONE"]) {
        expectError(
          await server.gql(`mutation($id: ID!, $s: JobStatus!) { updateJobStatus(id: $id, status: $s) { status } }`, { id: submitJob.id, s: status }),
          "CONFLICT",
          /is held: its queue 'held' is paused/,
        );
      }
      assert.equal((await server.ok(`query($id: ID!) { job(id: $id) { status } }`, { id: submitJob.id })).job.status, "SUBMITTED");
    });
  });

  describe("subscriptions end when access ends", () => {
    test("jobUpdated ends with UNAUTHENTICATED when its key is revoked, and delivers nothing after", async () => {
      const key = (await server.ok(`mutation { createApiKey(label: "sub") { secret apiKey { id } } }`, {}, vendor.key)).createApiKey;
      const { submitJob } = await server.ok(SUBMIT, { i: { name: `sub ${randomUUID()}`, source: `user:${vendor.id}`, destination: "volume:projects", tasks: tasks(1) } }, vendor.key);
      const sub = subscribe(server.url, key.secret, `subscription($id: ID!) { jobUpdated(id: $id) { status } }`, { id: submitJob.id });
      // Until the subscription is live (RUNNING may be reported again).
      await eventually(async () => {
        await server.ok(`mutation($id: ID!) { updateJobStatus(id: $id, status: RUNNING) { status } }`, { id: submitJob.id });
        return sub.events.length > 0;
      }, "the first event");
      await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: key.apiKey.id }, vendor.key);
      const seen = sub.events.length;
      const ended = await Promise.race([sub.ended, new Promise<{ errors?: undefined }>((r) => setTimeout(() => r({}), 10_000))]);
      await server.ok(`mutation($id: ID!) { updateJobStatus(id: $id, status: DONE) { status } }`, { id: submitJob.id });
      await new Promise((r) => setTimeout(r, 200));
      await sub.dispose();
      assert.equal(ended.errors?.[0]?.extensions?.code, "UNAUTHENTICATED", JSON.stringify(ended));
      assert.equal(sub.events.length, seen);
    });
  });
});

describe("failed authentication is rate limited per client address", () => {
  test("past the allowance: wrong keys get 429 with Retry-After over HTTP, close 4429 over WebSocket, and a log line; valid keys still work", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-ratelimit-"));
    const warnings: string[] = [];
    const logger = { info() {}, warn: (m: string) => void warnings.push(m), error() {} };
    const app = await createApp(
      loadConfig({
        ...(await ensureTestDatabase(dataDir)),
        HOOKD_DATA_DIR: dataDir,
        PORT: "0",
        HOOKD_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
        HOOKD_AUTH_FAILURES: "3",
        HOOKD_AUTH_FAILURE_WINDOW_SECONDS: "600",
        // As behind nginx on this host: the proxy is loopback, the client is in X-Forwarded-For.
        HOOKD_TRUST_PROXY: "loopback",
      }),
      {
        logger,
        hostname: "hookd-test-host",
      },
    );
    try {
      const url = await app.listen();
      const post = (key: string | null, forwardedFor?: string) =>
        fetch(`${url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}) },
          body: JSON.stringify({ query: "{ me { id } }" }),
        });
      // A missing key is not a guess: it does not count.
      for (let i = 0; i < 5; i++) assert.equal((await post(null)).status, 401);
      for (let i = 0; i < 3; i++) assert.equal((await post(`hkd_wrong${i}`)).status, 401);
      const limited = await post("hkd_wrong3");
      assert.equal(limited.status, 429);
      const retryAfter = Number(limited.headers.get("retry-after"));
      assert.ok(retryAfter > 0 && retryAfter <= 600, `Retry-After ${retryAfter}`);
      const body = (await limited.json()) as any;
      assert.equal(body.errors[0].extensions.code, "TOO_MANY_REQUESTS");
      assert.match(body.errors[0].message, /too many failed authentications from this address; retry after \d+ s/);
      const ws = subscribe(url, "hkd_wrong4", 'subscription { jobUpdated(id: "x") { status } }');
      const ended = await ws.ended;
      await ws.dispose();
      assert.equal(ended.close?.code, 4429, JSON.stringify(ended));
      assert.ok(
        warnings.some((w) => /authentication: 127\.0\.0\.1 failed 3 times within 600 s; further wrong keys from it get 429/.test(w)),
        warnings.join("\n"),
      );
      // Only failures are limited: a valid key from the same address is answered, over HTTP and WebSocket.
      const valid = await post(ADMIN_KEY);
      assert.equal(valid.status, 200, await valid.clone().text());
      assert.ok(((await valid.json()) as any).data.me.id);
      const live = subscribe(url, ADMIN_KEY, "query { me { id } }");
      const done = await live.ended;
      await live.dispose();
      assert.equal(done.completed, true, JSON.stringify(done));
      assert.equal(live.events.length, 1);

      // Behind the trusted proxy each client is counted on its own: one client's stale key locks out nobody else.
      for (let i = 0; i < 3; i++) assert.equal((await post("hkd_stale_cron_key", "203.0.113.5")).status, 401);
      assert.equal((await post("hkd_stale_cron_key", "203.0.113.5")).status, 429);
      assert.equal((await post("hkd_typo", "203.0.113.6")).status, 401, "another client behind the same proxy is not limited");
      assert.equal((await post(ADMIN_KEY, "203.0.113.5")).status, 200, "the limited client's valid key still works");
      assert.ok(
        warnings.some((w) => w.startsWith("authentication: 203.0.113.5 failed 3 times")),
        warnings.join("\n"),
      );
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
