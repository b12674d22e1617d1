import { Arg, Authorized, Ctx, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root } from "type-graphql";
import { Agent } from "../entities/agent.entity.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { Access } from "../domain/roles.js";
import { AgentToken } from "../entities/agent-token.entity.js";
import { ExecutionServerKind } from "../entities/execution-server.entity.js";
import type { RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";

@InputType()
class CreateAgentTokenInput {
  @Field(() => ExecutionServerKind, { description: "SERVER: the agent is an execution server of that name; CLIENT: it runs `user`'s client of that name." })
  kind: ExecutionServerKind;

  @Field()
  name: string;

  @Field(() => ID, { nullable: true, description: "CLIENT only: whose client." })
  user?: string;

  @Field(() => Int, { nullable: true, description: "Default 3600 (1 h); 60 to 2592000." })
  expiresInSeconds?: number;
}

@ObjectType({ description: "A new enrolment token. `token` is shown only here, once: pass it to `hookd agent --token`." })
class CreatedAgentToken {
  @Field()
  token: string;

  @Field(() => AgentToken)
  agentToken: AgentToken;
}

@Resolver(() => ExecutionServer)
export class AgentTokenResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.ADMIN)
  @Mutation(() => CreatedAgentToken, { description: "An enrolment token for `hookd agent`: single use, it expires (default 1 h)." })
  createAgentToken(@Arg("input", () => CreateAgentTokenInput) input: CreateAgentTokenInput, @Ctx() ctx: RequestContext): Promise<CreatedAgentToken> {
    return this.services.agentEnrolment.createToken(input, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Agent, { description: "Revokes an agent: it is disconnected at once and its credential refused; what it was running fails when its leases expire." })
  revokeAgent(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Agent> {
    return this.services.agentEnrolment.revoke(id, ctx.principal.user);
  }

  @FieldResolver(() => [Agent], { description: "The agents enrolled for this server or client (revoked ones included)." })
  agents(@Root() server: ExecutionServer): Promise<Agent[]> {
    return this.services.agentEnrolment.agentsOf(server.id);
  }
}
