import { GraphQLJSONObject } from "graphql-scalars";
import type { GraphQLResolveInfo } from "graphql";
import { Arg, Authorized, Ctx, Field, FieldResolver, ID, Info, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { Access } from "../domain/roles.js";
import { Execution } from "../entities/execution.entity.js";
import { Job } from "../entities/job.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import { Publish, PublishEntry, PublishState } from "../entities/publish.entity.js";
import { User } from "../entities/user.entity.js";
import type { PublishEvent } from "../pubsub/pubsub.js";
import { AccessCheckedStream } from "../pubsub/access-checked-stream.js";
import { typeGraphqlPubSub } from "../pubsub/type-graphql-pubsub.js";
import { assertSelectionReadable } from "../schema/selection-access.js";
import type { RequestContext } from "../schema/context.js";
import { PageInfo } from "../schema/page-info.type.js";
import type { Services } from "../services/services.js";

@InputType()
class PrePublishInput {
  @Field(() => [GraphQLJSONObject], { description: "The entries to publish: {id (a UUID you choose), filename, size, is_dir, files (for directories)}. Directory sizes are computed when absent." })
  files: JsonObject[];

  @Field(() => ID, { nullable: true, description: "The client (registered with registerClient) publishing." })
  client?: string;

  @Field({ nullable: true })
  hostname?: string;

  @Field({ nullable: true })
  ip?: string;

  @Field(() => GraphQLJSONObject, { nullable: true })
  metadata?: JsonObject;

  @Field(() => String, {
    nullable: true,
    description: "Makes a repeat safe: the same key by the same user within 24 h answers with the first result and runs nothing again (another input with it is a CONFLICT). E.g. a UUID per request.",
  })
  idempotencyKey?: string;
}

@InputType()
class SubmitPublishEntryInput {
  @Field(() => ID)
  id: string;

  @Field({ nullable: true })
  comment?: string;

  @Field({ nullable: true, description: "One of the values pre-publish offered (its default when left out)." })
  status?: string;

  @Field(() => Int, { nullable: true, description: "Time spent, in seconds." })
  timeReport?: number;

  @Field(() => GraphQLJSONObject, { nullable: true })
  metadata?: JsonObject;
}

@InputType()
class SubmitPublishInput {
  @Field(() => ID)
  publishId: string;

  @Field(() => [SubmitPublishEntryInput])
  entries: SubmitPublishEntryInput[];

  @Field(() => String, {
    nullable: true,
    description: "Makes a repeat safe: the same key by the same user within 24 h answers with the first result and runs nothing again (another input with it is a CONFLICT). E.g. a UUID per request.",
  })
  idempotencyKey?: string;
}

@InputType()
class PublishFilterInput {
  @Field(() => PublishState, { nullable: true })
  state?: PublishState;

  @Field(() => ID, { nullable: true, description: "Publishing user." })
  user?: string;
}

@ObjectType()
class PublishEdge {
  @Field()
  cursor: string;

  @Field(() => Publish)
  node: Publish;
}

@ObjectType({ description: "Publishes, newest first. STANDARD users see their own only." })
class PublishConnection {
  @Field(() => [PublishEdge])
  edges: PublishEdge[];

  @Field(() => [Publish])
  nodes: Publish[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@ObjectType({ description: "A state change of a publish." })
class PublishStatusEvent {
  @Field(() => ID)
  id: string;

  @Field(() => PublishState)
  state: PublishState;

  @Field(() => String, { nullable: true })
  error: string | null;
}

@Resolver(() => Publish)
export class PublishResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Mutation(() => Publish, { description: "Runs pre-publish-server on the proposed entries and returns its verdict (error HOOK_FAILED with the reason when it fails or breaks the rules)." })
  async prePublish(@Arg("input") input: PrePublishInput, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<Publish> {
    // Before anything runs: a field the caller may not read would null the answer after the publish exists.
    await assertSelectionReadable(info, ctx);
    return this.services.publishes.prePublish(input, ctx.principal.user);
  }

  @Authorized()
  @Mutation(() => Publish, { description: "Submits the accepted entries with comment, status, time report and metadata; creates the upload job. Reporting that job DONE runs publish-server." })
  async submitPublish(@Arg("input") input: SubmitPublishInput, @Ctx() ctx: RequestContext, @Info() info: GraphQLResolveInfo): Promise<Publish> {
    await assertSelectionReadable(info, ctx);
    return this.services.publishes.submit(input.publishId, input.entries, ctx.principal.user, input.idempotencyKey);
  }

  @Authorized()
  @Query(() => Publish, { description: "A publish; STANDARD users see their own only." })
  publish(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Publish> {
    return this.services.publishes.find(id, ctx.principal.user);
  }

  @Authorized()
  @Query(() => PublishConnection, { description: "Publishes, newest first: a STANDARD user's own, everyone's for ADMIN and EMPLOYEE." })
  async publishes(
    @Ctx() ctx: RequestContext,
    @Arg("filter", () => PublishFilterInput, { nullable: true }) filter?: PublishFilterInput,
    @Arg("first", () => Int, { defaultValue: 50 }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
  ): Promise<PublishConnection> {
    const page = await this.services.publishes.list(filter ?? {}, first ?? 50, after, ctx.principal.user);
    return { nodes: page.nodes, edges: page.nodes.map((node) => ({ node, cursor: this.services.publishes.cursorOf(node) })), pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
  }

  @Authorized()
  @Subscription(() => PublishStatusEvent, {
    description: "State changes of one publish.",
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, { id: string }, RequestContext>) => {
      await context.services.publishes.get(args.id, context.principal.user);
      // Ends (UNAUTHENTICATED, or NOT_FOUND) once a revoked key or changed access rules say so.
      return new AccessCheckedStream(typeGraphqlPubSub(context.services.pubsub).subscribe("publishUpdated", args.id), context.services.pubsub, async () => {
        const now = await context.reauthenticate();
        await now.services.publishes.get(args.id, now.principal.user);
      });
    },
  })
  async publishUpdated(@Root() event: PublishEvent, @Arg("id", () => ID) _id: string, @Ctx() ctx: RequestContext): Promise<PublishStatusEvent> {
    return { ...event, error: await this.services.jobs.messageFor({ publishId: event.id, message: event.error }, ctx.principal.user) } as PublishStatusEvent;
  }

  @FieldResolver(() => String, { nullable: true, description: "Why the ingest failed, when it did (in full for ADMIN and audit roles)." })
  error(@Root() publish: Publish, @Ctx() ctx: RequestContext): Promise<string | null> {
    return this.services.jobs.messageFor({ publishId: publish.id, message: publish.error }, ctx.principal.user);
  }

  @FieldResolver(() => Job, { nullable: true, description: "The upload job." })
  job(@Root() publish: Publish, @Ctx() ctx: RequestContext): Promise<Job | null> {
    return publish.jobId ? this.services.jobs.get(publish.jobId, ctx.principal.user) : Promise.resolve(null);
  }

  @FieldResolver(() => [PublishEntry], {
    description: "The entries with pre-publish's verdict, a page at a time: entries after+1 to after+first, in the order they were sent (entryCount says how many there are).",
  })
  entries(
    @Root() publish: Publish,
    @Arg("first", () => Int, { defaultValue: 1000, description: "At most 1000." }) first: number,
    @Arg("after", () => Int, { defaultValue: 0, description: "How many entries were already read." }) after: number,
  ): Promise<PublishEntry[]> {
    return this.services.publishes.entriesPage(publish, first, after);
  }

  @FieldResolver(() => Int, { description: "How many entries the publish has." })
  entryCount(@Root() publish: Publish): Promise<number> {
    return this.services.publishes.entryCount(publish);
  }

  @FieldResolver(() => GraphQLJSONObject, { description: "The JSON pre-publish wrote, as written." })
  answer(@Root() publish: Publish): Promise<JsonObject> {
    return this.services.publishes.answerOf(publish);
  }

  @FieldResolver(() => String, { nullable: true, description: "The `message` of pre-publish's answer, for the user: plain text, never HTML (docs/hook-payloads.md)." })
  message(@Root() publish: Publish): Promise<string | null> {
    return this.services.publishes.messageOf(publish);
  }

  @FieldResolver(() => User, { nullable: true })
  user(@Root() publish: Publish): Promise<User | null> {
    return this.services.users.find(publish.userId);
  }

  @Authorized(Access.AUDIT)
  @FieldResolver(() => [Execution], { description: "pre-publish and publish runs, oldest first." })
  executions(@Root() publish: Publish): Promise<Execution[]> {
    return this.services.publishes.executionsOf(publish.id);
  }
}
