import { Field, Int, ObjectType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { UserRole } from "../domain/roles.js";
import { MetadataPair } from "./metadata.embedded.js";

/** The single row of workspace settings (SPEC §1). */
@ObjectType({ description: "Workspace-wide hook settings." })
@Entity("workspace_settings")
export class WorkspaceSettings {
  static readonly ID = 1;

  @PrimaryColumn({ type: "integer" })
  id: number = WorkspaceSettings.ID;

  @Field({ description: "When false no hook runs anywhere; executions are recorded as SKIPPED." })
  @Column({ type: "boolean" })
  hooksEnabled: boolean = true;

  @Column({ type: "varchar", nullable: true })
  defaultExecutionServerId: string | null = null;

  @Field(() => Int, { description: "How long an execution may wait QUEUED for a runner of its execution server before it fails (blocking hooks wait at most their own timeout)." })
  @Column({ type: "integer", default: 86400 })
  scheduleToStartSeconds: number = 86400;

  /** Roles besides ADMIN that may read hook configurations, executions and logs. */
  @Field(() => [UserRole])
  @Column({ type: "simple-json" })
  auditRoles: UserRole[] = [];

  @Field(() => MetadataPair)
  @Column(() => MetadataPair, { prefix: "metadata" })
  metadata: MetadataPair = new MetadataPair();
}
