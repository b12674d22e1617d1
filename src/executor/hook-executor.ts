import { mkdtempSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ExecutorConfig } from "../config.js";
import { hookPointInfo } from "../domain/hook-points.js";
import { LogStream } from "../entities/execution-log-line.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { Logger } from "../logger.js";
import type { PubSub } from "../pubsub/pubsub.js";
import type { Store, WriteOp } from "../store/store.js";
import { buildArgv, CommandLineError } from "./command-line.js";
import { ExecutionLog } from "./execution-log.js";
import { jsonErrorPosition } from "./json-position.js";
import { runProcess, type RunOutcome } from "./process-runner.js";
import { inheritEnv, type Spawner } from "./spawner.js";

export interface HookExecutorDeps {
  store: Store;
  /** Starts hook processes (the spawn addon or helper, or Node's child_process). */
  spawner: Spawner;
  pubsub: PubSub;
  config: ExecutorConfig;
  logger: Logger;
  /** This store's `HOOKD_STORE_ID` (storeMarker), given to every hook so a restart finds its leftovers. */
  storeMarker: string;
}

/**
 * An execution that is not stored yet (ExecutionQueue.submit): its first write inserts it, with
 * `alsoStore`, and `stored` hears how that went, once. An error while the hook runs means it
 * cannot be recorded: whoever hears it must abort the run's signal, so the hook does not run on
 * unrecorded.
 */
export interface FreshExecution {
  alsoStore: WriteOp[];
  stored(err?: unknown): void;
}

export interface RunOptions {
  /**
   * The execution as its creator just stored it (or is about to, see `fresh`), so it is not read
   * back; the executor changes its own copy.
   */
  known?: Execution;
  /** The execution is not stored yet: its first write inserts it. */
  fresh?: FreshExecution;
  /** Called once the hook's process group has ended, before its outcome is stored. */
  processGone?(): void;
}

interface Finish {
  status: ExecutionStatus;
  exitCode?: number | null;
  signal?: string | null;
  error?: string | null;
  output?: JsonObject | null;
}

/**
 * Publishes an execution's status to live readers (the executionUpdated topic). `stored`: `e` is
 * exactly what the store holds now, so in-process waiters may take it instead of reading it back.
 */
export function publishExecution(pubsub: PubSub, e: Execution, stored = false): void {
  pubsub.publish("executionUpdated", e.id, {
    id: e.id,
    hook: e.hook,
    queue: e.queue,
    jobId: e.jobId,
    publishId: e.publishId,
    status: e.status,
    exitCode: e.exitCode,
    error: e.error,
    ...(stored ? { stored: e } : {}),
  });
}

/**
 * Runs one QUEUED execution to its end (SPEC §2): input JSON in a private temp directory, argv
 * from the snapshot command line, the process in its own group with a timeout, output captured
 * line by line, the outcome recorded as data. Never throws for anything the hook does.
 */
export class HookExecutor {
  private dir: string | null = null;
  /**
   * The server's environment as it was at start-up, as a plain frozen object: each hook's env
   * inherits it and adds its own variables, and the spawners pack it once (packStrings). Reading
   * process.env itself goes through a native getter per variable. With it, HOOKD_STORE_ID.
   */
  private readonly serverEnv: NodeJS.ProcessEnv;

  constructor(private readonly deps: HookExecutorDeps) {
    this.serverEnv = Object.freeze({ ...process.env, HOOKD_STORE_ID: deps.storeMarker });
  }

  /** This process's private directory for input and output files, made on first use. */
  private workDir(): string {
    this.dir ??= mkdtempSync(path.join(this.deps.config.tempDir, "hookd-"));
    return this.dir;
  }

  /** Writes a fresh private file; makes the directory again if something (a temp cleaner) removed it. */
  private writePrivate(name: string, content: string): string {
    const file = path.join(this.workDir(), name);
    try {
      writeFileSync(file, content, { mode: 0o600, flag: "wx" });
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      this.dir = null;
      const again = path.join(this.workDir(), name);
      writeFileSync(again, content, { mode: 0o600, flag: "wx" });
      return again;
    }
  }

  /** Removes the work directory when nothing was kept in it. */
  close(): void {
    if (this.dir === null) return;
    try {
      rmdirSync(this.dir);
    } catch {
      // Files kept for debugging (or left by a hook) stay where they are.
    }
    this.dir = null;
  }

  /** Tells live readers about an execution as it is stored now. */
  announce(execution: Execution): void {
    publishExecution(this.deps.pubsub, execution);
  }

