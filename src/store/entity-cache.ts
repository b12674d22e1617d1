import type { ObjectLiteral } from "typeorm";
import type { EntityClass } from "./native-rows.js";

/** Where a cache hears of writes: the Store (this process's) or a ChangeFeed (every instance's). */
export interface ChangeSource {
  watch(entities: EntityClass<ObjectLiteral>[], onChange: () => void): void;
}

/**
 * Values derived from some entities, kept in memory and dropped whenever one of those entities is
 * written (Store.watch). A value read while such a write happened is returned but not kept, so
 * the cache never holds something older than the last change. Bounded: past `max` entries it
 * starts over. Given a ChangeFeed, it also hears other hookd processes' writes (through the broker).
 */
export class EntityCache<V> {
  private readonly values = new Map<string, V>();
  private generation = 0;

  constructor(
    changes: ChangeSource,
    entities: EntityClass<ObjectLiteral>[],
    private readonly max: number,
  ) {
    changes.watch(entities, () => {
      this.generation++;
      this.values.clear();
    });
  }

  /** Drops every value (a change the store did not see, e.g. another process's commit). */
  clear(): void {
    this.generation++;
    this.values.clear();
  }

  /** The cached value for `key`, else what `load` returns (null is returned, never kept). */
  async get<T extends V | null>(key: string, load: () => Promise<T>): Promise<T> {
    const cached = this.values.get(key);
    if (cached !== undefined) return cached as T;
    const generation = this.generation;
    const value = await load();
    if (value !== null && generation === this.generation) {
      if (this.values.size >= this.max) this.values.clear();
      this.values.set(key, value as V);
    }
    return value;
  }
}
