import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from "type-graphql";
import { Access } from "../domain/roles.js";
import { Volume } from "../entities/volume.entity.js";
import { CreateVolumeInput, UpdateVolumeInput } from "../schema/inputs.js";
import type { RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";

@Resolver(() => Volume)
export class VolumeResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => [Volume])
  volumes(): Promise<Volume[]> {
    return this.services.volumes.list();
  }

  @Authorized()
  @Query(() => Volume)
  volume(@Arg("code") code: string): Promise<Volume> {
    return this.services.volumes.get(code);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Volume)
  createVolume(@Arg("input") input: CreateVolumeInput, @Ctx() ctx: RequestContext): Promise<Volume> {
    return this.services.volumes.create(input, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Volume, { description: "Fields left out keep their value." })
  updateVolume(@Arg("code") code: string, @Arg("input") input: UpdateVolumeInput, @Ctx() ctx: RequestContext): Promise<Volume> {
    return this.services.volumes.update(code, input, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Volume)
  deleteVolume(@Arg("code") code: string, @Ctx() ctx: RequestContext): Promise<Volume> {
    return this.services.volumes.delete(code, ctx.principal.user);
  }
}
