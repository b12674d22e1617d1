import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

// Hooks die with their runner. A runner (hookd serve, hookd agent) starts one small watchdog
// process (hook-watchdog.main.ts) in a session of its own and holds the only writer of a pipe to
// it. However the runner ends (exit, kill -9, the OOM killer), the kernel closes that pipe, and the
// watchdog ends every process whose environment carries the runner's marker, wherever it moved
// (setsid, double fork), and their process groups: SIGTERM, then SIGKILL after the kill grace.
// One process per runner, not one per hook: on Linux a hook start costs nothing more (elsewhere
// one short write to the pipe).
// On Windows libuv puts every child in a job object that is killed when hookd's handle closes;
// docs/running-hooks.md says what that covers.

/** The compiled watchdog program, beside this module. */
const PROGRAM = fileURLToPath(new URL("./hook-watchdog.main.js", import.meta.url));

export interface WatchdogOptions {
  killGraceMs: number;
  /** Told when the watchdog stopped while hooks ran (it is started again at once). */
  warn?(message: string): void;
}

export class HookWatchdog {
  /** The environment entry every hook of this runner inherits: "HOOKD_RUNNER=<token>". */
  readonly marker: { name: "HOOKD_RUNNER"; value: string };
  private child: ChildProcess | null = null;
  private readonly groups = new Set<number>();
  private closed = false;
  /** "proc": the watchdog finds the hooks by their marker in /proc (Linux); "groups": by the groups it is told of. */
  private readonly mode: "proc" | "groups" = process.platform === "linux" ? "proc" : "groups";

  constructor(private readonly options: WatchdogOptions) {
    this.marker = { name: "HOOKD_RUNNER", value: randomBytes(12).toString("hex") };
  }

  /** Starts the watchdog if it does not run (before a hook starts, so no hook runs unwatched). */
  ensure(): void {
    if (this.child || this.closed || process.platform === "win32") return;
    const child = spawn(process.execPath, [PROGRAM, `${this.marker.name}=${this.marker.value}`, String(this.options.killGraceMs), this.mode], {
      // Its own session: a signal to the runner's terminal group (Ctrl-C) leaves it watching.
      detached: true,
      stdio: ["pipe", "ignore", "inherit"],
      env: withoutMarker(process.env),
    });
    child.stdin!.on("error", () => undefined);
    child.on("error", (err) => this.options.warn?.(`the hook watchdog could not start: ${err.message}`));
    child.on("exit", (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      if (this.closed) return;
      // Killed by somebody (or the OOM killer): hooks that run now must not go unwatched.
      this.options.warn?.(`the hook watchdog (pid ${child.pid}) stopped (${signal ?? `exit ${code}`}); starting another`);
      this.ensure();
    });
    // Neither keeps the runner alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    this.child = child;
    for (const g of this.groups) this.write(`+${g}`);
  }

  /**
   * A hook's process group started / ended: what the watchdog ends where /proc is missing. On
   * Linux it finds every hook process by the marker, so a run costs no write to the pipe.
   */
  started(pgid: number): void {
    if (this.mode === "proc") return;
    this.groups.add(pgid);
    this.write(`+${pgid}`);
  }

  ended(pgid: number): void {
    if (this.groups.delete(pgid)) this.write(`-${pgid}`);
  }

  /** The runner stops: the watchdog ends what the hooks left, then exits. */
  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
    this.child = null;
  }

  private write(line: string): void {
    this.child?.stdin?.write(`${line}\n`);
  }
}

function withoutMarker(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // A runner that is itself a hook of another runner: its watchdog is not one of its own hooks.
  const { HOOKD_RUNNER: _own, ...rest } = env;
  return rest;
}
