import type { Request, Response } from "express";
import { DomainError } from "../domain/errors.js";
import type { AuthRateLimit } from "../http/auth-rate-limit.js";
import type { Services } from "../services/services.js";

/** Where `hookd agent` trades its enrolment token for its own credential (no API key needed: the token is the proof). */
export const AGENT_ENROL_PATH = "/agent/enrol";

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, BAD_USER_INPUT: 400, NOT_FOUND: 404, CONFLICT: 409 };

/**
 * POST { token, hostname, os, labels?, version? } → { agentId, name, kind, executionServerId, credential }.
 * A refused token counts as a failed authentication of the caller's address, like a wrong API key:
 * past the allowance a refused token gets 429 instead of 401; a valid one still enrols.
 */
export function agentEnrolRoute(services: Services, authLimit: AuthRateLimit) {
  return async (req: Request, res: Response) => {
    res.set("cache-control", "no-store");
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      if (typeof body.token !== "string" || body.token === "") throw new DomainError("BAD_USER_INPUT", "token: the enrolment token is required", "token");
      const labels = Array.isArray(body.labels) ? body.labels.map(String) : [];
      const { agent, server, credential } = await services.agentEnrolment.enrol(
        body.token,
        {
          hostname: String(body.hostname ?? ""),
          os: String(body.os ?? ""),
          labels,
          version: typeof body.version === "string" ? body.version : null,
        },
        typeof body.name === "string" ? body.name : null,
      );
      res.json({ agentId: agent.id, name: agent.name, kind: agent.kind, executionServerId: server.id, credential });
    } catch (err) {
      if (err instanceof DomainError && STATUS[err.code]) {
        if (err.code === "UNAUTHENTICATED") {
          const over = await authLimit.failed(authLimit.addressOf(req));
          if (over) {
            res.set("retry-after", String(over.retryAfterSeconds));
            res.status(429).json({ error: { code: "TOO_MANY_REQUESTS", message: over.message, retryAfter: over.retryAfterSeconds } });
            return;
          }
        }
        res.status(STATUS[err.code]).json({ error: { code: err.code, message: err.message, field: err.field } });
        return;
      }
      throw err;
    }
  };
}
