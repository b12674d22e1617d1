import { Arg, Ctx, Field, Float, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { HookPoint } from "../domain/hook-points.js";
import { LogStream } from "../entities/execution-log-line.entity.js";
import { ExecutionServerKind } from "../entities/execution-server.entity.js";
import { ExecutionStatus } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { AgentContext } from "./agent-schema.js";
import { badInput } from "../domain/errors.js";
import { unpackLines, unpackOutcome, type AgentLogLine, type AgentOutcome, type Assignment } from "./agent-gateway.service.js";

// The agent's operations: the whole of the schema an agent credential reaches (agent-schema.ts).

@ObjectType({ description: "The agent the credential belongs to." })
class AgentSelf {
  @Field(() => ID) id: string;
  @Field() name: string;
  @Field(() => ExecutionServerKind) kind: ExecutionServerKind;
  @Field(() => ID) executionServerId: string;
}

@ObjectType({ description: "A claimed execution: what LocalHookRunner needs to run it, and its limits." })
class AgentHookSpec {
  @Field(() => ID) id: string;
  @Field(() => HookPoint) hook: HookPoint;
  @Field(() => String, { nullable: true }) command: string | null;
  @Field(() => String, { nullable: true }) os: string | null;
  @Field(() => GraphQLJSONObject) input: JsonObject;
  @Field(() => Int) timeoutSeconds: number;
  @Field(() => ID, { nullable: true }) jobId: string | null;
  @Field(() => ID, { nullable: true }) publishId: string | null;
  @Field(() => Int, { description: "1 for a first run (HOOKD_ATTEMPT)." }) attempt: number;
  @Field(() => ID, { nullable: true, description: "The first attempt of its retry chain (HOOKD_IDEMPOTENCY_KEY is its id)." }) retryOfId: string | null;
  @Field(() => GraphQLJSONObject, { nullable: true, description: "The secrets the hook's policy asks for, as environment variables." }) env: Record<string, string> | null;
  @Field(() => Float, { description: "Renew the lease well within this (a third of it)." }) leaseSeconds: number;
  @Field(() => Int, { description: "Output bytes stored at most; the agent counts what is past it." }) logCapBytes: number;
}

@ObjectType({ description: "Executions to claim (QUEUED for this agent's server), runs to end, and runs hookd claimed for the agent." })
class AgentAssignment {
  @Field(() => [ID]) queued: string[];
  @Field(() => [ID]) cancel: string[];
  @Field(() => [AgentHookSpec], { description: "Claimed for this agent (it sent a concurrency): run them now, as after agentClaim." }) offered: AgentHookSpec[];
  @Field(() => [ID], { nullable: true, description: "In the first event of a connection that sent a concurrency: the runs leased to this agent now." }) held: string[] | null;
}

@ObjectType()
class AgentRenewal {
  @Field(() => [ID], { description: "No longer held: stop them; their outcome is not wanted." }) lost: string[];
  @Field(() => [ID], { description: "Still held and cancelled: end their process groups, then finish them CANCELLED." }) cancel: string[];
}

@ObjectType()
class AgentLogAck {
  @Field(() => Int, { description: "The last seq hookd holds: send from the next one." }) acknowledged: number;
}

@InputType()
class AgentHelloInput {
  @Field() hostname: string;
  @Field({ description: "linux, mac or windows" }) os: string;
  @Field(() => [String], { nullable: true }) labels?: string[];
  @Field(() => String, { nullable: true }) version?: string;
  @Field(() => Int, { nullable: true, description: "Runs the agent takes at once: hookd then claims runs for it and offers them with the assignment (no agentClaim). Without it: ids only." })
  concurrency?: number;
}

@InputType()
class AgentLogLineInput {
  @Field(() => Int) seq: number;
  @Field(() => LogStream) stream: LogStream;
  @Field() at: Date;
  @Field() text: string;
  @Field(() => Boolean, { nullable: true, description: "A piece of a line too long for one row (or a last line without a newline): it goes on in the next line of its stream." })
  partial?: boolean;
}

@InputType()
class AgentOutcomeInput {
  @Field(() => ExecutionStatus) status: ExecutionStatus;
  @Field(() => Int, { nullable: true }) exitCode?: number;
  @Field(() => String, { nullable: true }) signal?: string;
  @Field(() => String, { nullable: true }) error?: string;
  @Field(() => GraphQLJSONObject, { nullable: true }) output?: JsonObject;
  @Field(() => Int, { nullable: true, description: "Output bytes past the cap, not sent." }) droppedBytes?: number;
}

const PACKED = "The same lines as `lines`, packed: [[seq, stream, at (ISO 8601), text], ...] (checked by hookd; far cheaper to read than typed input objects). Give lines or packed.";

/** An argument an agent may give typed or packed (a JSON value hookd checks itself): exactly one of the two. */
function typedOrPacked<T>(typed: T | undefined, packed: unknown, [typedName, packedName]: [string, string], unpack: (packed: unknown) => T): T {
  if (typed && packed != null) throw badInput(packedName, `give ${typedName} or ${packedName}, not both`);
  if (typed) return typed;
  if (packed == null) throw badInput(typedName, `give ${typedName} or ${packedName}`);
  return unpack(packed);
}

const linesOf = (lines: AgentLogLineInput[] | undefined, packed: unknown): AgentLogLine[] => typedOrPacked<AgentLogLine[]>(lines, packed, ["lines", "packed"], unpackLines);

const PACKED_OUTCOME =
  "The same outcome as `outcome`, as one JSON object { status, exitCode, signal, error, output, droppedBytes } (checked by hookd; cheaper to read than a typed input object). Give outcome or packedOutcome.";

const outcomeOf = (outcome: AgentOutcomeInput | undefined, packed: unknown): AgentOutcome => typedOrPacked<AgentOutcome>(outcome, packed, ["outcome", "packedOutcome"], unpackOutcome);

function assignments({ args, context }: SubscribeResolverData<unknown, Record<string, unknown>, AgentContext>): Promise<AsyncIterable<Assignment>> {
  return context.services.agentGateway.connect(context.agent, args.hello as AgentHelloInput, context.closeSocket);
}

@Resolver()
export class AgentResolver {
  @Query(() => AgentSelf)
  agent(@Ctx() ctx: AgentContext): AgentSelf {
    return ctx.agent;
  }

  @Subscription(() => AgentAssignment, { subscribe: assignments, description: "The agent's connection: its server is online while this runs. First what is QUEUED now, then as it comes." })
  agentAssignments(@Root() assignment: Assignment, @Arg("hello", () => AgentHelloInput) _hello: AgentHelloInput): AgentAssignment {
    return { queued: assignment.queued, cancel: assignment.cancel, offered: (assignment.offered ?? []) as AgentHookSpec[], held: assignment.held ?? null };
  }

  @Mutation(() => AgentHookSpec, { nullable: true, description: "Claims a QUEUED execution (a lease); null when another runner took it or it ended." })
  agentClaim(@Ctx() ctx: AgentContext, @Arg("executionId", () => ID) executionId: string): Promise<AgentHookSpec | null> {
    return ctx.services.agentGateway.claim(ctx.agent, executionId);
  }

  @Mutation(() => AgentRenewal)
  agentRenew(@Ctx() ctx: AgentContext, @Arg("executionIds", () => [ID]) executionIds: string[]): Promise<AgentRenewal> {
    return ctx.services.agentGateway.renew(ctx.agent, executionIds);
  }

  @Mutation(() => AgentLogAck, { description: "Stores lines by their seq: a seq already stored is ignored; a batch that leaves a gap stores nothing." })
  async agentLog(
    @Ctx() ctx: AgentContext,
    @Arg("executionId", () => ID) executionId: string,
    @Arg("lines", () => [AgentLogLineInput], { nullable: true }) lines?: AgentLogLineInput[],
    @Arg("packed", () => GraphQLJSON, { nullable: true, description: PACKED }) packed?: unknown,
  ): Promise<AgentLogAck> {
    return { acknowledged: await ctx.services.agentGateway.appendLog(ctx.agent, executionId, linesOf(lines, packed)) };
  }

  @Mutation(() => Boolean, {
    description: "The outcome (`outcome` or `packedOutcome`), once lines 1..lastSeq are stored (`lines`: the last ones, stored with it). False: the agent no longer held it.",
  })
  agentFinish(
    @Ctx() ctx: AgentContext,
    @Arg("executionId", () => ID) executionId: string,
    @Arg("lastSeq", () => Int) lastSeq: number,
    @Arg("outcome", () => AgentOutcomeInput, { nullable: true }) outcome?: AgentOutcomeInput,
    @Arg("packedOutcome", () => GraphQLJSON, { nullable: true, description: PACKED_OUTCOME }) packedOutcome?: unknown,
    @Arg("lines", () => [AgentLogLineInput], { nullable: true }) lines?: AgentLogLineInput[],
    @Arg("packed", () => GraphQLJSON, { nullable: true, description: PACKED }) packed?: unknown,
  ): Promise<boolean> {
    return ctx.services.agentGateway.finish(ctx.agent, executionId, outcomeOf(outcome, packedOutcome), lastSeq, lines || packed != null ? linesOf(lines, packed) : []);
  }
}
