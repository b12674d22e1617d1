import { Field, Float, InputType, Int, ObjectType } from "type-graphql";
import type { HookPolicy, HookPolicyInput, RetryPolicy, RetryPolicyInput } from "../domain/hook-policy.js";

@ObjectType("RetryPolicy", { description: "When and how often a failed run is tried again; each attempt is its own execution, linked by retryOf." })
export class RetryPolicyType implements RetryPolicy {
  @Field(() => Int, { description: "Runs in all, the first included; 1 never retries." })
  maxAttempts: number;

  @Field(() => Float, { description: "Seconds before the first retry." })
  initialDelaySeconds: number;

  @Field(() => Float, { description: "Each further delay is the previous one times this." })
  factor: number;

  @Field(() => Float, { description: "No delay is longer than this." })
  maxDelaySeconds: number;

  @Field(() => Float, { description: "0 to 1: each delay is shortened by up to this fraction, at random." })
  jitter: number;

  @Field(() => [String], { nullable: true, description: 'Exit codes ("3") and ranges ("75-78") that retry; null: every non-zero exit code not marked permanent.' })
  retryExitCodes: string[] | null;

  @Field(() => [String], { description: "Exit codes and ranges that never retry." })
  permanentExitCodes: string[];

  @Field({ description: "Whether a TIMED_OUT run is retried." })
  retryTimedOut: boolean;

  @Field({ description: "Whether a run whose runner was lost (lease expired, hookd stopped) is retried." })
  retryRunnerLost: boolean;
}

@ObjectType("HookPolicy", { description: "Retries, concurrency and secrets of a hook entry." })
export class HookPolicyType implements HookPolicy {
  @Field(() => RetryPolicyType, { nullable: true, description: "null: never retried automatically." })
  retry: RetryPolicyType | null;

  @Field(() => Int, { nullable: true, description: "Runs of this entry at once, across runners; more stay QUEUED with a reason. null: no limit." })
  maxConcurrent: number | null;

  @Field(() => String, { nullable: true, description: "A template over the hook's input (${job.queue}, ${publish.user}): runs with the same key run one at a time, in order." })
  concurrencyKey: string | null;

  @Field(() => [String], { description: "Secrets the hook gets as environment variables of the same names." })
  env: string[];
}

@InputType()
export class RetryPolicyInputType implements RetryPolicyInput {
  @Field(() => Int, { description: "Runs in all, 1 to 20; 1 never retries." })
  maxAttempts: number;

  @Field(() => Float, { nullable: true, description: "Default 1." })
  initialDelaySeconds?: number | null;

  @Field(() => Float, { nullable: true, description: "Default 2 (1 to 100)." })
  factor?: number | null;

  @Field(() => Float, { nullable: true, description: "Default 300, or initialDelaySeconds when longer." })
  maxDelaySeconds?: number | null;

  @Field(() => Float, { nullable: true, description: "Default 0.2 (0 to 1)." })
  jitter?: number | null;

  @Field(() => [String], { nullable: true, description: 'Exit codes ("3") or ranges ("75-78") that retry; left out: every non-zero code.' })
  retryExitCodes?: string[] | null;

  @Field(() => [String], { nullable: true, description: "Exit codes or ranges that never retry." })
  permanentExitCodes?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: "Default true." })
  retryTimedOut?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "Default true." })
  retryRunnerLost?: boolean | null;
}

@InputType()
export class HookPolicyInputType implements HookPolicyInput {
  @Field(() => RetryPolicyInputType, { nullable: true })
  retry?: RetryPolicyInputType | null;

  @Field(() => Int, { nullable: true })
  maxConcurrent?: number | null;

  @Field(() => String, { nullable: true })
  concurrencyKey?: string | null;

  @Field(() => [String], { nullable: true })
  env?: string[] | null;
}
