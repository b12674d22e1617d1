import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ExecutorConfig } from "../config.js";
import { hookPointInfo } from "../domain/hook-points.js";
import { LogStream } from "../entities/execution-log-line.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { Logger } from "../logger.js";
import type { PubSub } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import { buildArgv, CommandLineError } from "./command-line.js";
import { ExecutionLog } from "./execution-log.js";
import { jsonErrorPosition } from "./json-position.js";
import { runProcess, type RunOutcome } from "./process-runner.js";

export interface HookExecutorDeps {
  store: Store;
  pubsub: PubSub;
  config: ExecutorConfig;
  logger: Logger;
}

interface Finish {
  status: ExecutionStatus;
  exitCode?: number | null;
  signal?: string | null;
  error?: string | null;
  output?: JsonObject | null;
}

/** Publishes an execution's status to live readers (the executionUpdated topic). */
export function publishExecution(pubsub: PubSub, e: Execution): void {
  pubsub.publish("executionUpdated", e.id, {
    id: e.id,
    hook: e.hook,
    queue: e.queue,
    jobId: e.jobId,
    publishId: e.publishId,
    status: e.status,
    exitCode: e.exitCode,
    error: e.error,
  });
}

/**
 * Runs one QUEUED execution to its end (SPEC §2): input JSON in a private temp directory, argv
 * from the snapshot command line, the process in its own group with a timeout, output captured
 * line by line, the outcome recorded as data. Never throws for anything the hook does.
 */
export class HookExecutor {
  constructor(private readonly deps: HookExecutorDeps) {}

  async run(executionId: string, signal: AbortSignal): Promise<Execution> {
    const { store, config } = this.deps;
    const execution = await store.manager.findOneByOrFail(Execution, { id: executionId });
    if (execution.status !== ExecutionStatus.QUEUED) return execution;
    const info = hookPointInfo(execution.hook);
    const log = new ExecutionLog(store, this.deps.pubsub, execution.id, { capBytes: config.logCapBytes });

    // Private to the server's user: 0700 directory, 0600 files.
    const dir = await mkdtemp(path.join(config.tempDir, `hookd-${execution.id.slice(0, 8)}-`));
    const inputPath = path.join(dir, "input.json");
    const outputPath = path.join(dir, "output.json");
    let finish: Finish;
    try {
      await writeFile(inputPath, JSON.stringify(execution.input, null, 2), { mode: 0o600 });
      let argv: string[];
      try {
        argv = buildArgv(execution.command ?? "", execution.os ?? "linux", { PATH_JSON_INPUT: inputPath, ...(info.hasOutput ? { PATH_JSON_OUTPUT: outputPath } : {}) });
      } catch (err) {
        if (!(err instanceof CommandLineError)) throw err;
        finish = { status: ExecutionStatus.FAILED, error: `invalid command line: ${err.message}` };
        return await this.finish(execution, finish, log, dir);
      }
      await this.markRunning(execution, argv);
      if (signal.aborted) {
        finish = { status: ExecutionStatus.CANCELLED, error: "cancelled before it started" };
        return await this.finish(execution, finish, log, dir);
      }
      const outcome = await runProcess({
        argv,
        env: {
          ...process.env,
          HOOKD_HOOK: info.dashed,
          HOOKD_EXECUTION_ID: execution.id,
          ...(execution.jobId ? { HOOKD_JOB_ID: execution.jobId } : {}),
          ...(execution.publishId ? { HOOKD_PUBLISH_ID: execution.publishId } : {}),
        },
        timeoutMs: execution.timeoutSeconds * 1000,
        killGraceMs: config.killGraceMs,
        signal,
        onLine: (line) => log.output(line.stream === "stdout" ? LogStream.STDOUT : LogStream.STDERR, line.text, line.at),
        onSpawn: (pid) => {
          execution.pid = pid;
          store.transaction((em) => em.update(Execution, { id: execution.id }, { pid })).catch((err) => this.deps.logger.error(`could not record pid of execution ${execution.id}`, err));
        },
      });
      finish = this.outcome(outcome, log);
      if (finish.status === ExecutionStatus.SUCCEEDED && info.hasOutput) finish = await this.readOutput(outputPath, finish);
    } catch (err) {
      // hookd's own failure (disk full, database gone): the execution must still end.
      this.deps.logger.error(`execution ${execution.id} failed inside hookd`, err);
      finish = { status: ExecutionStatus.FAILED, error: `hookd could not run the hook: ${err instanceof Error ? err.message : String(err)}` };
    }
    return this.finish(execution, finish, log, dir);
  }

  private outcome(outcome: RunOutcome, log: ExecutionLog): Finish {
    const base = { exitCode: outcome.exitCode, signal: outcome.signal };
    switch (outcome.kind) {
      case "exited":
        if (outcome.exitCode === 0) return { ...base, status: ExecutionStatus.SUCCEEDED, error: null };
        return { ...base, status: ExecutionStatus.FAILED, error: withStderr(outcome.error ?? `exited with code ${outcome.exitCode}`, log.lastStderr()) };
      case "signaled":
      case "spawn-failed":
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

  private async markRunning(execution: Execution, argv: string[]): Promise<void> {
    execution.status = ExecutionStatus.RUNNING;
    execution.startedAt = new Date();
    execution.argv = argv;
    await this.deps.store.transaction((em) => em.update(Execution, { id: execution.id }, { status: execution.status, startedAt: execution.startedAt, argv }));
    publishExecution(this.deps.pubsub, execution);
  }

  private async finish(execution: Execution, finish: Finish, log: ExecutionLog, dir: string): Promise<Execution> {
    if (finish.status !== ExecutionStatus.SUCCEEDED && finish.error) log.system(finish.error);
    try {
      await log.close();
    } catch (err) {
      this.deps.logger.error(`could not store the log of execution ${execution.id}`, err);
    }
    Object.assign(execution, {
      status: finish.status,
      exitCode: finish.exitCode ?? null,
      signal: finish.signal ?? null,
      error: finish.error ?? null,
      output: finish.output ?? null,
      finishedAt: new Date(),
      startedAt: execution.startedAt ?? new Date(),
      logLineCount: log.lineCount,
      droppedBytes: log.dropped,
      pid: null,
    });
    await this.deps.store.transaction((em) => em.save(execution));
    if (!this.deps.config.keepTempFiles) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    publishExecution(this.deps.pubsub, execution);
    return execution;
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
