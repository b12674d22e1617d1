import { Field, ObjectType } from "type-graphql";
import { Column } from "typeorm";

/** One command line per OS; a missing line means "not configured on that OS". */
@ObjectType({ description: "Command line per operating system; null means the hook is not configured for that OS." })
export class HookCommands {
  @Field(() => String, { nullable: true })
  @Column({ type: "text", nullable: true })
  linux: string | null = null;

  @Field(() => String, { nullable: true })
  @Column({ type: "text", nullable: true })
  mac: string | null = null;

  @Field(() => String, { nullable: true })
  @Column({ type: "text", nullable: true })
  windows: string | null = null;
}
