import { Arg, Authorized, Ctx, Mutation, Resolver } from "type-graphql";
import { Access } from "../domain/roles.js";
import type { RequestContext } from "../schema/context.js";
import { ReplayCandidateInput, ReplayFilterInput, ReplayReport } from "../schema/replay.type.js";
import type { Services } from "../services/services.js";

@Resolver()
export class ReplayResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.ADMIN)
  @Mutation(() => ReplayReport, {
    description:
      'Runs a candidate configuration on the stored inputs of past executions (≤ 200), where the hook point runs, and reports then and now side by side. Replays are marked REPLAY, their input carries "replay": true, and they never touch jobs, publishes, chains, retries or follow-up hooks.',
  })
  replayExecutions(@Arg("filter") filter: ReplayFilterInput, @Arg("candidate") candidate: ReplayCandidateInput, @Ctx() ctx: RequestContext): Promise<ReplayReport> {
    return this.services.replays.replay(filter, candidate, ctx.principal.user);
  }
}
