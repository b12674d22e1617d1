import { badInput } from "../domain/errors.js";
import { HOOK_POINTS, hookPointInfo, HookPoint } from "../domain/hook-points.js";
import type { JobHook } from "../entities/job.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import { assertMetadata } from "./validation.js";

export interface JobHookInput {
  when: string;
  data?: JsonObject | null;
}

/** The hook points a job's own entry may name: the job lifecycle ones and publish-server. */
export const JOB_HOOK_POINTS: readonly HookPoint[] = HOOK_POINTS.filter((p) => p !== HookPoint.PRE_PUBLISH_SERVER);

/**
 * A hook point from the names scripts know: the original's `hook-job-publish-server`, the dashed
 * `publish-server`, or the GraphQL enum `PUBLISH_SERVER`.
 */
export function hookPointFromName(name: string): HookPoint | null {
  const dashed = name
    .trim()
    .toLowerCase()
    .replace(/_/g, "-")
    .replace(/^hook-job-/, "");
  return HOOK_POINTS.find((p) => hookPointInfo(p).dashed === dashed) ?? null;
}

/** Checks the job specification's `hooks`: known hook points a job can carry, each once. */
export function parseJobHooks(field: string, hooks: JobHookInput[] | null | undefined): JobHook[] {
  if (hooks === undefined || hooks === null) return [];
  if (!Array.isArray(hooks)) throw badInput(field, "must be a list of {when, data}");
  const known = JOB_HOOK_POINTS.map((p) => `hook-job-${hookPointInfo(p).dashed}`).join(", ");
  const out: JobHook[] = [];
  hooks.forEach((h, i) => {
    const where = `${field}[${i}]`;
    if (!h || typeof h.when !== "string") throw badInput(`${where}.when`, `must name a hook point, one of ${known}`);
    const hook = hookPointFromName(h.when);
    if (hook === HookPoint.PRE_PUBLISH_SERVER) throw badInput(`${where}.when`, `a job cannot carry pre-publish-server (it runs before any job exists); one of ${known}`);
    if (hook === null) throw badInput(`${where}.when`, `unknown hook point '${h.when}'; one of ${known}`);
    if (out.some((o) => o.hook === hook)) throw badInput(`${where}.when`, `'${h.when}' is given twice; one entry per hook point`);
    const data = h.data ?? {};
    if (typeof data !== "object" || Array.isArray(data)) throw badInput(`${where}.data`, "must be a JSON object");
    assertMetadata(`${where}.data`, data);
    out.push({ hook, data });
  });
  return out;
}
