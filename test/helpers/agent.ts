import assert from "node:assert/strict";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { TestServer } from "./server.js";

export interface AgentSocket {
  client: Client;
  run<T = any>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }>;
}

/** A raw agent connection (no agent process), to drive the agent protocol step by step. */
export function agentSocket(url: string, credential: string): AgentSocket {
  const client = createClient({ url: url.replace(/^http/, "ws") + "/graphql", webSocketImpl: WebSocket, connectionParams: { agentCredential: credential }, retryAttempts: 0 });
  return {
    client,
    run: (query, variables = {}) =>
      new Promise((resolve) => {
        let result: any = {};
        client.subscribe(
          { query, variables },
          { next: (r) => (result = r), error: (e) => resolve({ errors: Array.isArray(e) ? e : [{ message: String((e as any)?.reason ?? e) }] }), complete: () => resolve(result) },
        );
      }),
  };
}

/** A SERVER agent enrolled through the real route, with no agent process behind it. */
export async function enrolAgent(server: TestServer, name: string, hostname = name): Promise<{ credential: string; executionServerId: string; agentId: string }> {
  const { token } = (await server.ok(`mutation($n: String!) { createAgentToken(input: { kind: SERVER, name: $n }) { token } }`, { n: name })).createAgentToken;
  const res = await fetch(`${server.url}/agent/enrol`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, hostname, os: "linux" }) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as any;
}
