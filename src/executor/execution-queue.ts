import type { Execution } from "../entities/execution.entity.js";
import type { Logger } from "../logger.js";
import type { HookExecutor } from "./hook-executor.js";

/**
 * Dispatch of QUEUED executions. Callers only enqueue and cancel by id; they never assume the
 * hook runs in this process. The embedded queue runs hooks here; a distributed one (workers on
 * the execution servers, fed by a shared job queue) implements the same interface.
 */
export interface ExecutionQueue {
  init(): Promise<void>;
  /** Stops taking work and cancels what runs, waiting for it to be recorded. */
  destroy(): Promise<void>;
  /**
   * `known`: the execution exactly as the caller just stored it. The embedded queue hands it to
   * the executor, which then need not read it back; a distributed queue sends only the id.
   */
  enqueue(executionId: string, known?: Execution): void;
  /** Cancels a queued or running execution. False when this queue does not have it. */
  cancel(executionId: string): boolean;
}

/** Runs hooks in this process, at most `concurrency` at once, the rest waiting in order. */
export class EmbeddedExecutionQueue implements ExecutionQueue {
  private readonly waiting: { id: string; known?: Execution }[] = [];
  private readonly running = new Map<string, { controller: AbortController; done: Promise<unknown> }>();
  private stopped = false;

  constructor(
    private readonly executor: HookExecutor,
    private readonly concurrency: number,
    private readonly logger: Logger,
    /** Called when a queued execution is cancelled before it started, to record it. */
    private readonly onCancelledWhileQueued: (executionId: string) => Promise<void>,
  ) {}

  async init(): Promise<void> {}

  async destroy(): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    for (const { controller } of this.running.values()) controller.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    this.executor.close();
  }

  enqueue(executionId: string, known?: Execution): void {
    if (this.stopped) throw new Error("the execution queue is stopped");
    this.waiting.push({ id: executionId, known });
    this.pump();
  }

  cancel(executionId: string): boolean {
    const index = this.waiting.findIndex((w) => w.id === executionId);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.onCancelledWhileQueued(executionId).catch((err) => this.logger.error(`could not record the cancel of ${executionId}`, err));
      return true;
    }
    const running = this.running.get(executionId);
    if (!running) return false;
    running.controller.abort();
    return true;
  }

  /** How many wait and run, for tests and metrics. */
  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.running.size };
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.waiting.length > 0) {
      const { id, known } = this.waiting.shift()!;
      const controller = new AbortController();
      const done = this.executor
        .run(id, controller.signal, known)
        .catch((err) => this.logger.error(`execution ${id} could not be run`, err))
        .finally(() => {
          this.running.delete(id);
          this.pump();
        });
      this.running.set(id, { controller, done });
    }
  }
}
