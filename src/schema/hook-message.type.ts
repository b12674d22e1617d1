import { Field, ObjectType } from "type-graphql";
import { HookPoint } from "../domain/hook-points.js";

@ObjectType({ description: "What a hook said to the job's user: the `message` of its answer at ${PATH_JSON_OUTPUT}, as plain text (docs/hook-payloads.md)." })
export class HookMessage {
  @Field(() => HookPoint)
  hook: HookPoint;

  @Field({ description: "Plain text, never HTML: control characters removed, newlines kept, at most 2000 characters." })
  message: string;

  @Field({ description: "When the hook run that said it ended." })
  at: Date;
}