  /**
   * Runs the execution: `options.known` is used as it is (the embedded queue passes it along, see
   * ExecutionQueue), anything else is read from the store. The executor changes its own copy:
   * the creator's object stays as the creator returned it.
   */
  async run(executionId: string, signal: AbortSignal, options: RunOptions = {}): Promise<Execution> {
    const { known, fresh } = options;
    const { store, config } = this.deps;
    const execution = known?.id === executionId ? Object.assign(new Execution(), known) : await store.findById(Execution, executionId);
    if (!execution) throw new Error(`execution ${executionId} does not exist`);
    if (execution.status !== ExecutionStatus.QUEUED) {
      fresh?.stored(new Error(`execution ${executionId} is ${execution.status}, not QUEUED`));
      return execution;
    }
    const info = hookPointInfo(execution.hook);
    const log = new ExecutionLog(store, this.deps.pubsub, execution.id, { capBytes: config.logCapBytes });
    const record = new RunRecord(fresh);

    let files: string[] = [];
    let finish: Finish;
    try {
      // Private to the server's user: a 0700 directory of this process, 0600 files named by the
      // execution. Synchronous on purpose: one small write in the local temp directory costs less
      // than thread-pool round trips, and a directory per run cost ~0.3 ms more (mkdir, rmdir).
      const inputPath = this.writePrivate(`${execution.id}.input.json`, JSON.stringify(execution.input, null, 2));
      const outputPath = path.join(path.dirname(inputPath), `${execution.id}.output.json`);
      files = info.hasOutput ? [inputPath, outputPath] : [inputPath];
      let argv: string[];
      try {
        argv = buildArgv(execution.command ?? "", execution.os ?? "linux", { PATH_JSON_INPUT: inputPath, ...(info.hasOutput ? { PATH_JSON_OUTPUT: outputPath } : {}) });
      } catch (err) {
        if (!(err instanceof CommandLineError)) throw err;
        finish = { status: ExecutionStatus.FAILED, error: `invalid command line: ${err.message}` };
        return await this.finish(execution, finish, log, files, record);
      }
      execution.argv = argv;
      execution.startedAt = new Date();
      if (signal.aborted) {
        finish = { status: ExecutionStatus.CANCELLED, error: "cancelled before it started" };
        return await this.finish(execution, finish, log, files, record);
      }
      const outcome = await runProcess({
        spawner: this.deps.spawner,
        argv,
        env: this.hookEnv(info.dashed, execution),
        timeoutMs: execution.timeoutSeconds * 1000,
        killGraceMs: config.killGraceMs,
        signal,
        onLine: (line) => log.output(line.stream === "stdout" ? LogStream.STDOUT : LogStream.STDERR, line.text, line.at),
        // RUNNING is recorded with the process group in one write: a restart can end the group.
        onSpawn: (pid) => this.markRunning(execution, pid, record),
      });
      options.processGone?.();
      finish = record.error !== undefined ? this.unrecorded(record.error) : this.outcome(outcome, log);
      if (finish.status === ExecutionStatus.SUCCEEDED && info.hasOutput) finish = await this.readOutput(outputPath, finish);
    } catch (err) {
      // hookd's own failure (disk full, database gone): the execution must still end.
      this.deps.logger.error(`execution ${execution.id} failed inside hookd`, err);
      finish = { status: ExecutionStatus.FAILED, error: `hookd could not run the hook: ${err instanceof Error ? err.message : String(err)}` };
    }
    return this.finish(execution, finish, log, files, record);
  }

  /** The server's environment plus the hook's own variables (SPEC §2), which win over the server's. */
  private hookEnv(hook: string, execution: Execution): NodeJS.ProcessEnv {
    const own: Record<string, string> = { HOOKD_HOOK: hook, HOOKD_EXECUTION_ID: execution.id };
    if (execution.jobId) own.HOOKD_JOB_ID = execution.jobId;
    if (execution.publishId) own.HOOKD_PUBLISH_ID = execution.publishId;
    return inheritEnv(this.serverEnv, own);
  }

  /** The first write of a fresh execution failed, so its hook was stopped. */
  private unrecorded(err: unknown): Finish {
    return { status: ExecutionStatus.FAILED, error: `hookd could not record the run, so it was stopped: ${err instanceof Error ? err.message : String(err)}` };
  }

  private outcome(outcome: RunOutcome, log: ExecutionLog): Finish {
    const base = { exitCode: outcome.exitCode, signal: outcome.signal };
    switch (outcome.kind) {
      case "exited":
        if (outcome.exitCode === 0) return { ...base, status: ExecutionStatus.SUCCEEDED, error: null };
        return { ...base, status: ExecutionStatus.FAILED, error: withStderr(outcome.error ?? `exited with code ${outcome.exitCode}`, log.lastStderr()) };
      case "signaled":
      case "spawn-failed":
      case "lost":
        return { ...base, status: ExecutionStatus.FAILED, error: withStderr(outcome.error ?? "failed", log.lastStderr()) };
      case "timed-out":
        return { ...base, status: ExecutionStatus.TIMED_OUT, error: outcome.error };
      case "cancelled":
        return { ...base, status: ExecutionStatus.CANCELLED, error: outcome.error };
    }
  }

