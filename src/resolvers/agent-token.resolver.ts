import { Arg, Authorized, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Resolver } from "type-graphql";
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

@Resolver()
export class AgentTokenResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.ADMIN)
  @Mutation(() => CreatedAgentToken, { description: "An enrolment token for `hookd agent`: single use, it expires (default 1 h)." })
  createAgentToken(@Arg("input", () => CreateAgentTokenInput) input: CreateAgentTokenInput, @Ctx() ctx: RequestContext): Promise<CreatedAgentToken> {
    return this.services.agentEnrolment.createToken(input, ctx.principal.user);
  }
}
