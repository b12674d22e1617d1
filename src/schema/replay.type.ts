import { ArrayMaxSize, ValidateNested } from "class-validator";
import { GraphQLJSON } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { HookPoint } from "../domain/hook-points.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import { HookCommandsInput } from "./inputs.js";

@InputType({ description: "Which past executions to replay: one hook point, newest first, at most 200." })
export class ReplayFilterInput {
  @Field(() => HookPoint)
  hook: HookPoint;

  @Field(() => [ID], { nullable: true, description: "These executions only (all of that hook point)." })
  @ArrayMaxSize(200)
  ids?: string[] | null;

  @Field(() => ExecutionStatus, { nullable: true, description: "Only those that ended so (default: every status that ran)." })
  status?: ExecutionStatus | null;

  @Field(() => Date, { nullable: true })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: "Only those created before this time." })
  until?: Date | null;

  @Field(() => Int, { nullable: true, description: "How many, newest first: 1 to 200 (default 50)." })
  limit?: number | null;
}

@InputType({ description: "The configuration to try: command lines and, optionally, a timeout." })
export class ReplayCandidateInput {
  @Field(() => HookCommandsInput)
  @ValidateNested()
  commands: HookCommandsInput;

  @Field(() => Int, { nullable: true, description: "Default: the hook point's." })
  timeoutSeconds?: number | null;
}

@ObjectType({ description: "A pre-publish verdict field of one entry that the candidate answers differently." })
export class VerdictChange {
  @Field({ description: "The entry's id, as sent." })
  id: string;

  @Field(() => String, { nullable: true })
  filename: string | null;

  @Field({ description: "can_publish, rejected, path or warning." })
  field: string;

  @Field(() => GraphQLJSON, { nullable: true, description: "The stored answer's value." })
  before: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: "The candidate's value." })
  after: unknown;
}

@ObjectType({ description: "One past execution side by side with its replay." })
export class ReplayEntry {
  @Field(() => Execution, { description: "The run then." })
  original: Execution;

  @Field(() => Execution, { description: "The candidate now, on the same input (with replay: true)." })
  replay: Execution;

  @Field({ description: "Status or exit code differ." })
  statusChanged: boolean;

  @Field(() => [VerdictChange], { description: "Pre-publish only: per entry, the verdict fields that changed." })
  verdictChanges: VerdictChange[];

  @Field(() => String, { nullable: true, description: "Pre-publish only: why a real publish would refuse the candidate's answer." })
  answerProblem: string | null;
}

@ObjectType({ description: "What a candidate configuration does with real past inputs." })
export class ReplayReport {
  @Field(() => HookPoint)
  hook: HookPoint;

  @Field(() => [ReplayEntry])
  entries: ReplayEntry[];
}
