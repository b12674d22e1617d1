import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { hookPointInfo, HookPoint } from "../domain/hook-points.js";
import { Access } from "../domain/roles.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { HookConfig } from "../entities/hook-config.entity.js";
import { EffectiveHook } from "../schema/effective-hook.type.js";
import { SetHookConfigInput } from "../schema/inputs.js";
import type { RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";

@Resolver(() => HookConfig)
export class HookConfigResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.AUDIT)
  @Query(() => [HookConfig], { description: "All ten hook points, configured or not." })
  hookConfigs(): Promise<HookConfig[]> {
    return this.services.hookConfigs.list();
  }

  @Authorized(Access.AUDIT)
  @Query(() => HookConfig)
  hookConfig(@Arg("hook", () => HookPoint) hook: HookPoint): Promise<HookConfig> {
    return this.services.hookConfigs.get(hook);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => HookConfig, { description: "Sets the workspace entry for a hook point. Fields left out keep their value." })
  setHookConfig(@Arg("input") input: SetHookConfigInput, @Ctx() ctx: RequestContext): Promise<HookConfig> {
    return this.services.hookConfigs.set(input, ctx.principal.user);
  }

  @Authorized(Access.AUDIT)
  @Query(() => [EffectiveHook], {
    description: "What runs, in order, for a job in `queue` (default: the default queue) at `hook`, and why an entry does not run. `executionServer` picks the client for *_CLIENT hooks.",
  })
  effectiveHooks(
    @Arg("hook", () => HookPoint) hook: HookPoint,
    @Arg("queue", () => String, { nullable: true }) queue?: string,
    @Arg("executionServer", () => ID, { nullable: true }) executionServer?: string,
  ): Promise<EffectiveHook[]> {
    return this.services.hookConfigs.effective(queue ?? null, hook, executionServer ?? null);
  }

  @FieldResolver(() => String, { description: "The dashed name scripts see in the `hook` field, e.g. pre-publish-server." })
  scriptName(@Root() config: HookConfig): string {
    return hookPointInfo(config.hook).dashed;
  }

  @FieldResolver(() => Int, { description: "The timeout that applies: the configured one or the hook point's default." })
  effectiveTimeoutSeconds(@Root() config: HookConfig): number {
    return config.timeoutSeconds ?? hookPointInfo(config.hook).defaultTimeoutSeconds;
  }

  @FieldResolver(() => ExecutionServer, { nullable: true, description: "The execution-server override; null means the default server." })
  executionServer(@Root() config: HookConfig): Promise<ExecutionServer | null> {
    return this.services.executionServers.find(config.executionServerId);
  }
}
