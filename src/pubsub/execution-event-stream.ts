import type { HookPoint } from "../domain/hook-points.js";
import type { ExecutionStatus } from "../entities/execution.entity.js";
import type { ExecutionEvent, PubSub, Unsubscribe } from "./pubsub.js";

export interface ExecutionEventFilter {
  hook?: HookPoint;
  queue?: string;
  executionServer?: string;
  job?: string;
  status?: ExecutionStatus;
}

/**
 * The executionUpdated subscription: status changes of matching executions as they happen. A
 * reader that falls behind gets each execution's latest status rather than every intermediate
 * one (events are coalesced per execution), so what is held is bounded by how many executions
 * changed, never by how many events were published.
 */
export class ExecutionEventStream implements AsyncIterableIterator<ExecutionEvent> {
  private readonly pending = new Map<string, ExecutionEvent>();
  private done = false;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: Unsubscribe[];
  private recheck = false;

  constructor(
    pubsub: PubSub,
    private readonly filter: ExecutionEventFilter,
    /** Checks the subscriber may still read executions; throws when not (see ExecutionLogStream). */
    private readonly authorize?: () => Promise<void>,
    private readonly maxPending = 10_000,
  ) {
    this.unsubscribe = [
      pubsub.subscribe("executionUpdated", "*", (event) => this.onEvent(event)),
      pubsub.subscribe("accessChanged", "*", () => {
        this.recheck = true;
        this.wake?.();
      }),
    ];
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ExecutionEvent>> {
    while (!this.done) {
      if (this.recheck && this.authorize) {
        this.recheck = false;
        try {
          await this.authorize();
        } catch (err) {
          await this.return();
          throw err;
        }
      }
      const first = this.pending.entries().next();
      if (!first.done) {
        const [id, event] = first.value;
        this.pending.delete(id);
        return { done: false, value: event };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<ExecutionEvent>> {
    this.done = true;
    for (const off of this.unsubscribe) off();
    this.pending.clear();
    this.wake?.();
    return { done: true, value: undefined };
  }

  private onEvent(event: ExecutionEvent): void {
    const f = this.filter;
    if (
      (f.hook && event.hook !== f.hook) ||
      (f.queue && event.queue !== f.queue) ||
      (f.job && event.jobId !== f.job) ||
      (f.executionServer && event.executionServerId !== f.executionServer) ||
      (f.status && event.status !== f.status)
    )
      return;
    // Re-inserting moves the execution to the end: the order stays the order of last change.
    this.pending.delete(event.id);
    if (this.pending.size >= this.maxPending) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(event.id, event);
    this.wake?.();
  }
}
