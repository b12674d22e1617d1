import { existsSync, mkdtempSync, readdirSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { HOOK_MESSAGE_PREFIX } from "../domain/hook-message.js";
import { hookPointInfo, type HookPoint } from "../domain/hook-points.js";
import type { OsName } from "../domain/os.js";
import { ExecutionStatus } from "../domain/execution-status.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import { buildArgv, CommandLineError } from "./command-line.js";
import type { RunOutcome } from "./execution-lifecycle.service.js";
import { HookWatchdog } from "./hook-watchdog.js";
import { jsonErrorPosition, outputDepthRefusal } from "./json-position.js";
import { LeaseLost } from "./lease-fence.js";
import { killMarked } from "./process-group.js";
import { runProcess, type OutputGate, type OutputStream, type RunOutcome as ProcessOutcome } from "./process-runner.js";
import { inheritEnv, type Spawner } from "./spawner.js";

/** What a runner needs to run one hook: the execution's snapshot, nothing from the store. */
export interface HookSpec {
  id: string;
  hook: HookPoint;
  command: string | null;
  os: OsName | null;
  input: JsonObject;
  timeoutSeconds: number;
  jobId: string | null;
  publishId: string | null;
  /** 1 for a first run; HOOKD_ATTEMPT. */
  attempt?: number;
  /** The first attempt of a retry chain: HOOKD_IDEMPOTENCY_KEY is its id, the same for every attempt. */
  retryOfId?: string | null;
  /** Secrets the hook's policy asks for (env), decrypted for this run only. */
  env?: Record<string, string> | null;
}

export interface LocalHookRunnerOptions {
  spawner: Spawner;
  /** Parent of this runner's private directory for input and output files. */
  tempDir: string;
  killGraceMs: number;
  keepTempFiles: boolean;
  /** The environment hooks inherit (the runner's own at start-up when left out). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Where the watchdog says it had to be started again. */
  warn?(message: string): void;
}

export interface RunHooks {
  signal: AbortSignal;
  /** `partial`: the line goes on in the next piece (a line longer than a row, or a last line without a newline). */
  onLine(stream: OutputStream, text: string, at: Date, partial: boolean): void;
  /** Where the lines go, when it can fall behind the hook (process-runner.ts). */
  outputGate?: OutputGate;
  /** The process started (its group id) with this argv. */
  onStart?(pid: number, argv: string[]): void;
  /** The hook's processes are gone; its outcome is still being worked out. */
  onExit?(): void;
}

/** Trailing stderr lines kept for the error message. */
const STDERR_TAIL = 5;
/** HOOKD-MESSAGE: lines kept (the message is capped anyway). */
const STDERR_MESSAGE_LINES = 50;

/**
 * Runs hooks on this machine by SPEC §2: the input JSON in a private temp file, argv from the
 * snapshot command line for this OS (no shell), the process in its own group with a timeout, and
 * the outcome as data. It knows nothing of the store, so an agent on another machine runs hooks
 * with exactly the same rules. Never throws for anything the hook does.
 */
export class LocalHookRunner {
  private dir: string | null = null;
  /** Frozen, so spawners may pack it once (inheritEnv). */
  private readonly baseEnv: NodeJS.ProcessEnv;
  /** Ends this runner's hooks when the runner dies (hook-watchdog.ts). */
  private readonly watchdog: HookWatchdog;

  constructor(private readonly options: LocalHookRunnerOptions) {
    this.watchdog = new HookWatchdog({ killGraceMs: options.killGraceMs, warn: options.warn });
    // hookd's own secrets stay with hookd: a hook has no business with its database or first admin key.
    const { HOOKD_DATABASE_URL: _url, HOOKD_BOOTSTRAP_ADMIN_KEY: _key, ...env } = options.baseEnv ?? process.env;
    this.baseEnv = Object.freeze(env);
  }

  async run(spec: HookSpec, hooks: RunHooks): Promise<RunOutcome & { argv: string[] | null }> {
    const info = hookPointInfo(spec.hook);
    const tail: string[] = [];
    // HOOKD-MESSAGE: lines on stderr, the answer's `message` when it has none (hook-message.ts).
    const said: string[] = [];
    let continued = false;
    let files: string[] = [];
    let argv: string[] | null = null;
    try {
      const inputPath = this.writePrivate(`${spec.id}.input.json`, JSON.stringify(spec.input, null, 2));
      const outputPath = path.join(path.dirname(inputPath), `${spec.id}.output.json`);
      files = info.hasOutput ? [inputPath, outputPath] : [inputPath];
      try {
        argv = buildArgv(spec.command ?? "", spec.os ?? "linux", { PATH_JSON_INPUT: inputPath, ...(info.hasOutput ? { PATH_JSON_OUTPUT: outputPath } : {}) });
      } catch (err) {
        if (!(err instanceof CommandLineError)) throw err;
        return { argv, status: ExecutionStatus.FAILED, error: `invalid command line: ${err.message}` };
      }
      if (hooks.signal.aborted) return { argv, status: ExecutionStatus.CANCELLED, error: "cancelled before it started" };
      const startArgv = argv;
      this.watchdog.ensure();
      let group: number | null = null;
      const outcome = await runProcess({
        spawner: this.options.spawner,
        argv,
        env: this.hookEnv(info.dashed, spec),
        timeoutMs: spec.timeoutSeconds * 1000,
        killGraceMs: this.options.killGraceMs,
        signal: hooks.signal,
        runMarker: `HOOKD_EXECUTION_ID=${spec.id}`,
        onLine: (line) => {
          if (line.stream === "stderr") {
            tail.push(line.text);
            if (tail.length > STDERR_TAIL) tail.shift();
            if (!continued && line.text.startsWith(HOOK_MESSAGE_PREFIX) && said.length < STDERR_MESSAGE_LINES) said.push(line.text.slice(HOOK_MESSAGE_PREFIX.length));
            continued = line.partial;
          }
          hooks.onLine(line.stream, line.text, line.at, line.partial);
        },
        outputGate: hooks.outputGate,
        onSpawn: (pid) => {
          group = pid;
          this.watchdog.started(pid);
          hooks.onStart?.(pid, startArgv);
        },
      });
      const finish = outcomeOf(outcome, tail, hooks.signal);
      // A failure may be retried: what the attempt left outside its group (setsid) must not run
      // beside the next attempt. Not after a success: that costs a look at every process.
      if (finish.status !== ExecutionStatus.SUCCEEDED && group !== null) killMarked(`HOOKD_EXECUTION_ID=${spec.id}`);
      if (group !== null) this.watchdog.ended(group);
      hooks.onExit?.();
      // Most hooks write no answer: one stat, not a failed read and a failed unlink, on every run.
      const wrote = existsSync(outputPath);
      if (!wrote) files = files.filter((f) => f !== outputPath);
      const answered = finish.status === ExecutionStatus.SUCCEEDED && info.outputRequired ? await readOutput(outputPath, finish) : wrote ? await readOptionalOutput(outputPath, finish) : finish;
      return { argv, ...withStderrMessage(answered, said) };
    } catch (err) {
      // The runner's own failure (disk full, ...): the run must still end, saying why.
      return { argv, status: ExecutionStatus.FAILED, error: `hookd could not run the hook: ${err instanceof Error ? err.message : String(err)}` };
    } finally {
      hooks.onExit?.();
      if (!this.options.keepTempFiles) for (const file of files) removeQuietly(file);
    }
  }

  /** Removes the private directory when nothing was kept in it; the watchdog ends what hooks left. */
  close(): void {
    this.watchdog.close();
    if (this.dir === null) return;
    try {
      rmdirSync(this.dir);
    } catch {
      // Files kept for debugging (or left by a hook) stay where they are.
    }
    this.dir = null;
  }

  /** The runner's environment plus the hook's secrets and its own variables (SPEC §2), which win. */
  private hookEnv(hook: string, spec: HookSpec): NodeJS.ProcessEnv {
    const own: Record<string, string> = {
      ...(spec.env ?? {}),
      HOOKD_HOOK: hook,
      HOOKD_EXECUTION_ID: spec.id,
      HOOKD_ATTEMPT: String(spec.attempt ?? 1),
      HOOKD_IDEMPOTENCY_KEY: spec.retryOfId ?? spec.id,
      [this.watchdog.marker.name]: this.watchdog.marker.value,
    };
    if (spec.jobId) own.HOOKD_JOB_ID = spec.jobId;
    if (spec.publishId) own.HOOKD_PUBLISH_ID = spec.publishId;
    return inheritEnv(this.baseEnv, own);
  }

  /** A 0700 directory of this runner, made on first use (and again if a temp cleaner removed it). */
  private writePrivate(name: string, content: string): string {
    for (let attempt = 0; ; attempt++) {
      // Named by this process, so a later start can tell a dead process's leftovers (removeLeftovers).
      this.dir ??= mkdtempSync(path.join(this.options.tempDir, `hookd-${process.pid}-`));
      const file = path.join(this.dir, name);
      try {
        writeFileSync(file, content, { mode: 0o600, flag: "wx" });
        return file;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" && attempt === 0) {
          this.dir = null;
          continue;
        }
        // The path says which disk is full or unwritable.
        throw new Error(`cannot write the input file ${file}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * Removes the private directories that runners which are no longer running left in `tempDir`
 * (a kill -9 leaves its hooks' input files, payloads with internal metadata, behind). A directory
 * whose process still runs is left alone. Returns how many were removed.
 */
export function removeLeftovers(tempDir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(tempDir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const match = /^hookd-(\d+)-/.exec(name);
    if (!match || Number(match[1]) === process.pid || alive(Number(match[1]))) continue;
    try {
      rmSync(path.join(tempDir, name), { recursive: true, force: true });
      removed++;
    } catch {
      // not ours to remove (another user's): left
    }
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function outcomeOf(outcome: ProcessOutcome, tail: string[], signal: AbortSignal): RunOutcome {
  const base = { exitCode: outcome.exitCode, signal: outcome.signal };
  switch (outcome.kind) {
    case "exited":
      if (outcome.exitCode === 0) return { ...base, status: ExecutionStatus.SUCCEEDED, error: null };
      return { ...base, status: ExecutionStatus.FAILED, error: withStderr(outcome.error ?? `exited with code ${outcome.exitCode}`, tail) };
    case "signaled":
    case "spawn-failed":
    case "lost":
      return { ...base, status: ExecutionStatus.FAILED, error: withStderr(outcome.error ?? "failed", tail) };
    case "timed-out":
      return { ...base, status: ExecutionStatus.TIMED_OUT, error: outcome.error };
    case "cancelled":
      if (signal.reason instanceof LeaseLost) return { ...base, status: ExecutionStatus.FAILED, error: `${signal.reason.message}; its process group was ended` };
      return { ...base, status: ExecutionStatus.CANCELLED, error: outcome.error };
  }
}

/** pre-publish answers through ${PATH_JSON_OUTPUT}: it must exist and be a JSON object. */
async function readOutput(outputPath: string, finish: RunOutcome, alreadyRead?: string): Promise<RunOutcome> {
  let text: string;
  try {
    text = alreadyRead ?? (await readFile(outputPath, "utf8"));
  } catch {
    return { ...finish, status: ExecutionStatus.FAILED, error: "the hook exited 0 but wrote no output file at ${PATH_JSON_OUTPUT}" };
  }
  // Nested past the limit: refused before parsing, with where (json-position.ts).
  const tooDeep = outputDepthRefusal(text);
  if (tooDeep) return { ...finish, status: ExecutionStatus.FAILED, error: tooDeep };
  let output: unknown;
  try {
    output = JSON.parse(text);
  } catch (err) {
    return { ...finish, status: ExecutionStatus.FAILED, error: `the output file is not valid JSON: ${describeJsonError(text, err)}` };
  }
  if (output === null || typeof output !== "object" || Array.isArray(output)) {
    return { ...finish, status: ExecutionStatus.FAILED, error: `the output file must hold a JSON object (got ${Array.isArray(output) ? "an array" : typeof output})` };
  }
  return { ...finish, output: output as JsonObject };
}

/**
 * The optional answer of any other hook (or of a failed pre-publish): read when the hook wrote
 * one, so its `message` can reach the user. A broken one is not the run's failure; its error says so.
 */
async function readOptionalOutput(outputPath: string, finish: RunOutcome): Promise<RunOutcome> {
  if (finish.status === ExecutionStatus.CANCELLED) return finish;
  let text: string;
  try {
    text = await readFile(outputPath, "utf8");
  } catch {
    return finish; // none written: the usual case
  }
  const read = await readOutput(outputPath, { ...finish, status: ExecutionStatus.SUCCEEDED }, text);
  if (read.status === ExecutionStatus.SUCCEEDED) return { ...finish, output: read.output };
  const ignored = `the output file at \${PATH_JSON_OUTPUT} was ignored: ${read.error}`;
  return { ...finish, error: finish.error ? `${finish.error}; ${ignored}` : ignored };
}

/** The HOOKD-MESSAGE: lines become the answer's `message` when it gave none. */
function withStderrMessage(outcome: RunOutcome, said: string[]): RunOutcome {
  if (said.length === 0 || outcome.output?.message !== undefined) return outcome;
  return { ...outcome, output: { ...(outcome.output ?? {}), message: said.join("\n") } };
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // never written (the output file, usually)
    try {
      // The hook put a directory (or something odd) there.
      rmSync(file, { force: true, recursive: true });
    } catch {
      // A hook that made its temp files undeletable must not fail the run.
    }
  }
}

/** The parser's complaint with where it happened (line, column, position), so a script author can find it. */
function describeJsonError(text: string, err: unknown): string {
  // Node's message may quote the whole text; keep what it says, not the quote.
  const message = (err instanceof Error ? err.message : String(err)).split(/, "|\n/)[0].replace(/ in JSON at position \d+.*$/, "");
  const position = jsonErrorPosition(text);
  if (position === null) return message;
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - before.lastIndexOf("\n");
  return `${message} at line ${line}, column ${column} (position ${position})`;
}

/** "exited with code 2" plus the last stderr lines, which usually say why. */
function withStderr(message: string, stderr: string[]): string {
  const lines = stderr.filter((l) => l.trim() !== "");
  return lines.length === 0 ? message : `${message}; last stderr: ${lines.join(" | ")}`;
}
