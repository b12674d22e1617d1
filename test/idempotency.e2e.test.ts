import "reflect-metadata";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { IdempotencyKey } from "../src/entities/idempotency-key.entity.js";
import { expectError, startServer, type TestServer } from "./helpers/server.js";

// Idempotent mutations (issue 22) with real requests and real hooks: a repeat with the same key
// answers with the first result and runs no hook again, also when two repeats arrive together.

const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { id code status } }`;
const TRIGGER = `mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status } }`;
const PRE = `mutation($input: PrePublishInput!) { prePublish(input: $input) { id state entries { id path } } }`;
const SUBMIT_PUBLISH = `mutation($input: SubmitPublishInput!) { submitPublish(input: $input) { id state job { id } } }`;

describe("idempotency keys", () => {
  let server: TestServer;
  let dir: string;
  /** How many times each hook ran: one line per run in <dir>/<name>.runs. */
  const runs = (name: string) =>
    existsSync(path.join(dir, `${name}.runs`))
      ? readFileSync(path.join(dir, `${name}.runs`), "utf8")
          .trim()
          .split("\n").length
      : 0;
  const counting = (name: string, body = "") => {
    const file = path.join(dir, `${name}.sh`);
    writeFileSync(file, `#!/bin/sh\necho run >> ${dir}/${name}.runs\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const job = (name: string, key?: string) => ({
    name,
    source: "user:admin@localhost",
    destination: "user:admin@localhost",
    tasks: [{ source: "/a", destination: "/b", size: 1 }],
    ...(key ? { idempotencyKey: key } : {}),
  });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hookd-idempotency-"));
    server = await startServer();
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("submitJob: a repeat answers with the first job and runs pre-submit once; another input with the key is a CONFLICT naming the field", async () => {
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: counting("pre-submit") } } });
    const key = randomUUID();
    const first = (await server.ok(SUBMIT, { input: job("render plates", key) })).submitJob;
    const again = (await server.ok(SUBMIT, { input: job("render plates", key) })).submitJob;
    assert.equal(again.id, first.id);
    assert.equal(runs("pre-submit"), 1, "pre-submit-server ran once");
    const jobs = (await server.ok(`{ jobs(first: 100) { nodes { id name } } }`)).jobs.nodes.filter((j: any) => j.name === "render plates");
    assert.equal(jobs.length, 1, "one job was stored");
    expectError(await server.gql(SUBMIT, { input: job("render plates v2", key) }), "CONFLICT", /^input\.idempotencyKey: '.+' was used at .+ for submitJob with a different input/);
    assert.equal(runs("pre-submit"), 1, "the refused repeat ran nothing");
    // Another user's key space is their own; without a key every submission runs.
    const other = await server.user("other@example.com", "EMPLOYEE");
    const theirs = (await server.ok(SUBMIT, { input: { ...job("render plates", key), source: "user:other@example.com", destination: "user:other@example.com" } }, other.key)).submitJob;
    assert.notEqual(theirs.id, first.id);
    await server.ok(SUBMIT, { input: job("no key") });
    await server.ok(SUBMIT, { input: job("no key") });
    assert.equal(runs("pre-submit"), 4);
    expectError(await server.gql(SUBMIT, { input: job("bad key", " ") }), "BAD_USER_INPUT", /input\.idempotencyKey: must be 1 to 200 printable characters/);
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: false } });
  });

  test("submitJob: two concurrent repeats run pre-submit once and both answer with the one job", async () => {
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: counting("slow-pre-submit", "sleep 0.5") } } });
    const key = randomUUID();
    const [a, b] = await Promise.all([server.ok(SUBMIT, { input: job("together", key) }), server.ok(SUBMIT, { input: job("together", key) })]);
    assert.equal(a.submitJob.id, b.submitJob.id);
    assert.equal(runs("slow-pre-submit"), 1, "pre-submit-server ran once for both");
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: false } });
  });

  test("a refusal by a hook is the answer to every repeat: the hook does not run again", async () => {
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: counting("refusing", 'echo "locked" >&2; exit 3') } } });
    const key = randomUUID();
    expectError(await server.gql(SUBMIT, { input: job("refused", key) }), "HOOK_FAILED", /refused the job: exited with code 3/);
    expectError(await server.gql(SUBMIT, { input: job("refused", key) }), "HOOK_FAILED", /refused the job: exited with code 3/);
    assert.equal(runs("refusing"), 1);
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: false } });
  });

  test("triggerHook: two concurrent repeats run the hook once and answer with the same executions", async () => {
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: counting("post-done", "sleep 0.5") } } });
    const key = randomUUID();
    const input = { hook: "POST_DONE_SERVER", payload: { shot: "sh010" }, wait: true, idempotencyKey: key };
    const [a, b] = await Promise.all([server.ok(TRIGGER, { input }), server.ok(TRIGGER, { input })]);
    assert.deepEqual(a.triggerHook, b.triggerHook);
    assert.equal(a.triggerHook[0].status, "SUCCEEDED");
    assert.equal(runs("post-done"), 1, "the hook ran once");
    // A later repeat reads them as they are now.
    assert.deepEqual((await server.ok(TRIGGER, { input })).triggerHook, a.triggerHook);
    assert.equal(runs("post-done"), 1);
    expectError(await server.gql(TRIGGER, { input: { ...input, payload: { shot: "sh020" } } }), "CONFLICT", /input\.idempotencyKey: .+ for triggerHook with a different input/);
  });

  test("prePublish and submitPublish: repeats answer with the first publish, its verdict and its upload job", async () => {
    const answer = path.join(dir, "pre_publish.py");
    writeFileSync(
      answer,
      `#!/usr/bin/env python3\nimport json, sys\nopen(${JSON.stringify(path.join(dir, "pre-publish.runs"))}, "a").write("run\\n")\nd = json.load(open(sys.argv[1]))\njson.dump({"files": [{"id": f["id"], "can_publish": True, "path": "/srv/deliveries/" + f["filename"]} for f in d["files"]]}, open(sys.argv[2], "w"))\n`,
    );
    chmodSync(answer, 0o755);
    await server.ok(SET, { input: { hook: "PRE_PUBLISH_SERVER", enabled: true, commands: { linux: `${answer} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` } } });
    const file = { id: randomUUID(), filename: "moon_comp_v001.mov", size: 10, is_dir: false };
    const preKey = randomUUID();
    const [a, b] = await Promise.all([server.ok(PRE, { input: { files: [file], idempotencyKey: preKey } }), server.ok(PRE, { input: { files: [file], idempotencyKey: preKey } })]);
    assert.equal(a.prePublish.id, b.prePublish.id);
    assert.deepEqual(a.prePublish.entries, [{ id: file.id, path: "/srv/deliveries/moon_comp_v001.mov" }]);
    assert.equal(runs("pre-publish"), 1, "pre-publish-server ran once");
    const submitKey = randomUUID();
    const input = { publishId: a.prePublish.id, entries: [{ id: file.id, comment: "first" }], idempotencyKey: submitKey };
    const first = (await server.ok(SUBMIT_PUBLISH, { input })).submitPublish;
    assert.equal(first.state, "SUBMITTED");
    // Without the key a second submit is refused (the publish is no longer VALIDATED); with it, it answers.
    assert.deepEqual((await server.ok(SUBMIT_PUBLISH, { input })).submitPublish, first);
    expectError(await server.gql(SUBMIT_PUBLISH, { input: { ...input, idempotencyKey: undefined } }), "CONFLICT", /only a VALIDATED publish can be submitted/);
    const uploads = (await server.ok(`{ jobs(first: 100) { nodes { id } } }`)).jobs.nodes.filter((j: any) => j.id === first.job.id);
    assert.equal(uploads.length, 1);
    await server.ok(SET, { input: { hook: "PRE_PUBLISH_SERVER", enabled: false } });
  });

  test("a key is kept 24 h: an older one runs again, and expired keys are pruned", async () => {
    await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: true, commands: { linux: counting("post-failed") } } });
    const key = randomUUID();
    const input = { hook: "POST_FAILED_SERVER", wait: true, idempotencyKey: key };
    const first = (await server.ok(TRIGGER, { input })).triggerHook;
    const { store, idempotency } = server.app.services;
    const day = 24 * 60 * 60 * 1000;
    // As if it had been stored 25 h ago.
    await store.transaction((em) => em.update(IdempotencyKey, { key }, { createdAt: new Date(Date.now() - day - 3_600_000) }));
    const later = (await server.ok(TRIGGER, { input })).triggerHook;
    assert.notEqual(later[0].id, first[0].id);
    assert.equal(runs("post-failed"), 2, "past 24 h the key no longer holds");
    const old = randomUUID();
    await server.ok(TRIGGER, { input: { ...input, idempotencyKey: old } });
    await store.transaction((em) => em.update(IdempotencyKey, { key: old }, { createdAt: new Date(Date.now() - day - 1000) }));
    assert.equal(await idempotency.prune(), 1);
    assert.equal(await store.manager.countBy(IdempotencyKey, { key: old }), 0, "the expired key is gone");
    assert.equal(await store.manager.countBy(IdempotencyKey, { key }), 1, "a fresh key stays");
    await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: false } });
  });
});
