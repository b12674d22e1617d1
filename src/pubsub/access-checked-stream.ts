import type { PubSub, Unsubscribe } from "./pubsub.js";

/**
 * A subscription's events that stop once its subscriber may no longer read them: whenever access
 * rules change (a key revoked, the audit roles changed), `authorize` runs again before the next
 * event, and a refusal ends the subscription with that error, at once even with no event pending.
 * executionLog and executionUpdated do the same in their own streams.
 */
export class AccessCheckedStream<T> implements AsyncIterableIterator<T> {
  private readonly inner: AsyncIterator<T>;
  private readonly offAccess: Unsubscribe;
  private recheck: Promise<void> | null = null;
  private refused: ((err: unknown) => void) | null = null;
  private done = false;

  constructor(
    source: AsyncIterable<T>,
    pubsub: PubSub,
    private readonly authorize: () => Promise<void>,
  ) {
    this.inner = source[Symbol.asyncIterator]();
    this.offAccess = pubsub.subscribe("accessChanged", "*", () => {
      // Checked now, so a waiting subscriber ends without waiting for its next event.
      this.recheck = this.authorize().catch((err: unknown) => {
        this.refused?.(err);
        throw err;
      });
      this.recheck.catch(() => undefined);
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.done) return { done: true, value: undefined };
    const refusal = new Promise<never>((_, reject) => (this.refused = reject));
    try {
      if (this.recheck) await this.recheck;
      const result = await Promise.race([this.inner.next(), refusal]);
      // An event that arrived while access was being checked again waits for that check.
      if (this.recheck) await this.recheck;
      return result;
    } catch (err) {
      await this.return();
      throw err;
    } finally {
      this.refused = null;
    }
  }

  async return(): Promise<IteratorResult<T>> {
    if (!this.done) {
      this.done = true;
      this.offAccess();
      await this.inner.return?.();
    }
    return { done: true, value: undefined };
  }
}
