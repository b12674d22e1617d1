import { GraphQLJSONObject } from "graphql-scalars";
import { Arg, Authorized, Ctx, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root } from "type-graphql";
import { hookPointInfo, HookPoint } from "../domain/hook-points.js";
import { Access } from "../domain/roles.js";
import { ExecutionLogLine } from "../entities/execution-log-line.entity.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus, isFinished } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import { User } from "../entities/user.entity.js";
import type { RequestContext } from "../schema/context.js";
import { PageInfo } from "../schema/page-info.type.js";
import type { Services } from "../services/services.js";

@InputType()
class TriggerHookInput {
  @Field(() => HookPoint)
  hook: HookPoint;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Merged over a realistic sample payload for the hook point; `hook` is always the hook's dashed name." })
  payload?: JsonObject;

  @Field(() => String, { nullable: true, description: "Resolve the hooks of this queue (default: the default queue)." })
  queue?: string;

  @Field(() => ID, { nullable: true, description: "For *_CLIENT hooks: the client to run on." })
  executionServer?: string;

  @Field({ nullable: true, description: "Return only after the runs finished." })
  wait?: boolean;

  @Field(() => String, {
    nullable: true,
    description: "Makes a repeat safe: the same key by the same user within 24 h answers with the first result and runs nothing again (another input with it is a CONFLICT). E.g. a UUID per request.",
  })
  idempotencyKey?: string;
}

@InputType()
class ExecutionFilterInput {
  @Field(() => HookPoint, { nullable: true })
  hook?: HookPoint;

  @Field(() => ExecutionStatus, { nullable: true })
  status?: ExecutionStatus;

  @Field({ nullable: true, description: "Queue code." })
  queue?: string;

  @Field(() => ID, { nullable: true, description: "Job id." })
  job?: string;

  @Field(() => ID, { nullable: true, description: "The execution server or client it runs (or ran, or waits to run) on." })
  executionServer?: string;

  @Field({ nullable: true, description: "Created at or after." })
  since?: Date;
}

@ObjectType()
class ExecutionEdge {
  @Field()
  cursor: string;

  @Field(() => Execution)
  node: Execution;
}

@ObjectType({ description: "Executions, newest first." })
class ExecutionConnection {
  @Field(() => [ExecutionEdge])
  edges: ExecutionEdge[];

  @Field(() => [Execution])
  nodes: Execution[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@Resolver(() => Execution)
export class ExecutionResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.AUDIT)
  @Query(() => Execution)
  execution(@Arg("id", () => ID) id: string): Promise<Execution> {
    return this.services.executions.get(id);
  }

  @Authorized(Access.AUDIT)
  @Query(() => ExecutionConnection)
  async executions(
    @Arg("filter", () => ExecutionFilterInput, { nullable: true }) filter?: ExecutionFilterInput,
    @Arg("first", () => Int, { defaultValue: 50 }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
  ): Promise<ExecutionConnection> {
    const page = await this.services.executions.list(filter ?? {}, first, after);
    return {
      nodes: page.nodes,
      edges: page.nodes.map((node) => ({ node, cursor: this.services.executions.cursorOf(node) })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
    };
  }

  @Authorized(Access.ADMIN)
  @Query(() => GraphQLJSONObject, { description: "The sample payload triggerHook merges a test run's payload over: built like a real payload of that hook point." })
  samplePayload(@Arg("hook", () => HookPoint) hook: HookPoint): JsonObject {
    return this.services.executions.sample(hook);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => [Execution], {
    description: "Runs what effectiveHooks resolves for the hook and queue, with the payload merged over a sample. Returns the executions (finished ones with wait: true).",
  })
  triggerHook(@Arg("input") input: TriggerHookInput, @Ctx() ctx: RequestContext): Promise<Execution[]> {
    return this.services.executions.trigger(input, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Execution, { description: "A new execution with the same input and configuration, attempt + 1." })
  retryExecution(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Execution> {
    return this.services.executions.retry(id, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Execution, { description: "Cancels a queued or running execution; a running hook's process group is terminated." })
  cancelExecution(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Execution> {
    return this.services.executions.cancel(id, ctx.principal.user);
  }

  @FieldResolver(() => [ExecutionLogLine], { description: "Log lines with seq > after, in order; poll with the last seq seen." })
  logLines(@Root() execution: Execution, @Arg("after", () => Int, { defaultValue: 0 }) after: number, @Arg("first", () => Int, { defaultValue: 1000 }) first: number): Promise<ExecutionLogLine[]> {
    return this.services.executions.logLines(execution.id, after, first, !isFinished(execution.status));
  }

  @FieldResolver(() => String, { description: "The dashed hook name the script saw." })
  scriptName(@Root() execution: Execution): string {
    return hookPointInfo(execution.hook).dashed;
  }

  @FieldResolver(() => Int, { nullable: true })
  durationMs(@Root() execution: Execution): number | null {
    return execution.startedAt && execution.finishedAt ? execution.finishedAt.getTime() - execution.startedAt.getTime() : null;
  }

  @FieldResolver(() => ExecutionServer, { nullable: true })
  executionServer(@Root() execution: Execution): Promise<ExecutionServer | null> {
    return this.services.executionServers.find(execution.executionServerId);
  }

  @FieldResolver(() => Execution, { nullable: true, description: "The attempt that follows this failed one under its retry policy (QUEUED until nextAttemptAt)." })
  nextAttempt(@Root() execution: Execution): Promise<Execution | null> {
    return execution.nextAttemptId ? this.services.executions.get(execution.nextAttemptId) : Promise.resolve(null);
  }

  @FieldResolver(() => Execution, { nullable: true, description: "The first execution of a retry chain." })
  retryOf(@Root() execution: Execution): Promise<Execution | null> {
    return execution.retryOfId ? this.services.executions.get(execution.retryOfId) : Promise.resolve(null);
  }

  @FieldResolver(() => User, { nullable: true })
  triggeredBy(@Root() execution: Execution): Promise<User | null> {
    return execution.triggeredById ? this.services.users.find(execution.triggeredById) : Promise.resolve(null);
  }
}
