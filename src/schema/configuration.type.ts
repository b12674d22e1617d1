import { GraphQLJSON } from "graphql-scalars";
import type { ConfigurationChange } from "../domain/configuration-document.js";
import { Field, Int, ObjectType, registerEnumType } from "type-graphql";

export enum ConfigurationChangeKind {
  ADDED = "ADDED",
  REMOVED = "REMOVED",
  CHANGED = "CHANGED",
}
registerEnumType(ConfigurationChangeKind, { name: "ConfigurationChangeKind" });

@ObjectType("ConfigurationChange", { description: "One difference between two configuration documents, at a path of the document." })
export class ConfigurationChangeType {
  @Field({ description: 'Where in the document, e.g. hooks.PRE_PUBLISH_SERVER.commands.linux or queues["vfx.2"].priority.' })
  path: string;

  @Field(() => ConfigurationChangeKind)
  kind: ConfigurationChange["kind"];

  @Field(() => GraphQLJSON, { nullable: true, description: "The value before; null when ADDED." })
  before: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: "The value after; null when REMOVED." })
  after: unknown;
}

@ObjectType({ description: "What applyConfiguration or rollbackConfiguration did (or, on a dry run, would do)." })
export class ConfigurationApplyResult {
  @Field()
  dryRun: boolean;

  @Field(() => [ConfigurationChangeType], { description: "The changes, in document order; empty when the document matches the running configuration." })
  changes: ConfigurationChangeType[];

  @Field(() => Int, { nullable: true, description: "The version the change became; null on a dry run or when nothing changed." })
  version: number | null;
}
