import type { AuthChecker } from "type-graphql";
import { forbidden } from "../domain/errors.js";
import { Access, UserRole } from "../domain/roles.js";
import type { RequestContext } from "./context.js";

const DESCRIBE: Record<Access, string> = {
  [Access.ADMIN]: "the ADMIN role",
  [Access.AUDIT]: "ADMIN or one of the workspace's audit roles",
  [Access.ELEVATED]: "the ADMIN or EMPLOYEE role",
};

/**
 * The one place that decides `@Authorized(...)`. Authentication itself happened when the context
 * was built, so here the caller is known; a refusal names the field and what it needs.
 */
export const authChecker: AuthChecker<RequestContext, Access> = async ({ context, info }, required) => {
  const role = context.principal.user.role;
  if (required.length === 0 || role === UserRole.ADMIN) return true;
  for (const access of required) {
    if (access === Access.ELEVATED && role === UserRole.EMPLOYEE) return true;
    if (access === Access.AUDIT && (await context.settings()).auditRoles.includes(role)) return true;
  }
  const what = `${info.parentType.name === "Query" || info.parentType.name === "Mutation" ? info.parentType.name.toLowerCase() : info.parentType.name}.${info.fieldName}`;
  throw forbidden(`${what} requires ${required.map((a) => DESCRIBE[a]).join(" or ")}; your role is ${role}`);
};
