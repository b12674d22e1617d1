import type { ApolloServerPlugin } from "@apollo/server";
import type { GraphQLError } from "graphql";
import { DomainError } from "../domain/errors.js";
import type { LogFields, Logger } from "../logger.js";
import type { RequestContext } from "../schema/context.js";
import type { MetricsService } from "./metrics.service.js";

export type OperationType = "query" | "mutation" | "subscription" | "unknown";
export type Outcome = "success" | "error" | "unauthenticated";

/** Codes of refusals an operator wants in the log: who was turned away, and by what. */
const REFUSALS = new Set(["UNAUTHENTICATED", "FORBIDDEN", "HOOK_FAILED"]);

/** Counts GraphQL operations and logs refused ones, for both HTTP (Apollo) and WebSocket. */
export class GraphqlObserver {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: MetricsService | null,
  ) {}

  operation(type: OperationType, outcome: Outcome): void {
    this.metrics?.graphqlRequestsTotal.inc({ operation_type: type, outcome });
  }

  /** A request turned away. `reason` is hookd's own message (never a key: at most its prefix). */
  refused(code: string, fields: LogFields): void {
    this.logger.warn(`refused request: ${code}`, { code, ...fields });
  }

  /** Refusals among the errors of one operation. */
  errors(errors: readonly GraphQLError[], fields: LogFields): void {
    for (const error of errors) {
      const code = codeOf(error);
      if (!code || !REFUSALS.has(code)) continue;
      // A hook's refusal carries what the script printed: the execution's own log line has it.
      this.refused(code, { ...fields, reason: code === "HOOK_FAILED" ? undefined : error.message, path: error.path?.join(".") });
    }
  }

  /** The Apollo plugin: every HTTP operation, POST /graphql's direct route included. */
  plugin(): ApolloServerPlugin<RequestContext> {
    const observer = this;
    return {
      async contextCreationDidFail({ error }) {
        const unauthenticated = codeOf(error as GraphQLError) === "UNAUTHENTICATED";
        observer.operation("unknown", unauthenticated ? "unauthenticated" : "error");
        if (unauthenticated) observer.refused("UNAUTHENTICATED", { transport: "http", reason: error.message });
      },
      async requestDidStart() {
        let type: OperationType = "unknown";
        return {
          async didResolveOperation(rc) {
            type = rc.operation?.operation ?? "unknown";
          },
          async didEncounterErrors(rc) {
            observer.errors(rc.errors, { transport: "http", operation: rc.operationName ?? undefined, operationType: type, user: rc.contextValue?.principal?.user.email });
          },
          async willSendResponse(rc) {
            const body = rc.response.body;
            const failed = body.kind === "single" ? (body.singleResult.errors?.length ?? 0) > 0 : false;
            observer.operation(type, failed ? "error" : "success");
          },
        };
      },
    };
  }
}

function codeOf(error: GraphQLError): string | undefined {
  const original = error.originalError;
  if (original instanceof DomainError) return original.code;
  const code = error.extensions?.code;
  return typeof code === "string" ? code : undefined;
}
