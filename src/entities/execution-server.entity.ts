import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { Column, CreateDateColumn, Entity, ManyToOne, PrimaryGeneratedColumn, type Relation } from "typeorm";
import type { OsName } from "../domain/os.js";
import { MetadataPair } from "./metadata.embedded.js";
import type { User } from "./user.entity.js";

export enum ExecutionServerKind {
  /** A site server that runs server-side hooks. */
  SERVER = "SERVER",
  /** A user's desktop app or site server that runs client-side hooks. */
  CLIENT = "CLIENT",
}
registerEnumType(ExecutionServerKind, { name: "ExecutionServerKind" });

@ObjectType({ description: "A machine that runs hooks: a site server, or a user's client." })
@Entity("execution_server")
export class ExecutionServer {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field()
  @Column({ type: "varchar", length: 200 })
  name: string;

  @Field()
  @Column({ type: "varchar", length: 255 })
  hostname: string;

  @Field(() => String)
  @Column({ type: "varchar", length: 16 })
  os: OsName;

  @Field(() => ExecutionServerKind)
  @Column({ type: "varchar", length: 16 })
  kind: ExecutionServerKind;

  @Column({ type: "varchar", nullable: true })
  ownerId: string | null;

  @ManyToOne("User", { onDelete: "CASCADE", nullable: true })
  owner: Relation<User> | null;

  @Field()
  @Column({ type: "boolean" })
  online: boolean;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  lastSeenAt: Date | null;

  @Field(() => [String])
  @Column({ type: "simple-json" })
  labels: string[] = [];

  @Field(() => MetadataPair, { description: "The machine's own metadata; hooks get it aggregated over the workspace's as clients[].metadata." })
  @Column(() => MetadataPair, { prefix: "metadata" })
  metadata: MetadataPair = new MetadataPair();

  @Field()
  @CreateDateColumn()
  createdAt: Date;
}
