import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// The Python bridge's own unittest suite, run from the main test command so CI runs it. It
// starts a real hookd from dist/ (built by `npm test` before this runs).
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

test("clients/python: the unittest suite passes against a real hookd", () => {
  const run = spawnSync(PYTHON, ["-m", "unittest", "discover", "-s", "clients/python/tests", "-v"], { cwd: REPO, encoding: "utf8", timeout: 240_000 });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, output);
  assert.match(run.stderr, /^Ran (\d+) tests? in/m);
  assert.match(run.stderr, /^OK$/m);
  assert.ok(Number(/^Ran (\d+) tests?/m.exec(run.stderr)![1]) >= 6, output);
});
