import { Arg, Authorized, Mutation, Query, Resolver, UseMiddleware } from "type-graphql";
import { Access } from "../domain/roles.js";
import { Volume } from "../entities/volume.entity.js";
import { CreateVolumeInput, UpdateVolumeInput } from "../schema/inputs.js";
import { AuditActor } from "../schema/audit-actor.middleware.js";
import type { Services } from "../services/services.js";

@UseMiddleware(AuditActor)
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
  createVolume(@Arg("input") input: CreateVolumeInput): Promise<Volume> {
    return this.services.volumes.create(input);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Volume, { description: "Fields left out keep their value." })
  updateVolume(@Arg("code") code: string, @Arg("input") input: UpdateVolumeInput): Promise<Volume> {
    return this.services.volumes.update(code, input);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Volume)
  deleteVolume(@Arg("code") code: string): Promise<Volume> {
    return this.services.volumes.delete(code);
  }
}
