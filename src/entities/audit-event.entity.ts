import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, ObjectType } from "type-graphql";
import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "./metadata.embedded.js";

/** Who changed which configuration, or triggered, retried or cancelled what, with the values before and after. */
@ObjectType({ description: "One entry of the audit trail." })
@Entity("audit_event")
@Index(["at", "id"])
@Index(["action"])
@Index(["targetId"])
export class AuditEvent {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field()
  @Column({ type: Date })
  at: Date;

  @Field(() => ID, { nullable: true, description: "The user; null for the command line and hookd itself." })
  @Column({ type: "varchar", nullable: true })
  actorId: string | null;

  @Field({ description: "The user's email, 'cli' or 'hookd'." })
  @Column({ type: "varchar", length: 320 })
  actor: string;

  @Field({ description: "e.g. settings.update, hookConfig.set, queue.delete, apiKey.revoke, execution.retry." })
  @Column({ type: "varchar", length: 64 })
  action: string;

  @Field({ description: "What kind of thing: settings, hookConfig, queue, queueHook, volume, user, apiKey, execution." })
  @Column({ type: "varchar", length: 32 })
  targetType: string;

  @Field({ description: "Its id (or code / hook point where that is the key)." })
  @Column({ type: "varchar", length: 255 })
  targetId: string;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Column({ type: "simple-json", nullable: true })
  before: JsonObject | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Column({ type: "simple-json", nullable: true })
  after: JsonObject | null;
}
