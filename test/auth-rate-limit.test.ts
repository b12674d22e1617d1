import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { Redis } from "ioredis";
import { ConfigError, loadConfig } from "../src/config.js";
import { AuthRateLimit, TooManyFailures } from "../src/http/auth-rate-limit.js";
import { silentLogger } from "../src/logger.js";

const REDIS = process.env.HOOKD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A request as Node hands it over: the peer's address and the headers. */
const request = (remoteAddress: string, forwardedFor?: string) => ({ socket: { remoteAddress }, headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {} }) as unknown as IncomingMessage;

test("the client address: the socket's unless its peer is a trusted proxy; X-Forwarded-For is believed only as far as trusted hops go", () => {
  const none = new AuthRateLimit({ attempts: 1, windowSeconds: 60, logger: silentLogger });
  assert.equal(none.addressOf(request("127.0.0.1", "203.0.113.5")), "127.0.0.1", "no proxy is trusted by default: a forged header is ignored");
  const nginx = new AuthRateLimit({ attempts: 1, windowSeconds: 60, logger: silentLogger, trustProxy: ["loopback", "10.0.0.0/8"] });
  assert.equal(nginx.addressOf(request("127.0.0.1", "203.0.113.5")), "203.0.113.5");
  assert.equal(nginx.addressOf(request("127.0.0.1", "203.0.113.5, 10.1.2.3")), "203.0.113.5", "through two trusted proxies");
  // The client put its own header before the proxy's: the nearest untrusted address is the client.
  assert.equal(nginx.addressOf(request("127.0.0.1", "198.51.100.1, 203.0.113.5")), "203.0.113.5");
  assert.equal(nginx.addressOf(request("192.0.2.9", "203.0.113.5")), "192.0.2.9", "a peer that is not a trusted proxy is the client");
  assert.equal(nginx.addressOf(request("127.0.0.1")), "127.0.0.1", "no header: the proxy itself");
});

test("failures only: within the allowance null, past it a 429 with when the window ends; addresses counted apart", async () => {
  const limit = new AuthRateLimit({ attempts: 2, windowSeconds: 60, logger: silentLogger });
  assert.equal(await limit.failed("a"), null);
  assert.equal(await limit.failed("a"), null);
  const over = await limit.failed("a");
  assert.ok(over instanceof TooManyFailures);
  assert.ok(over.retryAfterSeconds >= 1 && over.retryAfterSeconds <= 60);
  assert.equal(await limit.failed("b"), null);
});

test("with Redis, instances share one count per address (a guesser cannot spread over instances)", async () => {
  const client = new Redis(REDIS, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  await client.connect();
  const prefix = `hookd-test-${randomBytes(6).toString("hex")}:`;
  try {
    const one = new AuthRateLimit({ attempts: 3, windowSeconds: 60, logger: silentLogger, redis: { client, prefix } });
    const two = new AuthRateLimit({ attempts: 3, windowSeconds: 60, logger: silentLogger, redis: { client, prefix } });
    assert.equal(await one.failed("203.0.113.5"), null);
    assert.equal(await two.failed("203.0.113.5"), null);
    assert.equal(await one.failed("203.0.113.5"), null);
    assert.ok((await two.failed("203.0.113.5")) instanceof TooManyFailures, "the fourth failure, on the other instance");
    assert.ok(Number(await client.pttl(`${prefix}auth-failures:203.0.113.5`)) > 0, "kept in Redis under the prefix, with the window as its expiry");
  } finally {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  }
});

test("HOOKD_TRUST_PROXY: none by default; a list of addresses, ranges and names; trust-everyone and unreadable entries refused naming it", () => {
  assert.deepEqual(loadConfig({}).trustProxy, []);
  assert.deepEqual(loadConfig({ HOOKD_TRUST_PROXY: " loopback, 10.0.0.7 ,10.0.1.0/24,fd00::/8" }).trustProxy, ["loopback", "10.0.0.7", "10.0.1.0/24", "fd00::/8"]);
  const problem = (value: string) => {
    try {
      loadConfig({ HOOKD_TRUST_PROXY: value });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems.join("\n");
    }
    assert.fail(`'${value}' was taken`);
  };
  assert.match(problem("true"), /HOOKD_TRUST_PROXY must list the proxies in front of hookd, not 'true' \(any caller could then forge its address\)/);
  assert.match(problem("0.0.0.0/0"), /not '0\.0\.0\.0\/0'/);
  assert.match(
    problem("nginx.local"),
    /HOOKD_TRUST_PROXY must be a comma-separated list of proxy addresses, CIDR ranges, or loopback, linklocal, uniquelocal \(invalid IP address: nginx\.local; got 'nginx\.local'\)/,
  );
});
