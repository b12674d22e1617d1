import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, open, stat } from "node:fs/promises";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { groupAlive, killMarked } from "./process-group.js";
import type { SpawnedProcess, Spawner } from "./spawner.js";

// Runs one hook process and reports what happened as data. No shell is involved: argv[0] is
// executed directly with argv[1..] as its arguments. The process gets its own process group,
// and the group is the unit hookd manages: on timeout or cancel the whole group is terminated,
// and when the leader exits whatever it left running in the group is ended as well, so no hook
// can leave processes behind.

export type OutputStream = "stdout" | "stderr";
export interface CapturedLine {
  stream: OutputStream;
  text: string;
  at: Date;
  partial: boolean;
}

/** The consumer of a run's output, when it can fall behind (a store slower than the hook). */
export interface OutputGate {
  /** More output now would outrun the consumer: stop reading the hook's pipes. */
  full(): boolean;
  /** Resolves once the consumer has caught up. */
  drained(): Promise<void>;
}

export interface RunSpec {
  spawner: Spawner;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
  killGraceMs?: number;
  maxLineBytes?: number;
  signal?: AbortSignal;
  onLine(line: CapturedLine): void;
  /** While it is full the hook's output is not read, so the hook waits (as on a full terminal) and memory stays bounded. */
  outputGate?: OutputGate;
  onSpawn?(pid: number): void;
  /**
   * An environment entry ("HOOKD_EXECUTION_ID=<id>") every process of the run inherits: on
   * timeout or cancel, processes that left the group (setsid) but carry it are ended too.
   */
  runMarker?: string;
}

/** "lost": the process was started but hookd lost track of it (the spawn helper died). */
export type RunOutcomeKind = "exited" | "signaled" | "timed-out" | "cancelled" | "spawn-failed" | "lost";
export interface RunOutcome {
  kind: RunOutcomeKind;
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  pid: number | null;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
}

const DEFAULT_GRACE_MS = 2000;
const DEFAULT_MAX_LINE = 64 * 1024;

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  // Windows has no process groups to signal (process.kill(-pid) throws there): end the tree.
  if (process.platform === "win32") {
    killTreeWindows(pgid);
    return;
  }
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * taskkill /T ends the process and the descendants Windows still links to it; /F because a hook
 * has no window to close. What hookd dying leaves is libuv's job object's to end (docs/running-hooks.md).
 */
function killTreeWindows(pid: number): void {
  execFile("taskkill", ["/PID", String(pid), "/T", "/F"], { windowsHide: true }, () => undefined);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM to the group, then SIGKILL after `graceMs` if anything survived. Resolves when it is gone. */
async function terminateGroup(pgid: number, graceMs: number): Promise<NodeJS.Signals> {
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await groupAlive(pgid))) return "SIGTERM";
    await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
  }
  signalGroup(pgid, "SIGKILL");
  for (let i = 0; i < 250 && (await groupAlive(pgid)); i++) await sleep(20);
  return "SIGKILL";
}

export async function killProcessGroup(pgid: number, graceMs = DEFAULT_GRACE_MS): Promise<boolean> {
  if (!Number.isInteger(pgid) || pgid <= 1 || !(await groupAlive(pgid))) return false;
  await terminateGroup(pgid, graceMs);
  return true;
}

