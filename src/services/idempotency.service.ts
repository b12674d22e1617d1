import { createHash } from "node:crypto";
import { LessThan } from "typeorm";
import { badInput, conflict, DomainError } from "../domain/errors.js";
import { IdempotencyKey } from "../entities/idempotency-key.entity.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";

/** How long a key answers repeats (issue 22: "a repeat within 24 h"). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** The first request renews its row this often while it runs... */
const HEARTBEAT_MS = 5_000;
/** ...so a pending row not renewed for this long was left by a hookd that stopped: a repeat takes it over. */
const ABANDONED_MS = 30_000;
/** A repeat waits at most this long for the first request to finish, then says so. */
const MAX_WAIT_MS = 30 * 60 * 1000;
const MAX_KEY_LENGTH = 200;

/** The operations that take a key; each has its own key space. */
export type IdempotentOperation = "submitJob" | "prePublish" | "submitPublish" | "triggerHook";

export interface Once<T> {
  userId: string;
  operation: IdempotentOperation;
  key: string | null | undefined;
  /** The request without its key: a repeat must send the same. */
  input: unknown;
  run: () => Promise<T>;
  /** The ids that stand for the result... */
  ids: (result: T) => string[];
  /** ...and how a repeat reads it back. */
  load: (ids: string[]) => Promise<T>;
}

/**
 * Idempotent mutations: the first request with a key runs; a repeat by the same user within
 * 24 h with the same input answers with the first result (read again, as it is now) and runs
 * nothing. The claim is a row unique on (user, operation, key), so of two concurrent repeats one
 * inserts it and the other waits for its result.
 */
export class IdempotencyService {
  /** Keys this process runs now: a repeat here wakes when its first request ends. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async once<T>(o: Once<T>): Promise<T> {
    if (o.key === undefined || o.key === null) return o.run();
    const key = o.key;
    if (key.trim() === "" || key.length > MAX_KEY_LENGTH || /[\0-\x1f\x7f]/.test(key))
      throw badInput("input.idempotencyKey", `must be 1 to ${MAX_KEY_LENGTH} printable characters, e.g. a UUID you generate per request (got ${JSON.stringify(key.slice(0, 40))})`);
    const where = { userId: o.userId, operation: o.operation, key };
    const hash = inputHash(o.input);
    const waitUntil = Date.now() + MAX_WAIT_MS;
    for (let poll = 50; ; poll = Math.min(1000, poll * 2)) {
      const existing = await this.claim(where, hash);
      if (existing === null) break; // this request won: it runs
      if (existing.inputHash !== hash)
        throw conflict(
          "input.idempotencyKey",
          `'${key}' was used at ${existing.createdAt.toISOString()} for ${o.operation} with a different input; a repeat must send the same input, a new request needs a new key`,
        );
      if (existing.resultIds !== null) return o.load(existing.resultIds);
      if (existing.errorCode !== null) throw new DomainError(existing.errorCode, existing.errorMessage ?? `${o.operation} was refused`);
      if (Date.now() > waitUntil) throw conflict("input.idempotencyKey", `the first ${o.operation} with '${key}' (since ${existing.createdAt.toISOString()}) has not finished; ask again later`);
      const mine = this.running.get(rowKey(where));
      await Promise.race([mine?.catch(() => undefined), sleep(poll)]);
    }
    const heartbeat = setInterval(() => {
      this.store
        .transaction((em) => em.update(IdempotencyKey, where, { heartbeatAt: this.now() }))
        .catch((err) => this.logger.warn(`idempotency key ${key}: could not renew it`, { err: String(err) }));
    }, HEARTBEAT_MS);
    heartbeat.unref();
    const work = o.run();
    this.running.set(rowKey(where), work);
    try {
      const result = await work;
      await this.settle(where, { resultIds: o.ids(result) });
      return result;
    } catch (err) {
      // A hook ran and refused: repeats get the same answer. Anything else ran nothing for good
      // (bad input, a conflict, a crash): the key is freed and a repeat runs again.
      if (err instanceof DomainError && err.code === "HOOK_FAILED") await this.settle(where, { errorCode: err.code, errorMessage: err.message });
      else await this.settle(where, null);
      throw err;
    } finally {
      clearInterval(heartbeat);
      this.running.delete(rowKey(where));
    }
  }

  /** Null when this request inserted the row (it runs); else the row of the request that did. */
  private async claim(where: Pick<IdempotencyKey, "userId" | "operation" | "key">, hash: string): Promise<IdempotencyKey | null> {
    for (let tries = 0; ; tries++) {
      try {
        return await this.store.transaction(async (em) => {
          // One claimer of a key at a time (concurrent transactions on PostgreSQL): no insert races.
          await this.store.lockInTransaction(em, `hookd:idempotency:${where.userId}:${where.operation}:${where.key}`);
          const now = this.now();
          const row = await em.findOneBy(IdempotencyKey, where);
          const pending = row !== null && row.resultIds === null && row.errorCode === null;
          const expired = row !== null && row.createdAt.getTime() <= now.getTime() - IDEMPOTENCY_TTL_MS;
          const abandoned = pending && row.heartbeatAt.getTime() <= now.getTime() - ABANDONED_MS;
          if (row !== null && !expired && !abandoned) return row;
          // Conditional on what was read, so of two takers of an old row only one deletes it.
          if (row !== null) await em.delete(IdempotencyKey, { ...where, createdAt: row.createdAt, heartbeatAt: row.heartbeatAt });
          await em.insert(IdempotencyKey, { ...where, inputHash: hash, resultIds: null, errorCode: null, errorMessage: null, createdAt: now, heartbeatAt: now });
          return null;
        });
      } catch (err) {
        // Another writer (a concurrent transaction on PostgreSQL) inserted it first: read theirs.
        // (The insert is the one statement here that can conflict, whether the store reports it raw or as CONFLICT.)
        if (tries >= 10 || !(isUniqueViolation(err) || (err instanceof DomainError && err.code === "CONFLICT"))) throw err;
      }
    }
  }

