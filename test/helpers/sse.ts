/** What an SSE subscription ended with: completed, GraphQL errors in the stream, or a refusal before it opened. */
export interface SseEnd {
  status: number;
  completed: boolean;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export interface SseSubscription<T = any> {
  events: T[];
  ended: Promise<SseEnd>;
  abort(): void;
}

/** A subscription over server-sent events (graphql-sse's distinct connections mode), read with fetch as curl -N would. */
export function sseSubscribe<T = any>(httpUrl: string, key: string | null, query: string, variables: Record<string, unknown> = {}): SseSubscription<T> {
  const controller = new AbortController();
  const events: T[] = [];
  const ended = (async (): Promise<SseEnd> => {
    const res = await fetch(`${httpUrl}/graphql/stream`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
    if (!res.headers.get("content-type")?.startsWith("text/event-stream")) {
      const body = (await res.json()) as { errors?: SseEnd["errors"] };
      return { status: res.status, completed: false, errors: body.errors };
    }
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === "complete") return { status: res.status, completed: true };
          if (event !== "next" || data === undefined) continue;
          const result = JSON.parse(data) as { data?: T; errors?: SseEnd["errors"] };
          if (result.errors) return { status: res.status, completed: false, errors: result.errors };
          events.push(result.data as T);
        }
      }
    } catch (err) {
      if ((err as Error).name !== "AbortError") throw err;
    }
    return { status: res.status, completed: false };
  })();
  return { events, ended, abort: () => controller.abort() };
}
