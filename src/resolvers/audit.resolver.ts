import { Arg, Authorized, Field, ID, InputType, Int, ObjectType, Query, Resolver } from "type-graphql";
import { Access } from "../domain/roles.js";
import { AuditEvent } from "../entities/audit-event.entity.js";
import { PageInfo } from "../schema/page-info.type.js";
import type { Services } from "../services/services.js";

@InputType()
class AuditFilterInput {
  @Field({ nullable: true, description: "User id or email ('cli' and 'hookd' too)." })
  actor?: string;

  @Field({ nullable: true, description: "e.g. queue.delete" })
  action?: string;

  @Field(() => ID, { nullable: true, description: "The target's id (or code / hook point)." })
  target?: string;

  @Field({ nullable: true })
  since?: Date;
}

@ObjectType({ description: "Audit events, newest first." })
class AuditConnection {
  @Field(() => [AuditEvent])
  nodes: AuditEvent[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@Resolver()
export class AuditResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.AUDIT)
  @Query(() => AuditConnection, { description: "Who changed which configuration, and who triggered, retried or cancelled what, with the values before and after." })
  async auditEvents(
    @Arg("filter", () => AuditFilterInput, { nullable: true }) filter?: AuditFilterInput,
    @Arg("first", () => Int, { defaultValue: 50 }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
  ): Promise<AuditConnection> {
    const page = await this.services.audit.list(filter ?? {}, first ?? 50, after);
    return { nodes: page.nodes, pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
  }
}
