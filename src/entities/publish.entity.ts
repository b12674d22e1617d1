import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, ObjectType, registerEnumType } from "type-graphql";
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import type { JsonObject } from "./metadata.embedded.js";

export enum PublishState {
  /** pre-publish answered; the user may submit. */
  VALIDATED = "VALIDATED",
  /** Submitted: the upload job exists. */
  SUBMITTED = "SUBMITTED",
  /** Uploaded and ingested by publish-server. */
  PUBLISHED = "PUBLISHED",
  /** publish-server failed; retrying the upload job runs it again. */
  FAILED = "FAILED",
}
registerEnumType(PublishState, { name: "PublishState" });

@ObjectType({ description: "A status the user may choose for an entry, as offered by pre-publish." })
export class PublishStatusOption {
  @Field()
  label: string;

  @Field()
  value: string;

  @Field()
  default: boolean;
}

/** One entry as the user sent it and as pre-publish answered it. */
@ObjectType({ description: "One proposed entry with pre-publish's verdict." })
export class PublishEntry {
  @Field(() => ID)
  id: string;

  @Field()
  filename: string;

  @Field()
  isDir: boolean;

  @Field(() => Float, { description: "Bytes; a directory's is the sum of its files." })
  size: number;

  @Field(() => String, { nullable: true })
  ident: string | null;

  @Field()
  canPublish: boolean;

  @Field()
  rejected: boolean;

  @Field({ description: "Upload allowed though not approved." })
  canUpload: boolean;

  @Field(() => String, { nullable: true })
  warning: string | null;

  @Field(() => String, { nullable: true })
  info: string | null;

  @Field(() => String, { nullable: true })
  commentLabel: string | null;

  @Field(() => String, { nullable: true, description: "Resolved destination path on the execution server." })
  path: string | null;

  /** The volume the path lies on, if any (v and v_hr for publish-server). */
  volumeId: string | null;
  volumeCode: string | null;
  /** The user's nested files for a directory, as sent. */
  files: JsonObject[] | null;
}

/** What the user submitted for an entry. */
export interface SubmittedEntry {
  id: string;
  comment: string | null;
  status: string | null;
  timeReport: number | null;
  metadata: JsonObject | null;
}

/** A publish (SPEC §3): validated by pre-publish, submitted as an upload job, ingested by publish-server. */
@ObjectType({ description: "A publish: the entries a remote user proposed, pre-publish's verdict, the upload job and the ingest." })
@Entity("publish")
@Index(["createdAt", "id"])
export class Publish {
  @Field(() => ID)
  @PrimaryColumn({ type: "varchar", length: 36 })
  id: string;

  @Column({ type: "varchar" })
  userId: string;

  @Field(() => PublishState)
  @Column({ type: "varchar", length: 16 })
  state: PublishState;

  @Column({ type: "varchar", nullable: true })
  clientId: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: "varchar", length: 255, nullable: true })
  hostname: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: "varchar", length: 64, nullable: true })
  ip: string | null;

  @Field(() => GraphQLJSONObject, { description: "Metadata sent with the proposal." })
  @Column({ type: "simple-json" })
  metadata: JsonObject;

  /** The entries as sent (sizes computed), handed to both hooks. */
  @Column({ type: "simple-json" })
  files: JsonObject[];

  /** The JSON pre-publish wrote (PublishResolver.answer reads it when asked for). */
  @Column({ type: "simple-json" })
  answer: JsonObject;

  @Field(() => String, { nullable: true, description: "Text or HTML to show the user." })
  @Column({ type: "text", nullable: true })
  guidelines: string | null;

  @Field({ description: "Each submitted entry needs a comment." })
  @Column({ type: "boolean" })
  commentRequired: boolean;

  @Field({ description: "Each submitted entry needs the time spent, in seconds." })
  @Column({ type: "boolean" })
  timeReportRequired: boolean;

  @Field({ description: "Each submitted entry needs metadata." })
  @Column({ type: "boolean" })
  metadataRequired: boolean;

  @Field(() => [PublishStatusOption])
  @Column({ type: "simple-json" })
  statuses: PublishStatusOption[];

  /** Over GraphQL a page at a time (PublishResolver.entries). */
  @Column({ type: "simple-json" })
  entries: PublishEntry[];

  @Column({ type: "simple-json", nullable: true })
  submitted: SubmittedEntry[] | null;

  @Field(() => ID, { nullable: true, description: "The upload job, once submitted." })
  @Column({ type: "varchar", nullable: true })
  jobId: string | null;

  @Field(() => String, { nullable: true, description: "Why the ingest failed, when it did." })
  @Column({ type: "text", nullable: true })
  error: string | null;

  @Field()
  @Column({ type: Date })
  createdAt: Date;

  @Field()
  @Column({ type: Date })
  updatedAt: Date;
}
