import type { PubSub as TypeGraphqlPubSub } from "type-graphql";
import type { PubSub, Topics } from "./pubsub.js";

/**
 * Exposes hookd's PubSub to type-graphql, for subscriptions declared with `topics` (the topic is
 * the routing key, the topic id the key). Each subscriber holds at most `maxPending` events; on
 * overflow the oldest are dropped, because a subscriber must never grow the server's memory.
 * Subscriptions that must not lose events (the execution log) use their own stream instead.
 */
export function typeGraphqlPubSub(pubsub: PubSub, maxPending = 1000): TypeGraphqlPubSub {
  return {
    publish(routingKey: string, ...args: unknown[]) {
      const [key, payload] = args.length >= 2 ? [String(args[0]), args[1]] : ["*", args[0]];
      pubsub.publish(routingKey as keyof Topics, key, payload as never);
    },
    subscribe(routingKey: string, dynamicId?: unknown): AsyncIterable<unknown> {
      const pending: unknown[] = [];
      let wake: (() => void) | null = null;
      let done = false;
      const off = pubsub.subscribe(routingKey as keyof Topics, dynamicId === undefined ? "*" : String(dynamicId), (payload) => {
        if (pending.length >= maxPending) pending.shift();
        pending.push(payload);
        wake?.();
      });
      const iterator: AsyncIterableIterator<unknown> = {
        [Symbol.asyncIterator]: () => iterator,
        async next() {
          while (!done && pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          return done ? { done: true, value: undefined } : { done: false, value: pending.shift() };
        },
        async return() {
          done = true;
          off();
          pending.length = 0;
          wake?.();
          return { done: true, value: undefined };
        },
      };
      return iterator;
    },
  };
}
