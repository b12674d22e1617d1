import { Authorized, Query, Resolver } from "type-graphql";
import { Access } from "../domain/roles.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import type { Services } from "../services/services.js";

@Resolver(() => ExecutionServer)
export class ExecutionServerResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.ELEVATED)
  @Query(() => [ExecutionServer], { description: "Site servers first, then clients." })
  executionServers(): Promise<ExecutionServer[]> {
    return this.services.executionServers.list();
  }
}
