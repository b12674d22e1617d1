import type { IncomingMessage, ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLResponse } from "@apollo/server";

/** A Connect-style body parser (Express's `express.json()`): sets `req.body` or calls back with the error. */
export type BodyParser = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export interface GraphqlPostRouteOptions<TContext extends BaseContext> {
  apollo: ApolloServer<TContext>;
  /** The same parser the Express route uses, so limits, charsets and parse errors behave the same. */
  parseJson: BodyParser;
  context: (req: IncomingMessage) => Promise<TContext>;
  /** Answers a request that failed before Apollo took it (bad JSON, too large, an unexpected error). */
  onError: (err: unknown, res: ServerResponse) => void;
  /** Headers every answer on the route carries, errors included (the Express route sets the same first). */
  headers: Record<string, string>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The HTTP server's request handler: exactly `POST <path>` (no query string) goes to the direct
 * route once it is set (Apollo starts after the server is made), everything else to `fallback`
 * (Express).
 */
export function httpDispatcher(path: string, fallback: Handler): { handle: Handler; setDirect(direct: Handler): void } {
  let direct: Handler | null = null;
  return {
    handle: (req, res) => (direct && req.method === "POST" && req.url === path ? direct(req, res) : fallback(req, res)),
    setDirect: (handler) => {
      direct = handler;
    },
  };
}

/**
 * `POST /graphql` straight from Node's HTTP server to Apollo, without Express. Every API call and
 * every triggerHook comes this way, and Express's part in it (its router, the properties it adds to
 * every request and response, `res.send`) is a large part of a request's CPU (BENCHMARKS.md). Everything else
 * (GET queries and the IDE, other paths, `POST /graphql?...`) still goes through Express, whose
 * /graphql route answers exactly as this one does (test/server.e2e.test.ts checks both).
 */
export function graphqlPostRoute<TContext extends BaseContext>(options: GraphqlPostRouteOptions<TContext>) {
  const { apollo, parseJson, context, onError, headers } = options;
  return (req: IncomingMessage & { body?: unknown }, res: ServerResponse): void => {
    for (const name in headers) res.setHeader(name, headers[name]);
    parseJson(req, res, (parseError) => {
      if (parseError) return onError(parseError, res);
      const requestHeaders = new HeaderMap();
      for (const name in req.headers) {
        const value = req.headers[name];
        if (value !== undefined) requestHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
      apollo
        .executeHTTPGraphQLRequest({
          httpGraphQLRequest: { method: "POST", headers: requestHeaders, search: "", body: req.body },
          context: () => context(req),
        })
        .then((answer) => send(answer, res))
        .catch((err: unknown) => (res.headersSent ? res.destroy() : onError(err, res)));
    });
  };
}

async function send(answer: HTTPGraphQLResponse, res: ServerResponse): Promise<void> {
  for (const [name, value] of answer.headers) res.setHeader(name, value);
  res.statusCode = answer.status ?? 200;
  // One string: Node sets Content-Length itself.
  if (answer.body.kind === "complete") return void res.end(answer.body.string);
  for await (const chunk of answer.body.asyncIterator) res.write(chunk);
  res.end();
}
