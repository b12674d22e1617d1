import { createHash, timingSafeEqual } from "node:crypto";
import type { Request, RequestHandler } from "express";
import { DomainError } from "../domain/errors.js";
import { UserRole } from "../domain/roles.js";
import type { Logger } from "../logger.js";
import type { UserService } from "../services/user.service.js";
import type { MetricsService } from "./metrics.service.js";

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/**
 * GET /metrics: the Prometheus text, for an ADMIN's API key or the HOOKD_METRICS_TOKEN bearer
 * (a scraper needs no user). Anything else is 401 (no or a bad credential) or 403 (not ADMIN).
 */
export function metricsRoute(metrics: MetricsService, users: UserService, token: string | null, logger: Logger): RequestHandler {
  const tokenDigest = token === null ? null : digest(token);
  const allowed = async (req: Request): Promise<{ status: 200 | 401 | 403; reason?: string }> => {
    const header = req.headers.authorization;
    const bearer = header ? /^Bearer\s+(\S+)\s*$/i.exec(header.trim())?.[1] : undefined;
    // Compared as digests: equal lengths, so the comparison itself is constant-time.
    if (bearer && tokenDigest && timingSafeEqual(digest(bearer), tokenDigest)) return { status: 200 };
    try {
      const { user } = await users.authenticate(header);
      return user.role === UserRole.ADMIN ? { status: 200 } : { status: 403, reason: "reading /metrics needs an ADMIN key or HOOKD_METRICS_TOKEN" };
    } catch (err) {
      if (err instanceof DomainError && err.code === "UNAUTHENTICATED") return { status: 401, reason: err.message };
      throw err;
    }
  };
  return async (req, res, next) => {
    try {
      const { status, reason } = await allowed(req);
      if (status !== 200) {
        logger.warn(`refused request: /metrics (${status})`, { code: status === 401 ? "UNAUTHENTICATED" : "FORBIDDEN", transport: "http", path: "/metrics", reason });
        res.status(status).set("cache-control", "no-store").type("text/plain").send(`${reason}\n`);
        return;
      }
      const body = await metrics.scrape();
      res.status(200).set("cache-control", "no-store").type(metrics.contentType).send(body);
    } catch (err) {
      next(err);
    }
  };
}
