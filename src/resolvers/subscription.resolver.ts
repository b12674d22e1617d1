import { Arg, Args, ArgsType, Authorized, Field, ID, InputType, Int, ObjectType, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { HookPoint } from "../domain/hook-points.js";
import { Access } from "../domain/roles.js";
import { ExecutionLogLine } from "../entities/execution-log-line.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import { ExecutionEventStream } from "../pubsub/execution-event-stream.js";
import type { ExecutionLogChunk } from "../pubsub/execution-log-stream.js";
import type { ExecutionEvent } from "../pubsub/pubsub.js";
import { assertAccess } from "../schema/auth-checker.js";
import type { RequestContext } from "../schema/context.js";

@ObjectType({ description: "Lines of a running execution, in order; the last event carries the finished execution instead." })
class ExecutionLogEvent {
  @Field(() => [ExecutionLogLine], { description: "The next lines, seq ascending, none repeated." })
  lines: ExecutionLogLine[];

  @Field(() => Execution, { nullable: true, description: "Set on the final event: status, exit code and error. The subscription then completes." })
  finished: Execution | null;
}

@ObjectType({ description: "A status change of an execution." })
class ExecutionStatusEvent {
  @Field(() => ID)
  id: string;

  @Field(() => HookPoint)
  hook: HookPoint;

  @Field(() => String, { nullable: true })
  queue: string | null;

  @Field(() => ID, { nullable: true })
  jobId: string | null;

  @Field(() => ID, { nullable: true })
  publishId: string | null;

  @Field(() => ExecutionStatus)
  status: ExecutionStatus;

  @Field(() => Int, { nullable: true })
  exitCode: number | null;

  @Field(() => String, { nullable: true })
  error: string | null;
}

@InputType()
class ExecutionUpdatedFilter {
  @Field(() => HookPoint, { nullable: true })
  hook?: HookPoint;

  @Field({ nullable: true, description: "Queue code." })
  queue?: string;

  @Field(() => ID, { nullable: true, description: "Job id." })
  job?: string;

  @Field(() => ID, { nullable: true, description: "The execution server or client it runs on." })
  executionServer?: string;

  @Field(() => ExecutionStatus, { nullable: true })
  status?: ExecutionStatus;
}

@ArgsType()
class ExecutionLogArgs {
  @Field(() => ID)
  executionId: string;

  @Field(() => Int, { nullable: true, description: "Replay only lines with seq greater than this (the last seq a reconnecting client saw)." })
  after?: number;
}

async function executionLog({ args, context }: SubscribeResolverData<unknown, Record<string, unknown>, RequestContext>): Promise<AsyncIterable<ExecutionLogChunk>> {
  const { executionId, after } = args as unknown as ExecutionLogArgs;
  const { services } = context;
  return services.executions.logStream(executionId, Math.max(0, after ?? 0), async () => {
    await assertAccess(await context.reauthenticate(), [Access.AUDIT], "subscription.executionLog");
  });
}

@Resolver()
export class SubscriptionResolver {
  @Authorized(Access.AUDIT)
  @Subscription(() => ExecutionLogEvent, {
    subscribe: executionLog,
    description: "Replays the stored lines with seq > after, continues live with no gap and no duplicate, and completes after a final event with the outcome.",
  })
  executionLog(@Root() chunk: ExecutionLogChunk, @Args() _args: ExecutionLogArgs): ExecutionLogEvent {
    return chunk as unknown as ExecutionLogEvent;
  }

  @Authorized(Access.AUDIT)
  @Subscription(() => ExecutionStatusEvent, {
    subscribe: ({ args, context }: SubscribeResolverData<unknown, Record<string, unknown>, RequestContext>) =>
      new ExecutionEventStream(context.services.pubsub, (args.filter ?? {}) as ExecutionUpdatedFilter, async () =>
        assertAccess(await context.reauthenticate(), [Access.AUDIT], "subscription.executionUpdated"),
      ),
    description: "Every status change (queued, running, finished) of matching executions. A slow reader gets each execution's latest status.",
  })
  executionUpdated(@Root() event: ExecutionEvent, @Arg("filter", () => ExecutionUpdatedFilter, { nullable: true }) _filter?: ExecutionUpdatedFilter): ExecutionStatusEvent {
    return event;
  }
}
