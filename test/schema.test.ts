import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { printHookdSchema } from "../src/schema/print-schema.js";

test("schema.graphql is the schema the code builds (run `npm run schema` after changing the API)", async () => {
  const committed = readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8");
  const built = await printHookdSchema();
  assert.equal(built, committed, "schema.graphql drifted from the code: run `npm run schema` and commit the result");
});

test("the schema has the operations the foundation promises", async () => {
  const sdl = await printHookdSchema();
  for (const op of ["settings:", "hookConfigs:", "hookConfig(", "effectiveHooks(", "queues:", "queue(", "volumes:", "executionServers:", "me:", "users:"]) {
    assert.ok(sdl.includes(`  ${op}`), `Query.${op} is missing`);
  }
  for (const op of [
    "updateSettings(",
    "setHookConfig(",
    "createQueue(",
    "updateQueue(",
    "deleteQueue(",
    "setQueueHook(",
    "removeQueueHook(",
    "createVolume(",
    "updateVolume(",
    "deleteVolume(",
    "createUser(",
    "createApiKey(",
    "revokeApiKey(",
  ]) {
    assert.ok(sdl.includes(`  ${op}`), `Mutation.${op} is missing`);
  }
});
