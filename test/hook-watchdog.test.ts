import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { groupAlive } from "../src/executor/process-group.js";

// The watchdog program on its own: when its runner's pipe closes it ends the hooks it watches.
// "groups" is what it does where there is no /proc (macOS), run here on Linux.

const PROGRAM = fileURLToPath(new URL("../src/executor/hook-watchdog.main.js", import.meta.url));

async function gone(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (!(await groupAlive(pid))) return true;
  return false;
}

for (const mode of ["proc", "groups"] as const) {
  test(`watchdog (${mode}): the runner's pipe closing ends the hooks' process groups, SIGKILL after the grace for one that ignores SIGTERM`, async () => {
    const marker = `HOOKD_RUNNER=test${process.pid}${mode}`;
    // A hook's group whose shell ignores SIGTERM: only the SIGKILL after the grace ends it.
    const hook = spawn("/bin/sh", ["-c", "trap '' TERM; sleep 60 & wait"], { detached: true, stdio: "ignore", env: { ...process.env, HOOKD_RUNNER: marker.split("=")[1] } });
    await once(hook, "spawn");
    const watchdog = spawn(process.execPath, [PROGRAM, marker, "300", mode], { stdio: ["pipe", "ignore", "inherit"] });
    const exited = once(watchdog, "exit");
    try {
      watchdog.stdin.write(`+${hook.pid}\n`);
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(await groupAlive(hook.pid!), "the hook runs while its runner lives");
      const closedAt = Date.now();
      watchdog.stdin.end();
      assert.ok(await gone(hook.pid!, 3000), "the hook's group outlived its runner's pipe");
      assert.ok(Date.now() - closedAt >= 250, "SIGTERM was ignored: it took the grace and a SIGKILL");
      await exited;
    } finally {
      try {
        process.kill(-hook.pid!, "SIGKILL");
      } catch {
        // ended
      }
      watchdog.kill("SIGKILL");
    }
  });
}

test("watchdog (groups): a group the runner said ended is not signalled (its id may be reused)", async () => {
  const other = spawn("/bin/sh", ["-c", "sleep 60 & wait"], { detached: true, stdio: "ignore" });
  await once(other, "spawn");
  const watchdog = spawn(process.execPath, [PROGRAM, "HOOKD_RUNNER=none", "100", "groups"], { stdio: ["pipe", "ignore", "inherit"] });
  const exited = once(watchdog, "exit");
  try {
    watchdog.stdin.write(`+${other.pid}\n-${other.pid}\n`);
    watchdog.stdin.end();
    await exited;
    assert.ok(await groupAlive(other.pid!), "an unrelated group was ended");
  } finally {
    process.kill(-other.pid!, "SIGKILL");
  }
});
