import { Field, ID, ObjectType } from "type-graphql";
import { Column, CreateDateColumn, Entity, OneToMany, PrimaryGeneratedColumn, type Relation } from "typeorm";
import { UserRole } from "../domain/roles.js";
import type { ApiKey } from "./api-key.entity.js";
import { MetadataPair } from "./metadata.embedded.js";

@ObjectType()
@Entity("user")
export class User {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field()
  @Column({ type: "varchar", length: 320, unique: true })
  email: string;

  @Field(() => UserRole)
  @Column({ type: "varchar", length: 16 })
  role: UserRole;

  @Field(() => MetadataPair, { description: "The user's metadata: jobs and publishes aggregate it between the queue's (or the workspace's) and their own (SPEC §4)." })
  @Column(() => MetadataPair, { prefix: "metadata" })
  metadata: MetadataPair = new MetadataPair();

  @Field({ description: "A disabled user's API keys are refused (hookd user disable)." })
  @Column({ type: "boolean", default: false })
  disabled: boolean;

  @Field()
  @CreateDateColumn()
  createdAt: Date;

  @OneToMany("ApiKey", (key: ApiKey) => key.user)
  apiKeys: Relation<ApiKey>[];
}
