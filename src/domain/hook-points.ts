// The ten hook points of SPEC §1. GraphQL uses the enum names; scripts see the dashed names.
export enum HookPoint {
  PRE_SUBMIT_SERVER = "PRE_SUBMIT_SERVER",
  PRE_SUBMIT_CLIENT = "PRE_SUBMIT_CLIENT",
  POST_SUBMIT_SERVER = "POST_SUBMIT_SERVER",
  POST_SUBMIT_CLIENT = "POST_SUBMIT_CLIENT",
  POST_FAILED_SERVER = "POST_FAILED_SERVER",
  POST_FAILED_CLIENT = "POST_FAILED_CLIENT",
  POST_DONE_SERVER = "POST_DONE_SERVER",
  POST_DONE_CLIENT = "POST_DONE_CLIENT",
  PRE_PUBLISH_SERVER = "PRE_PUBLISH_SERVER",
  PUBLISH_SERVER = "PUBLISH_SERVER",
}

export const HOOK_POINTS: readonly HookPoint[] = Object.values(HookPoint);

export interface HookPointInfo {
  dashed: string;
  /** Runs on the job's client rather than on an execution server. */
  client: boolean;
  /** The caller waits for it and its failure refuses the operation. */
  blocking: boolean;
  defaultTimeoutSeconds: number;
  /** May write a JSON answer at ${PATH_JSON_OUTPUT} (every hook may: its `message` reaches the user, docs/hook-payloads.md). */
  hasOutput: boolean;
  /** pre-publish must write its answer; for the others it is optional. */
  outputRequired: boolean;
}

const BLOCKING_TIMEOUT = 30;
const BACKGROUND_TIMEOUT = 600;

function info(point: HookPoint): HookPointInfo {
  const blocking = point === HookPoint.PRE_SUBMIT_SERVER || point === HookPoint.PRE_SUBMIT_CLIENT || point === HookPoint.PRE_PUBLISH_SERVER;
  return {
    dashed: point.toLowerCase().replace(/_/g, "-"),
    client: point.endsWith("_CLIENT"),
    blocking,
    defaultTimeoutSeconds: blocking ? BLOCKING_TIMEOUT : BACKGROUND_TIMEOUT,
    hasOutput: true,
    outputRequired: point === HookPoint.PRE_PUBLISH_SERVER,
  };
}

const INFO = new Map(HOOK_POINTS.map((p) => [p, info(p)]));

export function hookPointInfo(point: HookPoint): HookPointInfo {
  return INFO.get(point)!;
}
