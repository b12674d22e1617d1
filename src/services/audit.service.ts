import { AsyncLocalStorage } from "node:async_hooks";
import { Brackets, type EntityManager } from "typeorm";
import { badInput } from "../domain/errors.js";
import { AuditEvent } from "../entities/audit-event.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { User } from "../entities/user.entity.js";
import type { Store } from "../store/store.js";

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  since?: Date;
}

/** Fields never written to the trail. */
const SECRET = new Set(["hash", "secret"]);

/** A JSON copy of an entity for the trail, without secrets. */
export function snapshot(value: unknown): JsonObject | null {
  if (value === null || value === undefined) return null;
  return JSON.parse(JSON.stringify(value, (key, v) => (SECRET.has(key) ? undefined : v))) as JsonObject;
}

/**
 * The audit trail. The acting user is carried with the request (set once per GraphQL operation),
 * so services record who did what without every method taking an actor; outside a request the
 * actor is the command line.
 */
export class AuditService {
  private readonly actor = new AsyncLocalStorage<User | null>();

  constructor(private readonly store: Store) {}

  /** Runs `work` with `user` as the actor of whatever it records. */
  as<T>(user: User | null, work: () => T): T {
    return this.actor.run(user, work);
  }

  /** Records an event inside the caller's transaction, so it exists exactly when the change does. */
  async record(em: EntityManager, action: string, targetType: string, targetId: string, before: unknown, after: unknown): Promise<void> {
    const user = this.actor.getStore();
    const event = new AuditEvent();
    Object.assign(event, {
      at: new Date(),
      actorId: user?.id ?? null,
      actor: user?.email ?? (user === undefined ? "cli" : "hookd"),
      action,
      targetType,
      targetId,
      before: snapshot(before),
      after: snapshot(after),
    });
    await em.save(event);
  }

  async list(filter: AuditFilter, first: number, after?: string | null): Promise<{ nodes: AuditEvent[]; hasNextPage: boolean; endCursor: string | null }> {
    if (!Number.isInteger(first) || first < 1 || first > 500) throw badInput("first", `must be a whole number from 1 to 500 (got ${first})`);
    const qb = this.store.manager.createQueryBuilder(AuditEvent, "a");
    const dbDate = (d: Date) => this.store.dataSource.driver.preparePersistentValue(d, this.store.dataSource.getMetadata(AuditEvent).findColumnWithPropertyName("at")!);
    const actor = filter.actor;
    if (actor) qb.andWhere(new Brackets((w) => w.where("a.actorId = :actor", { actor }).orWhere("a.actor = :email", { email: actor.toLowerCase() })));
    if (filter.action) qb.andWhere("a.action = :action", { action: filter.action });
    if (filter.target) qb.andWhere("a.targetId = :target", { target: filter.target });
    if (filter.since) qb.andWhere("a.at >= :since", { since: dbDate(filter.since) });
    if (after) {
      const [at, id] = Buffer.from(after, "base64url").toString("utf8").split("|");
      const date = new Date(at ?? "");
      if (!id || Number.isNaN(date.getTime())) throw badInput("after", "is not a cursor returned by this API (use pageInfo.endCursor)");
      qb.andWhere(new Brackets((w) => w.where("a.at < :at", { at: dbDate(date) }).orWhere("a.at = :at AND a.id < :cid", { at: dbDate(date), cid: id })));
    }
    const rows = await qb.orderBy("a.at", "DESC").addOrderBy("a.id", "DESC").take(first + 1).getMany();
    const nodes = rows.slice(0, first);
    const last = nodes[nodes.length - 1];
    return { nodes, hasNextPage: rows.length > first, endCursor: last ? Buffer.from(`${last.at.toISOString()}|${last.id}`).toString("base64url") : null };
  }
}
