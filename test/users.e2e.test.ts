import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_KEY, expectError, startServer, type TestServer } from "./helpers/server.js";

describe("users and API keys", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("createUser, then users lists it", async () => {
    const data = await server.ok(`mutation { createUser(input: { email: "Artist@Example.com", role: EMPLOYEE }) { id email role } }`);
    assert.equal(data.createUser.email, "artist@example.com");
    assert.equal(data.createUser.role, "EMPLOYEE");
    const list = await server.ok(`{ users { email role } }`);
    assert.deepEqual(list.users, [
      { email: "admin@localhost", role: "ADMIN" },
      { email: "artist@example.com", role: "EMPLOYEE" },
    ]);
  });

  test("createUser refuses a bad email and a duplicate, naming the field", async () => {
    expectError(await server.gql(`mutation { createUser(input: { email: "not-an-email", role: STANDARD }) { id } }`), "BAD_USER_INPUT", /input\.email: must be an email address/);
    expectError(
      await server.gql(`mutation { createUser(input: { email: "artist@example.com", role: STANDARD }) { id } }`),
      "CONFLICT",
      /input\.email: a user with email 'artist@example.com' already exists/,
    );
    assert.equal((await server.ok(`{ users { id } }`)).users.length, 2);
  });

  test("a key is shown once, stored hashed, and works", async () => {
    const { users } = await server.ok(`{ users { id email } }`);
    const artist = users.find((u: any) => u.email === "artist@example.com");
    const created = await server.ok(`mutation($id: ID!) { createApiKey(user: $id, label: "laptop") { secret apiKey { id prefix label revokedAt } } }`, { id: artist.id });
    const { secret, apiKey } = created.createApiKey;
    assert.match(secret, /^hkd_[A-Za-z0-9_-]{32}$/);
    assert.equal(apiKey.prefix, secret.slice(0, 12));
    assert.equal(apiKey.label, "laptop");
    const rows = await server.app.dataSource.createQueryBuilder().select("k.hash", "hash").from("api_key", "k").where("k.id = :id", { id: apiKey.id }).getRawMany();
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0].hash, secret);
    assert.match(rows[0].hash, /^[0-9a-f]{64}$/);
    const me = await server.ok(`{ me { email apiKeys { id label lastUsedAt } } }`, {}, secret);
    assert.equal(me.me.email, "artist@example.com");
    const used = me.me.apiKeys.find((k: any) => k.id === apiKey.id);
    assert.ok(used.lastUsedAt, "lastUsedAt is recorded");
  });

  test("a revoked key is refused at once", async () => {
    const { users } = await server.ok(`{ users { id email } }`);
    const artist = users.find((u: any) => u.email === "artist@example.com");
    const { createApiKey } = await server.ok(`mutation($id: ID!) { createApiKey(user: $id) { secret apiKey { id } } }`, { id: artist.id });
    await server.ok(`{ me { email } }`, {}, createApiKey.secret);
    const revoked = await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`, { id: createApiKey.apiKey.id });
    assert.ok(revoked.revokeApiKey.revokedAt);
    const res = await server.gql(`{ me { email } }`, {}, createApiKey.secret);
    assert.equal(res.status, 401);
    expectError(res, "UNAUTHENTICATED", /was revoked/);
  });

  test("users create and revoke their own keys but not others'", async () => {
    const a = await server.user("a@example.com", "STANDARD");
    const b = await server.user("b@example.com", "STANDARD");
    const own = await server.ok(`mutation { createApiKey(label: "second") { secret apiKey { id } } }`, {}, a.key);
    await server.ok(`{ me { email } }`, {}, own.createApiKey.secret);
    expectError(await server.gql(`mutation($id: ID!) { createApiKey(user: $id) { secret } }`, { id: b.id }, a.key), "FORBIDDEN", /only an ADMIN may manage another user's API keys/);
    const bKeys = await server.ok(`{ me { apiKeys { id } } }`, {}, b.key);
    expectError(await server.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: bKeys.me.apiKeys[0].id }, a.key), "NOT_FOUND");
    await server.ok(`{ me { email } }`, {}, b.key);
    await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: own.createApiKey.apiKey.id }, a.key);
    expectError(await server.gql(`{ me { email } }`, {}, own.createApiKey.secret), "UNAUTHENTICATED");
  });

  test("createUser racing itself with one email: one user, every other request CONFLICT naming input.email", async () => {
    // Sent at once, several pass the service's check before any commits (on PostgreSQL); the constraint decides.
    const results = await Promise.all(Array.from({ length: 6 }, () => server.gql(`mutation { createUser(input: { email: "race@example.com", role: STANDARD }) { id } }`)));
    const created = results.filter((r) => r.errors === undefined);
    assert.equal(created.length, 1, JSON.stringify(results));
    for (const r of results.filter((r) => r.errors !== undefined)) expectError(r, "CONFLICT", /^input\.email: a user with email 'race@example\.com' already exists$/);
    assert.equal((await server.ok(`{ users { email } }`)).users.filter((u: { email: string }) => u.email === "race@example.com").length, 1);
  });

  test("only an ADMIN lists and creates users", async () => {
    const e = await server.user("emp@example.com", "EMPLOYEE");
    expectError(await server.gql(`{ users { email } }`, {}, e.key), "FORBIDDEN", /query\.users requires the ADMIN role; your role is EMPLOYEE/);
    expectError(await server.gql(`mutation { createUser(input: { email: "x@example.com", role: ADMIN }) { id } }`, {}, e.key), "FORBIDDEN");
  });

  test("keys of an unknown user: NOT_FOUND", async () => {
    expectError(await server.gql(`mutation { createApiKey(user: "00000000-0000-0000-0000-000000000000") { secret } }`), "NOT_FOUND", /user '00000000-0000-0000-0000-000000000000' does not exist/);
  });

  test("the bootstrap admin key keeps working", async () => {
    assert.equal((await server.ok(`{ me { role } }`, {}, ADMIN_KEY)).me.role, "ADMIN");
  });
});
