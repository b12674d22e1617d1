import type { RequestHandler } from "express";
import type { ApolloServerPlugin } from "@apollo/server";
import type { OperationsConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";
import { ExecutionObserver } from "./execution-observer.js";
import { GraphqlObserver } from "./graphql-observer.js";
import { MetricsService } from "./metrics.service.js";
import { metricsRoute } from "./metrics.route.js";
import { RetentionService } from "./retention.service.js";

/** What running hookd as a service adds: the execution log line, metrics, retention. */
export interface Operations {
  readonly metrics: MetricsService | null;
  readonly retention: RetentionService;
  readonly graphql: GraphqlObserver;
  /** GET /metrics, or null when HOOKD_METRICS=0. */
  readonly metricsRoute: RequestHandler | null;
  readonly apolloPlugin: ApolloServerPlugin<RequestContext>;
  start(): void;
  stop(): Promise<void>;
}

export function createOperations(services: Services, config: OperationsConfig, logger: Logger, selfServerId: string): Operations {
  const metrics = config.metricsEnabled ? new MetricsService(services.store, selfServerId) : null;
  const observer = new ExecutionObserver(services.store, services.pubsub, logger, metrics);
  const retention = new RetentionService(services.store, logger, { days: config.retentionDays, idempotency: services.idempotency, metrics });
  const graphql = new GraphqlObserver(logger, metrics);
  // Listening before any hook can run, so no outcome is missed.
  observer.start();
  return {
    metrics,
    retention,
    graphql,
    metricsRoute: metrics && metricsRoute(metrics, services.users, config.metricsToken, logger),
    apolloPlugin: graphql.plugin(),
    start: () => retention.start(),
    async stop() {
      await retention.stop();
      await observer.stop();
    },
  };
}
