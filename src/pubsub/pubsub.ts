import { EventEmitter } from "node:events";
import type { HookPoint } from "../domain/hook-points.js";
import type { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { LogStream } from "../entities/execution-log-line.entity.js";

/** A stored log line as published to live readers: the same seq as in the database. */
export interface LogLineEvent {
  executionId: string;
  seq: number;
  stream: LogStream;
  at: Date;
  text: string;
}

/** A status change of an execution. */
export interface ExecutionEvent {
  id: string;
  hook: HookPoint;
  queue: string | null;
  jobId: string | null;
  publishId: string | null;
  /** The execution server (or client) it runs on. */
  executionServerId: string | null;
  status: ExecutionStatus;
  exitCode: number | null;
  error: string | null;
  /**
   * The whole execution exactly as just stored, when the publisher has it in this process, so a
   * waiting caller need not read it back. A broker-backed pubsub does not carry it: subscribers
   * that find it missing read the store.
   */
  stored?: Execution;
}

/** A status change of a job. */
export interface JobEvent {
  id: string;
  code: string;
  status: string;
  message: string | null;
  publishId: string | null;
}

/** A state change of a publish. */
export interface PublishEvent {
  id: string;
  state: string;
  error: string | null;
}

/** The typed topics. Log lines are keyed per execution so a reader hears only its own. */
export interface Topics {
  executionUpdated: ExecutionEvent;
  executionLog: LogLineEvent[];
  jobUpdated: JobEvent;
  publishUpdated: PublishEvent;
  /** Access rules may have changed (audit roles, a revoked key): open subscriptions check again. */
  accessChanged: { reason: string };
  /** Cached entities were written (by their class names): caches of them drop what they hold (ChangeFeed). */
  entitiesChanged: EntitiesChanged;
  /** QUEUED executions for an execution server: runners that serve it claim them (ExecutionQueue). */
  executionOffered: { serverId: string; executionIds: string[] };
  /** A cancel was recorded: whoever holds the execution ends it (ExecutionQueue). */
  executionCancelled: { executionId: string };
}

export interface EntitiesChanged {
  entities: string[];
  /** The instance that wrote: it has dropped its own caches already. */
  origin: string;
}

export type Unsubscribe = () => void;

/**
 * Fan-out of live events. The embedded implementation is in-process; a broker-backed one (Redis,
 * PostgreSQL NOTIFY) implements the same interface so several API instances can share events.
 * Delivery is at-most-once and unbuffered: every event is also persisted, and readers that miss
 * some catch up from the store.
 */
export interface PubSub {
  /**
   * Events may come from other hookd processes through a broker, and may be lost on the way (a
   * reconnect): readers that wait long also look at the store now and then.
   */
  readonly distributed: boolean;
  init(): Promise<void>;
  destroy(): Promise<void>;
  /** Resolves once every subscription made so far hears events (a broker confirms them later than subscribe returns). */
  ready(): Promise<void>;
  publish<K extends keyof Topics>(topic: K, key: string, payload: Topics[K]): void;
  /** key "*" hears every key of the topic. */
  subscribe<K extends keyof Topics>(topic: K, key: string, listener: (payload: Topics[K]) => void): Unsubscribe;
}

export class InProcessPubSub implements PubSub {
  readonly distributed = false;
  private readonly emitter = new EventEmitter();

  constructor() {
    // Many dashboards may follow one execution; listeners are removed by their Unsubscribe.
    this.emitter.setMaxListeners(0);
  }

  async init(): Promise<void> {}

  async destroy(): Promise<void> {
    this.emitter.removeAllListeners();
  }

  async ready(): Promise<void> {}

  publish<K extends keyof Topics>(topic: K, key: string, payload: Topics[K]): void {
    if (key !== "*") this.emitter.emit(`${topic}:${key}`, payload);
    this.emitter.emit(`${topic}:*`, payload);
  }

  subscribe<K extends keyof Topics>(topic: K, key: string, listener: (payload: Topics[K]) => void): Unsubscribe {
    const name = `${topic}:${key}`;
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
