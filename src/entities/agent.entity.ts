import { Field, ID, ObjectType } from "type-graphql";
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import type { OsName } from "../domain/os.js";
import { ExecutionServerKind } from "./execution-server.entity.js";

/**
 * A remote agent: a process on another machine that runs the hooks of one execution server (a
 * SERVER) or of one user's client (a CLIENT). Only the SHA-256 of its credential is stored.
 */
@ObjectType({ description: "A `hookd agent` enrolled for an execution server or client. Its credential is never shown again." })
@Entity("agent")
export class Agent {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field(() => ExecutionServerKind)
  @Column({ type: "varchar", length: 16 })
  kind: ExecutionServerKind;

  @Field()
  @Column({ type: "varchar", length: 200 })
  name: string;

  @Field({ description: "The first characters of its credential, to tell agents apart." })
  @Column({ type: "varchar", length: 16 })
  prefix: string;

  @Index({ unique: true })
  @Column({ type: "varchar", length: 64 })
  hash: string;

  /** The execution server (or client) whose hooks this agent runs, and nothing else. */
  @Index()
  @Column({ type: "varchar" })
  executionServerId: string;

  @Column({ type: "varchar", nullable: true })
  userId: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: "varchar", length: 255, nullable: true })
  hostname: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: "varchar", length: 16, nullable: true })
  os: OsName | null;

  @Field(() => String, { nullable: true })
  @Column({ type: "varchar", length: 32, nullable: true })
  version: string | null;

  @Field()
  @CreateDateColumn()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  revokedAt: Date | null;
}
