import { Field, ID, ObjectType } from "type-graphql";
import { Column, CreateDateColumn, Entity, Index, ManyToOne, PrimaryGeneratedColumn, type Relation } from "typeorm";
import type { User } from "./user.entity.js";

/** An API key. Only its SHA-256 is stored; the secret is shown once, when it is created. */
@ObjectType({ description: "An API key. The secret itself is shown only once, by the mutation that creates it." })
@Entity("api_key")
export class ApiKey {
  @Field(() => ID)
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Field({ description: "The first characters of the key, to tell keys apart." })
  @Column({ type: "varchar", length: 16 })
  prefix: string;

  @Index({ unique: true })
  @Column({ type: "varchar", length: 64 })
  hash: string;

  @Field(() => String, { nullable: true })
  @Column({ type: "varchar", length: 200, nullable: true })
  label: string | null;

  @Column({ type: "varchar" })
  userId: string;

  @ManyToOne("User", (user: User) => user.apiKeys, { onDelete: "CASCADE" })
  user: Relation<User>;

  @Field()
  @CreateDateColumn()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  lastUsedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  revokedAt: Date | null;
}
