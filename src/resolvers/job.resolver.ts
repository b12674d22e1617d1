import { MaxLength, ValidateNested } from "class-validator";
import { GraphQLJSONObject } from "graphql-scalars";
import type { GraphQLResolveInfo } from "graphql";
import { Arg, Authorized, Ctx, Field, FieldResolver, Float, ID, Info, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { Access } from "../domain/roles.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { Execution } from "../entities/execution.entity.js";
import { Job, JobStatus } from "../entities/job.entity.js";
import { Publish } from "../entities/publish.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import { Queue } from "../entities/queue.entity.js";
import { User } from "../entities/user.entity.js";
import { AccessCheckedStream } from "../pubsub/access-checked-stream.js";
import { typeGraphqlPubSub } from "../pubsub/type-graphql-pubsub.js";
import { assertSelectionReadable } from "../schema/selection-access.js";
import type { JobEvent } from "../pubsub/pubsub.js";
import type { RequestContext } from "../schema/context.js";
import { HookMessage } from "../schema/hook-message.type.js";
import { MetadataInput } from "../schema/inputs.js";
import { PageInfo } from "../schema/page-info.type.js";
import type { Services } from "../services/services.js";

@InputType()
class TaskInput {
  @Field({ description: "Source path: absolute, or volume=<code>/<relative path>." })
  @MaxLength(4096)
  source: string;

  @Field({ description: "Destination path: absolute, or volume=<code>/<relative path>." })
  @MaxLength(4096)
  destination: string;

  @Field(() => Float, { description: "Bytes." })
  size: number;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The task's own metadata (hooks get it in tasks[n].metadata)." })
  metadata?: JsonObject;
}

@InputType({ description: "A hook entry of the job's own (the original's job `hooks`)." })
class JobHookInput {
  @Field({ description: "The hook point: hook-job-publish-server, publish-server or PUBLISH_SERVER (any job hook point, or publish-server)." })
  @MaxLength(64)
  when: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Handed to that hook as `data` in its input." })
  data?: JsonObject;
}

@InputType()
class SubmitJobInput {
  @Field({ nullable: true, description: "Unique; generated from the name when left out." })
  @MaxLength(128)
  code?: string;

  @Field()
  @MaxLength(1000)
  name: string;

  @Field({ nullable: true, description: "Queue code; the default queue when left out. A paused queue accepts the job but holds it." })
  queue?: string;

  @Field({ description: "Raw party ident <entitytype>:<entityid>: user:<id or email>, volume:<id or code>, client:<id>, server:<id>." })
  @MaxLength(255)
  source: string;

  @Field({ description: "Raw party ident, as source." })
  @MaxLength(255)
  destination: string;

  @Field(() => [TaskInput])
  @ValidateNested()
  tasks: TaskInput[];

  @Field(() => ID, { nullable: true, description: "The client (a CLIENT execution server) involved: its client hooks run there." })
  client?: string;

  @Field({ nullable: true, description: "The transfer engine's code." })
  @MaxLength(64)
  engine?: string;

  @Field(() => MetadataInput, { nullable: true })
  metadata?: MetadataInput;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The original's job settings: stored, and passed to hooks as `settings`." })
  settings?: JsonObject;

  @Field(() => [JobHookInput], {
    nullable: true,
    description: "Hooks of the job's own: when that hook point fires for this job, its input carries `data`. A publish-server entry makes publish-server run when the job is reported DONE.",
  })
  @ValidateNested()
  hooks?: JobHookInput[];

  @Field(() => String, {
    nullable: true,
    description: "Makes a repeat safe: the same key by the same user within 24 h answers with the first result and runs nothing again (another input with it is a CONFLICT). E.g. a UUID per request.",
  })
  idempotencyKey?: string;
}

@InputType()
class JobFilterInput {
  @Field(() => JobStatus, { nullable: true })
  status?: JobStatus;

  @Field({ nullable: true, description: "Queue code." })
  queue?: string;

  @Field(() => ID, { nullable: true, description: "Submitting user." })
  user?: string;
}

@InputType()
class RegisterClientInput {
  @Field()
  name: string;

  @Field()
  hostname: string;

  @Field({ description: "linux, mac or windows: picks the client hook's command line." })
  os: string;

  @Field(() => ID, { nullable: true, description: "The owning user (default: the caller). Only an ADMIN registers clients for others." })
  user?: string;

  @Field(() => [String], { nullable: true })
  labels?: string[];

  @Field(() => MetadataInput, { nullable: true, description: "The client's own metadata; hooks get it aggregated over the workspace's (a half left out is kept)." })
  metadata?: MetadataInput;
}

@ObjectType()
class JobEdge {
  @Field()
  cursor: string;

  @Field(() => Job)
  node: Job;
}

@ObjectType({ description: "Jobs, newest first. STANDARD users see their own only." })
class JobConnection {
  @Field(() => [JobEdge])
  edges: JobEdge[];

  @Field(() => [Job])
  nodes: Job[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@ObjectType({ description: "A status change of a job." })
class JobStatusEvent {
  @Field(() => ID)
  id: string;

  @Field()
  code: string;

  @Field(() => JobStatus)
  status: JobStatus;

  @Field(() => String, { nullable: true })
  message: string | null;
}

@Resolver(() => Job)
export class JobResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Mutation(() => Job, { description: "Submits a job. pre-submit hooks run first and may refuse it (error HOOK_FAILED); post-submit hooks run after." })
  async submitJob(@Arg("input") input: SubmitJobInput, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<Job> {
    // Before anything changes: a field the caller may not read would null the answer after the job exists.
    await assertSelectionReadable(info, ctx);
    return this.services.jobs.submit(input, ctx.principal.user);
  }

  @Authorized()
  @Mutation(() => Job, { description: "Reports a status: RUNNING, DONE (post-done hooks run once) or FAILED (post-failed hooks run every time)." })
  async updateJobStatus(
    @Arg("id", () => ID) id: string,
    @Arg("status", () => JobStatus) status: JobStatus,
    @Arg("message", () => String, { nullable: true }) message: string | null,
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Job> {
    await assertSelectionReadable(info, ctx);
    return this.services.jobs.updateStatus(id, status, message ?? null, ctx.principal.user);
  }

  @Authorized()
  @Mutation(() => Job, { description: "Moves a FAILED job back to RUNNING." })
  async retryJob(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<Job> {
    await assertSelectionReadable(info, ctx);
    return this.services.jobs.retry(id, ctx.principal.user);
  }

  @Authorized()
  @Query(() => Job)
  job(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Job> {
    return this.services.jobs.get(id, ctx.principal.user);
  }

  @Authorized()
  @Query(() => JobConnection)
  async jobs(
    @Ctx() ctx: RequestContext,
    @Arg("filter", () => JobFilterInput, { nullable: true }) filter?: JobFilterInput,
    @Arg("first", () => Int, { defaultValue: 50 }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
  ): Promise<JobConnection> {
    const page = await this.services.jobs.list(filter ?? {}, first ?? 50, after, ctx.principal.user);
    return { nodes: page.nodes, edges: page.nodes.map((node) => ({ node, cursor: this.services.jobs.cursorOf(node) })), pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
  }

  @Authorized()
  @Mutation(() => ExecutionServer, { description: "Registers a client (a user's desktop app or site server) that runs client hooks." })
  async registerClient(@Arg("input") input: RegisterClientInput, @Ctx() ctx: RequestContext): Promise<ExecutionServer> {
    const ownerId = input.user ?? ctx.principal.user.id;
    this.services.users.assertSelfOrAdmin(ctx.principal.user, ownerId, "register a client for another user");
    const owner = await this.services.users.get(ownerId);
    return this.services.executionServers.registerClient({ name: input.name, hostname: input.hostname, os: input.os as never, labels: input.labels, metadata: input.metadata }, owner);
  }

  @Authorized()
  @Subscription(() => JobStatusEvent, {
    description: "Status changes of one job.",
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, { id: string }, RequestContext>) => {
      await context.services.jobs.get(args.id, context.principal.user); // NOT_FOUND unless the caller may read it
      // Ends (UNAUTHENTICATED, or NOT_FOUND) once a revoked key or changed access rules say so.
      return new AccessCheckedStream(typeGraphqlPubSub(context.services.pubsub).subscribe("jobUpdated", args.id), context.services.pubsub, async () => {
        const now = await context.reauthenticate();
        await now.services.jobs.get(args.id, now.principal.user);
      });
    },
  })
  async jobUpdated(@Root() event: JobEvent, @Arg("id", () => ID) _id: string, @Ctx() ctx: RequestContext): Promise<JobStatusEvent> {
    return { ...event, message: await this.services.jobs.messageFor(event, ctx.principal.user) } as JobStatusEvent;
  }

  @FieldResolver(() => String, { nullable: true, description: "The last message reported with a status (a failed ingest's reason in full for ADMIN and audit roles)." })
  message(@Root() job: Job, @Ctx() ctx: RequestContext): Promise<string | null> {
    return this.services.jobs.messageFor(job, ctx.principal.user);
  }

  @FieldResolver(() => Queue)
  queue(@Root() job: Job): Promise<Queue> {
    return this.services.jobs.queueOf(job);
  }

  @FieldResolver(() => [GraphQLJSONObject], {
    description:
      "The files, a page at a time: tasks after+1 to after+first, numbered from 1 as in the hooks' JSON (taskCount says how many there are): source and destination paths (full and volume-relative) and size. STANDARD users see paths on a volume as volume=<code>/<relative path>.",
  })
  tasks(
    @Root() job: Job,
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, { defaultValue: 100, description: "At most 1000." }) first: number,
    @Arg("after", () => Int, { defaultValue: 0, description: "The number of the last task already read." }) after: number,
  ): Promise<object[]> {
    return this.services.jobs.tasksPage(job, first, after, ctx.principal.user);
  }

  @FieldResolver(() => Int, { description: "How many tasks the job has." })
  taskCount(@Root() job: Job): Promise<number> {
    return this.services.jobs.taskCount(job);
  }

  @FieldResolver(() => User, { nullable: true, description: "Who submitted it." })
  user(@Root() job: Job): Promise<User | null> {
    return job.userId ? this.services.users.find(job.userId) : Promise.resolve(null);
  }

  @FieldResolver(() => Publish, { nullable: true, description: "The publish this upload job belongs to (null for other jobs)." })
  publish(@Root() job: Job, @Ctx() ctx: RequestContext): Promise<Publish | null> {
    return this.services.publishes.ofJob(job, ctx.principal.user);
  }

  @FieldResolver(() => [HookMessage], {
    description: "What this job's hooks said to its user: the latest message of each hook point, oldest first (plain text; nothing else of a hook's output).",
  })
  hookMessages(@Root() job: Job): Promise<HookMessage[]> {
    return this.services.jobs.hookMessagesOf(job.id);
  }

  @Authorized(Access.ELEVATED)
  @FieldResolver(() => ExecutionServer, { nullable: true })
  client(@Root() job: Job): Promise<ExecutionServer | null> {
    return this.services.executionServers.find(job.clientId);
  }

  @Authorized(Access.AUDIT)
  @FieldResolver(() => [Execution], { description: "The hook runs of this job, oldest first (including those of a refused submission)." })
  executions(@Root() job: Job): Promise<Execution[]> {
    return this.services.jobs.executionsOf(job.id);
  }
}