/** Splits a byte stream into lines, bounded in memory by maxLineBytes. */
class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private buffer = "";

  constructor(
    private readonly stream: OutputStream,
    private readonly maxLine: number,
    private readonly emit: (line: CapturedLine) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buffer += this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = this.buffer.indexOf("\n", start);
      if (nl < 0) break;
      let line = this.buffer.slice(start, nl);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      this.emitBounded(line, false);
      start = nl + 1;
    }
    this.buffer = start > 0 ? this.buffer.slice(start) : this.buffer;
    // A line with no newline in sight is delivered in pieces so it cannot grow without bound.
    while (Buffer.byteLength(this.buffer) > this.maxLine) {
      const piece = this.takePrefix(this.maxLine);
      this.emit({ stream: this.stream, text: piece, at: new Date(), partial: true });
    }
  }

  end(): void {
    this.buffer += this.decoder.end();
    if (this.buffer.length > 0) {
      let rest = this.buffer;
      if (rest.endsWith("\r")) rest = rest.slice(0, -1);
      this.buffer = "";
      this.emitBounded(rest, true);
    }
  }

  private emitBounded(line: string, partialEnd: boolean): void {
    while (Buffer.byteLength(line) > this.maxLine) {
      const cut = prefixWithin(line, this.maxLine);
      this.emit({ stream: this.stream, text: line.slice(0, cut), at: new Date(), partial: true });
      line = line.slice(cut);
    }
    this.emit({ stream: this.stream, text: line, at: new Date(), partial: partialEnd });
  }

  private takePrefix(maxBytes: number): string {
    const cut = prefixWithin(this.buffer, maxBytes);
    const piece = this.buffer.slice(0, cut);
    this.buffer = this.buffer.slice(cut);
    return piece;
  }
}

/** Length of the longest prefix of `s` whose UTF-8 size is at most maxBytes (never splitting a pair). */
function prefixWithin(s: string, maxBytes: number): number {
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const code = s.codePointAt(i)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) break;
    bytes += size;
    i += code >= 0x10000 ? 2 : 1;
  }
  return Math.max(i, 1);
}

