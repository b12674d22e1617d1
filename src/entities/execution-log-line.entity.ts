import { Field, Int, ObjectType, registerEnumType } from "type-graphql";
import { Column, Entity, ManyToOne, PrimaryColumn, type Relation } from "typeorm";
import type { Execution } from "./execution.entity.js";

export enum LogStream {
  STDOUT = "STDOUT",
  STDERR = "STDERR",
  /** Written by hookd itself: the cap, the kill, the outcome. */
  SYSTEM = "SYSTEM",
}
registerEnumType(LogStream, { name: "LogStream" });

@ObjectType({ description: "One line of an execution's output, in the order it arrived." })
// Keyed by (executionId, seq), the order every reader wants: no surrogate id and no second index
// to maintain per line, which is most of what a line costs the database.
@Entity("execution_log_line")
export class ExecutionLogLine {
  @PrimaryColumn({ type: "varchar" })
  executionId: string;

  @ManyToOne("Execution", { onDelete: "CASCADE" })
  execution: Relation<Execution>;

  @Field(() => Int, { description: "1, 2, 3, ... within the execution, across streams." })
  @PrimaryColumn({ type: "integer" })
  seq: number;

  @Field(() => LogStream)
  @Column({ type: "varchar", length: 8 })
  stream: LogStream;

  @Field()
  @Column({ type: Date })
  at: Date;

  @Field()
  @Column({ type: "text" })
  text: string;
}
