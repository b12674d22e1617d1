import { Brackets, type EntityManager } from "typeorm";
import { AuditEvent } from "../entities/audit-event.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { User } from "../entities/user.entity.js";
import { KeysetPager, type Page } from "../store/keyset-page.js";
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
 * Who a change is recorded against: the signed-in user of a GraphQL operation, the command line
 * (`hookd user create` and friends) or hookd itself (first-start rows).
 *
 * Passed explicitly rather than carried in an AsyncLocalStorage: once any AsyncLocalStorage is in
 * use, Node 20 runs a hook for every promise the process creates (its cost: BENCHMARKS.md).
 */
export type Actor = User | "cli" | "hookd";

/** The audit trail: services record who did what, inside the transaction of the change. */
export class AuditService {
  constructor(private readonly store: Store) {}

  /** Records an event inside the caller's transaction, so it exists exactly when the change does. */
  async record(em: EntityManager, actor: Actor, action: string, targetType: string, targetId: string, before: unknown, after: unknown): Promise<void> {
    await em.save(this.event(actor, action, targetType, targetId, before, after));
  }

  /** The event, not yet stored: for writes that store it with the change in one batch (Store.write). */
  event(actor: Actor, action: string, targetType: string, targetId: string, before: unknown, after: unknown): AuditEvent {
    const user = typeof actor === "string" ? null : actor;
    const event = new AuditEvent();
    Object.assign(event, {
      at: new Date(),
      actorId: user?.id ?? null,
      actor: user ? user.email : actor,
      action,
      targetType,
      targetId,
      before: snapshot(before),
      after: snapshot(after),
    });
    return event;
  }

  private readonly pager = new KeysetPager<AuditEvent>("at");

  list(filter: AuditFilter, first: number, after?: string | null): Promise<Page<AuditEvent>> {
    const qb = this.store.manager.createQueryBuilder(AuditEvent, "a");
    const actor = filter.actor;
    if (actor) qb.andWhere(new Brackets((w) => w.where("a.actorId = :actor", { actor }).orWhere("a.actor = :email", { email: actor.toLowerCase() })));
    if (filter.action) qb.andWhere("a.action = :action", { action: filter.action });
    if (filter.target) qb.andWhere("a.targetId = :target", { target: filter.target });
    if (filter.since) qb.andWhere("a.at >= :since", { since: this.pager.dbValue(qb, filter.since) });
    return this.pager.page(qb, first, after);
  }
}
