#!/usr/bin/env node
// Builds the spawn helper (native/spawn-helper.c -> dist/native/hookd-spawn-helper), run by
// `npm run build` after tsc. The helper is optional: without a C compiler, or if compiling fails,
// this warns and exits 0, and hookd falls back to Node's child_process.spawn.
import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "native", "spawn-helper.c");
const binary = join(root, "dist", "native", "hookd-spawn-helper");
const fallback = "hookd will fall back to Node's spawn";

if (process.platform !== "linux") {
  console.log(`build-native: the spawn helper is Linux-only; skipped on ${process.platform} (${fallback})`);
  process.exit(0);
}

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
};
const sourceTime = mtime(source);
if (sourceTime === null) {
  console.warn(`build-native: warning: ${source} is missing; the spawn helper was not built and ${fallback}`);
  process.exit(0);
}
const binaryTime = mtime(binary);
if (binaryTime !== null && binaryTime >= sourceTime) process.exit(0); // up to date

mkdirSync(dirname(binary), { recursive: true });
// Compile next to the target and rename: a failed build leaves no half-written binary, and a
// running helper keeps its (unlinked) old file instead of failing with ETXTBSY.
const temporary = `${binary}.tmp-${process.pid}`;
const result = spawnSync("cc", ["-O2", "-Wall", "-Wextra", "-o", temporary, source], { stdio: "inherit" });
if (result.error || result.status !== 0) {
  // An older binary may not speak the protocol of the current sources: do not leave it behind.
  rmSync(temporary, { force: true });
  rmSync(binary, { force: true });
}
if (result.error) {
  const why =
    result.error.code === "ENOENT" ? "no C compiler (cc) on PATH" : `could not run cc (${result.error.message})`;
  console.warn(`build-native: warning: ${why}; the spawn helper was not built and ${fallback}`);
  process.exit(0);
}
if (result.status !== 0) {
  const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
  console.warn(`build-native: warning: cc ${how} compiling ${source} (output above); ${fallback}`);
  process.exit(0);
}
renameSync(temporary, binary);
console.log(`build-native: built ${binary}`);
