import type { DataSource, EntityManager } from "typeorm";

/**
 * The one way to write to the database.
 *
 * TypeORM's better-sqlite3 driver shares a single query runner, so two `transaction()` calls in
 * flight interleave on one connection and corrupt each other, and a plain write issued while a
 * transaction is open silently joins it (and is rolled back with it). Every write therefore goes
 * through `transaction`, which runs them one at a time. Reads may use `manager` directly.
 */
export class Store {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly dataSource: DataSource) {}

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const run = this.tail.then(() => this.dataSource.transaction(work));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every write queued so far has finished (for orderly shutdown). */
  async drain(): Promise<void> {
    await this.tail;
  }
}
