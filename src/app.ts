import "reflect-metadata";
import { FIRST_START_LOCK } from "./store/store.js";
import { randomUUID } from "node:crypto";
import http from "node:http";
import os from "node:os";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import express from "express";
import { HeaderMap } from "@apollo/server";
import { GraphQLError, type GraphQLSchema } from "graphql";
import type { DataSource } from "typeorm";
import { ConfigError, redactPassword, type HookdConfig } from "./config.js";
import { DomainError } from "./domain/errors.js";
import { currentOs } from "./domain/os.js";
import type { ExecutionServer } from "./entities/execution-server.entity.js";
import { WorkspaceSettings } from "./entities/workspace-settings.entity.js";
import { graphqlPostRoute, httpDispatcher } from "./http/graphql-post.route.js";
import { AGENT_ENROL_PATH, agentEnrolRoute } from "./agent/agent-enrol.route.js";
import { buildAgentSchema } from "./agent/agent-schema.js";
import { graphqlIdeRouter } from "./http/graphql-ide.js";
import { dashboardRouter } from "./http/dashboard.js";
import { AuthRateLimit, type TooManyFailures } from "./http/auth-rate-limit.js";
import { documentDepth, jsonDepth, jsonTooDeepMessage, MAX_DOCUMENT_TOKENS, MAX_JSON_DEPTH, searchParamsRefusal } from "./http/json-depth.js";
import { attachSubscriptions } from "./http/subscriptions-server.js";
import { type SseSubscriptions, sseSubscriptionsRoute } from "./http/subscriptions-sse.route.js";
import { createLogger, type Logger } from "./logger.js";
import { createOperations, type Operations } from "./operations/operations.js";
import { buildHookdSchema } from "./schema/build-schema.js";
import { createRequestContext, type RequestContext } from "./schema/context.js";
import { createErrorFormatter } from "./schema/error-formatter.js";
import { queryLimits } from "./schema/limits.js";
import { CostLimit, stringifyCapped } from "./schema/query-cost.js";
import { createServices, type Services } from "./services/services.js";
import { EmbeddedRunner } from "./executor/embedded-runner.js";
import { ExecutionRecovery } from "./executor/execution-recovery.js";
import { LocalHookRunner, removeLeftovers } from "./executor/local-hook-runner.js";
import { startSpawner } from "./executor/spawner-factory.js";
import type { CreatedApiKey } from "./services/user.service.js";
import { createPubSub } from "./pubsub/pubsub-factory.js";
import { RedisPubSub } from "./pubsub/redis-pubsub.js";
import { InstanceRegistry, pubsubOf, refusal } from "./services/instance-registry.service.js";
import { openStore } from "./store/create-store.js";

export { openStore } from "./store/create-store.js";

export const GRAPHQL_PATH = "/graphql";
/** Subscriptions as server-sent events (graphql-sse), for clients without WebSockets: curl -N, Python's urllib. */
export const GRAPHQL_STREAM_PATH = "/graphql/stream";
/** Largest request body accepted; a GraphQL document with its variables is far smaller. */
export const MAX_BODY = "1mb";
const MAX_BODY_BYTES = 1024 * 1024;

export interface BootstrapResult {
  /**
   * Set on the first start only, once listen() succeeded: the first ADMIN and its key (print it
   * once). Created only then, so a start that fails (a port taken) leaves no admin whose key
   * nobody saw, and the next start creates and prints it.
   */
  admin: (CreatedApiKey & { email: string; generated: boolean }) | null;
  self: ExecutionServer;
}

export interface App {
  readonly config: HookdConfig;
  readonly services: Services;
  readonly dataSource: DataSource;
  readonly schema: GraphQLSchema;
  readonly bootstrap: BootstrapResult;
  readonly operations: Operations;
  readonly logger: Logger;
  /** Starts listening; resolves to the base URL (http://host:port). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /** Hostname this hookd registers as its own execution server (default: os.hostname()). */
  hostname?: string;
}

/** First-start rows: settings, the default queue, this server (the first admin comes after listen). Idempotent. */
async function bootstrap(services: Services, hostname: string): Promise<BootstrapResult> {
  await services.store.transaction(async (em) => {
    await services.store.lockInTransaction(em, FIRST_START_LOCK);
    if (!(await em.existsBy(WorkspaceSettings, { id: WorkspaceSettings.ID }))) await em.save(new WorkspaceSettings());
  });
  await services.queues.ensureDefault();
  const self = await services.executionServers.registerSelf(hostname, currentOs());
  // After the rows above: version 1 is the configuration as it was before history began.
  await services.configuration.ensureBaseline();
  return { self, admin: null };
}

