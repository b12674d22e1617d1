import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Column, CreateDateColumn, Entity, OneToMany, PrimaryGeneratedColumn, type Relation } from "typeorm";
import { MetadataPair } from "./metadata.embedded.js";
import type { QueueHook } from "./queue-hook.entity.js";

export enum QueueStatus {
  /** Enabled: jobs start. */
  WAITING = "WAITING",
  /** Disabled: jobs are accepted but held. */
  PAUSED = "PAUSED",
}
registerEnumType(QueueStatus, { name: "QueueStatus" });

@ObjectType({ description: "A named container of jobs. Exactly one queue is the default; new jobs go there." })
@Entity("queue")
export class Queue {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field()
  @Column({ type: "varchar", length: 64, unique: true })
  code: string;

  @Field()
  @Column({ type: "varchar", length: 200 })
  name: string;

  @Field(() => Int)
  @Column({ type: "integer" })
  priority: number;

  @Field({ name: "default" })
  @Column({ type: "boolean" })
  isDefault: boolean;

  @Field(() => QueueStatus)
  @Column({ type: "varchar", length: 16 })
  status: QueueStatus;

  @Field(() => String, { nullable: true })
  @Column({ type: "text", nullable: true })
  description: string | null;

  @Field(() => MetadataPair)
  @Column(() => MetadataPair, { prefix: "metadata" })
  metadata: MetadataPair = new MetadataPair();

  @Field()
  @CreateDateColumn()
  createdAt: Date;

  @OneToMany("QueueHook", (hook: QueueHook) => hook.queue)
  hooks: Relation<QueueHook>[];
}
