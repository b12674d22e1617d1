import { Arg, Authorized, Ctx, Field, FieldResolver, Int, Mutation, ObjectType, Query, Resolver, Root } from "type-graphql";
import { HookPoint } from "../domain/hook-points.js";
import { Access } from "../domain/roles.js";
import { QueueHook } from "../entities/queue-hook.entity.js";
import { Queue } from "../entities/queue.entity.js";
import { CreateQueueInput, SetQueueHookInput, UpdateQueueInput } from "../schema/inputs.js";
import type { RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";

@ObjectType()
class DeleteQueueResult {
  @Field({ description: "The deleted queue's code." })
  code: string;

  @Field(() => Int, { description: "How many jobs moved to the default queue." })
  movedJobs: number;

  @Field(() => Queue, { description: "The default queue that received them." })
  movedTo: Queue;
}

@Resolver(() => Queue)
export class QueueResolver {
  constructor(private readonly services: Services) {}

  @Authorized()
  @Query(() => [Queue], { description: "Highest priority first." })
  queues(): Promise<Queue[]> {
    return this.services.queues.list();
  }

  @Authorized()
  @Query(() => Queue)
  queue(@Arg("code") code: string): Promise<Queue> {
    return this.services.queues.get(code);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Queue)
  createQueue(@Arg("input") input: CreateQueueInput, @Ctx() ctx: RequestContext): Promise<Queue> {
    return this.services.queues.create(input, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => Queue, { description: "Fields left out keep their value." })
  updateQueue(@Arg("code") code: string, @Arg("input") input: UpdateQueueInput, @Ctx() ctx: RequestContext): Promise<Queue> {
    return this.services.queues.update(code, input, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => DeleteQueueResult, { description: "Moves the queue's jobs to the default queue. The default queue and the last queue cannot be deleted." })
  async deleteQueue(@Arg("code") code: string, @Ctx() ctx: RequestContext): Promise<DeleteQueueResult> {
    const { movedJobs, movedTo } = await this.services.queues.delete(code, ctx.principal.user);
    return { code, movedJobs, movedTo };
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => QueueHook, { description: "Creates or replaces the queue's entry for a hook point." })
  setQueueHook(@Arg("input") input: SetQueueHookInput, @Ctx() ctx: RequestContext): Promise<QueueHook> {
    return this.services.queues.setHook(input, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => QueueHook, { description: "Removes the queue's entry; the workspace entry applies again." })
  removeQueueHook(@Arg("queue") queue: string, @Arg("hook", () => HookPoint) hook: HookPoint, @Ctx() ctx: RequestContext): Promise<QueueHook> {
    return this.services.queues.removeHook(queue, hook, ctx.principal.user);
  }

  @Authorized(Access.AUDIT)
  @FieldResolver(() => [QueueHook], { description: "The queue's own hook entries." })
  hooks(@Root() queue: Queue): Promise<QueueHook[]> {
    return this.services.queues.hooks(queue.id);
  }

  @FieldResolver(() => Int)
  jobCount(@Root() queue: Queue): Promise<number> {
    return this.services.queues.jobCount(queue.id);
  }
}
