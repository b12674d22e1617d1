import type { MiddlewareFn } from "type-graphql";
import type { RequestContext } from "./context.js";

/**
 * Makes the caller the actor of whatever a mutation records in the audit trail. Attached to the
 * resolver classes that have mutations, not globally: a global middleware would wrap every field
 * of every log line a subscription sends and make streaming ten times slower.
 */
export const AuditActor: MiddlewareFn<RequestContext> = ({ context, info }, next) =>
  info.parentType.name === "Mutation" && context?.principal ? context.services.audit.as(context.principal.user, next) : next();
