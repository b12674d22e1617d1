import { LessThan, MoreThan, Not } from "typeorm";
import type { PubSubConfig } from "../config.js";
import { HookdInstance } from "../entities/hookd-instance.entity.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";

/** How often a running instance renews its heartbeat. */
export const HEARTBEAT_MS = 5000;
/** Heartbeats missed before an instance counts as dead. */
export const DEAD_AFTER_HEARTBEATS = 3;

/** How an instance shares events, as recorded: instances on one database must record the same. */
export const pubsubOf = (config: PubSubConfig) => (config.kind === "redis" ? `redis:${config.prefix}` : "memory");

/**
 * The live-instance registry (table hookd_instance): this process's row, registered at start-up
 * and renewed every heartbeat, removed when it stops. Others' rows tell start-up whether this
 * process can share the database with them (refusal()).
 */
export class InstanceRegistry {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    readonly self: { id: string; hostname: string; pid: number; pubsub: string },
    private readonly logger: Logger,
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {}

  /** Registers this instance, then reads the others that are alive (registering first: two starting at once see each other). */
  async register(): Promise<HookdInstance[]> {
    const now = new Date();
    await this.store.transaction(async (em) => {
      // Rows of instances long dead (killed, machine lost) go: the table holds the living.
      await em.delete(HookdInstance, { heartbeatAt: LessThan(new Date(now.getTime() - 10 * DEAD_AFTER_HEARTBEATS * this.heartbeatMs)) });
      await em.insert(HookdInstance, { ...this.self, startedAt: now, heartbeatAt: now });
    });
    return this.live();
  }

  /** The other instances whose heartbeat is recent enough (on this host: whose process still exists). */
  async live(): Promise<HookdInstance[]> {
    const since = new Date(Date.now() - DEAD_AFTER_HEARTBEATS * this.heartbeatMs);
    const rows = await this.store.manager.find(HookdInstance, { where: { id: Not(this.self.id), heartbeatAt: MoreThan(since) }, order: { startedAt: "ASC" } });
    // A kill -9 and a restart at once: the earlier process on this host is known dead by its pid.
    return rows.filter((r) => r.hostname !== this.self.hostname || (r.pid !== this.self.pid && processExists(r.pid)));
  }

  /** Renews the heartbeat until stop(). */
  start(): void {
    this.timer = setInterval(() => {
      this.store
        .transaction((em) => em.update(HookdInstance, { id: this.self.id }, { heartbeatAt: new Date() }))
        .catch((err) => this.logger.warn(`could not renew this instance's heartbeat: ${String(err)}`));
    }, this.heartbeatMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.store.transaction((em) => em.delete(HookdInstance, { id: this.self.id })).catch((err) => this.logger.warn(`could not remove this instance from the registry: ${String(err)}`));
  }
}

/**
 * Why this instance cannot share the database with the live `others`, saying what to set; null
 * when it can. Instances sharing one database must share events the same way: one with the
 * in-process pub/sub would neither hear the others' events and cache invalidations nor be heard.
 */
export function refusal(self: { pubsub: string }, others: HookdInstance[]): string | null {
  const other = others.find((o) => o.pubsub !== self.pubsub || self.pubsub === "memory");
  if (!other) return null;
  const seconds = Math.round((Date.now() - other.heartbeatAt.getTime()) / 1000);
  const who = `another hookd instance serves this database (instance ${other.id.slice(0, 8)} on ${other.hostname}, pid ${other.pid}, heartbeat ${seconds} s ago)`;
  const set = "set HOOKD_PUBSUB=redis with the same HOOKD_REDIS_URL and HOOKD_REDIS_PREFIX on every instance (or stop the other one)";
  if (self.pubsub === "memory") return `${who} and HOOKD_PUBSUB is 'memory' here, so neither would hear the other's events or cache changes: ${set}`;
  if (other.pubsub === "memory")
    return `${who} with HOOKD_PUBSUB=memory: it would not hear this one's events or cache changes: restart it with HOOKD_PUBSUB=redis and this HOOKD_REDIS_URL and HOOKD_REDIS_PREFIX`;
  return `${who} on Redis prefix '${other.pubsub.slice("redis:".length)}', this one on '${self.pubsub.slice("redis:".length)}': ${set}`;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
