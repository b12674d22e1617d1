import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

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
    process.kill(-pgid, 0);
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
  return Promise.all(live.map((m) => readFile(`/proc/${m.pid}/environ`, "utf8").then((e) => e.split("\0"), () => null)));
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
 * What marks a hook's processes as this store's (`HOOKD_STORE_ID` in their environment): a digest
 * of the database's path, the same across restarts and different for every other hookd on the
 * machine, so a start-up only ever ends its own store's leftovers. An in-memory store gets a
 * random one: nothing of it survives a restart.
 */
export function storeMarker(databasePath: string): string {
  if (databasePath === ":memory:") return randomUUID();
  return createHash("sha256").update(path.resolve(databasePath)).digest("hex").slice(0, 32);
}

/**
 * True if the group has live members and every one carries this store's marker and this run's
 * id: a group that is wholly the run's, to end as a whole. A member that cannot be read is not.
 */
export async function groupIsRun(pgid: number, marker: string, executionId: string): Promise<boolean> {
  const envs = await memberEnvironments(pgid);
  return envs.length > 0 && envs.every((env) => env !== null && env.includes(`HOOKD_STORE_ID=${marker}`) && env.includes(`HOOKD_EXECUTION_ID=${executionId}`));
}

/** A live process that carries hookd's environment for a hook of one store. */
export interface HookProcess {
  pid: number;
  pgid: number;
  executionId: string;
  hook: string | null;
}

/**
 * Every live process (other than this one) whose environment says it belongs to a hook of the
 * store `marker`: hooks' children inherit the variables whatever process group they move to.
 * Processes of other users cannot be read and are not listed; null where /proc cannot be read.
 * For start-up, before anything is served: synchronous reads, several times faster here than
 * the same reads through the thread pool (~3 ms for every process on this machine).
 */
export function findHookProcesses(marker: string): HookProcess[] | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  const found: HookProcess[] = [];
  const storeVar = `HOOKD_STORE_ID=${marker}`;
  for (const entry of entries) {
    if (entry.charCodeAt(0) > 57 || entry.charCodeAt(0) < 48 || Number(entry) === process.pid) continue;
    try {
      // A zombie's environment reads empty, so only live processes match.
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8");
      if (!environ.includes(storeVar)) continue;
      const vars = environ.split("\0");
      if (!vars.includes(storeVar)) continue;
      const value = (name: string) => vars.find((v) => v.startsWith(`${name}=`))?.slice(name.length + 1) ?? null;
      const executionId = value("HOOKD_EXECUTION_ID");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // After the parenthesised command name: state ppid pgrp ...
      const pgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (executionId) found.push({ pid: Number(entry), pgid, executionId, hook: value("HOOKD_HOOK") });
    } catch {
      // ended while we looked, or another user's
    }
  }
  return found;
}
