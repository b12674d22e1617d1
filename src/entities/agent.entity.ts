import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import type { OsName } from "../domain/os.js";
import { ExecutionServerKind } from "./execution-server.entity.js";

/**
 * A remote agent: a process on another machine that runs the hooks of one execution server (a
 * SERVER) or of one user's client (a CLIENT). Only the SHA-256 of its credential is stored.
 */
@Entity("agent")
export class Agent {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ type: "varchar", length: 16 })
  kind: ExecutionServerKind;

  @Column({ type: "varchar", length: 200 })
  name: string;

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

  @Column({ type: "varchar", length: 255, nullable: true })
  hostname: string | null;

  @Column({ type: "varchar", length: 16, nullable: true })
  os: OsName | null;

  @Column({ type: "varchar", length: 32, nullable: true })
  version: string | null;

  @CreateDateColumn()
  createdAt: Date;

  @Column({ type: Date, nullable: true })
  revokedAt: Date | null;
}
