import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export interface Subscription<T = any> {
  events: T[];
  /** Resolves when the subscription completes, or with the error / close that ended it. */
  ended: Promise<{ completed: boolean; errors?: { message: string; extensions?: { code?: string } }[]; close?: { code: number; reason: string } }>;
  client: Client;
  dispose(): Promise<void>;
}

/** A real graphql-ws client over the `ws` package (Node 20 has no global WebSocket). */
export function subscribe<T = any>(httpUrl: string, key: string | null, query: string, variables: Record<string, unknown> = {}, onEvent?: (event: T) => void): Subscription<T> {
  const client = createClient({
    url: httpUrl.replace(/^http/, "ws") + "/graphql",
    webSocketImpl: WebSocket,
    connectionParams: key === null ? {} : { authorization: `Bearer ${key}` },
    retryAttempts: 0,
    lazy: true,
  });
  const events: T[] = [];
  const ended = new Promise<Awaited<Subscription["ended"]>>((resolve) => {
    client.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) {
            resolve({ completed: false, errors: result.errors as never });
            return;
          }
          events.push(result.data as T);
          onEvent?.(result.data as T);
        },
        error: (err: unknown) => {
          if (Array.isArray(err)) resolve({ completed: false, errors: err });
          else if (err && typeof err === "object" && "code" in err && "reason" in err)
            resolve({ completed: false, close: { code: (err as { code: number }).code, reason: String((err as { reason: unknown }).reason) } });
          else resolve({ completed: false, errors: [{ message: String(err) }] });
        },
        complete: () => resolve({ completed: true }),
      },
    );
  });
  return { events, ended, client, dispose: () => client.dispose() as Promise<void> };
}