/** Says so at start-up when the workspace's hooks wait for another execution server that is offline. */
async function warnIfHooksRunElsewhere(services: Services, self: ExecutionServer, logger: Logger): Promise<void> {
  const settings = await services.settings.get();
  if (settings.defaultExecutionServerId === null || settings.defaultExecutionServerId === self.id) return;
  const server = await services.executionServers.find(settings.defaultExecutionServerId);
  if (server && !server.online) {
    logger.warn(
      `hooks run on the default execution server '${server.name}' (${server.hostname}), which is offline; they wait QUEUED until a runner for it connects. ` +
        `To run them on this hookd ('${self.name}'), set updateSettings(input: { defaultExecutionServer: "${self.id}" })`,
    );
  }
}

/** The composition root: everything hookd is, built from one config, with no module-level state. */
export async function createApp(config: HookdConfig, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  // First, so a spawner that cannot work stops start-up before anything is opened.
  const spawner = await startSpawner(config.executor.spawner, logger);
  logger.info("hook spawner ready", { spawner: spawner.kind, asked: config.executor.spawner });
  const store = await openStore(config, { serve: { logger } }).catch(async (err) => {
    await spawner.destroy();
    throw err;
  });
  logger.info("database open and migrated", { store: store.kind, database: store.kind === "sqlite" ? config.databasePath : redactPassword((config.database as { url: string }).url) });
  // Connected before anything else uses it: Redis that does not answer stops start-up here, naming its URL.
  const instanceId = randomUUID();
  const pubsub = createPubSub(config.pubsub, instanceId, logger);
  // The machine's own hostname (not the execution server's name): a pid means something only there.
  const registry = new InstanceRegistry(store, { id: instanceId, hostname: os.hostname(), pid: process.pid, pubsub: pubsubOf(config.pubsub) }, logger);
  try {
    await pubsub.init().catch((err: Error) => {
      throw new ConfigError([err.message]);
    });
    // Several instances on one database must share events the same way: else stop here, saying what
    // to set. SQLite is served by one process (its lock file refuses a second before this).
    const live = await registry.register();
    const why = store.kind === "postgres" ? refusal(registry.self, live) : null;
    if (why) {
      await registry.stop();
      throw new ConfigError([why]);
    }
  } catch (err) {
    await pubsub.destroy().catch(() => undefined);
    await store.destroy().catch(() => undefined);
    await spawner.destroy();
    throw err;
  }
  registry.start();
  logger.info(pubsub.distributed ? "live events through Redis" : "live events in this process", { prefix: pubsub.distributed ? config.pubsub.prefix : undefined, instance: instanceId });
  const services = createServices(store, { executor: config.executor, logger, pubsub, instanceId, secretKey: config.secretKey });
  const boot = await bootstrap(services, options.hostname ?? os.hostname());
  const operations = createOperations(services, config.operations, logger, boot.self.id);
  await services.executionQueue.init();
  const leftovers = removeLeftovers(config.executor.tempDir);
  if (leftovers > 0) logger.info("removed hook input files a stopped hookd left", { tempDir: config.executor.tempDir, directories: leftovers });
  // Remote agents take the work of their own servers through the same queue notices.
  await services.agentGateway.init();
  // This hookd runs the hooks of its own execution server, by the same lease path any runner takes.
  const hooks = new LocalHookRunner({
    spawner,
    tempDir: config.executor.tempDir,
    killGraceMs: config.executor.killGraceMs,
    keepTempFiles: config.executor.keepTempFiles,
    warn: (m) => logger.warn(m),
  });
  const runner = new EmbeddedRunner(boot.self, services.lifecycle, services.executionQueue, store, services.pubsub, hooks, logger, {
    concurrency: config.executor.concurrency,
    leaseMs: config.executor.leaseMs,
    killGraceMs: config.executor.killGraceMs,
    pollMs: 1000,
    logCapBytes: config.executor.logCapBytes,
    secrets: services.secrets,
    ...(pubsub.distributed ? { instanceId } : {}),
  });
  services.localRunners.add(runner);
  // First what this runner held before its restart (ended as interrupted), then what anyone's expired lease left.
  await runner.init();
  const recovery = new ExecutionRecovery(services.lifecycle, logger, Math.max(50, Math.min(1000, config.executor.leaseMs / 4)));
  await recovery.start();
  logger.info("execution queue ready", { queue: config.executor.queue, concurrency: config.executor.concurrency, tempDir: config.executor.tempDir });
  await warnIfHooksRunElsewhere(services, boot.self, logger);
  const schema = await buildHookdSchema(services);
  const agentSchema = await buildAgentSchema(services);

  const expressApp = express();
  expressApp.disable("x-powered-by");
  // Answers are live state and say "no-store"; an ETag would only cost a hash of every body.
  expressApp.set("etag", false);
  // POST /graphql goes straight to Apollo (graphql-post.route.ts); the rest through Express.
  const dispatcher = httpDispatcher(GRAPHQL_PATH, expressApp);
  const httpServer = http.createServer(dispatcher.handle);

  const formatError = createErrorFormatter({ development: config.development, log: (m, e) => logger.error(m, e) });
  // With Redis (several instances) the failure count is one for all of them, on the events connection.
  const redis = pubsub instanceof RedisPubSub && pubsub.commands ? { client: pubsub.commands, prefix: config.pubsub.prefix } : undefined;
  const authLimit = new AuthRateLimit({ ...config.authFailureLimit, logger, trustProxy: config.trustProxy, redis });
  const subscriptions = attachSubscriptions(httpServer, GRAPHQL_PATH, schema, services, formatError, MAX_BODY_BYTES, authLimit, operations.graphql, agentSchema);

  // Declared here for the drain plugin below; its body parser is made after Apollo starts.
  let sse: SseSubscriptions = { handle: () => undefined, dispose: async () => undefined };
  const costLimit = new CostLimit(schema);
  const apollo = new ApolloServer<RequestContext>({
    schema,
    csrfPrevention: true,
    validationRules: [queryLimits()],
    // The same parser limit as the WebSocket's (subscriptions-server.ts).
    parseOptions: { maxTokens: MAX_DOCUMENT_TOKENS },
    includeStacktraceInErrorResponses: config.development,
    formatError,
    // The answer-size cap (query-cost.ts); the operation's cost is checked by the plugin below.
    stringifyResult: stringifyCapped,
    // hookd's command line handles SIGINT/SIGTERM and calls close(). Apollo's own handlers would
    // call stop() first, and Apollo 5 never releases a second stop() waiting on the first, so
    // close() hung (and the process only ended because its event loop ran dry, skipping the
    // orderly shutdown below).
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      // Every answer is live state, never cacheable: "no-store" is set on the route below.
      // Apollo's default cache-control plugin would wrap every field resolver to work that out.
      ApolloServerPluginCacheControlDisabled(),
      operations.apolloPlugin,
      // Lists weighed by their page sizes, before anything runs (needs the variables: not a validation rule).
      {
        async requestDidStart() {
          return {
            async didResolveOperation({ request, document, operation }) {
              // Apollo would run it as a query and fail on the first non-null field: say where subscriptions go.
              if (operation?.operation === "subscription") {
                throw new GraphQLError(
                  `subscriptions run over a WebSocket (graphql-ws protocol) at ${GRAPHQL_PATH} or as server-sent events at ${GRAPHQL_STREAM_PATH}; POST ${GRAPHQL_PATH} carries queries and mutations`,
                  {
                    extensions: { code: "BAD_REQUEST", http: { status: 400 } },
                  },
                );
              }
              const refusal = costLimit.refusal(document, request.variables, request.operationName);
              if (refusal) throw new GraphQLError(refusal.message, { extensions: { ...refusal.extensions, http: { status: 400 } } });
            },
          };
        },
      },
      // Open WebSockets would keep the HTTP server from draining: close them first.
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await Promise.all([subscriptions.dispose(), sse.dispose()]);
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  // Shared by both routes to Apollo, so they answer alike. JSON nested deeper than any payload
  // needs is refused here, before anything walks it (json-depth.ts).
  const parseBody = express.json({ limit: MAX_BODY });
  const parseJson: typeof parseBody = (req, res, next) =>
    parseBody(req, res, (err?: unknown) => {
      if (err) return next(err);
      const body = (req as { body?: { query?: unknown } }).body;
      if (jsonDepth(body) > MAX_JSON_DEPTH) return next({ status: 400, type: "entity.too.deep", message: jsonTooDeepMessage("the request body") });
      if (typeof body?.query === "string" && documentDepth(body.query) > MAX_JSON_DEPTH) return next({ status: 400, type: "entity.too.deep", message: jsonTooDeepMessage("the query document") });
      next();
    });
  const tooMany = (err: TooManyFailures) =>
    new GraphQLError(err.message, {
      extensions: { code: "TOO_MANY_REQUESTS", retryAfter: err.retryAfterSeconds, http: { status: 429, headers: new HeaderMap([["retry-after", String(err.retryAfterSeconds)]]) } },
    });
  // GET /graphql carries the document and its variables in the query string: the same depth limits as a body.
  const checkSearch: express.RequestHandler = (req, _res, next) => {
    if (req.method !== "GET" || !req.url.includes("?")) return next();
    const refusal = searchParamsRefusal(new URLSearchParams(req.url.slice(req.url.indexOf("?") + 1)));
    if (refusal) return next({ status: 400, type: "entity.too.deep", message: refusal });
    next();
  };
  const graphqlContext = async (req: http.IncomingMessage): Promise<RequestContext> => {
    try {
      // The key is always checked: a valid one is never refused for other callers' failures.
      return await createRequestContext(services, req.headers.authorization);
    } catch (err) {
      if (err instanceof DomainError && err.code === "UNAUTHENTICATED") {
        // A key that was sent and is wrong counts towards the address's limit; a missing one does not.
        // Past the limit it gets 429 (without the reason it was refused) instead of 401.
        const over = req.headers.authorization !== undefined ? await authLimit.failed(authLimit.addressOf(req)) : null;
        if (over) throw tooMany(over);
        throw new GraphQLError(err.message, { extensions: { code: "UNAUTHENTICATED", http: { status: 401 } } });
      }
      throw err;
    }
  };
  // Answers are live state and never cacheable.
  const graphqlHeaders = { "cache-control": "no-store" };
  // Malformed JSON or an oversized body: a clear 4xx, never a crash or a stack trace.
  const sendHttpError = (error: unknown, res: http.ServerResponse) => {
    const err = (error ?? {}) as { status?: number; type?: string; message?: string };
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error("unhandled HTTP error", err);
    const message =
      err.type === "entity.too.large"
        ? `request body is larger than ${MAX_BODY}`
        : err.type === "entity.parse.failed"
          ? "request body is not valid JSON"
          : status === 500
            ? "internal server error"
            : (err.message ?? "bad request");
    res.statusCode = status;
    res.setHeader("content-type", "application/json; charset=utf-8");
    res.end(JSON.stringify({ errors: [{ message, extensions: { code: status === 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST" } }] }));
  };
  sse = sseSubscriptionsRoute({
    path: GRAPHQL_STREAM_PATH,
    graphqlPath: GRAPHQL_PATH,
    schema,
    services,
    formatError,
    parseJson,
    authLimit,
    observer: operations.graphql,
    onError: sendHttpError,
  });
  dispatcher.setDirect(graphqlPostRoute({ apollo, parseJson, context: graphqlContext, headers: graphqlHeaders, onError: sendHttpError }));

  expressApp.get("/healthz", async (_req, res) => {
    try {
      await store.dataSource.query("SELECT 1");
      res.json({ status: "ok" });
    } catch (err) {
      logger.error("health check: database unreachable", err);
      res.status(503).json({ status: "unavailable", reason: "database unreachable" });
    }
  });
  if (operations.metricsRoute) expressApp.get("/metrics", operations.metricsRoute);
  // Before the /graphql route, which would take /graphql/stream as a path under it.
  expressApp.all(GRAPHQL_STREAM_PATH, (req, res) => sse.handle(req, res));
  expressApp.post(AGENT_ENROL_PATH, parseJson, agentEnrolRoute(services, authLimit));
  expressApp.use(graphqlIdeRouter(GRAPHQL_PATH));
  expressApp.use(
    GRAPHQL_PATH,
    (_req, res, next) => {
      res.set(graphqlHeaders);
      next();
    },
    parseJson,
    checkSearch,
    expressMiddleware(apollo, { context: ({ req }) => graphqlContext(req) }),
  );
  // The web dashboard at / (built by `npm run build` from web/).
  expressApp.use(dashboardRouter());
  expressApp.use((err: { status?: number; type?: string; message?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(err);
    sendHttpError(err, res);
  });

  let closed = false;
  return {
    config,
    services,
    dataSource: store.dataSource,
    schema,
    bootstrap: boot,
    operations,
    logger,
    async listen() {
      const url = await new Promise<string>((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen(config.port, config.host, () => {
          const { port } = httpServer.address() as AddressInfo;
          const host = config.host.includes(":") ? `[${config.host}]` : config.host;
          resolve(`http://${host}:${port}`);
        });
      });
      const admin = await services.users.bootstrapAdmin(config.bootstrapAdminEmail, config.bootstrapAdminKey);
      if (admin) boot.admin = { apiKey: admin.apiKey, secret: admin.secret, email: admin.user.email, generated: admin.generated };
      operations.start();
      return url;
    },
    async close() {
      if (closed) return;
      closed = true;
      // apollo.stop() drains the HTTP server (the drain plugin) before returning.
      if (httpServer.listening) await apollo.stop();
      else await apollo.stop().catch(() => undefined);
      // Running hooks are cancelled (their process groups killed) and recorded before the store closes.
      await recovery.stop();
      await runner.destroy();
      services.localRunners.delete(runner);
      await services.agentGateway.destroy();
      await services.executionQueue.destroy();
      await operations.stop();
      await spawner.destroy();
      await services.pubsub.destroy();
      await registry.stop();
      // Instances on one host are one execution server: it goes offline with the last of them.
      const sameHost = await registry.live().then(
        (others) => others.some((o) => o.hostname === registry.self.hostname),
        () => false,
      );
      if (!sameHost) await services.executionServers.markOffline(boot.self.id).catch((err) => logger.warn(`could not mark this server offline: ${String(err)}`));
      await store.destroy();
    },
  };
}
