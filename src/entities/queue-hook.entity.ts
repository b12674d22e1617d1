import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Column, Entity, Index, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn, type Relation } from "typeorm";
import { HookPoint } from "../domain/hook-points.js";
import type { HookPolicy } from "../domain/hook-policy.js";
import { HookPolicyType } from "../schema/hook-policy.type.js";
import { HookCommands } from "./hook-commands.embedded.js";
import type { Queue } from "./queue.entity.js";

export enum QueueHookMode {
  /** Replaces the workspace entry for jobs in this queue. */
  OVERRIDE = "OVERRIDE",
  /** Runs after the workspace entry. */
  APPEND = "APPEND",
}
registerEnumType(QueueHookMode, { name: "QueueHookMode" });

@ObjectType({ description: "A queue's own entry for a hook point." })
@Entity("queue_hook")
@Index(["queueId", "hook"], { unique: true })
export class QueueHook {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ type: "varchar" })
  queueId: string;

  @ManyToOne("Queue", (queue: Queue) => queue.hooks, { onDelete: "CASCADE" })
  queue: Relation<Queue>;

  @Field(() => HookPoint)
  @Column({ type: "varchar", length: 32 })
  hook: HookPoint;

  @Field(() => QueueHookMode)
  @Column({ type: "varchar", length: 16 })
  mode: QueueHookMode;

  @Field()
  @Column({ type: "boolean" })
  enabled: boolean;

  @Field(() => HookCommands)
  @Column(() => HookCommands, { prefix: "command" })
  commands: HookCommands = new HookCommands();

  @Field(() => Int, { nullable: true, description: "Configured timeout; null means the hook point's default." })
  @Column({ type: "integer", nullable: true })
  timeoutSeconds: number | null = null;

  @Field(() => HookPolicyType, { nullable: true, description: "This queue's policy for the hook point; null: the workspace entry's." })
  @Column({ type: "simple-json", nullable: true })
  policy: HookPolicy | null = null;

  @Field()
  @UpdateDateColumn()
  updatedAt: Date;
}
