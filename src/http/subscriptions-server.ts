import type http from "node:http";
import { execute, getOperationAST, GraphQLError, parse, specifiedRules, validate, type DocumentNode, type ExecutionArgs, type GraphQLFormattedError, type GraphQLSchema, type Source } from "graphql";
import { CloseCode } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { AgentContext } from "../agent/agent-schema.js";
import { DomainError } from "../domain/errors.js";
import type { Agent } from "../entities/agent.entity.js";
import { createRequestContext, type RequestContext } from "../schema/context.js";
import { subscribeWithFastPath } from "./execution-log-fast-path.js";
import { queryLimits } from "../schema/limits.js";
import { costRefusal, oversizedAnswer } from "../schema/query-cost.js";
import type { AuthRateLimit } from "./auth-rate-limit.js";
import { documentDepth, jsonDepth, jsonTooDeepMessage, MAX_DOCUMENT_TOKENS, MAX_JSON_DEPTH } from "./json-depth.js";
import type { Services } from "../services/services.js";
import type { GraphqlObserver } from "../operations/graphql-observer.js";

/** Parsed and validated agent documents kept (an agent sends about six distinct ones). */
const MAX_AGENT_DOCUMENTS = 64;

/** The API key from connection_init's payload: `{ "authorization": "Bearer <key>" }` (or `apiKey`). */
function authorizationFrom(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (!params) return undefined;
  const header = params.authorization ?? params.Authorization;
  if (typeof header === "string") return header;
  if (typeof params.apiKey === "string") return `Bearer ${params.apiKey}`;
  return undefined;
}

