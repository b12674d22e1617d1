import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { httpDispatcher } from "../src/http/graphql-post.route.js";

// Which requests skip Express: the answers are the same either way (server.e2e.test.ts checks
// that byte for byte), so only the dispatcher can show which way a request went.

test("exactly POST /graphql takes the direct route once it is set; everything else goes to Express", () => {
  const seen: string[] = [];
  const dispatcher = httpDispatcher("/graphql", (req) => seen.push(`express ${req.method} ${req.url}`));
  const request = (method: string, url: string) => dispatcher.handle({ method, url } as IncomingMessage, {} as ServerResponse);

  request("POST", "/graphql"); // before Apollo has started
  dispatcher.setDirect((req) => seen.push(`direct ${req.method} ${req.url}`));
  for (const [method, url] of [
    ["POST", "/graphql"],
    ["POST", "/graphql?query={__typename}"],
    ["POST", "/graphql/"],
    ["POST", "/GRAPHQL"],
    ["GET", "/graphql"],
    ["OPTIONS", "/graphql"],
    ["POST", "/healthz"],
  ]) {
    request(method, url);
  }
  assert.deepEqual(seen, [
    "express POST /graphql",
    "direct POST /graphql",
    "express POST /graphql?query={__typename}",
    "express POST /graphql/",
    "express POST /GRAPHQL",
    "express GET /graphql",
    "express OPTIONS /graphql",
    "express POST /healthz",
  ]);
});
