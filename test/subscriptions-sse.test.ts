import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from "graphql";
import type { AuthRateLimit } from "../src/http/auth-rate-limit.js";
import { sseSubscriptionsRoute, type SseSubscriptions } from "../src/http/subscriptions-sse.route.js";
import type { Services } from "../src/services/services.js";

// The SSE route on its own, with a schema whose subscription counts the events taken from it: a
// reader that stops reading must stop the subscription, not pile its events up in the server.
const EVENTS = 5000;
const PAD = "x".repeat(10_000);
let pulled = 0;
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: "Query", fields: { ok: { type: GraphQLInt, resolve: () => 1 } } }),
  subscription: new GraphQLObjectType({
    name: "Subscription",
    fields: {
      ticks: {
        type: GraphQLString,
        subscribe: async function* () {
          for (let i = 1; i <= EVENTS; i++) {
            pulled = i;
            yield { ticks: `${i} ${PAD}` };
          }
        },
      },
    },
  }),
});

let server: http.Server;
let route: SseSubscriptions;
let url: string;
before(async () => {
  const services = { users: { authenticate: async (h?: string) => (h === "Bearer good" ? { user: { email: "t@example.com" } } : Promise.reject(new Error("x"))) } };
  route = sseSubscriptionsRoute({
    path: "/graphql/stream",
    graphqlPath: "/graphql",
    schema,
    services: services as unknown as Services,
    formatError: (f) => f,
    parseJson: express.json({ limit: "1mb" }),
    authLimit: { failed: async () => null, addressOf: () => "127.0.0.1" } as unknown as AuthRateLimit,
    onError: (_err, res) => res.writeHead(500).end(),
  });
  server = http.createServer((req, res) => route.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql/stream`;
});
after(async () => {
  await route.dispose();
  await new Promise((resolve) => server.close(resolve));
});

test("a stream whose reader stops reading takes no more events until the reader goes on; then every event arrives, in order", async () => {
  const chunks: Buffer[] = [];
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json", accept: "text/event-stream", authorization: "Bearer good" } });
    req.on("response", resolve).on("error", reject);
    req.end(JSON.stringify({ query: "subscription { ticks }" }));
  });
  assert.equal(response.statusCode, 200);
  response.pause();
  await new Promise((r) => setTimeout(r, 500));
  // Socket buffers hold a few megabytes at most: a few hundred of these 10 kB events, not all of them.
  assert.ok(pulled < EVENTS / 5, `${pulled} of ${EVENTS} events taken while the reader stalled`);
  const stalledAt = pulled;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(pulled, stalledAt, "nothing more is taken while it stays stalled");

  response.on("data", (chunk: Buffer) => chunks.push(chunk));
  response.resume();
  await new Promise((resolve) => response.on("end", resolve));
  const text = Buffer.concat(chunks).toString("utf8");
  const ticks = [...text.matchAll(/^data: \{"data":\{"ticks":"(\d+) /gm)].map((m) => Number(m[1]));
  assert.equal(ticks.length, EVENTS);
  assert.ok(
    ticks.every((n, i) => n === i + 1),
    "in order, none lost",
  );
  assert.match(text, /event: complete\n/);
});
