import { test } from "node:test";
import assert from "node:assert/strict";
import { GraphQLError } from "graphql";
import { DomainError, HookRefusal } from "../src/domain/errors.js";
import { createErrorFormatter } from "../src/schema/error-formatter.js";

const internal = new Error(`SQLITE_CONSTRAINT: UNIQUE constraint failed: queue.code in INSERT INTO "queue" ("id") VALUES (?)`);
const wrapped = new GraphQLError(internal.message, { originalError: internal, path: ["createQueue"] });

test("outside development an unexpected error says nothing of its internals (no SQL, no stack) and is logged", () => {
  const logged: unknown[] = [];
  const format = createErrorFormatter({ development: false, log: (_m, e) => logged.push(e) });
  const out = format({ ...wrapped.toJSON(), extensions: { code: "INTERNAL_SERVER_ERROR", stacktrace: ["at x"] } }, wrapped);
  assert.deepEqual(out, { message: "internal server error; the details are in the server log", locations: undefined, path: ["createQueue"], extensions: { code: "INTERNAL_SERVER_ERROR" } });
  assert.doesNotMatch(JSON.stringify(out), /SQLITE|INSERT|stack/);
  assert.equal(logged[0], internal);
});

test("in development the details are kept", () => {
  const format = createErrorFormatter({ development: true, log: () => {} });
  const out = format({ ...wrapped.toJSON(), extensions: { code: "INTERNAL_SERVER_ERROR" } }, wrapped);
  assert.match(out.message, /SQLITE_CONSTRAINT/);
});

test("domain errors keep their code, message and field", () => {
  const format = createErrorFormatter({ development: false, log: () => {} });
  const err = new DomainError("CONFLICT", "input.code: a queue with code 'x' already exists", "input.code");
  const out = format(new GraphQLError(err.message, { originalError: err, path: ["createQueue"] }).toJSON(), new GraphQLError(err.message, { originalError: err, path: ["createQueue"] }));
  assert.deepEqual(out.extensions, { code: "CONFLICT", field: "input.code" });
  assert.equal(out.message, "input.code: a queue with code 'x' already exists");
});

test("a hook's refusal carries the hook and its message for the user in extensions, null when it said nothing", () => {
  const format = createErrorFormatter({ development: false, log: () => {} });
  for (const said of ["Rename it.", null]) {
    const err = new HookRefusal("pre-submit-server refused the job", "PRE_SUBMIT_SERVER", said);
    const out = format(new GraphQLError(err.message, { originalError: err, path: ["submitJob"] }).toJSON(), new GraphQLError(err.message, { originalError: err, path: ["submitJob"] }));
    assert.deepEqual(out.extensions, { code: "HOOK_FAILED", hook: "PRE_SUBMIT_SERVER", hookMessage: said });
  }
});
