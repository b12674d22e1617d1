import { Field, ID, Int, ObjectType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";
import type { ConfigurationChange, ConfigurationDocument } from "../domain/configuration-document.js";
import { ConfigurationChangeType } from "../schema/configuration.type.js";

/**
 * One numbered version of the workspace configuration (issue 37): the whole document after a
 * change, and the change itself, so any two versions diff and any one can be restored.
 */
@ObjectType({ description: "A numbered version of the configuration: who changed what, when." })
@Entity("configuration_version")
export class ConfigurationVersion {
  @Field(() => Int, { description: "1, 2, 3, …: one per change, in the order they were committed." })
  @PrimaryColumn({ type: "integer" })
  version: number;

  @Field()
  @Column({ type: Date })
  at: Date;

  @Field(() => ID, { nullable: true, description: "The user; null for the command line and hookd itself." })
  @Column({ type: "varchar", nullable: true })
  actorId: string | null;

  @Field({ description: "The user's email, 'cli' or 'hookd'." })
  @Column({ type: "varchar", length: 320 })
  actor: string;

  @Field({ description: "e.g. hookConfig.set, queueHook.remove, secret.set, configuration.apply, configuration.rollback." })
  @Column({ type: "varchar", length: 64 })
  action: string;

  @Field({ description: "What was changed: a hook point, queue/hook point, queue or volume code, secret name, or version." })
  @Column({ type: "varchar", length: 255 })
  target: string;

  @Field(() => [ConfigurationChangeType], { description: "What changed since the version before." })
  @Column({ type: "simple-json" })
  changes: ConfigurationChange[];

  /** The whole configuration after this change (the export format). */
  @Column({ type: "simple-json" })
  document: ConfigurationDocument;
}
