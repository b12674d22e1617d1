import { ArrayMaxSize, MaxLength, ValidateNested } from "class-validator";
import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int } from "type-graphql";
import { HookPoint } from "../domain/hook-points.js";
import { UserRole } from "../domain/roles.js";
import { QueueHookMode } from "../entities/queue-hook.entity.js";
import { HookPolicyInputType } from "./hook-policy.type.js";
import { QueueStatus } from "../entities/queue.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";

// Shapes only. The rules (ranges, charsets, uniqueness, command syntax) live in the services, so
// every caller gets them; class-validator here only bounds sizes before anything is parsed.
const MAX_COMMAND = 8192;

@InputType({ description: "A command line per OS. Leave an OS out to keep it; null removes it." })
export class HookCommandsInput {
  @Field(() => String, { nullable: true })
  @MaxLength(MAX_COMMAND)
  linux?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(MAX_COMMAND)
  mac?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(MAX_COMMAND)
  windows?: string | null;
}

@InputType({ description: "A path prefix per OS. Leave an OS out to keep it; null removes it." })
export class OsPathsInput extends HookCommandsInput {}

@InputType({ description: "Metadata to set. A half left out stays as it is; each given half replaces the stored one." })
export class MetadataInput {
  @Field(() => GraphQLJSONObject, { nullable: true })
  external?: JsonObject;

  @Field(() => GraphQLJSONObject, { nullable: true })
  internal?: JsonObject;
}

@InputType()
export class UpdateSettingsInput {
  @Field({ nullable: true })
  hooksEnabled?: boolean;

  @Field(() => ID, { nullable: true, description: "Id of a SERVER execution server." })
  defaultExecutionServer?: string;

  @Field(() => [UserRole], { nullable: true, description: "Roles besides ADMIN that may audit hooks and read execution logs." })
  @ArrayMaxSize(3)
  auditRoles?: UserRole[];

  @Field(() => MetadataInput, { nullable: true })
  metadata?: MetadataInput;

  @Field(() => Int, { nullable: true, description: "Seconds an execution may wait QUEUED for a runner of its execution server before it fails (1 to 2592000, 30 days)." })
  scheduleToStartSeconds?: number;
}

@InputType()
export class SetHookConfigInput {
  @Field(() => HookPoint)
  hook: HookPoint;

  @Field({ nullable: true })
  enabled?: boolean;

  @Field(() => HookCommandsInput, { nullable: true })
  @ValidateNested()
  commands?: HookCommandsInput;

  @Field(() => Int, { nullable: true, description: "Seconds; null restores the hook point's default." })
  timeoutSeconds?: number | null;

  @Field(() => ID, { nullable: true, description: "Run on this server instead of the default; null removes the override." })
  executionServer?: string | null;

  @Field(() => HookPolicyInputType, { nullable: true, description: "Retries, concurrency and secrets; replaces the whole policy; null removes it." })
  policy?: HookPolicyInputType | null;
}

@InputType()
export class CreateQueueInput {
  @Field({ description: "Unique; letters, digits, '.', '_' and '-'." })
  @MaxLength(200)
  code: string;

  @Field({ nullable: true, description: "Defaults to the code." })
  @MaxLength(1000)
  name?: string;

  @Field(() => Int, { nullable: true, description: "0 to 1000; default 500." })
  priority?: number;

  @Field({ nullable: true, description: "Make this the default queue (the previous default stops being one)." })
  default?: boolean;

  @Field(() => QueueStatus, { nullable: true })
  status?: QueueStatus;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => MetadataInput, { nullable: true })
  metadata?: MetadataInput;
}

@InputType()
export class UpdateQueueInput {
  @Field({ nullable: true, description: "Rename the queue." })
  @MaxLength(200)
  code?: string;

  @Field({ nullable: true })
  @MaxLength(1000)
  name?: string;

  @Field(() => Int, { nullable: true })
  priority?: number;

  @Field({ nullable: true, description: "true makes this the default queue; false is refused on the default queue." })
  default?: boolean;

  @Field(() => QueueStatus, { nullable: true })
  status?: QueueStatus;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => MetadataInput, { nullable: true })
  metadata?: MetadataInput;
}

@InputType()
export class SetQueueHookInput {
  @Field({ description: "The queue's code." })
  queue: string;

  @Field(() => HookPoint)
  hook: HookPoint;

  @Field(() => QueueHookMode)
  mode: QueueHookMode;

  @Field(() => HookCommandsInput)
  @ValidateNested()
  commands: HookCommandsInput;

  @Field({ nullable: true, description: "Default true for a new entry." })
  enabled?: boolean;

  @Field(() => Int, { nullable: true })
  timeoutSeconds?: number | null;

  @Field(() => HookPolicyInputType, { nullable: true, description: "This queue's own policy for the hook point; null: the workspace entry's; left out: kept." })
  policy?: HookPolicyInputType | null;
}

@InputType()
export class CreateVolumeInput {
  @Field()
  @MaxLength(200)
  code: string;

  @Field({ nullable: true })
  @MaxLength(1000)
  name?: string;

  @Field(() => OsPathsInput, { nullable: true })
  @ValidateNested()
  paths?: OsPathsInput;

  @Field(() => MetadataInput, { nullable: true })
  metadata?: MetadataInput;
}

@InputType()
export class UpdateVolumeInput {
  @Field({ nullable: true })
  @MaxLength(200)
  code?: string;

  @Field({ nullable: true })
  @MaxLength(1000)
  name?: string;

  @Field(() => OsPathsInput, { nullable: true })
  @ValidateNested()
  paths?: OsPathsInput;

  @Field(() => MetadataInput, { nullable: true })
  metadata?: MetadataInput;
}

@InputType()
export class CreateUserInput {
  @Field()
  @MaxLength(320)
  email: string;

  @Field(() => UserRole)
  role: UserRole;

  @Field(() => MetadataInput, { nullable: true, description: "The user's metadata; their jobs and publishes aggregate it (SPEC §4)." })
  metadata?: MetadataInput;
}

@InputType()
export class UpdateUserInput {
  @Field(() => MetadataInput, { nullable: true, description: "A half left out is kept." })
  metadata?: MetadataInput;
}
