import type { PubSubConfig } from "../config.js";
import type { Logger } from "../logger.js";
import { InProcessPubSub, type PubSub } from "./pubsub.js";
import { RedisPubSub } from "./redis-pubsub.js";

/** The pub/sub HOOKD_PUBSUB asks for (not yet connected: init() does that). */
export function createPubSub(config: PubSubConfig, instanceId: string, logger: Logger): PubSub {
  if (config.kind === "redis") return new RedisPubSub({ url: config.redisUrl!, prefix: config.prefix, instanceId, logger });
  return new InProcessPubSub();
}
