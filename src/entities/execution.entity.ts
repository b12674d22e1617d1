import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { ExecutionStatus, FINISHED_STATUSES, isFinished } from "../domain/execution-status.js";
import { HookPoint } from "../domain/hook-points.js";
import type { OsName } from "../domain/os.js";
import { HookSource, SkipReason } from "../domain/effective-hooks.js";
import type { HookPolicy } from "../domain/hook-policy.js";
import { HookPolicyType } from "../schema/hook-policy.type.js";
import type { JsonObject } from "./metadata.embedded.js";
import { QueueHookMode } from "./queue-hook.entity.js";

registerEnumType(ExecutionStatus, { name: "ExecutionStatus" });
export { ExecutionStatus, FINISHED_STATUSES, isFinished };

/** One run of one hook entry (SPEC §1 "Executions"): what ran, with what, and how it ended. */
@ObjectType({ description: "One run of a hook: the configuration it ran with, its input, its outcome and its log." })
@Entity("execution")
@Index(["createdAt", "id"])
@Index(["status", "deadlineAt"])
@Index(["jobId"])
// One per filter of the executions list, in its newest-first (createdAt, id) order: a filtered
// page reads its rows from the index instead of sorting every match (FAILED at 1 M rows: 100 ms).
@Index(["status", "createdAt", "id"])
@Index(["hook", "createdAt", "id"])
@Index(["queue", "createdAt", "id"])
@Index(["executionServerId", "createdAt", "id"])
export class Execution {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field(() => HookPoint)
  @Column({ type: "varchar", length: 32 })
  hook: HookPoint;

  @Field(() => HookSource)
  @Column({ type: "varchar", length: 16 })
  source: HookSource;

  @Field(() => QueueHookMode, { nullable: true })
  @Column({ type: "varchar", length: 16, nullable: true })
  mode: QueueHookMode | null;

  /** The workspace hook point or the queue hook id this ran from. */
  @Column({ type: "varchar", length: 64 })
  configId: string;

  @Field(() => String, { nullable: true, description: "Code of the queue whose hooks were resolved." })
  @Column({ type: "varchar", length: 64, nullable: true })
  queue: string | null;

  @Field(() => String, { nullable: true, description: "The command line as configured when this ran (a snapshot)." })
  @Column({ type: "text", nullable: true })
  command: string | null;

  @Field(() => [String], { nullable: true, description: "The argv actually executed, tokens substituted." })
  @Column({ type: "simple-json", nullable: true })
  argv: string[] | null;

  @Field(() => String, { nullable: true })
  @Column({ type: "varchar", length: 16, nullable: true })
  os: OsName | null;

  @Column({ type: "varchar", nullable: true })
  executionServerId: string | null;

  @Field(() => ID, { nullable: true })
  @Column({ type: "varchar", nullable: true })
  jobId: string | null;

  @Field(() => ID, { nullable: true })
  @Column({ type: "varchar", nullable: true })
  publishId: string | null;

  @Field(() => GraphQLJSONObject, { description: "The JSON handed to the script." })
  @Column({ type: "simple-json" })
  input: JsonObject;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The JSON the script wrote to ${PATH_JSON_OUTPUT}: pre-publish's answer; any hook's optional answer with its `message`." })
  @Column({ type: "simple-json", nullable: true })
  output: JsonObject | null;

  @Field(() => ExecutionStatus)
  @Column({ type: "varchar", length: 16 })
  status: ExecutionStatus;

  @Field(() => Int, { nullable: true })
  @Column({ type: "integer", nullable: true })
  exitCode: number | null;

  @Field(() => String, { nullable: true, description: "The signal that ended the process, if one did." })
  @Column({ type: "varchar", length: 16, nullable: true })
  signal: string | null;

  @Field(() => String, { nullable: true, description: "What went wrong, in words: 'command not found: python4', 'timed out after 30 s; process group killed', ..." })
  @Column({ type: "text", nullable: true })
  error: string | null;

