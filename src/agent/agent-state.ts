import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
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
