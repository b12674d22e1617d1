import { Arg, Authorized, FieldResolver, Mutation, Query, Resolver, Root, UseMiddleware } from "type-graphql";
import { Access } from "../domain/roles.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import { UpdateSettingsInput } from "../schema/inputs.js";
import { AuditActor } from "../schema/audit-actor.middleware.js";
import type { Services } from "../services/services.js";

@UseMiddleware(AuditActor)
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
  updateSettings(@Arg("input") input: UpdateSettingsInput): Promise<WorkspaceSettings> {
    return this.services.settings.update(input);
  }

  @Authorized(Access.ELEVATED)
  @FieldResolver(() => ExecutionServer, { nullable: true })
  defaultExecutionServer(@Root() settings: WorkspaceSettings): Promise<ExecutionServer | null> {
    return this.services.executionServers.find(settings.defaultExecutionServerId);
  }
}
