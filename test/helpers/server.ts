import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { createApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger, type Logger } from "../../src/logger.js";
import { dropTestDatabase, ensureTestDatabase } from "./test-database.js";

export const ADMIN_KEY = "hkd_test_admin_key_0123456789abcdef";

export interface GqlResult<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

export interface TestServer {
  url: string;
  app: App;
  dataDir: string;
  gql<T = any>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GqlResult<T>>;
  /** Runs a query that must succeed and returns its data. */
  ok<T = any>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<T>;
  /** Creates a user with a key; returns both. */
  user(email: string, role: "ADMIN" | "EMPLOYEE" | "STANDARD"): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

/**
 * Starts a real hookd on a free port with a known admin key, on a temp SQLite file, or on a
 * PostgreSQL database of the data directory's own under HOOKD_TEST_DB=postgres (test-database.ts).
 */
export async function startServer(env: Record<string, string> = {}, options: { dataDir?: string; hostname?: string; logger?: Logger } = {}): Promise<TestServer> {
  // A given dataDir belongs to the caller (restart tests) and is left in place on close.
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), "hookd-test-"));
  // Tests send wrong and revoked keys on purpose, all from loopback: not a brute force.
  const database = await ensureTestDatabase(dataDir);
  const config = loadConfig({ HOOKD_DATA_DIR: dataDir, PORT: "0", HOOKD_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, HOOKD_AUTH_FAILURES: "1000000", ...database, ...env });
  const app = await createApp(config, { logger: options.logger ?? silentLogger, hostname: options.hostname ?? "hookd-test-host" });
  const url = await app.listen();
  const gql = async (query: string, variables: Record<string, unknown> = {}, key: string | null = ADMIN_KEY) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const res = await fetch(`${url}/graphql`, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    return { status: res.status, ...((await res.json()) as object) } as GqlResult;
  };
  const ok = async (query: string, variables: Record<string, unknown> = {}, key: string | null = ADMIN_KEY) => {
    const res = await gql(query, variables, key);
    assert.equal(res.errors, undefined, `expected no errors, got ${JSON.stringify(res.errors)}`);
    return res.data;
  };
  return {
    url,
    app,
    dataDir,
    gql,
    ok,
    async user(email, role) {
      const data = await ok(`mutation($email: String!, $role: UserRole!) { createUser(input: {email: $email, role: $role}) { id } }`, { email, role });
      const id = data.createUser.id as string;
      const keyData = await ok(`mutation($id: ID!) { createApiKey(user: $id) { secret } }`, { id });
      return { id, key: keyData.createApiKey.secret as string };
    },
    async close() {
      await app.close();
      if (!options.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
        await dropTestDatabase(dataDir);
      }
    },
  };
}

/** Asserts a GraphQL error with this code whose message matches. */
export function expectError(result: GqlResult, code: string, message?: RegExp): void {
  assert.ok(result.errors && result.errors.length > 0, `expected a ${code} error, got data ${JSON.stringify(result.data)}`);
  const error = result.errors[0];
  assert.equal(error.extensions?.code, code, `expected code ${code}, got ${error.extensions?.code}: ${error.message}`);
  if (message) assert.match(error.message, message);
}

/** Polls `check` until it returns a truthy value (for states reached asynchronously). */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
