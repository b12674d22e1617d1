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
  assert.ok(Number(/^Ran (\d+) tests?/m.exec(run.stderr)![1]) >= 9, output);
  // The package installed with pip into a fresh target follows a live log over server-sent events
  // and waits for the outcome; the streams resume after the last seq when they break off.
  for (const name of [
    "test_installed_copy_follows_a_live_log_over_sse_and_waits_for_the_outcome",
    "test_follow_log_resumes_after_the_last_seq_when_the_stream_drops",
    "test_wait_execution_reconnects_when_the_stream_drops",
  ]) {
    assert.match(run.stderr, new RegExp(`^${name} \\(.*\\) \\.\\.\\. ok$`, "m"), `${name} ran and passed\n${output}`);
  }
});
