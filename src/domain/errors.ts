// Domain errors carry a stable code and import nothing from GraphQL; src/schema/error-formatter.ts
// is the one place that maps them onto GraphQL errors.
/** HOOK_FAILED: a blocking hook (pre-submit, pre-publish) refused or failed, so the operation was refused. */
export type ErrorCode = "BAD_USER_INPUT" | "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND" | "CONFLICT" | "HOOK_FAILED" | "INTERNAL";

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Dotted path of the offending input field, when one is to blame (e.g. "input.commands.linux"). */
    readonly field?: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

/**
 * HOOK_FAILED from a blocking hook: `hookMessage` is what the hook said to the user (sanitised,
 * hook-message.ts), shown to every role; the message itself holds details only for ADMIN and audit.
 */
export class HookRefusal extends DomainError {
  constructor(
    message: string,
    /** The hook point's GraphQL enum name, e.g. PRE_SUBMIT_SERVER. */
    readonly hook: string,
    readonly hookMessage: string | null,
  ) {
    super("HOOK_FAILED", message);
  }
}

export const badInput = (field: string, message: string) => new DomainError("BAD_USER_INPUT", `${field}: ${message}`, field);
export const notFound = (what: string, key: string) => new DomainError("NOT_FOUND", `${what} '${key}' does not exist`);
export const conflict = (field: string, message: string) => new DomainError("CONFLICT", `${field}: ${message}`, field);
export const forbidden = (message: string) => new DomainError("FORBIDDEN", message);
export const unauthenticated = (message: string) => new DomainError("UNAUTHENTICATED", message);
