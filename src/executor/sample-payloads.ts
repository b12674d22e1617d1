import { hookPointInfo, HookPoint } from "../domain/hook-points.js";
import type { JsonObject } from "../entities/metadata.embedded.js";

// Realistic inputs for triggerHook, shaped like SPEC §4, so an administrator can try a hook
// without submitting a job or running a publish. A trigger's payload is merged over these.

const USER_ID = "3f1c2a9e-6b7d-4e2f-9a51-0c8d7e6f5a41";
const QUEUE_ID = "8a0b4c6d-1e2f-4a3b-8c9d-7e6f5a4b3c2d";
const VOLUME_ID = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";

// Shaped exactly like services/job-payload.ts builds it for real jobs.
function jobPayload(dashed: string, status: string, version: string): JsonObject {
  return {
    hook: dashed,
    id: "5e8c7a5f-2b1d-4c3e-9f0a-1b2c3d4e5f60",
    code: "moonshot_delivery_0001",
    name: "moonshot delivery",
    version,
    status,
    created: "2026-11-02T09:14:33.000Z",
    size: 73400320,
    user: USER_ID,
    user_hr: "vendor@example.com",
    queue: QUEUE_ID,
    queue_hr: "default",
    source: `user:${USER_ID}`,
    source_hr: "vendor@example.com",
    destination: `volume:${VOLUME_ID}`,
    destination_hr: "projects",
    engine: "default",
    engine_hr: "default",
    tasks: {
      "1": {
        source: { path: "/Users/vendor/out/moonshot.tif", volume: null, volume_hr: null, relative_path: null },
        destination: { path: "/mnt/projects/moonshot/incoming/moonshot.tif", volume: VOLUME_ID, volume_hr: "projects", relative_path: "moonshot/incoming/moonshot.tif" },
        size: 73400320,
      },
    },
    clients: [
      { role: "server", id: "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6", name: "hookd-server", hostname: "hookd-server", os: "linux", metadata: { internal: {}, external: {} } },
      { role: "client", id: "e2f3a4b5-c6d7-4e8f-90a1-b2c3d4e5f6a7", name: "vendor-ws01", hostname: "vendor-ws01", os: "mac", user: USER_ID, user_hr: "vendor@example.com", metadata: { external: {} } },
    ],
    metadata: { internal: { project_code: "MOON" }, external: { delivery: "final" } },
  };
}

function publishPayload(dashed: string, ingest: boolean): JsonObject {
  const entry = (id: string, filename: string, size: number, isDir: boolean, extra: JsonObject = {}) => ({ id, filename, size, is_dir: isDir, ...extra });
  const frames = [1001, 1002, 1003].map((f) => ({ filename: `sq010_sh020_comp_v003.${f}.exr`, size: 12582912, is_dir: false }));
  const ingestFields = (path: string, ident: string): JsonObject =>
    ingest ? { path, comment: "final comp, approved by sup", status: "pending_review", time_report: 5400, metadata: { artist: "vendor" }, ident, can_publish: true, v: VOLUME_ID, v_hr: "projects" } : {};
  return {
    hook: dashed,
    user: USER_ID,
    user_hr: "vendor@example.com",
    client: "e2f3a4b5-c6d7-4e8f-90a1-b2c3d4e5f6a7",
    hostname: "vendor-ws01",
    ip: "203.0.113.7",
    metadata: {},
    size: 3 * 12582912 + 2048,
    files: [
      entry("0b6c1f0e-4a1d-4c62-9d8e-3a2b1c0d9e8f", "sq010_sh020_comp_v003", 3 * 12582912, true, { files: frames, ...ingestFields("/mnt/projects/moon/sq010/sh020/comp/v003", "sq010_sh020 comp v003") }),
      entry("7d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", "notes.txt", 2048, false, ingestFields("/mnt/projects/moon/sq010/sh020/comp/v003/notes.txt", "notes")),
    ],
  };
}

// The job's status as real job hooks see it (JobStatus, lowercased).
const STATUS: Partial<Record<HookPoint, string>> = {
  [HookPoint.PRE_SUBMIT_SERVER]: "submitted",
  [HookPoint.PRE_SUBMIT_CLIENT]: "submitted",
  [HookPoint.POST_SUBMIT_SERVER]: "submitted",
  [HookPoint.POST_SUBMIT_CLIENT]: "submitted",
  [HookPoint.POST_FAILED_SERVER]: "failed",
  [HookPoint.POST_FAILED_CLIENT]: "failed",
  [HookPoint.POST_DONE_SERVER]: "done",
  [HookPoint.POST_DONE_CLIENT]: "done",
};

export function samplePayload(hook: HookPoint, version: string): JsonObject {
  const { dashed } = hookPointInfo(hook);
  if (hook === HookPoint.PRE_PUBLISH_SERVER) return publishPayload(dashed, false);
  if (hook === HookPoint.PUBLISH_SERVER) return publishPayload(dashed, true);
  return jobPayload(dashed, STATUS[hook] ?? "done", version);
}
