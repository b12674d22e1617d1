import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("npm test runs exactly the compiled *.test.js files, never the helper modules", () => {
  const script: string = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")).scripts.test;
  const run = script
    .split("&&")
    .map((part) => part.trim())
    .find((part) => part.startsWith("node --test"));
  assert.ok(run, `the test script runs node --test: ${script}`);
  // What node --test is given, after npm's shell expanded it (a directory is searched for more).
  const operands = run
    .split(/\s+/)
    .slice(2)
    .filter((arg) => !arg.startsWith("--"));
  const given = execFileSync("sh", ["-c", `printf '%s\\n' ${operands.join(" ")}`], { cwd: ROOT, encoding: "utf8" })
    .trim()
    .split("\n");
  for (const file of given) assert.match(file, /^dist\/test\/[^/]+\.test\.js$/, `node --test is given '${file}'`);
  const compiled = readdirSync(`${ROOT}dist/test`)
    .filter((f) => f.endsWith(".test.js"))
    .map((f) => `dist/test/${f}`);
  assert.deepEqual([...given].sort(), compiled.sort());
});
