import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Logger } from "../logger.js";

/** A caller over its allowance of failed authentications: answer 429 with Retry-After. */
export class TooManyFailures extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed authentications from this address; retry after ${retryAfterSeconds} s`);
    this.name = "TooManyFailures";
  }
}

/**
 * Failed authentications per client address (HTTP and WebSocket alike), in a fixed window: past
 * the allowance every request from the address that carries a key gets 429 without the key being
 * looked at, until the window ends (a guesser cannot tell a right key from a wrong one meanwhile).
 * Requests without a key are not counted. Each address that reaches the limit is logged once per
 * window, with the count of attempts refused in its previous window.
 */
export class AuthRateLimit {
  private readonly limiter: RateLimiterMemory;
  private readonly refused = new Map<string, number>();

  constructor(
    private readonly attempts: number,
    private readonly windowSeconds: number,
    private readonly logger: Logger,
  ) {
    this.limiter = new RateLimiterMemory({ points: attempts, duration: windowSeconds, keyPrefix: "auth-failures" });
  }

  /** Throws TooManyFailures while `address` is over its allowance. */
  async check(address: string): Promise<void> {
    const state = await this.limiter.get(address);
    if (state && state.consumedPoints >= this.attempts) {
      this.refused.set(address, (this.refused.get(address) ?? 0) + 1);
      throw new TooManyFailures(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
    }
  }

  /** Counts a failed authentication from `address`. */
  async failed(address: string): Promise<void> {
    try {
      const state = await this.limiter.consume(address);
      if (state.consumedPoints === this.attempts) {
        const before = this.refused.get(address) ?? 0;
        this.refused.delete(address);
        this.logger.warn(
          `authentication: ${address} failed ${this.attempts} times within ${this.windowSeconds} s; further attempts get 429 for ${Math.ceil(state.msBeforeNext / 1000)} s` +
            (before > 0 ? ` (${before} attempts were refused in its previous window)` : ""),
        );
      }
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
    }
  }
}

/** The client address of a request or socket, as Node saw it (no proxy headers are trusted). */
export const clientAddress = (socket: { remoteAddress?: string }) => socket.remoteAddress ?? "unknown";
