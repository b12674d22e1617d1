import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from "type-graphql";
import { Access } from "../domain/roles.js";
import { Secret } from "../entities/secret.entity.js";
import type { RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";

@Resolver(() => Secret)
export class SecretResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.ADMIN)
  @Query(() => [Secret], { description: "The secrets' names (never their values)." })
  secrets(): Promise<Secret[]> {
    return this.services.secrets.list();
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Secret, {
    description: "Sets a secret (write-only: stored encrypted with HOOKD_SECRET_KEY, never returned). Hooks get it through their policy's env; its value is masked in every log.",
  })
  setSecret(@Arg("name") name: string, @Arg("value") value: string, @Ctx() ctx: RequestContext): Promise<Secret> {
    return this.services.secrets.set(name, value, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Secret, { description: "Removes a secret; hooks that list it no longer get it." })
  removeSecret(@Arg("name") name: string, @Ctx() ctx: RequestContext): Promise<Secret> {
    return this.services.secrets.remove(name, ctx.principal.user);
  }
}
