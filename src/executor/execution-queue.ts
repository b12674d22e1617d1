import { Execution } from "../entities/execution.entity.js";
import type { Logger } from "../logger.js";
import type { Store, WriteOp } from "../store/store.js";
import type { FreshExecution, HookExecutor } from "./hook-executor.js";

/** A new execution, not stored yet, with the writes that belong in its record (its audit events). */
export interface NewExecution {
  execution: Execution;
  alsoStore: WriteOp[];
}

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
   * New QUEUED executions, not stored yet. Resolves once each is stored with its `alsoStore`
   * writes; rejects when one could not be (it does not run, or is stopped). The embedded queue
   * stores an execution it can start at once only when its process has started: RUNNING, with
   * the process group a restart must end, in one write with the rest (so no commit waits before
   * the hook starts, and a run costs one write fewer); one that has to wait is stored QUEUED at
   * once. A distributed queue stores them QUEUED, then hands them out.
   */
  submit(executions: NewExecution[]): Promise<void>;
  /**
   * An execution that is stored already (a retry).
   * `known`: the execution exactly as the caller just stored it. The embedded queue hands it to
   * the executor, which then need not read it back; a distributed queue sends only the id.
   */
  enqueue(executionId: string, known?: Execution): void;
  /** Cancels a queued or running execution. False when this queue does not have it. */
  cancel(executionId: string): boolean;
}

/** Runs hooks in this process, at most `concurrency` at once, the rest waiting in order. */
export class EmbeddedExecutionQueue implements ExecutionQueue {
  /** `stored`: the QUEUED insert of a submitted execution; it must not start before that commits. */
  private readonly waiting: { id: string; known?: Execution; stored?: Promise<void> }[] = [];
  /** Every run until it is recorded (cancel, destroy); `active` counts those whose hook still runs. */
  private readonly running = new Map<string, { controller: AbortController; done: Promise<unknown> }>();
  /**
   * The limit is on hooks running: a slot is free once a hook's processes are gone, while its
   * outcome is still being stored and answered. The next request then finds it free, instead of
   * queuing behind a run that only has bookkeeping left.
   */
  private active = 0;
  private stopped = false;

  constructor(
    private readonly store: Store,
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

  submit(executions: NewExecution[]): Promise<void> {
    if (this.stopped) return Promise.reject(new Error("the execution queue is stopped"));
    const stored: Promise<void>[] = [];
    for (const { execution, alsoStore } of executions) {
      if (this.active < this.concurrency && this.waiting.length === 0) {
        stored.push(new Promise((resolve, reject) => this.start(execution.id, execution, { alsoStore, stored: (err) => (err === undefined ? resolve() : reject(err)) })));
        continue;
      }
      // Writes commit in order, so it is stored before anything later records its start.
      const write = this.store.write([{ insert: Execution, rows: [execution] }, ...alsoStore]);
      const entry = { id: execution.id, known: execution, stored: write };
      write.then(
        () => this.executor.announce(execution),
        () => {
          const index = this.waiting.indexOf(entry);
          if (index >= 0) this.waiting.splice(index, 1);
        },
      );
      this.waiting.push(entry);
      stored.push(write);
    }
    return Promise.all(stored).then(() => undefined);
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
    return { waiting: this.waiting.length, running: this.active };
  }

  private pump(): void {
    while (!this.stopped && this.active < this.concurrency && this.waiting.length > 0) {
      const { id, known, stored } = this.waiting.shift()!;
      this.start(id, known, undefined, stored);
    }
  }

  private start(id: string, known: Execution | undefined, fresh?: FreshExecution, stored?: Promise<void>): void {
    const controller = new AbortController();
    this.active++;
    let gone = false;
    const processGone = () => {
      if (gone) return;
      gone = true;
      this.active--;
      this.pump();
    };
    // A run that cannot be recorded is stopped (see FreshExecution).
    const tell = fresh && { alsoStore: fresh.alsoStore, stored: (err?: unknown) => (err === undefined ? fresh.stored() : (controller.abort(err), fresh.stored(err))) };
    const run = () => this.executor.run(id, controller.signal, { known, fresh: tell, processGone });
    // A waiting execution whose QUEUED insert failed does not run (its submitter was told).
    const done = (stored ? stored.then(run, () => undefined) : run())
      .catch((err) => this.logger.error(`execution ${id} could not be run`, err))
      .finally(() => {
        this.running.delete(id);
        processGone();
      });
    this.running.set(id, { controller, done });
  }
}