/** The operation type of a document that was refused (for the request counter). */
function operationTypeOf(query: string): "query" | "mutation" | "subscription" | "unknown" {
  try {
    return getOperationAST(parse(query))?.operation ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** An agent's credential from connection_init's payload: `{ "agentCredential": "hka_..." }`. */
function agentCredentialFrom(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  return typeof params?.agentCredential === "string" ? params.agentCredential : undefined;
}

export interface SubscriptionsServer {
  dispose(): Promise<void>;
}

/**
 * graphql-ws on the same HTTP server and path as queries. The key is checked when the socket
 * connects (a bad one closes it with 4401 and the reason) and again for every subscription, so a
 * key revoked while a socket is open stops getting new subscriptions at once.
 */
export function attachSubscriptions(
  httpServer: http.Server,
  path: string,
  schema: GraphQLSchema,
  services: Services,
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError,
  maxPayload: number,
  authLimit: AuthRateLimit,
  /** Counts operations and logs refusals, as the Apollo plugin does over HTTP. */
  observer?: GraphqlObserver,
  /** What a socket authenticated as an agent executes against: the agent's operations only. */
  agentSchema?: GraphQLSchema,
): SubscriptionsServer {
  const refuseCost = (args: ExecutionArgs) => {
    // The agent schema's operations answer scalars and ids, their input bounded by the batch and
    // message limits: no cost to weigh (and its variables would be coerced twice).
    if (agentSchema && args.schema === agentSchema) return null;
    const refusal = costRefusal(args.schema, args.document, args.variableValues ?? undefined, args.operationName);
    return refusal ? { errors: [refusal] } : null;
  };
  // The same mapping as for HTTP: domain codes, validation messages, no internals.
  const format = (e: GraphQLError) => {
    // A stream that throws mid-way hands graphql-ws a plain error: wrap it so it is formatted alike.
    if (!(e instanceof GraphQLError)) e = new GraphQLError((e as Error).message ?? String(e), { originalError: e as Error });
    const f = formatError(e.toJSON(), e);
    return new GraphQLError(f.message, { extensions: f.extensions, path: f.path });
  };
  const agentDocuments = new Map<string, DocumentNode>();
  // Documents parsed (with the token limit) in onSubscribe, so a syntax error or an oversized
  // document is answered as an error: graphql-ws closes the whole socket (4500) when its own parse
  // throws. Its parse then takes the document from here instead of parsing it again.
  const parsedDocuments = new Map<string, DocumentNode>();
  const parseOnce = (source: string | Source): DocumentNode => {
    const document = typeof source === "string" ? parsedDocuments.get(source) : undefined;
    if (document === undefined) return parse(source, { maxTokens: MAX_DOCUMENT_TOKENS });
    parsedDocuments.delete(source as string);
    return document;
  };
  // An agent's socket: every operation is checked again (a revoked agent is refused) and runs
  // against the agent schema, where no other operation exists.
  const agentExecutionArgs = async (
    params: Readonly<Record<string, unknown>> | undefined,
    payload: { query: string; variables?: Record<string, unknown> | null; operationName?: string | null },
    closeSocket: AgentContext["closeSocket"],
  ) => {
    let agent: Agent;
    try {
      // From the cache, which every revoke clears (here, through the broker, or the store's change signal).
      agent = await services.agentEnrolment.authenticate(agentCredentialFrom(params) ?? "");
    } catch (err) {
      if (err instanceof DomainError) return [format(new GraphQLError(err.message, { originalError: err }))];
      throw err;
    }
    // An agent sends the same few documents over and over: each is parsed and validated once
    // (the cost limit remembers its answer per document object, too).
    let document = agentDocuments.get(payload.query);
    if (!document) {
      try {
        document = parse(payload.query, { maxTokens: MAX_DOCUMENT_TOKENS });
      } catch (err) {
        return [new GraphQLError((err as Error).message, { extensions: { code: "GRAPHQL_PARSE_FAILED" } })];
      }
      // The codes Apollo gives these over HTTP: an operation outside the agent schema is refused here.
      const errors = validate(agentSchema!, document, [...specifiedRules, queryLimits()]);
      if (errors.length > 0) return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }));
      if (agentDocuments.size >= MAX_AGENT_DOCUMENTS) agentDocuments.clear();
      agentDocuments.set(payload.query, document);
    }
    const contextValue: AgentContext = { agent, services, closeSocket };
    return { schema: agentSchema!, document, variableValues: payload.variables ?? undefined, operationName: payload.operationName ?? undefined, contextValue };
  };
  const wsServer = new WebSocketServer({ server: httpServer, path, maxPayload });
  const cleanup = useServer<Record<string, unknown>, { context?: RequestContext; agent?: Agent }>(
    {
      schema,
      // The same token limit as Apollo's parser over HTTP.
      parse: parseOnce,
      // The same depth and cost limits as over HTTP.
      validate: (schema, document) => validate(schema, document, [...specifiedRules, queryLimits()]),
      // The same cost limit as over HTTP (it needs the variables, so it is checked here). A
      // subscription's events are each bounded by it; a query's answer also by the size cap.
      execute: async (args) => {
        const refused = refuseCost(args);
        if (refused) return refused;
        const result = await execute(args);
        return oversizedAnswer(result) ?? result;
      },
      // executionLog's batches of lines skip graphql-js's per-field work (see the module).
      subscribe: (args) => refuseCost(args) ?? subscribeWithFastPath(args),
      onConnect: async (ctx) => {
        const authorization = authorizationFrom(ctx.connectionParams);
        try {
          const agentCredential = agentCredentialFrom(ctx.connectionParams);
          if (agentCredential !== undefined && agentSchema) {
            ctx.extra.agent = await services.agentEnrolment.authenticate(agentCredential, { fresh: true });
            return true;
          }
          ctx.extra.context = await createRequestContext(services, authorization);
          return true;
        } catch (err) {
          if (err instanceof DomainError && err.code === "UNAUTHENTICATED") {
            const sent = authorization !== undefined || agentCredentialFrom(ctx.connectionParams) !== undefined;
            const over = sent ? await authLimit.failed(authLimit.addressOf(ctx.extra.request)) : null;
            if (over) {
              // 4429 (Too Many Requests, in the 4xxx range graphql-ws leaves to applications).
              ctx.extra.socket.close(4429, over.message.slice(0, 120));
              return false;
            }
            // 4401 Unauthorized with hookd's own message (a close reason holds at most 123 bytes).
            observer?.operation("unknown", "unauthenticated");
            observer?.refused("UNAUTHENTICATED", { transport: "websocket", reason: err.message });
            ctx.extra.socket.close(CloseCode.Unauthorized, err.message.slice(0, 120));
            return false;
          }
          throw err;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        if (jsonDepth(payload.variables) > MAX_JSON_DEPTH) return [format(new GraphQLError(jsonTooDeepMessage("variables"), { extensions: { code: "BAD_REQUEST" } }))];
        if (jsonDepth(payload.extensions) > MAX_JSON_DEPTH) return [format(new GraphQLError(jsonTooDeepMessage("extensions"), { extensions: { code: "BAD_REQUEST" } }))];
        if (documentDepth(payload.query) > MAX_JSON_DEPTH) return [format(new GraphQLError(jsonTooDeepMessage("the query document"), { extensions: { code: "BAD_REQUEST" } }))];
        if (ctx.extra.agent && agentSchema) return agentExecutionArgs(ctx.connectionParams, payload, (code, reason) => ctx.extra.socket.close(code, reason));
        try {
          ctx.extra.context = await createRequestContext(services, authorizationFrom(ctx.connectionParams));
        } catch (err) {
          if (err instanceof DomainError) return [format(new GraphQLError(err.message, { originalError: err }))];
          throw err;
        }
        try {
          parsedDocuments.set(payload.query, parse(payload.query, { maxTokens: MAX_DOCUMENT_TOKENS }));
        } catch (err) {
          return [format(new GraphQLError((err as Error).message, { extensions: { code: "GRAPHQL_PARSE_FAILED" } }))];
        }
      },
      context: (ctx) => ctx.extra.context!,
      // Every operation sent over the socket is counted once: refused before it ran (onError), or
      // once it ran (onOperation: a subscription that started, or a query's result).
      onOperation: (_ctx, _id, _payload, args, result) => {
        const type = getOperationAST(args.document, args.operationName)?.operation ?? "unknown";
        // graphql-ws hands over the awaited result: a stream (a started subscription) or one result.
        const settled = result as Awaited<typeof result>;
        const failed = !(Symbol.asyncIterator in settled) && (settled.errors?.length ?? 0) > 0;
        observer?.operation(type, failed ? "error" : "success");
      },
      onError: (ctx, _id, payload, errors) => {
        observer?.operation(operationTypeOf(payload.query), "error");
        observer?.errors(errors, { transport: "websocket", operation: payload.operationName ?? undefined, user: ctx.extra.context?.principal.user.email });
        return errors.map(format);
      },
      onNext: (_ctx, _id, _payload, _args, result) => ("errors" in result && result.errors ? { ...result, errors: result.errors.map(format) } : undefined),
    },
    wsServer,
  );
  return {
    async dispose() {
      await cleanup.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
