import { EventEmitter } from "node:events";
import { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import type { PubSub, Topics, Unsubscribe } from "./pubsub.js";

export interface RedisPubSubOptions {
  /** redis://[user:password@]host:port[/db] (HOOKD_REDIS_URL). */
  url: string;
  /** Put before every channel name, so several hookd workspaces (or test runs) can share one Redis. */
  prefix: string;
  /** This process: its own events come back from Redis and are dropped (they were delivered locally). */
  instanceId: string;
  logger: Logger;
  /** How long start-up waits for Redis before it gives up. */
  connectTimeoutMs?: number;
}

/**
 * Topics with a channel per key: many events, each wanted by few readers (an execution's log),
 * so an instance subscribes only to the executions someone follows there. The other topics have
 * one channel each, subscribed for the process's whole life: a listener hears events from the
 * moment it subscribes, with no round trip to Redis (a waiter subscribes just before it dispatches).
 */
const PER_KEY = new Set<keyof Topics>(["executionLog"]);

/** On the wire: the publishing instance, the key and the payload (Dates tagged, see encode). */
interface Envelope {
  o: string;
  k: string;
  p: unknown;
}

/** Dates as {"$date": ms}: JSON would turn them into strings that subscribers cannot tell from text. */
function encode(envelope: Envelope): string {
  return JSON.stringify(envelope, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? { $date: raw.getTime() } : value;
  });
}

function decode(message: string): Envelope {
  return JSON.parse(message, (_key, value) => {
    if (value !== null && typeof value === "object" && typeof value.$date === "number" && Object.keys(value).length === 1) return new Date(value.$date);
    return value;
  }) as Envelope;
}

/** A Redis glob pattern that matches `text` literally. */
const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/**
 * Live events shared by several hookd processes through Redis pub/sub: one connection publishes,
 * one subscribes. Events are delivered to this process's listeners at once when published here
 * (with everything the publisher had, e.g. ExecutionEvent.stored) and to other processes' through
 * Redis, without `stored` (a whole row is no event: subscribers read the store). Like the
 * in-process one, delivery is at-most-once: a reconnect loses what was published meanwhile, so
 * after one every cache is dropped and every open subscription checks access again.
 */
export class RedisPubSub implements PubSub {
  readonly distributed = true;
  private readonly emitter = new EventEmitter();
  private publisher: Redis | null = null;
  private subscriber: Redis | null = null;
  /** Local listeners per per-key channel (and pattern): subscribed in Redis while above zero. */
  private readonly counts = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private lastError = 0;
  private connectedOnce = false;

  constructor(private readonly options: RedisPubSubOptions) {
    this.emitter.setMaxListeners(0);
  }

  /** The command connection (set by init()), for state every instance shares, e.g. the failed-authentication count. */
  get commands(): Redis | null {
    return this.publisher;
  }

  /** Connects both connections; rejects, naming the URL, when Redis does not answer. */
  async init(): Promise<void> {
    const timeout = this.options.connectTimeoutMs ?? 5000;
    const connect = async (role: string, enableOfflineQueue: boolean) => {
      const redis = new Redis(this.options.url, {
        lazyConnect: true,
        connectTimeout: timeout,
        // At start-up, one attempt: a wrong URL must stop hookd, not retry forever in the background.
        retryStrategy: () => null,
        maxRetriesPerRequest: enableOfflineQueue ? null : 1,
        enableOfflineQueue,
        connectionName: `hookd-${role}-${this.options.instanceId.slice(0, 8)}`,
      });
      redis.on("error", (err: Error) => this.warn(`Redis (${role}): ${err.message}`));
      try {
        await redis.connect();
      } catch (err) {
        redis.disconnect();
        throw new Error(
          `cannot connect to Redis at ${redactUrl(this.options.url)} (HOOKD_REDIS_URL): ${err instanceof Error ? err.message : String(err)}; start Redis or set HOOKD_REDIS_URL to a server that answers`,
        );
      }
      // Once up, reconnect for as long as it takes.
      redis.options.retryStrategy = (attempt: number) => Math.min(attempt * 200, 5000);
      return redis;
    };
    this.publisher = await connect("publish", false);
    try {
      this.subscriber = await connect("subscribe", true);
    } catch (err) {
      this.publisher.disconnect();
      this.publisher = null;
      throw err;
    }
    const sub = this.subscriber;
    sub.on("message", (channel: string, message: string) => this.received(channel, message, false));
    sub.on("pmessage", (_pattern: string, channel: string, message: string) => this.received(channel, message, true));
    sub.on("ready", () => {
      if (!this.connectedOnce) return;
      // Events published while disconnected are gone: start over from the store.
      this.options.logger.warn("Redis reconnected: live events published meanwhile were lost; caches dropped and open subscriptions check again");
      this.deliver("entitiesChanged", "*", { entities: ["*"], origin: "redis-reconnect" });
      this.deliver("accessChanged", "*", { reason: "the events broker reconnected" });
    });
    const whole = (["executionUpdated", "jobUpdated", "publishUpdated", "accessChanged", "entitiesChanged", "executionOffered", "executionCancelled"] as const).map((t) => this.channel(t));
    await sub.subscribe(...whole);
    this.connectedOnce = true;
  }