  @Field(() => String, { nullable: true, description: "For a QUEUED execution that cannot start here: the execution server it waits for." })
  @Column({ type: "text", nullable: true })
  waitingFor: string | null;

  @Field(() => SkipReason, { nullable: true })
  @Column({ type: "varchar", length: 32, nullable: true })
  skipReason: SkipReason | null;

  @Field(() => Int)
  @Column({ type: "integer" })
  timeoutSeconds: number;

  @Field(() => Int, { description: "1 for a first run; a retry is the previous attempt + 1." })
  @Column({ type: "integer" })
  attempt: number;

  /** The first execution of a retry chain. */
  @Column({ type: "varchar", nullable: true })
  retryOfId: string | null;

  @Field(() => HookPolicyType, { nullable: true, description: "The entry's policy when this ran (a snapshot; the attempts of one chain keep it)." })
  @Column({ type: "simple-json", nullable: true })
  policy: HookPolicy | null;

  /** QUEUED until this execution has finished: a queue's APPEND entry waits for the workspace entry. */
  @Field(() => ID, { nullable: true, name: "runsAfter", description: "Waits for this execution to finish first (the workspace entry, for an APPEND entry)." })
  @Column({ type: "varchar", nullable: true })
  afterId: string | null;

  @Field(() => Date, { nullable: true, description: "An attempt waiting for its backoff: it does not start before this." })
  @Column({ type: Date, nullable: true })
  notBefore: Date | null;

  @Field(() => Date, { nullable: true, description: "A failed attempt that will be retried: when its next attempt may start (nextAttempt is that execution)." })
  @Column({ type: Date, nullable: true })
  nextAttemptAt: Date | null;

  @Column({ type: "varchar", nullable: true })
  nextAttemptId: string | null;

  @Field(() => String, { nullable: true, description: "The policy's concurrencyKey for this run's input: runs with the same key run one at a time." })
  @Column({ type: "varchar", length: 500, nullable: true })
  concurrencyKey: string | null;

  @Column({ type: "varchar", nullable: true })
  triggeredById: string | null;

  /** Process group of the running hook on its runner's machine, so a restart can end what a crash left behind. */
  @Column({ type: "integer", nullable: true })
  pid: number | null;

  @Field(() => String, {
    name: "runner",
    nullable: true,
    description:
      "The runner that holds (or held) the lease: 'hookd:<execution server id>' for a hookd's embedded runner ('hookd:<execution server id>/<instance id>' when several hookd instances share the database), 'agent:<agent id>' for an agent.",
  })
  @Column({ type: "varchar", length: 200, nullable: true })
  runnerId: string | null;

  @Field(() => Date, { nullable: true, description: "While RUNNING: when the runner's lease ends unless it renews it." })
  @Column({ type: Date, nullable: true })
  leaseExpiresAt: Date | null;

  /**
   * QUEUED: when it fails for want of a runner (the schedule-to-start limit); RUNNING: when hookd
   * records it TIMED_OUT itself should its runner not end it (the timeout plus the kill grace and a lease).
   */
  @Field(() => Date, { nullable: true, description: "QUEUED: when it fails if no runner took it; RUNNING: when hookd ends it if its runner has not." })
  @Column({ type: Date, nullable: true })
  deadlineAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When a cancel was asked for a RUNNING execution; its runner ends the hook." })
  @Column({ type: Date, nullable: true })
  cancelRequestedAt: Date | null;

  @Field(() => Int, { description: "Log lines stored." })
  @Column({ type: "integer" })
  logLineCount: number;

  @Field(() => Int, { description: "Output bytes not stored because the log cap was reached." })
  @Column({ type: "integer" })
  droppedBytes: number;

  // Set by hookd with millisecond precision (a database default has only seconds), so that
  // "newest first" and the pagination cursor are exact.
  @Field({ description: "When it was queued (or skipped)." })
  @Column({ type: Date })
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  finishedAt: Date | null;
}
