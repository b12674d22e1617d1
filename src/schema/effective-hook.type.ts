import { Field, Int, ObjectType } from "type-graphql";
import { HookSource, SkipReason, type EffectiveHookEntry } from "../domain/effective-hooks.js";
import type { HookPolicy } from "../domain/hook-policy.js";
import { HookPoint } from "../domain/hook-points.js";
import { HookPolicyType } from "./hook-policy.type.js";
import type { OsName } from "../domain/os.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { HookCommands } from "../entities/hook-commands.embedded.js";
import { QueueHookMode } from "../entities/queue-hook.entity.js";

@ObjectType({ description: "One entry of what runs for a hook point in a queue, in order, and why an entry does not run." })
export class EffectiveHook implements EffectiveHookEntry {
  @Field(() => HookPoint)
  hook: HookPoint;

  @Field(() => HookSource)
  source: HookSource;

  @Field(() => QueueHookMode, { nullable: true, description: "For QUEUE entries: OVERRIDE or APPEND." })
  mode: QueueHookMode | null;

  @Field(() => String, { nullable: true, description: "For QUEUE entries: the queue's code." })
  queue: string | null;

  /** Id of the workspace hook config (its hook point) or of the queue hook, for the execution record. */
  configId: string;

  @Field()
  enabled: boolean;

  @Field(() => HookCommands)
  commands: HookCommands;

  @Field(() => ExecutionServer, { nullable: true, description: "Where it runs; null for client hooks evaluated without a client." })
  executionServer: ExecutionServer | null;

  @Field(() => String, { nullable: true, description: "The OS whose command line is used." })
  os: OsName | null;

  @Field(() => String, { nullable: true, description: "The command line for that OS, as configured." })
  command: string | null;

  @Field(() => Int)
  timeoutSeconds: number;

  @Field(() => HookPolicyType, { description: "The policy its runs get: the entry's own, or for a queue entry without one the workspace entry's." })
  policy: HookPolicy;

  @Field()
  willRun: boolean;

  @Field(() => SkipReason, { nullable: true })
  skipReason: SkipReason | null;

  @Field(() => String, { nullable: true, description: "The reason in words, for an administrator." })
  skipMessage: string | null;
}
