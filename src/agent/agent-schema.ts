import "../schema/enums.js";
import type { GraphQLSchema } from "graphql";
import { buildSchema } from "type-graphql";
import type { Agent } from "../entities/agent.entity.js";
import { typeGraphqlPubSub } from "../pubsub/type-graphql-pubsub.js";
import { validateArgs } from "../schema/validate-args.js";
import type { Services } from "../services/services.js";
import { AgentResolver } from "./agent.resolver.js";

/** What the agent's operations get: the agent its credential belongs to. */
export interface AgentContext {
  agent: Agent;
  services: Services;
  /** Closes the agent's socket (hookd disconnects a revoked agent). */
  closeSocket(code: number, reason: string): void;
}

/**
 * The schema an agent credential reaches, and nothing else: a socket authenticated as an agent
 * executes against this schema (subscriptions-server.ts), so no other operation exists for it;
 * the main schema has none of these, and API keys never reach this one.
 */
export function buildAgentSchema(services: Services): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [AgentResolver],
    pubSub: typeGraphqlPubSub(services.pubsub),
    validateFn: validateArgs,
    // type-graphql's metadata is global and holds the main schema's @Authorized: none of them is in this schema.
    authChecker: () => false,
    container: { get: () => new AgentResolver() },
  });
}
