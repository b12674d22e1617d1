import { Field, Int, ObjectType } from "type-graphql";
import { Column, Entity, PrimaryColumn, UpdateDateColumn } from "typeorm";
import { HookPoint } from "../domain/hook-points.js";
import type { HookPolicy } from "../domain/hook-policy.js";
import { HookPolicyType } from "../schema/hook-policy.type.js";
import { HookCommands } from "./hook-commands.embedded.js";

/** The workspace entry for one hook point. Points never configured have no row. */
@ObjectType({ description: "The workspace entry for one hook point." })
@Entity("hook_config")
export class HookConfig {
  @Field(() => HookPoint)
  @PrimaryColumn({ type: "varchar", length: 32 })
  hook: HookPoint;

  @Field()
  @Column({ type: "boolean" })
  enabled: boolean = false;

  @Field(() => HookCommands)
  @Column(() => HookCommands, { prefix: "command" })
  commands: HookCommands = new HookCommands();

  /** null: the hook point's default (30 s blocking, 10 min otherwise). */
  @Field(() => Int, { nullable: true, description: "Configured timeout; null means the hook point's default." })
  @Column({ type: "integer", nullable: true })
  timeoutSeconds: number | null = null;

  @Field(() => HookPolicyType, { nullable: true, description: "Retries, concurrency and secrets; null: none (one attempt, no limit, no secrets)." })
  @Column({ type: "simple-json", nullable: true })
  policy: HookPolicy | null = null;

  @Column({ type: "varchar", nullable: true })
  executionServerId: string | null = null;

  @Field(() => Date, { nullable: true })
  @UpdateDateColumn()
  updatedAt: Date;
}
