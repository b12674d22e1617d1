import type { AuthChecker } from "type-graphql";
import { forbidden } from "../domain/errors.js";
import { Access, UserRole } from "../domain/roles.js";
import type { RequestContext } from "./context.js";

const DESCRIBE: Record<Access, string> = {
  [Access.ADMIN]: "the ADMIN role",
  [Access.AUDIT]: "ADMIN or one of the workspace's audit roles",
  [Access.ELEVATED]: "the ADMIN or EMPLOYEE role",
};

/** Passes when the caller has one of `required` (ADMIN always does); otherwise FORBIDDEN naming `what`. */
export async function assertAccess(context: RequestContext, required: readonly Access[], what: string): Promise<void> {
  const role = context.principal.user.role;
  if (required.length === 0 || role === UserRole.ADMIN) return;
  for (const access of required) {
    if (access === Access.ELEVATED && role === UserRole.EMPLOYEE) return;
    if (access === Access.AUDIT && (await context.settings()).auditRoles.includes(role)) return;
  }
  throw forbidden(`${what} requires ${required.map((a) => DESCRIBE[a]).join(" or ")}; your role is ${role}`);
}

/**
 * The one place that decides `@Authorized(...)`. Authentication itself happened when the context
 * was built, so here the caller is known; a refusal names the field and what it needs.
 */
export const authChecker: AuthChecker<RequestContext, Access> = async ({ context, info }, required) => {
  const parent = info.parentType.name;
  const what = `${["Query", "Mutation", "Subscription"].includes(parent) ? parent.toLowerCase() : parent}.${info.fieldName}`;
  await assertAccess(context, required, what);
  return true;
};
