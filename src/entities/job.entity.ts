import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Column, Entity, Index, ManyToOne, PrimaryColumn, type Relation } from "typeorm";
import { HookPoint } from "../domain/hook-points.js";
import { MetadataPair, type JsonObject } from "./metadata.embedded.js";
import type { Queue } from "./queue.entity.js";

export enum JobStatus {
  SUBMITTED = "SUBMITTED",
  RUNNING = "RUNNING",
  DONE = "DONE",
  FAILED = "FAILED",
}
registerEnumType(JobStatus, { name: "JobStatus", description: "submitted → running → done or failed; a failed job can be retried (→ running)." });

/** One file of a job, as stored: the paths as given plus where they lie on a volume. */
export interface JobTask {
  source: TaskPath;
  destination: TaskPath;
  size: number;
  /** The task's own metadata, as given at submit (the original's per-task metadata). */
  metadata?: JsonObject;
}
export interface TaskPath {
  /** Absolute path on the execution server's OS. */
  path: string;
  volume: string | null;
  volume_hr: string | null;
  relative_path: string | null;
}

/** A hook of the job's own (the original's job `hooks`): when that hook point fires for the job, `data` is in its input. */
@ObjectType({ description: "A hook entry of the job's own: when `hook` fires for this job, its input carries `data`." })
export class JobHook {
  @Field(() => HookPoint)
  hook: HookPoint;

  @Field(() => GraphQLJSONObject)
  data: JsonObject;
}

// Sizes are bytes and exceed 2^31; the driver may hand a bigint column back as a string.
const bytes = { to: (v: number) => v, from: (v: string | number | null) => (v === null ? 0 : Number(v)) };

/** A transfer (or publish upload) whose transitions fire the job hooks (SPEC §1 "Jobs"). */
@ObjectType({ description: "A transfer job. hookd does not move bytes: the transfer engine or a client reports its status." })
@Entity("job")
@Index(["createdAt", "id"])
export class Job {
  @Field(() => ID)
  @PrimaryColumn({ type: "varchar", length: 36 })
  id: string;

  @Field()
  @Column({ type: "varchar", length: 128, unique: true })
  code: string;

  @Field()
  @Column({ type: "varchar", length: 255 })
  name: string;

  @Column({ type: "varchar" })
  queueId: string;

  @ManyToOne("Queue", { onDelete: "RESTRICT" })
  queue: Relation<Queue>;

  @Field(() => JobStatus)
  @Column({ type: "varchar", length: 16 })
  status: JobStatus;

  /** The submitting user. */
  @Column({ type: "varchar", nullable: true })
  userId: string | null;

  @Field({ description: "Raw party ident, <entitytype>:<entityid>." })
  @Column({ type: "varchar", length: 255 })
  source: string;

  @Field()
  @Column({ type: "varchar", length: 255 })
  sourceHr: string;

  @Field()
  @Column({ type: "varchar", length: 255 })
  destination: string;

  @Field()
  @Column({ type: "varchar", length: 255 })
  destinationHr: string;

  @Field()
  @Column({ type: "varchar", length: 64 })
  engine: string;

  /** The files; over GraphQL a page at a time (JobResolver.tasks). Not loaded by reads that page. */
  @Column({ type: "simple-json" })
  tasks: JobTask[];

  @Field(() => Float, { description: "Bytes: the sum of the task sizes." })
  @Column({ type: "bigint", transformer: bytes })
  size: number;

  @Column({ type: "varchar", nullable: true })
  clientId: string | null;

  /** The volume whose metadata the job inherits (its destination's, else its source's). */
  @Column({ type: "varchar", nullable: true })
  volumeId: string | null;

  @Field(() => MetadataPair, { description: "The job's own metadata (hooks get it aggregated with the workspace, volume and queue)." })
  @Column(() => MetadataPair, { prefix: "metadata" })
  metadata: MetadataPair = new MetadataPair();

  @Field(() => GraphQLJSONObject, { description: "Settings given at submit (the original's job `settings`), stored and passed to hooks as they are." })
  @Column({ type: "simple-json" })
  settings: JsonObject = {};

  @Field(() => [JobHook], { description: "The job's own hook entries (the original's job `hooks`)." })
  @Column({ type: "simple-json" })
  hooks: JobHook[] = [];

  @Field(() => String, { nullable: true, description: "The last message reported with a status." })
  @Column({ type: "text", nullable: true })
  message: string | null;

  @Field(() => Int, { description: "How many times it failed." })
  @Column({ type: "integer" })
  failCount: number;

  /** Set when a publish created this job (its upload). */
  @Column({ type: "varchar", nullable: true })
  publishId: string | null;

  @Field()
  @Column({ type: Date })
  createdAt: Date;

  @Field()
  @Column({ type: Date })
  updatedAt: Date;
}
