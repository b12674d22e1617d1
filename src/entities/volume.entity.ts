import { Authorized, Field, ID, ObjectType } from "type-graphql";
import { Access } from "../domain/roles.js";
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from "typeorm";
import { HookCommands } from "./hook-commands.embedded.js";
import { MetadataPair } from "./metadata.embedded.js";

@ObjectType({ description: "A path prefix per operating system." })
export class OsPaths extends HookCommands {}

/** A named storage root; `volume=code/rel/path` resolves to the prefix for the server's OS (SPEC §1). */
@ObjectType({ description: "A named storage root with one path prefix per operating system." })
@Entity("volume")
export class Volume {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field()
  @Column({ type: "varchar", length: 64, unique: true })
  code: string;

  @Field()
  @Column({ type: "varchar", length: 200 })
  name: string;

  @Authorized(Access.ELEVATED)
  @Field(() => OsPaths, { description: "Server paths: readable by ADMIN and EMPLOYEE users only." })
  @Column(() => OsPaths, { prefix: "path" })
  paths: OsPaths = new OsPaths();

  @Field(() => MetadataPair)
  @Column(() => MetadataPair, { prefix: "metadata" })
  metadata: MetadataPair = new MetadataPair();

  @Field()
  @CreateDateColumn()
  createdAt: Date;
}
