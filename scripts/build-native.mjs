#!/usr/bin/env node
// Builds hookd's native spawner, run by `npm run build` after tsc:
//   native/spawn-addon.c -> dist/native/hookd-spawn.node (a Node-API addon; needs Node's headers)
// It is optional: without a C compiler, without Node's headers, or if compiling fails, this warns
// and exits 0, and hookd starts hooks through execa.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const native = join(root, "native");
const out = join(root, "dist", "native");

if (process.platform !== "linux") {
  console.log(`build-native: the spawn addon is Linux-only; skipped on ${process.platform} (hookd will use execa)`);
  process.exit(0);
}

/** Node's C headers (node_api.h, uv.h): next to the running node, or where npm was told they are. */
function nodeHeaders() {
  const candidates = [join(dirname(process.execPath), "..", "include", "node")];
  if (process.env.npm_config_nodedir) candidates.push(join(process.env.npm_config_nodedir, "include", "node"));
  return candidates.find((dir) => existsSync(join(dir, "node_api.h")) && existsSync(join(dir, "uv.h"))) ?? null;
}

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
};

/** Compiles one target; returns true if it is built and up to date. */
function build({ what, sources, binary, flags, fallback }) {
  const times = sources.map(mtime);
  if (times.includes(null)) {
    console.warn(`build-native: warning: ${sources[times.indexOf(null)]} is missing; ${what} was not built and ${fallback}`);
    return false;
  }
  const binaryTime = mtime(binary);
  if (binaryTime !== null && binaryTime >= Math.max(...times)) return true; // up to date

  mkdirSync(dirname(binary), { recursive: true });
  // Compile next to the target and rename: a failed build leaves no half-written file, and a
  // running hookd keeps its (unlinked) old one instead of failing with ETXTBSY.
  const temporary = `${binary}.tmp-${process.pid}`;
  const result = spawnSync("cc", ["-O2", "-Wall", "-Wextra", ...flags, "-o", temporary, sources[0]], { stdio: "inherit" });
  if (result.error || result.status !== 0) {
    // An older build may not match the current sources: do not leave it behind.
    rmSync(temporary, { force: true });
    rmSync(binary, { force: true });
  }
  if (result.error) {
    const why = result.error.code === "ENOENT" ? "no C compiler (cc) on PATH" : `could not run cc (${result.error.message})`;
    console.warn(`build-native: warning: ${why}; ${what} was not built and ${fallback}`);
    return false;
  }
  if (result.status !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
    console.warn(`build-native: warning: cc ${how} compiling ${sources[0]} (output above); ${fallback}`);
    return false;
  }
  renameSync(temporary, binary);
  console.log(`build-native: built ${binary}`);
  return true;
}

const headers = nodeHeaders();
const addonBinary = join(out, "hookd-spawn.node");
// Left over from versions that also built the spawn helper.
rmSync(join(out, "hookd-spawn-helper"), { force: true });
if (!headers) {
  rmSync(addonBinary, { force: true });
  console.warn(
    `build-native: warning: Node's C headers (node_api.h, uv.h) were not found next to ${process.execPath} ` + "(or under npm_config_nodedir); the spawn addon was not built and hookd will use execa",
  );
} else {
  build({
    what: "the spawn addon",
    sources: [join(native, "spawn-addon.c"), join(native, "vfork-exec.h"), join(native, "spawn-events.h")],
    binary: addonBinary,
    // Node-API symbols come from the node binary that loads the addon.
    flags: ["-shared", "-fPIC", "-fvisibility=hidden", `-I${headers}`],
    fallback: "hookd will use execa",
  });
}
