import type { PubSub } from "../pubsub/pubsub.js";

/**
 * What a runner needs to hear about: new QUEUED executions for an execution server it serves,
 * and cancels of executions it may hold. Only ids travel; the store is the truth, and a runner
 * claims an execution there (ExecutionLifecycle.claim), so a lost or repeated notice costs a
 * delay or a failed claim, never a double run. The embedded queue tells runners in this
 * process; a distributed one (several hookd instances) carries the same notices between them.
 */
export interface ExecutionQueue {
  init(): Promise<void>;
  destroy(): Promise<void>;
  /** Executions stored QUEUED for `serverId`, oldest first: wake the runners that serve it. */
  offer(serverId: string, executionIds: string[]): void;
  /** A cancel was recorded for a RUNNING execution: tell whoever holds it. */
  cancel(executionId: string): void;
  /** A runner starts listening; the returned function stops it. */
  attach(listener: RunnerListener): () => void;
}

export interface RunnerListener {
  /** Executions queued for `serverId`; a runner that does not serve it ignores them. */
  offered(serverId: string, executionIds: string[]): void;
  /** A cancel for an execution; a runner that does not hold it ignores it. */
  cancelled(executionId: string): void;
}

/** The queue of one hookd process: notices go to the runners attached here. */
export class EmbeddedExecutionQueue implements ExecutionQueue {
  private readonly listeners = new Set<RunnerListener>();

  async init(): Promise<void> {}

  async destroy(): Promise<void> {
    this.listeners.clear();
  }

  offer(serverId: string, executionIds: string[]): void {
    for (const l of this.listeners) l.offered(serverId, executionIds);
  }

  cancel(executionId: string): void {
    for (const l of this.listeners) l.cancelled(executionId);
  }

  attach(listener: RunnerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * The queue of several hookd processes: offers and cancels travel through the pub/sub (Redis),
 * so a runner attached to any instance (its embedded runner, or an agent connected to it) hears
 * of work queued through another. Notices are at-most-once; runners also poll the store, so a
 * lost one costs a delay only.
 */
export class BrokerExecutionQueue implements ExecutionQueue {
  private readonly listeners = new Set<RunnerListener>();
  private readonly off: (() => void)[] = [];

  constructor(private readonly pubsub: PubSub) {}

  async init(): Promise<void> {
    this.off.push(
      this.pubsub.subscribe("executionOffered", "*", ({ serverId, executionIds }) => {
        for (const l of this.listeners) l.offered(serverId, executionIds);
      }),
      this.pubsub.subscribe("executionCancelled", "*", ({ executionId }) => {
        for (const l of this.listeners) l.cancelled(executionId);
      }),
    );
  }

  async destroy(): Promise<void> {
    for (const off of this.off.splice(0)) off();
    this.listeners.clear();
  }

  offer(serverId: string, executionIds: string[]): void {
    this.pubsub.publish("executionOffered", serverId, { serverId, executionIds });
  }

  cancel(executionId: string): void {
    this.pubsub.publish("executionCancelled", executionId, { executionId });
  }

  attach(listener: RunnerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