  private async settle(where: Pick<IdempotencyKey, "userId" | "operation" | "key">, outcome: Partial<IdempotencyKey> | null): Promise<void> {
    try {
      await this.store.transaction(async (em) => {
        if (outcome === null) await em.delete(IdempotencyKey, where);
        else await em.update(IdempotencyKey, where, { ...outcome, heartbeatAt: this.now() });
      });
    } catch (err) {
      // The request's own answer stands; a repeat finds the row pending and takes it over once abandoned.
      this.logger.error(`idempotency key ${where.key}: could not store the outcome`, err);
    }
  }

  /** Deletes keys older than 24 h; returns how many. */
  async prune(batchSize = 500): Promise<number> {
    let n = 0;
    for (;;) {
      const cutoff = new Date(this.now().getTime() - IDEMPOTENCY_TTL_MS);
      const deleted = await this.store.transaction(async (em) => {
        const rows = await em.find(IdempotencyKey, { select: { userId: true, operation: true, key: true }, where: { createdAt: LessThan(cutoff) }, take: batchSize });
        for (const r of rows) await em.delete(IdempotencyKey, { userId: r.userId, operation: r.operation, key: r.key, createdAt: LessThan(cutoff) });
        return rows.length;
      });
      n += deleted;
      if (deleted < batchSize) return n;
    }
  }
}

const rowKey = (w: { userId: string; operation: string; key: string }) => `${w.userId}\n${w.operation}\n${w.key}`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** sha256 of the input as JSON with its keys sorted, so the order fields were sent in does not matter. */
export function inputHash(input: unknown): string {
  return createHash("sha256").update(stableJson(input)).digest("hex");
}

function stableJson(value: unknown): string {
  if (value === undefined || value === null) return "null";
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string }; message?: string } | null;
  const code = e?.driverError?.code ?? e?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE" || /UNIQUE constraint failed/.test(e?.message ?? "");
}
