import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

// The watchdog process of one runner (a `hookd serve` or a `hookd agent`): see hook-watchdog.ts.
// It reads its runner's notices on stdin; when stdin ends, the runner is gone (exited, killed
// with -9, out of memory), and every process of the hooks it ran is ended, within the kill grace.
//
// argv: <marker> <grace ms> <proc|groups>. The marker ("HOOKD_RUNNER=<token>") is in every hook's
// environment; stdin lines: "+<pgid>" a hook's group started, "-<pgid>" it ended. "proc" (Linux)
// finds the hooks' processes by the marker in /proc, wherever they moved; "groups" (macOS, no
// /proc) ends the groups the runner announced.

const [marker, graceArg, mode] = process.argv.slice(2);
if (!marker?.startsWith("HOOKD_RUNNER=") || !/^\d+$/.test(graceArg ?? "") || (mode !== "proc" && mode !== "groups")) {
  process.stderr.write("usage: hook-watchdog.main.js HOOKD_RUNNER=<token> <grace ms> proc|groups\n");
  process.exit(2);
}
const graceMs = Number(graceArg);
const groups = new Set<number>();
// A signal meant for the runner's terminal group (Ctrl-C) is not the runner's death.
for (const s of ["SIGINT", "SIGHUP", "SIGTERM"] as const) process.on(s, () => undefined);

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const pgid = Number(line.slice(1));
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  if (line[0] === "+") groups.add(pgid);
  else if (line[0] === "-") groups.delete(pgid);
});
lines.on("close", () => void reap().finally(() => process.exit(0)));

interface Proc {
  pid: number;
  pgid: number;
}

/** Live processes whose environment holds the marker, with their groups; null where /proc cannot be read. */
function marked(): Proc[] | null {
  if (mode === "groups") return null;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  const found: Proc[] = [];
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57 || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // After the parenthesised command name: state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      if (!readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(marker)) continue;
      found.push({ pid: Number(entry), pgid: Number(fields[2]) });
    } catch {
      // ended meanwhile, or another user's
    }
  }
  return found;
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // gone
  }
}

/** The hooks' groups and every marked process (also those that left their group): SIGTERM, then SIGKILL after the grace. */
async function reap(): Promise<void> {
  const send = (sig: NodeJS.Signals): boolean => {
    const procs = marked();
    // Without /proc (macOS) the groups the runner announced are all there is to go by.
    const targets = new Set<number>(procs === null ? [...groups].map((g) => -g) : []);
    for (const p of procs ?? []) {
      targets.add(p.pid);
      // A group led by a marked process: members that cleared their environment go with it.
      if (p.pgid > 1 && p.pgid !== process.pid) targets.add(-p.pgid);
    }
    for (const t of targets) signal(t, sig);
    return targets.size > 0;
  };
  if (!send("SIGTERM")) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    const left = marked();
    if (left !== null && left.length === 0) return;
  }
  send("SIGKILL");
}
