import { readdirSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";

// Process-group inspection through /proc (Linux). Orphaned members of a killed group are
// reparented to PID 1, and some PID 1s (container init shims) reap them only every few seconds:
// until then `kill(-pgid, 0)` still succeeds on their zombies. Zombies have ended, so only live
// members count.

export interface GroupMember {
  pid: number;
  /** The state letter from /proc/<pid>/stat: R, S, D, Z, T, ... */
  state: string;
}

/** Members of the process group, or null where /proc cannot be read. */
export async function listGroup(pgid: number): Promise<GroupMember[] | null> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return null;
  }
  const members: GroupMember[] = [];
  for (const entry of entries) {
    if (entry.charCodeAt(0) > 57 || entry.charCodeAt(0) < 48) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // After the parenthesised command name: state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) members.push({ pid: Number(entry), state: fields[0] });
    } catch {
      // ended while we looked
    }
  }
  return members;
}

/** True while a live (non-zombie) process of the group exists. */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    // Windows has no groups: the tree's root stands for it (process.kill(-pid) would throw, read as "gone").
    process.kill(process.platform === "win32" ? pgid : -pgid, 0);
  } catch {
    return false; // the common case: nothing left at all
  }
  const members = await listGroup(pgid);
  return members === null ? true : members.some((m) => m.state !== "Z");
}

/**
 * The environment variables ("NAME=value") of each live member of the group, one list a member;
 * null for a member that cannot be read (another user's, or gone meanwhile).
 */
async function memberEnvironments(pgid: number): Promise<(string[] | null)[]> {
  const live = ((await listGroup(pgid)) ?? []).filter((m) => m.state !== "Z");
  return Promise.all(
    live.map((m) =>
      readFile(`/proc/${m.pid}/environ`, "utf8").then(
        (e) => e.split("\0"),
        () => null,
      ),
    ),
  );
}

/**
 * After a crash a recorded group id may have been reused by an unrelated program. True only if a
 * live member still carries the HOOKD_EXECUTION_ID hookd gave the hook; false where /proc is
 * missing, so nothing is killed on a guess.
 */
export async function groupRunsExecution(pgid: number, executionId: string): Promise<boolean> {
  const marker = `HOOKD_EXECUTION_ID=${executionId}`;
  return (await memberEnvironments(pgid)).some((env) => env?.includes(marker));
}

/**
 * SIGKILLs every live process (but this one) whose environment holds `marker`, wherever it moved
 * (a process that called setsid keeps its environment). Linux only (/proc); elsewhere nothing.
 * For a timeout or a cancel, not the hot path: it reads every process's environment once.
 */
export function killMarked(marker: string): number {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return 0;
  }
  let killed = 0;
  for (const entry of entries) {
    if (entry.charCodeAt(0) > 57 || entry.charCodeAt(0) < 48 || Number(entry) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(marker)) continue;
      process.kill(Number(entry), "SIGKILL");
      killed++;
    } catch {
      // gone meanwhile, or another user's
    }
  }
  return killed;
}
