import { Arg, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from "type-graphql";
import { Access } from "../domain/roles.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import { UpdateSettingsInput } from "../schema/inputs.js";
import type { RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";

@Resolver(() => WorkspaceSettings)
export class SettingsResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => WorkspaceSettings)
  settings(): Promise<WorkspaceSettings> {
    return this.services.settings.get();
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => WorkspaceSettings)
  updateSettings(@Arg("input") input: UpdateSettingsInput, @Ctx() ctx: RequestContext): Promise<WorkspaceSettings> {
    return this.services.settings.update(input, ctx.principal.user);
  }

  @Authorized(Access.ELEVATED)
  @FieldResolver(() => ExecutionServer, { nullable: true })
  defaultExecutionServer(@Root() settings: WorkspaceSettings): Promise<ExecutionServer | null> {
    return this.services.executionServers.find(settings.defaultExecutionServerId);
  }
}
