import { Field, ID, ObjectType } from "type-graphql";
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { ExecutionServerKind } from "./execution-server.entity.js";

/** An enrolment token: traded once, before it expires, for an agent's own credential. Only its SHA-256 is stored. */
@ObjectType({ description: "An enrolment token for a remote agent. The token itself is shown only once, by createAgentToken." })
@Entity("agent_token")
export class AgentToken {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field(() => ExecutionServerKind)
  @Column({ type: "varchar", length: 16 })
  kind: ExecutionServerKind;

  @Field({ description: "SERVER: the execution server's name; CLIENT: the name of the user's client." })
  @Column({ type: "varchar", length: 200 })
  name: string;

  /** CLIENT: whose client the agent becomes. */
  @Column({ type: "varchar", nullable: true })
  userId: string | null;

  @Index({ unique: true })
  @Column({ type: "varchar", length: 64 })
  hash: string;

  @Field()
  @Column({ type: Date })
  expiresAt: Date;

  @Column({ type: Date, nullable: true })
  usedAt: Date | null;

  @Column({ type: "varchar", nullable: true })
  createdById: string | null;

  @CreateDateColumn()
  createdAt: Date;
}
