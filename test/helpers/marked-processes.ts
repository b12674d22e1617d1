import { readdirSync, readFileSync } from "node:fs";

// Linux only (/proc): finding a test's processes by an environment entry every one of them
// inherits (the hookd it started, its hooks, their setsid children, whatever hookd spawned), so
// a test can end all of them whatever left its process group or was reparented.

/** True while `pid` is a process that is not a zombie (an orphan's zombie may never be reaped here). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Its command line, arguments joined by spaces ("" once it is gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** Its direct children now (each of its threads' children). */
export function childrenOf(pid: number): number[] {
  const found = new Set<number>();
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, "latin1").trim().split(/\s+/)) if (child) found.add(Number(child));
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // the process ended
  }
  return [...found];
}

/** The processes (not zombies) whose environment holds `entry` ("NAME=value"), this one left out. */
export function processesWithEnv(entry: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").split("\0").includes(entry) && running(Number(name))) found.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** SIGKILLs every process whose environment holds `entry` until none is left (or `timeoutMs` passed); returns the pids it killed. */
export async function killProcessesWithEnv(entry: string, timeoutMs = 5000): Promise<number[]> {
  const killed = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processesWithEnv(entry);
    if (left.length === 0 || Date.now() > deadline) return [...killed];
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
        killed.add(pid);
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