  async destroy(): Promise<void> {
    this.emitter.removeAllListeners();
    this.counts.clear();
    const connections = [this.publisher, this.subscriber].filter((c): c is Redis => c !== null);
    this.publisher = this.subscriber = null;
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  }

  async ready(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  publish<K extends keyof Topics>(topic: K, key: string, payload: Topics[K]): void {
    this.deliver(topic, key, payload);
    if (!this.publisher) return;
    let wire: unknown = payload;
    if (topic === "executionUpdated" && (payload as Topics["executionUpdated"]).stored !== undefined) {
      const { stored: _stored, ...rest } = payload as Topics["executionUpdated"];
      wire = rest;
    }
    const channel = PER_KEY.has(topic) ? `${this.channel(topic)}:${key}` : this.channel(topic);
    this.publisher
      .publish(channel, encode({ o: this.options.instanceId, k: key, p: wire }))
      .catch((err: Error) => this.warn(`could not publish ${topic} to Redis (the store has it; readers catch up): ${err.message}`));
  }

  subscribe<K extends keyof Topics>(topic: K, key: string, listener: (payload: Topics[K]) => void): Unsubscribe {
    const name = `${topic}:${key}`;
    this.emitter.on(name, listener);
    if (!PER_KEY.has(topic)) return () => this.emitter.off(name, listener);
    const redisName = key === "*" ? `${globEscape(this.channel(topic))}:*` : `${this.channel(topic)}:${key}`;
    this.retain(redisName, key === "*");
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.emitter.off(name, listener);
      this.release(redisName, key === "*");
    };
  }

  private channel(topic: keyof Topics): string {
    return `${this.options.prefix}${topic}`;
  }

  private retain(name: string, pattern: boolean): void {
    const n = this.counts.get(name) ?? 0;
    this.counts.set(name, n + 1);
    if (n === 0 && this.subscriber) this.track(pattern ? this.subscriber.psubscribe(name) : this.subscriber.subscribe(name));
  }

  private release(name: string, pattern: boolean): void {
    const n = this.counts.get(name) ?? 0;
    if (n <= 1) {
      this.counts.delete(name);
      if (this.subscriber) this.track(pattern ? this.subscriber.punsubscribe(name) : this.subscriber.unsubscribe(name));
    } else this.counts.set(name, n - 1);
  }

  private track(command: Promise<unknown>): void {
    const p = command.catch((err: Error) => this.warn(`Redis subscription: ${err.message}`));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** To this process's listeners: the key's, and every-key ones. */
  private deliver(topic: keyof Topics, key: string, payload: unknown): void {
    if (key !== "*") this.emitter.emit(`${topic}:${key}`, payload);
    this.emitter.emit(`${topic}:*`, payload);
  }

  private received(channel: string, message: string, viaPattern: boolean): void {
    let envelope: Envelope;
    try {
      envelope = decode(message);
    } catch {
      this.warn(`ignored a malformed event on Redis channel ${channel}`);
      return;
    }
    if (envelope.o === this.options.instanceId) return; // delivered when published
    if (!channel.startsWith(this.options.prefix)) return;
    const rest = channel.slice(this.options.prefix.length);
    const topic = (PER_KEY.has(rest.split(":")[0] as keyof Topics) ? rest.split(":")[0] : rest) as keyof Topics;
    if (PER_KEY.has(topic)) {
      // A per-key channel reaches key listeners by SUBSCRIBE and every-key ones by PSUBSCRIBE: each once.
      this.emitter.emit(viaPattern ? `${topic}:*` : `${topic}:${envelope.k}`, envelope.p);
    } else this.deliver(topic, envelope.k, envelope.p);
  }

  /** At most one warning a second: an outage must not flood the log. */
  private warn(message: string): void {
    const now = Date.now();
    if (now - this.lastError < 1000) return;
    this.lastError = now;
    this.options.logger.warn(message);
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}
