import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** What an enrolled agent keeps between starts: its own credential, so restarts need no token. */
export interface AgentState {
  url: string;
  agentId: string;
  name: string;
  kind: "SERVER" | "CLIENT";
  executionServerId: string;
  credential: string;
  enrolledAt: string;
}

/** Default state directory: ~/.config/hookd ($XDG_CONFIG_HOME/hookd), %APPDATA%\hookd on Windows. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === "win32") return path.join(env.APPDATA || path.join(os.homedir(), "AppData", "Roaming"), "hookd");
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), ".config"), "hookd");
}

export const stateFile = (dir: string) => path.join(dir, "agent.json");

export function readState(dir: string): AgentState | null {
  let text: string;
  try {
    text = readFileSync(stateFile(dir), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const state = JSON.parse(text) as Partial<AgentState>;
  if (typeof state.credential !== "string" || typeof state.agentId !== "string")
    throw new Error(`${stateFile(dir)} is not an agent state file (no credential): remove it and enrol again with --token`);
  return state as AgentState;
}

/** Written to a temp file and renamed, 0600 in a 0700 directory: only the agent's user can read the credential. */
export function writeState(dir: string, state: AgentState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = stateFile(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  // mode applies only when the file is created, and not under a permissive umask on every OS.
  if (process.platform !== "win32") chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/**
 * What the agent keeps of each run it holds, in <state dir>/runs: <id>.json (the execution and its
 * process group) while it runs, and <id>.log (its log spool). A restarted agent finds the records
 * of runs its previous process held: it ends their process groups and reports them FAILED.
 */
export interface RunRecord {
  id: string;
  hook: string;
  /** The hook's process group, once started (null: claimed, not started yet). */
  pid: number | null;
  claimedAt: string;
}

export const runsDir = (dir: string) => path.join(dir, "runs");
export const spoolFile = (dir: string, id: string) => path.join(runsDir(dir), `${id}.log`);
const recordFile = (dir: string, id: string) => path.join(runsDir(dir), `${id}.json`);

/** The runs directory, 0700 (it holds hooks' output). */
export function ensureRunsDir(dir: string): void {
  mkdirSync(runsDir(dir), { recursive: true, mode: 0o700 });
  if (process.platform !== "win32") chmodSync(runsDir(dir), 0o700);
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  const file = recordFile(dir, record.id);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeRun(dir: string, id: string): void {
  for (const file of [recordFile(dir, id), spoolFile(dir, id)]) rmSync(file, { force: true });
}

/** The record alone (the spool goes with its LogSpool). */
export function removeRunRecord(dir: string, id: string): void {
  try {
    unlinkSync(recordFile(dir, id));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/** Records left by an agent process that stopped without reporting them; unreadable ones are named and skipped. */
export function readRunRecords(dir: string, warn: (message: string) => void): RunRecord[] {
  let names: string[];
  try {
    names = readdirSync(runsDir(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const records: RunRecord[] = [];
  for (const name of names) {
    if (!name.endsWith(".json")) continue;
    try {
      const r = JSON.parse(readFileSync(path.join(runsDir(dir), name), "utf8")) as RunRecord;
      if (typeof r.id === "string" && (r.pid === null || Number.isInteger(r.pid))) records.push(r);
      else warn(`${name} in ${runsDir(dir)} is not a run record; ignored`);
    } catch (err) {
      warn(`could not read ${name} in ${runsDir(dir)}: ${(err as Error).message}; ignored`);
    }
  }
  return records;
}