  /** pre-publish answers through ${PATH_JSON_OUTPUT}: it must exist and be a JSON object. */
  private async readOutput(outputPath: string, finish: Finish): Promise<Finish> {
    let text: string;
    try {
      text = await readFile(outputPath, "utf8");
    } catch {
      return { ...finish, status: ExecutionStatus.FAILED, error: "the hook exited 0 but wrote no output file at ${PATH_JSON_OUTPUT}" };
    }
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

  private markRunning(execution: Execution, pid: number, record: RunRecord): void {
    Object.assign(execution, { status: ExecutionStatus.RUNNING, pid });
    const { status, startedAt, argv } = execution;
    // What is published once stored: the executor's own copy changes on.
    const running = Object.assign(new Execution(), execution);
    if (record.inserted) {
      this.deps.store.write([{ update: Execution, id: execution.id, set: { status, startedAt, argv, pid } }]).then(
        () => publishExecution(this.deps.pubsub, running),
        (err) => this.deps.logger.error(`could not record the start of execution ${execution.id}`, err),
      );
      return;
    }
    // Stored for the first time, RUNNING with its process group: the row exists from here on.
    record.pending = this.deps.store.write(record.insert(running)).then(
      () => {
        record.stored();
        publishExecution(this.deps.pubsub, running);
      },
      (err) => {
        this.deps.logger.error(`could not record the start of execution ${execution.id}; stopping its hook`, err);
        record.failed(err);
      },
    );
  }

  private async finish(execution: Execution, finish: Finish, log: ExecutionLog, files: string[], record: RunRecord): Promise<Execution> {
    if (finish.status !== ExecutionStatus.SUCCEEDED && finish.error) log.system(finish.error);
    const set = {
      status: finish.status,
      exitCode: finish.exitCode ?? null,
      signal: finish.signal ?? null,
      error: finish.error ?? null,
      output: finish.output ?? null,
      finishedAt: new Date(),
      startedAt: execution.startedAt ?? new Date(),
      argv: execution.argv,
      logLineCount: log.seal(),
      droppedBytes: log.dropped,
      pid: null,
    };
    let stored = true;
    await record.pending;
    // Never stored yet (it did not start, or recording its start failed): the final write inserts it.
    const insert = !record.inserted || record.error !== undefined;
    try {
      // The last lines and the outcome are stored together, in one transaction; the count is
      // what the store holds, also when a log write failed.
      await log.close((storedLines) => {
        set.logLineCount = storedLines;
        return insert ? record.insert(Object.assign(new Execution(), execution, set)) : [{ update: Execution, id: execution.id, set }];
      });
      if (insert) record.stored();
    } catch (err) {
      stored = false;
      this.deps.logger.error(`could not store ${insert ? "" : "the log of "}execution ${execution.id}`, err);
      if (insert) record.stored(err);
    }
    Object.assign(execution, set);
    publishExecution(this.deps.pubsub, execution, stored);
    if (!this.deps.config.keepTempFiles && files.length > 0) {
      // Not on a waiting caller's path: its response goes out first (in the promise jobs the
      // news started), the files go before run() resolves.
      await new Promise(setImmediate);
      for (const file of files) removeQuietly(file);
    }
    return execution;
  }
}

/**
 * Whether an execution's row exists yet. A fresh one (ExecutionQueue.submit) is inserted by its
 * first write, with its audit events; the submitter hears once, when that write is done.
 */
class RunRecord {
  /** True once the insert is on its way (later writes queue behind it); always for stored ones. */
  inserted: boolean;
  /** Why the insert failed. */
  error: unknown = undefined;
  /** The insert of the start, until its outcome is known (never rejects). */
  pending: Promise<void> | undefined = undefined;
  private told = false;

  constructor(private readonly fresh: FreshExecution | undefined) {
    this.inserted = fresh === undefined;
  }

  /** The first write: the row as given and what belongs with it. */
  insert(row: Execution): WriteOp[] {
    this.inserted = true;
    return [{ insert: Execution, rows: [row] }, ...(this.fresh?.alsoStore ?? [])];
  }

  stored(err?: unknown): void {
    if (this.told || !this.fresh) return;
    this.told = true;
    this.fresh.stored(err);
  }

  /** The insert of the start failed: the submitter hears it (and stops the run, see FreshExecution). */
  failed(err: unknown): void {
    this.error = err;
    this.stored(err);
  }
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
