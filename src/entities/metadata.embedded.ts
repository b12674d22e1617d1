import { GraphQLJSONObject } from "graphql-scalars";
import { Authorized, Field, ObjectType } from "type-graphql";
import { Column } from "typeorm";
import { Access } from "../domain/roles.js";

export type JsonObject = Record<string, unknown>;

/**
 * Internal (private to the workspace) and external (public) metadata, stored side by side at every
 * level that carries metadata (SPEC §4). Only elevated users may read the internal half.
 */
@ObjectType({ description: "Metadata at one level: external (public) and internal (private to the workspace)." })
export class MetadataPair {
  @Field(() => GraphQLJSONObject)
  @Column({ type: "simple-json" })
  external: JsonObject = {};

  @Authorized(Access.ELEVATED)
  @Field(() => GraphQLJSONObject, { description: "Readable by ADMIN and EMPLOYEE users only." })
  @Column({ type: "simple-json" })
  internal: JsonObject = {};
}

export interface MetadataInputFields {
  external?: JsonObject;
  internal?: JsonObject;
}
