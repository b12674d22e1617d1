import { Arg, Authorized, Ctx, Field, FieldResolver, ID, Mutation, ObjectType, Query, Resolver, Root } from "type-graphql";
import { Access } from "../domain/roles.js";
import { ApiKey } from "../entities/api-key.entity.js";
import { User } from "../entities/user.entity.js";
import type { RequestContext } from "../schema/context.js";
import { CreateUserInput, UpdateUserInput } from "../schema/inputs.js";
import type { Services } from "../services/services.js";

@ObjectType({ description: "A new API key. `secret` is shown only here, once; store it now." })
class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey: ApiKey;

  @Field({ description: "Send as 'Authorization: Bearer <secret>'." })
  secret: string;
}

@Resolver(() => User)
export class UserResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => User, { description: "The caller." })
  me(@Ctx() ctx: RequestContext): User {
    return ctx.principal.user;
  }

  @Authorized(Access.ADMIN)
  @Query(() => [User])
  users(): Promise<User[]> {
    return this.services.users.list();
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => User)
  createUser(@Arg("input") input: CreateUserInput, @Ctx() ctx: RequestContext): Promise<User> {
    return this.services.users.create(input.email, input.role, ctx.principal.user, input.metadata);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => User, { description: "Changes a user's metadata (internal and external): their jobs and publishes aggregate it." })
  updateUser(@Arg("id", () => ID) id: string, @Arg("input") input: UpdateUserInput, @Ctx() ctx: RequestContext): Promise<User> {
    return this.services.users.update(id, input, ctx.principal.user);
  }

  @Authorized()
  @Mutation(() => CreatedApiKey, { description: "Creates a key for `user` (default: the caller). Only an ADMIN may create keys for others." })
  createApiKey(@Ctx() ctx: RequestContext, @Arg("user", () => ID, { nullable: true }) user?: string, @Arg("label", () => String, { nullable: true }) label?: string): Promise<CreatedApiKey> {
    const userId = user ?? ctx.principal.user.id;
    this.services.users.assertSelfOrAdmin(ctx.principal.user, userId);
    return this.services.users.createApiKey(userId, label ?? null, ctx.principal.user);
  }

  @Authorized()
  @Mutation(() => ApiKey, { description: "Revokes a key at once. Users may revoke their own keys; an ADMIN any key." })
  revokeApiKey(@Ctx() ctx: RequestContext, @Arg("id", () => ID) id: string): Promise<ApiKey> {
    return this.services.users.revokeApiKey(id, ctx.principal.user);
  }

  @FieldResolver(() => [ApiKey], { description: "Visible to the user and to ADMINs." })
  apiKeys(@Root() user: User, @Ctx() ctx: RequestContext): Promise<ApiKey[]> {
    this.services.users.assertSelfOrAdmin(ctx.principal.user, user.id);
    return this.services.users.keysOf(user.id);
  }
}
