import type { IncomingMessage } from "node:http";
import type { Redis } from "ioredis";
import proxyaddr from "proxy-addr";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Logger } from "../logger.js";

/** A wrong key from an address over its allowance of failed authentications: answer 429 with Retry-After. */
export class TooManyFailures extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed authentications from this address; retry after ${retryAfterSeconds} s`);
    this.name = "TooManyFailures";
  }
}

export interface AuthRateLimitOptions {
  attempts: number;
  windowSeconds: number;
  logger: Logger;
  /**
   * HOOKD_TRUST_PROXY: the proxies (addresses, CIDR ranges, or loopback, linklocal, uniquelocal)
   * whose X-Forwarded-For is believed. Empty: none, the socket's address is the client's.
   */
  trustProxy?: readonly string[];
  /** Several instances: the count is kept in Redis under this prefix, so it is one count for all of them. */
  redis?: { client: Redis; prefix: string };
}

/**
 * Failed authentications per client address (HTTP and WebSocket alike), in a fixed window. Only
 * failures are limited: a key is always looked at, a right one is always accepted, and past the
 * allowance a wrong one gets 429 instead of 401 until the window ends. So a stale key in one cron
 * job cannot lock out the valid keys of everyone behind the same address (a studio behind NAT,
 * or every caller when the proxy's address is all hookd sees). What keeps a guesser from finding
 * a key is its 192 random bits, not this limit: the limit makes guessing loud (one log line per
 * address per window) and answers a flood of wrong keys without telling why each was refused.
 * Requests without a key are not counted.
 */
export class AuthRateLimit {
  private readonly limiter: RateLimiterAbstract;
  private readonly trust: (address: string, hop: number) => boolean;
  /** 429s this instance answered per address since the limit was reached (for the next window's log line). */
  private readonly refused = new Map<string, number>();

  constructor(private readonly options: AuthRateLimitOptions) {
    const { attempts: points, windowSeconds: duration } = options;
    const memory = new RateLimiterMemory({ points, duration, keyPrefix: "auth-failures" });
    // Redis unreachable: each instance counts on its own meanwhile, rather than letting every guess through.
    this.limiter = options.redis
      ? new RateLimiterRedis({
          storeClient: options.redis.client,
          points,
          duration,
          keyPrefix: `${options.redis.prefix}auth-failures`,
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
        })
      : memory;
    this.trust = proxyaddr.compile([...(options.trustProxy ?? [])]);
  }

  /**
   * The client's address: the socket's, or, when the socket's peer is a trusted proxy, the
   * nearest address in X-Forwarded-For that is not itself a trusted proxy (proxy-addr's rule, as
   * Express's "trust proxy"). A forged X-Forwarded-For from an untrusted peer is ignored.
   */
  addressOf(req: IncomingMessage): string {
    if (!req.socket?.remoteAddress) return "unknown";
    return proxyaddr(req, this.trust);
  }

  /**
   * Counts a failed authentication from `address`. Returns the 429 to answer instead of 401 when
   * the address is past its allowance, this failure included; null while it is within it.
   */
  async failed(address: string): Promise<TooManyFailures | null> {
    const { attempts, windowSeconds, logger } = this.options;
    let state: RateLimiterRes;
    try {
      state = await this.limiter.consume(address);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      this.refused.set(address, (this.refused.get(address) ?? 0) + 1);
      return new TooManyFailures(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
    }
    // Exactly one instance sees the count reach the limit (Redis counts atomically): one line per window.
    if (state.consumedPoints === attempts) {
      const before = this.refused.get(address) ?? 0;
      this.refused.delete(address);
      logger.warn(
        `authentication: ${address} failed ${attempts} times within ${windowSeconds} s; further wrong keys from it get 429 for ${Math.ceil(state.msBeforeNext / 1000)} s (valid keys are still accepted)` +
          (before > 0 ? ` (${before} attempts were refused in its previous window)` : ""),
      );
    }
    return null;
  }
}
