import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { ArgumentValidationError } from "type-graphql";
import type { ValidationError } from "class-validator";
import { DomainError, HookRefusal } from "../domain/errors.js";

const GRAPHQL_CODE: Record<DomainError["code"], string> = {
  BAD_USER_INPUT: "BAD_USER_INPUT",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  HOOK_FAILED: "HOOK_FAILED",
  INTERNAL: "INTERNAL_SERVER_ERROR",
};

function describeValidation(errors: ValidationError[], parent = ""): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => `${path}: ${m}`);
    return [...own, ...describeValidation(e.children ?? [], path)];
  });
}

/** The error under GraphQL's wrappers (a resolver's, or a subscription stream's, which has no path). */
function rootCause(error: unknown): unknown {
  let current = unwrapResolverError(error);
  for (let i = 0; i < 5 && current instanceof GraphQLError && current.originalError; i++) current = current.originalError;
  return current;
}

export interface ErrorFormatterOptions {
  development: boolean;
  log: (message: string, error: unknown) => void;
}

/**
 * The one place where errors become GraphQL errors: domain errors keep their code and message,
 * validation failures name each field, and anything unexpected is logged and answered without
 * internals (no stack, no SQL) outside development mode.
 */
export function createErrorFormatter({ development, log }: ErrorFormatterOptions) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = rootCause(error);
    if (original instanceof DomainError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: {
          code: GRAPHQL_CODE[original.code],
          ...(original.field ? { field: original.field } : {}),
          // The hook's words for the user, and nothing else of its output (SPEC §2.9).
          ...(original instanceof HookRefusal ? { hook: original.hook, hookMessage: original.hookMessage } : {}),
        },
      };
    }
    if (original instanceof ArgumentValidationError) {
      const messages = describeValidation(original.extensions.validationErrors as ValidationError[]);
      return {
        message: messages.join("; ") || "invalid input",
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: "BAD_USER_INPUT" },
      };
    }
    const code = formatted.extensions?.code;
    if (code === "INTERNAL_SERVER_ERROR" || code === undefined) {
      log("unexpected error while answering a GraphQL request", original);
      if (!development) {
        return { message: "internal server error; the details are in the server log", locations: formatted.locations, path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
      }
    }
    return formatted;
  };
}
