import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const UNIT = fileURLToPath(new URL("../../deploy/hookd.service", import.meta.url));

/** The unit's directives, by name (a name may repeat). */
function directives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) map.set(m[1], [...(map.get(m[1]) ?? []), m[2]]);
  }
  return map;
}

test("deploy/hookd.service: its own user, a RuntimeDirectory for the temp files, restarts on failure, and no hardening that breaks hooks", () => {
  const unit = directives(readFileSync(UNIT, "utf8"));
  assert.deepEqual(unit.get("User"), ["hookd"]);
  assert.deepEqual(unit.get("RuntimeDirectory"), ["hookd"]);
  assert.deepEqual(unit.get("RuntimeDirectoryMode"), ["0700"]);
  assert.deepEqual(unit.get("StateDirectory"), ["hookd"]);
  assert.ok(unit.get("Environment")?.includes("HOOKD_DATA_DIR=/var/lib/hookd"));
  assert.deepEqual(unit.get("Restart"), ["on-failure"]);
  // hookd ends its hooks itself on SIGTERM, then systemd kills what is left.
  assert.deepEqual(unit.get("KillMode"), ["mixed"]);
  assert.match(unit.get("ExecStart")![0], /dist\/src\/cli\.js serve$/);
  for (const breaking of ["NoNewPrivileges", "MemoryDenyWriteExecute", "PrivateDevices", "ProtectHome"]) assert.equal(unit.get(breaking), undefined, `${breaking} would break hooks`);
  assert.deepEqual(unit.get("ProtectSystem"), ["full"]);
  const verify = spawnSync("systemd-analyze", ["verify", UNIT], { encoding: "utf8" });
  if (verify.error === undefined) assert.equal(verify.stderr.trim(), "", "systemd-analyze verify has nothing to say");
});

test("deploy/hookd-agent.service: its own user, the credential in its StateDirectory, the hooks' files in its RuntimeDirectory", () => {
  const file = fileURLToPath(new URL("../../deploy/hookd-agent.service", import.meta.url));
  const unit = directives(readFileSync(file, "utf8"));
  assert.deepEqual(unit.get("User"), ["hookd-agent"]);
  assert.deepEqual(unit.get("StateDirectory"), ["hookd-agent"]);
  assert.match(unit.get("ExecStart")![0], /dist\/src\/cli\.js agent --url \$\{HOOKD_URL\} --state-dir \/var\/lib\/hookd-agent$/);
  // LocalHookRunner writes the input files under os.tmpdir(), which is $TMPDIR.
  assert.deepEqual(unit.get("RuntimeDirectory"), ["hookd-agent"]);
  assert.ok(unit.get("Environment")?.includes("TMPDIR=/run/hookd-agent"));
  assert.deepEqual(unit.get("KillMode"), ["mixed"]);
  const verify = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
  if (verify.error === undefined) assert.equal(verify.stderr.trim(), "", "systemd-analyze verify has nothing to say");
});
