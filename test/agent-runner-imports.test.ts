import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// What `hookd agent` runs imports nothing of the server: no ORM, no GraphQL server, no database
// driver. Follows the compiled imports (type-only imports are gone by then) from the agent's
// client and lists every package they reach.

const AGENT = fileURLToPath(new URL("../src/agent/agent-process.js", import.meta.url));
const ALLOWED = new Set(["graphql-ws", "ws", "execa"]);

function packagesReached(entry: string): Map<string, string> {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|^\s*import\s+"([^"]+)"/gm)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith(".")) walk(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith("node:") && !packages.has(spec)) packages.set(spec, path.basename(file));
    }
  };
  walk(entry);
  return packages;
}

test("the agent's client and the hook runner it shares import no server package (no entity, ORM, GraphQL server or driver)", () => {
  const reached = packagesReached(AGENT);
  const foreign = [...reached].filter(([pkg]) => !ALLOWED.has(pkg)).map(([pkg, from]) => `${pkg} (from ${from})`);
  assert.deepEqual(foreign, []);
  assert.ok(reached.has("execa"), "the walk follows the runner's imports");
});
