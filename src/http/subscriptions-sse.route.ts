import type { IncomingMessage, ServerResponse } from "node:http";
import { getOperationAST, GraphQLError, parse, specifiedRules, validate, type ExecutionArgs, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from "graphql";
import { createHandler, type Response as SseResponse } from "graphql-sse";
import { DomainError } from "../domain/errors.js";
import type { GraphqlObserver } from "../operations/graphql-observer.js";
import { queryLimits } from "../schema/limits.js";
import { costRefusal } from "../schema/query-cost.js";
import { createRequestContext, type RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";
import type { AuthRateLimit } from "./auth-rate-limit.js";
import { subscribeWithFastPath } from "./execution-log-fast-path.js";
import type { BodyParser } from "./graphql-post.route.js";
import { documentDepth, jsonDepth, jsonTooDeepMessage, MAX_DOCUMENT_TOKENS, MAX_JSON_DEPTH, searchParamsRefusal } from "./json-depth.js";

export interface SseSubscriptionsOptions {
  /** Where the route is mounted (named in its error messages). */
  path: string;
  /** Where queries and mutations go instead (named in its error messages). */
  graphqlPath: string;
  schema: GraphQLSchema;
  services: Services;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** The same body parser (size and depth limits) as POST /graphql. */
  parseJson: BodyParser;
  authLimit: AuthRateLimit;
  observer?: GraphqlObserver;
  /** Answers a request that failed outside graphql-sse (bad JSON, too large, an unexpected error). */
  onError: (err: unknown, res: ServerResponse) => void;
}

export interface SseSubscriptions {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Ends every open stream (their subscriptions complete), so the HTTP server can drain. */
  dispose(): Promise<void>;
}

/** Per response: the stream's writes in flight, so a subscription reads its next event only once the last one left. */
class WriteGate {
  private writing = 0;
  private closed = false;
  private waiters: (() => void)[] = [];

  begin(): void {
    this.writing++;
  }

  end(): void {
    if (--this.writing <= 0) this.release();
  }

  close(): void {
    this.closed = true;
    this.release();
  }

  /** Resolves once graphql-sse's queue has been handed to the response and written out. */
  async idle(): Promise<void> {
    // graphql-sse queues the event and its writer picks it up in later microtasks: let it start the write first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.writing > 0 && !this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

interface SseRequestContext {
  context?: RequestContext;
  gate: WriteGate;
}

const json = (status: number, statusText: string, errors: GraphQLFormattedError[], headers: Record<string, string> = {}): SseResponse => [
  JSON.stringify({ errors }),
  { status, statusText, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers } },
];

const isAsyncIterable = (value: unknown): value is AsyncIterable<ExecutionResult> => value !== null && typeof value === "object" && Symbol.asyncIterator in value;

/**
 * Subscriptions as server-sent events (the GraphQL over SSE protocol, graphql-sse's "distinct
 * connections" mode: one GET or POST per subscription, its events the response). For clients
 * without a WebSocket library: Python's urllib, `curl -N`. The same schema, `Authorization: Bearer`
 * header, access checks (in the resolvers) and limits as graphql-ws (subscriptions-server.ts).
 */
export function sseSubscriptionsRoute(options: SseSubscriptionsOptions): SseSubscriptions {
  const { path, graphqlPath, schema, services, formatError, parseJson, authLimit, observer, onError } = options;
  const format = (e: unknown): GraphQLFormattedError => {
    const error = e instanceof GraphQLError ? e : new GraphQLError((e as Error)?.message ?? String(e), { originalError: e as Error });
    return formatError(error.toJSON(), error);
  };
  const formatResult = (result: ExecutionResult): ExecutionResult | undefined =>
    result.errors ? ({ ...result, errors: result.errors.map((e) => format(e)) } as unknown as ExecutionResult) : undefined;
  const badRequest = (message: string, code = "BAD_REQUEST") => json(400, "Bad Request", [{ message, extensions: { code } }]);
  // The gate of the response an operation writes to, found from its context (made per request).
  const gates = new WeakMap<object, WriteGate>();

  // graphql-sse types the context as a record: hookd's RequestContext is one.
  type Context = RequestContext & Record<PropertyKey, unknown>;
  const handler = createHandler<IncomingMessage, SseRequestContext, Context>({
    schema,
    // The same depth and cost limits as over HTTP and WebSocket.
    validate: (schema, document) =>
      // With the code Apollo gives them over HTTP (without one they would read as internal errors).
      validate(schema, document, [...specifiedRules, queryLimits()]).map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: "GRAPHQL_VALIDATION_FAILED", ...e.extensions } })),
    // A stream that shows each event only once the previous one was written: a reader that stalls holds
    // the subscription's own bounded buffer (caught up from the store), never a queue here.
    subscribe: async (args) => {
      const refusal = costRefusal(args.schema, args.document, args.variableValues ?? undefined, args.operationName);
      if (refusal) return { errors: [refusal] };
      const result = await subscribeWithFastPath(args as ExecutionArgs);
      const gate = gates.get(args.contextValue);
      if (!isAsyncIterable(result) || !gate) return result;
      const source = result[Symbol.asyncIterator]();
      const gated: AsyncGenerator<ExecutionResult> = {
        async next() {
          await gate.idle();
          return source.next();
        },
        async return() {
          await source.return?.(undefined);
          return { done: true, value: undefined };
        },
        async throw(err) {
          await source.return?.(undefined);
          throw err;
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      return gated;
    },
    // Distinct connections only (no token: graphql-sse's single-connection mode would keep
    // operations between requests). The API key is checked here, before the stream opens.
    authenticate: async (req) => {
      if (req.headers.get("accept") !== "text/event-stream") {
        return json(406, "Not Acceptable", [
          { message: `${path} streams subscriptions as server-sent events: send 'Accept: text/event-stream' (queries and mutations go to POST ${graphqlPath})`, extensions: { code: "BAD_REQUEST" } },
        ]);
      }
      const authorization = req.raw.headers.authorization;
      try {
        req.context.context = await createRequestContext(services, authorization);
        return null;
      } catch (err) {
        if (!(err instanceof DomainError) || err.code !== "UNAUTHENTICATED") throw err;
        // As over HTTP: a wrong key counts towards the address's limit, a missing one does not.
        const over = authorization !== undefined ? await authLimit.failed(authLimit.addressOf(req.raw)) : null;
        if (over)
          return json(429, "Too Many Requests", [{ message: over.message, extensions: { code: "TOO_MANY_REQUESTS", retryAfter: over.retryAfterSeconds } }], {
            "retry-after": String(over.retryAfterSeconds),
          });
        observer?.operation("unknown", "unauthenticated");
        observer?.refused("UNAUTHENTICATED", { transport: "sse", reason: err.message });
        return json(401, "Unauthorized", [{ message: err.message, extensions: { code: "UNAUTHENTICATED" } }]);
      }
    },
    onSubscribe: (req, params) => {
      if (jsonDepth(params.variables) > MAX_JSON_DEPTH) return badRequest(jsonTooDeepMessage("variables"));
      if (jsonDepth(params.extensions) > MAX_JSON_DEPTH) return badRequest(jsonTooDeepMessage("extensions"));
      if (documentDepth(params.query) > MAX_JSON_DEPTH) return badRequest(jsonTooDeepMessage("the query document"));
      let document: ReturnType<typeof parse>;
      try {
        // The same token limit as Apollo's parser over HTTP.
        document = parse(params.query, { maxTokens: MAX_DOCUMENT_TOKENS });
      } catch (err) {
        return badRequest((err as Error).message, "GRAPHQL_PARSE_FAILED");
      }
      const operation = getOperationAST(document, params.operationName)?.operation;
      if (operation !== "subscription") {
        observer?.operation(operation ?? "unknown", "error");
        return badRequest(`${path} carries subscriptions only (got ${operation ? `a ${operation}` : "no single operation"}): send queries and mutations to POST ${graphqlPath}`);
      }
      const contextValue = req.context.context!;
      gates.set(contextValue, req.context.gate);
      return { schema, document, variableValues: params.variables ?? undefined, operationName: params.operationName ?? undefined, contextValue: contextValue as Context };
    },
    onOperation: (ctx, _req, _args, result) => {
      const settled = result as AsyncIterable<ExecutionResult> | ExecutionResult;
      const errors = isAsyncIterable(settled) ? [] : (settled.errors ?? []);
      observer?.operation("subscription", errors.length > 0 ? "error" : "success");
      if (errors.length > 0) observer?.errors(errors as GraphQLError[], { transport: "sse", user: ctx.principal.user.email });
    },
    onNext: (_ctx, _req, result) => formatResult(result as ExecutionResult),
  });

  const open = new Set<() => Promise<unknown>>();
  const stream = async (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => {
    const gate = new WriteGate();
    const [body, init] = await handler({
      method: req.method ?? "GET",
      url: req.url ?? path,
      headers: { get: (key) => (Array.isArray(req.headers[key]) ? (req.headers[key] as string[]).join("\n") : (req.headers[key] as string | undefined)) },
      body: (req.body as Record<string, unknown> | undefined) ?? null,
      raw: req,
      context: { gate },
    });
    // A proxy (nginx) would otherwise hold events back to fill its buffer.
    res.writeHead(init.status, init.statusText, { ...init.headers, "x-accel-buffering": "no" });
    if (!body || typeof body === "string") return void res.end(body ?? undefined);
    const end = () => {
      gate.close();
      return body.return(undefined);
    };
    res.once("close", end);
    open.add(end);
    try {
      for await (const chunk of body) {
        if (!res.writable) break;
        gate.begin();
        // Waits for the write to reach the socket: a stalled reader stops the stream, not the server's memory.
        const failed = await new Promise<boolean>((resolve) => res.write(chunk, (err) => resolve(Boolean(err))));
        gate.end();
        if (failed) break;
      }
    } finally {
      open.delete(end);
      res.off("close", end);
      gate.close();
      res.end();
    }
  };

  return {
    handle(req, res) {
      const run = (req: IncomingMessage) =>
        stream(req, res).catch((err: unknown) => {
          if (res.headersSent) return void res.destroy();
          onError(err, res);
        });
      if (req.method === "POST") {
        return parseJson(req, res, (err) => {
          if (err) return onError(err, res);
          const body = (req as { body?: { query?: unknown } }).body;
          // The same nesting limits as POST /graphql.
          if (jsonDepth(body) > MAX_JSON_DEPTH) return onError({ status: 400, type: "entity.too.deep", message: jsonTooDeepMessage("the request body") }, res);
          void run(req);
        });
      }
      const search = req.url?.includes("?") ? req.url.slice(req.url.indexOf("?") + 1) : "";
      const refusal = searchParamsRefusal(new URLSearchParams(search));
      if (refusal) return onError({ status: 400, type: "entity.too.deep", message: refusal }, res);
      void run(req);
    },
    async dispose() {
      await Promise.all([...open].map((end) => end()));
    },
  };
}