/** Finds a bare program name on PATH, as execvp would. */
async function findOnPath(program: string, envPath: string | undefined): Promise<string | null> {
  for (const dir of (envPath ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    try {
      await access(candidate, fsConstants.F_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return null;
}

/** Turns a spawn failure into words a pipeline TD understands. */
async function explainSpawnFailure(program: string, code: string | undefined, envPath: string | undefined): Promise<string> {
  const file = program.includes("/") ? program : await findOnPath(program, envPath);
  if (file === null) return `command not found: ${program}`;
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch {
    return `command not found: ${program}`;
  }
  if (info.isDirectory()) return `cannot execute ${file}: is a directory`;
  if (code === "EACCES") return `permission denied: ${file} (is it executable? chmod +x)`;
  if (code === "ENOENT" || code === "ENOEXEC") {
    // The file is there, so what is missing is what its #! line names.
    let head = "";
    try {
      const handle = await open(file, "r");
      const buf = Buffer.alloc(256);
      const { bytesRead } = await handle.read(buf, 0, 256, 0);
      await handle.close();
      head = buf.subarray(0, bytesRead).toString("utf8");
    } catch {
      // unreadable: fall through
    }
    if (head.startsWith("#!")) {
      const interpreter = head.slice(2).split("\n")[0].trim().split(/\s+/)[0] ?? "";
      return `interpreter not found: ${interpreter} (from the #! line of ${file})`;
    }
    return `cannot execute ${file}: no #! line and not a binary`;
  }
  return `cannot execute ${file}: ${code ?? "unknown error"}`;
}

export async function runProcess(spec: RunSpec): Promise<RunOutcome> {
  const startedAt = new Date();
  const grace = spec.killGraceMs ?? DEFAULT_GRACE_MS;
  const maxLine = spec.maxLineBytes ?? DEFAULT_MAX_LINE;
  const deliver = (line: CapturedLine) => {
    try {
      spec.onLine(line);
    } catch {
      // A consumer's bug must not break the run or lose the outcome.
    }
  };
  const done = (kind: RunOutcomeKind, fields: Partial<RunOutcome>): RunOutcome => {
    const finishedAt = new Date();
    return { kind, exitCode: null, signal: null, error: null, pid: null, ...fields, startedAt, finishedAt, durationMs: finishedAt.getTime() - startedAt.getTime() };
  };

  if (spec.signal?.aborted) return done("cancelled", { error: "cancelled before it started" });
  let child: SpawnedProcess;
  try {
    child = await spec.spawner.spawn({ argv: spec.argv, env: spec.env, cwd: spec.cwd });
  } catch (err) {
    // The program could not be started (ENOENT, EACCES, ...): there is no process to wait for.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) return done("spawn-failed", { error: `hookd could not start the hook: ${err instanceof Error ? err.message : String(err)}` });
    return done("spawn-failed", { error: await explainSpawnFailure(spec.argv[0], code, spec.env.PATH) });
  }
  const pid = child.pid;
  spec.onSpawn?.(pid);

  let ending: "timed-out" | "cancelled" | null = null;
  let endSignal: NodeJS.Signals | null = null;
  let terminating: Promise<void> | null = null;
  const terminate = (why: "timed-out" | "cancelled") => {
    if (ending) return;
    ending = why;
    terminating = terminateGroup(pid, grace).then((s) => {
      endSignal = s;
      if (spec.runMarker) killMarked(spec.runMarker);
    });
  };
  const onAbort = () => terminate("cancelled");

  const out = new LineSplitter("stdout", maxLine, deliver);
  const err = new LineSplitter("stderr", maxLine, deliver);
  const gate = spec.outputGate;
  let paused = false;
  const checkGate = () => {
    if (paused || !gate?.full()) return;
    paused = true;
    child.pauseOutput(true);
    gate.drained().then(() => {
      paused = false;
      child.pauseOutput(false);
    });
  };
  child.onStdout = (chunk) => {
    out.push(chunk);
    if (gate) checkGate();
  };
  child.onStderr = (chunk) => {
    err.push(chunk);
    if (gate) checkGate();
  };

  const timer = setTimeout(() => terminate("timed-out"), spec.timeoutMs);
  if (spec.signal?.aborted) onAbort();
  else spec.signal?.addEventListener("abort", onAbort, { once: true });

  // The leader exited: end the rest of the group now, or a backgrounded child holding the pipes
  // would keep the output open forever.
  child.exited.then(
    (status) => {
      if (!terminating && !status.groupEmpty) terminating = groupAlive(pid).then((alive) => (alive ? terminateGroup(pid, grace).then(() => undefined) : undefined));
    },
    () => undefined,
  );

  // A process that left the group (setsid) can hold the pipes open for ever: once the leader has
  // exited and the group is ended, output is read a little longer, then no more.
  let pipesHeld = false;
  const leaderGone = child.exited.then(async (status) => {
    await sleep(100);
    if (terminating) await terminating;
    await sleep(Math.max(grace, 200));
    pipesHeld = true;
    return status;
  });
  let closed: { code: number | null; signal: NodeJS.Signals | null };
  try {
    closed = await Promise.race([child.closed, leaderGone]);
  } catch (e) {
    // The spawner lost the process (the spawn helper died): make sure nothing of it runs on.
    clearTimeout(timer);
    spec.signal?.removeEventListener("abort", onAbort);
    await terminateGroup(pid, grace);
    return done("lost", { pid, error: `hookd lost track of the hook: ${e instanceof Error ? e.message : String(e)}; its process group was ended` });
  }
  clearTimeout(timer);
  spec.signal?.removeEventListener("abort", onAbort);
  if (pipesHeld) {
    child.onStdout = null;
    child.onStderr = null;
  }
  out.end();
  err.end();
  if (terminating) await terminating;
  const { code, signal } = closed;
  if (ending === "timed-out") return done("timed-out", { pid, exitCode: code, signal: endSignal ?? signal, error: `timed out after ${seconds(spec.timeoutMs)}; process group killed` });
  if (ending === "cancelled") return done("cancelled", { pid, exitCode: code, signal: endSignal ?? signal, error: "cancelled; process group killed" });
  if (signal) return done("signaled", { pid, signal, error: `killed by signal ${signal}` });
  return done("exited", { pid, exitCode: code, error: code === 0 ? null : `exited with code ${code}` });
}
