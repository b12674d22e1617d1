import { type EntityManager, LessThan, type SelectQueryBuilder } from "typeorm";
import { type ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { Store } from "../store/store.js";

// When a QUEUED execution may start: the entry before it (a queue's APPEND entry), a retry's
// backoff, its entry's maxConcurrent, older runs with its concurrency key. Reads only; the claim
// that acts on the answer is a transition (execution-transitions.ts).

export const clockTime = (d: Date) => `${d.toISOString().slice(11, 19)} UTC`;

export const waitingForEarlier = (id: string) => `waits for execution ${id} (the entry before it) to finish`;

/** Why a QUEUED execution waits for `server`: its runner is not online. */
export function waitingText(server: ExecutionServer): string {
  return server.kind === ExecutionServerKind.CLIENT
    ? `client '${server.name}' (${server.hostname}): it is not connected`
    : `execution server '${server.name}' (${server.hostname}): no runner for it is online`;
}

/** Rules that may hold a QUEUED execution back (see whyWaiting); most have none, and claim on the fast path. */
export function hasStartRules(e: Execution): boolean {
  return (e.afterId ?? null) !== null || (e.notBefore ?? null) !== null || (e.policy?.maxConcurrent ?? null) !== null || (e.concurrencyKey ?? null) !== null;
}

export class StartRules {
  constructor(
    private readonly store: Store,
    private readonly now: () => Date,
  ) {}

  /**
   * Null when `e` may start now, else why it waits. A queue's APPEND entry waits for the entry
   * before it, a retry for its backoff, a run for its entry's maxConcurrent and for older runs
   * with the same concurrency key (one at a time, in order).
   */
  async whyWaiting(e: Execution, em: EntityManager = this.store.manager): Promise<string | null> {
    if (e.afterId !== null) return waitingForEarlier(e.afterId);
    if (e.notBefore !== null && e.notBefore > this.now()) return `attempt ${e.attempt} waits for its retry backoff until ${clockTime(e.notBefore)}`;
    const same = { configId: e.configId, hook: e.hook };
    const max = e.policy?.maxConcurrent ?? null;
    if (max !== null) {
      const running = await em.count(Execution, { where: { ...same, status: ExecutionStatus.RUNNING } });
      if (running >= max) return `${running} runs of this entry are running; its maxConcurrent is ${max}`;
    }
    if (e.concurrencyKey !== null) {
      const key = { ...same, concurrencyKey: e.concurrencyKey };
      // uuid v7 ids sort by creation: "older" without a tie on equal timestamps.
      const ahead = await em.findOne(Execution, {
        select: { id: true, status: true },
        where: [
          { ...key, status: ExecutionStatus.RUNNING },
          { ...key, status: ExecutionStatus.QUEUED, id: LessThan(e.id) },
        ],
        order: { id: "ASC" },
      });
      if (ahead) return `waits for execution ${ahead.id} (${ahead.status}), which has the same concurrency key '${e.concurrencyKey}'`;
    }
    return null;
  }

  /**
   * The QUEUED executions of `serverIds` that a runner may claim now, oldest first: the one place
   * that says which may be claimed (eligibility conditions go here, for every runner and store).
   */
  claimable(em: EntityManager, serverIds: string[]): SelectQueryBuilder<Execution> {
    return (
      em
        .createQueryBuilder(Execution, "e")
        .where("e.status = :queued", { queued: ExecutionStatus.QUEUED })
        .andWhere("e.executionServerId IN (:...servers)", { servers: serverIds })
        // Not what waits for an earlier entry or for its retry backoff: they are offered when their time comes.
        .andWhere("e.afterId IS NULL")
        .andWhere("(e.notBefore IS NULL OR e.notBefore <= :now)", { now: this.now() })
        .orderBy("e.createdAt", "ASC")
    );
  }

  /** Ids of up to `limit` claimable executions of `serverIds` (they may be claimed by another runner meanwhile). */
  async claimableIds(serverIds: string[], limit: number): Promise<string[]> {
    if (serverIds.length === 0 || limit <= 0) return [];
    const rows = await this.claimable(this.store.manager, serverIds).select("e.id", "id").limit(limit).getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }
}
