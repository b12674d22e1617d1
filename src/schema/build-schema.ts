import "./enums.js";
import type { GraphQLSchema } from "graphql";
import { buildSchema } from "type-graphql";
import { AgentTokenResolver } from "../resolvers/agent-token.resolver.js";
import { AuditResolver } from "../resolvers/audit.resolver.js";
import { ConfigurationResolver } from "../resolvers/configuration.resolver.js";
import { ReplayResolver } from "../resolvers/replay.resolver.js";
import { ExecutionResolver } from "../resolvers/execution.resolver.js";
import { ExecutionServerResolver } from "../resolvers/execution-server.resolver.js";
import { HookConfigResolver } from "../resolvers/hook-config.resolver.js";
import { JobResolver } from "../resolvers/job.resolver.js";
import { PublishResolver } from "../resolvers/publish.resolver.js";
import { QueueResolver } from "../resolvers/queue.resolver.js";
import { SettingsResolver } from "../resolvers/settings.resolver.js";
import { SubscriptionResolver } from "../resolvers/subscription.resolver.js";
import { SecretResolver } from "../resolvers/secret.resolver.js";
import { UserResolver } from "../resolvers/user.resolver.js";
import { VolumeResolver } from "../resolvers/volume.resolver.js";
import { typeGraphqlPubSub } from "../pubsub/type-graphql-pubsub.js";
import type { Services } from "../services/services.js";
import { authChecker } from "./auth-checker.js";
import { validateArgs } from "./validate-args.js";

export const RESOLVERS = [
  UserResolver,
  SettingsResolver,
  HookConfigResolver,
  QueueResolver,
  VolumeResolver,
  ExecutionServerResolver,
  ExecutionResolver,
  SubscriptionResolver,
  JobResolver,
  PublishResolver,
  AuditResolver,
  ConfigurationResolver,
  ReplayResolver,
  AgentTokenResolver,
  SecretResolver,
] as const;

/**
 * Builds the schema for one app. Resolvers are constructed with that app's services, so two apps
 * in one process (tests) never share state.
 */
export async function buildHookdSchema(services: Services): Promise<GraphQLSchema> {
  const instances = new Map<abstract new (...args: never) => unknown, unknown>();
  return buildSchema({
    resolvers: [...RESOLVERS],
    authChecker,
    pubSub: typeGraphqlPubSub(services.pubsub),
    validateFn: validateArgs,
    container: {
      get(someClass: new (services: Services) => unknown) {
        if (!instances.has(someClass)) instances.set(someClass, new someClass(services));
        return instances.get(someClass);
      },
    },
  });
}
