export enum UserRole {
  ADMIN = "ADMIN",
  EMPLOYEE = "EMPLOYEE",
  STANDARD = "STANDARD",
}

/** ADMIN and EMPLOYEE users are "elevated" (SPEC §1): their client hooks run and they see internal metadata. */
export const isElevated = (role: UserRole) => role === UserRole.ADMIN || role === UserRole.EMPLOYEE;

/**
 * What a GraphQL field may demand of its caller, beyond being authenticated (used with
 * `@Authorized(...)`). ADMIN always passes.
 */
export enum Access {
  ADMIN = "ADMIN",
  /** ADMIN, or a role listed in the workspace's audit roles: reads hook configs, executions, logs. */
  AUDIT = "AUDIT",
  /** ADMIN or EMPLOYEE: sees internal metadata. */
  ELEVATED = "ELEVATED",
}
