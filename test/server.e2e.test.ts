import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_KEY, expectError, startServer, type TestServer } from "./helpers/server.js";

describe("server: health, IDE, authentication, malformed requests", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  /** A POST to /graphql with this exact body, for requests server.gql cannot make. */
  const postRaw = (body: string, authorization = `Bearer ${ADMIN_KEY}`) => fetch(`${server.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization }, body });

  test("GET /healthz answers while the database is reachable", async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  });

  test("GET /graphql in a browser serves the IDE from local assets, with no CDN", async () => {
    const res = await fetch(`${server.url}/graphql`, { headers: { accept: "text/html,application/xhtml+xml" } });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /GraphiQL/);
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(sources.length >= 4);
    for (const src of sources) {
      assert.ok(src.startsWith("/"), `asset ${src} must be served locally`);
      const asset = await fetch(`${server.url}${src}`);
      assert.equal(asset.status, 200, src);
      assert.ok((await asset.arrayBuffer()).byteLength > 1000, `${src} has content`);
    }
    assert.doesNotMatch(html, /https?:\/\//);
  });

  test("an unknown IDE asset is a 404", async () => {
    const res = await fetch(`${server.url}/ide-assets/..%2f..%2fpackage.json`);
    assert.equal(res.status, 404);
  });

  test("a request without an API key is UNAUTHENTICATED (HTTP 401) and says how to send one", async () => {
    const res = await server.gql("{ me { email } }", {}, null);
    assert.equal(res.status, 401);
    expectError(res, "UNAUTHENTICATED", /Authorization: Bearer/);
  });

  test("a wrong API key is UNAUTHENTICATED", async () => {
    const res = await server.gql("{ me { email } }", {}, "hkd_not_a_real_key_at_all_000000");
    assert.equal(res.status, 401);
    expectError(res, "UNAUTHENTICATED", /invalid API key/);
  });

  test("a malformed Authorization header is UNAUTHENTICATED", async () => {
    const res = await postRaw(JSON.stringify({ query: "{ me { email } }" }), `Token ${ADMIN_KEY}`);
    assert.equal(res.status, 401);
    expectError((await res.json()) as any, "UNAUTHENTICATED", /expected 'Bearer <key>'/);
  });

  test("introspection also needs a key", async () => {
    const res = await server.gql("{ __schema { queryType { name } } }", {}, null);
    expectError(res, "UNAUTHENTICATED");
  });

  test("the bootstrap admin key works and me answers", async () => {
    const data = await server.ok("{ me { email role } }");
    assert.deepEqual(data.me, { email: "admin@localhost", role: "ADMIN" });
  });

  test("GraphQL answers are never cacheable: POST and GET say no-store", async () => {
    const post = await postRaw(JSON.stringify({ query: "{ me { email } }" }));
    assert.equal(post.status, 200);
    assert.equal(post.headers.get("cache-control"), "no-store");
    assert.equal(post.headers.get("etag"), null);
    const get = await fetch(`${server.url}/graphql?query=${encodeURIComponent("{ me { email } }")}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "apollo-require-preflight": "true" },
    });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("cache-control"), "no-store");
    assert.deepEqual(((await get.json()) as any).data, { me: { email: "admin@localhost" } });
  });

  test("malformed JSON gets a 400 with a clear message and the server keeps serving", async () => {
    const res = await postRaw('{"query": "{ me { email } ');
    assert.equal(res.status, 400);
    const body = (await res.json()) as any;
    assert.match(body.errors[0].message, /not valid JSON/);
    assert.equal((await server.gql("{ me { email } }")).status, 200);
  });

  test("a body over the size limit gets a 413", async () => {
    const res = await postRaw(JSON.stringify({ query: "{ me { email } }", variables: { pad: "x".repeat(2 * 1024 * 1024) } }));
    assert.equal(res.status, 413);
    const body = (await res.json()) as any;
    assert.match(body.errors[0].message, /larger than/);
  });

  test("a syntax error in the document is a GraphQL error, not a crash", async () => {
    const res = await server.gql("{ me { email ");
    assert.equal(res.status, 400);
    expectError(res, "GRAPHQL_PARSE_FAILED");
  });

  test("an unknown field names itself", async () => {
    const res = await server.gql("{ me { nope } }");
    expectError(res, "GRAPHQL_VALIDATION_FAILED", /nope/);
  });

  test("a subscription sent over HTTP is a clear BAD_REQUEST that says to use the WebSocket", async () => {
    const res = await server.gql(`subscription { executionUpdated { id status } }`);
    assert.equal(res.status, 400);
    expectError(res, "BAD_REQUEST", /subscriptions run over a WebSocket \(graphql-ws protocol\) at \/graphql/);
  });

  test("a document nested too deep is refused with the limit, before it runs", async () => {
    // Depth through a chain of fragments, each adding a level.
    const fragments = Array.from({ length: 13 }, (_, i) => `fragment F${i} on Execution { retryOf { ${i < 12 ? `...F${i + 1}` : "id"} } }`).join("\n");
    const res = await server.gql(`query Deep { executions { nodes { ...F0 } } }\n${fragments}`);
    expectError(res, "GRAPHQL_VALIDATION_FAILED", /operation 'Deep' is nested 16 levels deep; the limit is 12/);
  });

  test("a document selecting too many fields is refused", async () => {
    const fields = Array.from({ length: 1600 }, (_, i) => `f${i}: hooksEnabled`).join(" ");
    const res = await server.gql(`{ settings { ${fields} } }`);
    expectError(res, "GRAPHQL_VALIDATION_FAILED", /selects 1601 fields; the limit is 1500/);
  });

  test("CSRF prevention refuses a simple form-style GET query", async () => {
    const res = await fetch(`${server.url}/graphql?query=${encodeURIComponent("{ me { email } }")}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /CSRF/i);
  });

  test("POST /graphql answers exactly as the Express route does (the direct route is only faster)", async () => {
    // `POST /graphql` goes straight to Apollo; with a query string it takes the Express route.
    const cases: { name: string; body: string; headers: Record<string, string> }[] = [
      { name: "a query", body: JSON.stringify({ query: "{ me { email role } }" }), headers: {} },
      { name: "a domain error", body: JSON.stringify({ query: '{ volume(code: "nope") { code } }' }), headers: {} },
      { name: "no API key", body: JSON.stringify({ query: "{ me { email } }" }), headers: { authorization: "" } },
      { name: "malformed JSON", body: '{"query": "{ me ', headers: {} },
      { name: "not an object", body: '"{ me { email } }"', headers: {} },
      { name: "an empty body", body: "", headers: {} },
      { name: "too large", body: JSON.stringify({ query: "{ me { email } }", variables: { pad: "x".repeat(2 * 1024 * 1024) } }), headers: {} },
      { name: "a text/plain body (CSRF)", body: JSON.stringify({ query: "{ me { email } }" }), headers: { "content-type": "text/plain" } },
      { name: "an unsupported charset", body: JSON.stringify({ query: "{ me { email } }" }), headers: { "content-type": "application/json; charset=latin1" } },
    ];
    const answer = async (path: string, c: (typeof cases)[number]) => {
      const headers = { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}`, ...c.headers };
      const res = await fetch(`${server.url}${path}`, { method: "POST", headers, body: c.body });
      const kept = [...res.headers].filter(([name]) => !["date", "keep-alive", "connection"].includes(name));
      return { status: res.status, headers: Object.fromEntries(kept), body: await res.text() };
    };
    for (const c of cases) {
      const direct = await answer("/graphql", c);
      const viaExpress = await answer("/graphql?route=express", c);
      assert.deepEqual(direct, viaExpress, c.name);
      assert.equal(direct.headers["cache-control"], "no-store", c.name);
    }
    assert.equal((await answer("/graphql", cases[0])).status, 200);
    assert.equal((await answer("/graphql", cases[2])).status, 401);
    assert.equal((await answer("/graphql", cases[6])).status, 413);
  });
});
