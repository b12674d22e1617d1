import { GraphQLJSONObject } from "graphql-scalars";
import { Arg, Authorized, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { ConfigurationDocument } from "../domain/configuration-document.js";
import { Access } from "../domain/roles.js";
import { ConfigurationVersion } from "../entities/configuration-version.entity.js";
import { ConfigurationApplyResult, ConfigurationChangeType } from "../schema/configuration.type.js";
import type { RequestContext } from "../schema/context.js";
import type { Services } from "../services/services.js";

@Resolver(() => ConfigurationVersion)
export class ConfigurationResolver {
  constructor(private readonly services: Services) {}

  @Authorized(Access.AUDIT)
  @Query(() => [ConfigurationVersion], {
    description: "Configuration versions, newest first. `path` keeps those whose changes touch it or lie under it (e.g. hooks.PRE_PUBLISH_SERVER).",
  })
  configurationHistory(
    @Arg("first", () => Int, { defaultValue: 50 }) first: number,
    @Arg("before", () => Int, { nullable: true, description: "Only versions older than this one (the next page)." }) before?: number,
    @Arg("path", () => String, { nullable: true }) path?: string,
  ): Promise<ConfigurationVersion[]> {
    return this.services.configuration.history(first, before ?? null, path ?? null);
  }

  @Authorized(Access.AUDIT)
  @Query(() => ConfigurationVersion)
  configurationVersion(@Arg("version", () => Int) version: number): Promise<ConfigurationVersion> {
    return this.services.configuration.version(version);
  }

  @Authorized(Access.AUDIT)
  @Query(() => [ConfigurationChangeType], { description: "What changed from version `from` to version `to`, path by path." })
  configurationDiff(@Arg("from", () => Int) from: number, @Arg("to", () => Int) to: number): Promise<ConfigurationChangeType[]> {
    return this.services.configuration.diff(from, to);
  }

  @Authorized(Access.AUDIT)
  @Query(() => GraphQLJSONObject, { description: "The whole configuration as a document (hookd config export): secrets by name only." })
  exportConfiguration(): Promise<ConfigurationDocument> {
    return this.services.configuration.export();
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => ConfigurationApplyResult, {
    description: "Makes the configuration what `document` says, all of it or nothing; dryRun only lists the changes. Errors name the path in the document.",
  })
  applyConfiguration(
    @Arg("document", () => GraphQLJSONObject) document: Record<string, unknown>,
    @Arg("dryRun", () => Boolean, { defaultValue: false }) dryRun: boolean,
    @Ctx() ctx: RequestContext,
  ): Promise<ConfigurationApplyResult> {
    return this.services.configuration.apply(document, dryRun, ctx.principal.user);
  }

  @Authorized(Access.ADMIN)
  @Mutation(() => ConfigurationApplyResult, { description: "Restores the configuration of `version` in one transaction; the restore is a new version." })
  rollbackConfiguration(@Arg("version", () => Int) version: number, @Ctx() ctx: RequestContext): Promise<ConfigurationApplyResult> {
    return this.services.configuration.rollback(version, ctx.principal.user);
  }

  @FieldResolver(() => GraphQLJSONObject, { description: "The whole configuration as of this version (the export format)." })
  document(@Root() version: ConfigurationVersion): ConfigurationDocument {
    return version.document;
  }
}
