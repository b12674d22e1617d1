import { hookPointInfo, HookPoint } from "../domain/hook-points.js";
import { UserRole } from "../domain/roles.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { Job, JobStatus } from "../entities/job.entity.js";
import { MetadataPair, type JsonObject } from "../entities/metadata.embedded.js";
import type { PublishEntry, SubmittedEntry } from "../entities/publish.entity.js";
import { Queue, QueueStatus } from "../entities/queue.entity.js";
import { User } from "../entities/user.entity.js";
import { Volume } from "../entities/volume.entity.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import { jobPayload, type JobPayloadSources } from "./job-payload.js";
import { ingestEntry, publishPayload, publishServerPayload } from "./publish-payload.js";

// Realistic inputs for triggerHook, so an administrator can try a hook without submitting a job
// or running a publish. They are built from sample entities by the same code that builds real
// payloads, so a test run's JSON has exactly the fields a real one has. A trigger's payload is
// merged over these.

const USER_ID = "3f1c2a9e-6b7d-4e2f-9a51-0c8d7e6f5a41";
const QUEUE_ID = "8a0b4c6d-1e2f-4a3b-8c9d-7e6f5a4b3c2d";
const VOLUME_ID = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
const SERVER_ID = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";
const CLIENT_ID = "e2f3a4b5-c6d7-4e8f-90a1-b2c3d4e5f6a7";
const CREATED = new Date("2026-11-02T09:14:33.000Z");

const metadata = (internal: JsonObject, external: JsonObject) => Object.assign(new MetadataPair(), { internal, external });

function sources(status: JobStatus): JobPayloadSources {
  const settings = Object.assign(new WorkspaceSettings(), { defaultExecutionServerId: SERVER_ID, metadata: metadata({ studio_code: "ACME" }, { studio: "Acme VFX" }) });
  const volume = Object.assign(new Volume(), { id: VOLUME_ID, code: "projects", name: "Projects", metadata: metadata({}, { storage: "nas01" }) });
  const queue = Object.assign(new Queue(), {
    id: QUEUE_ID,
    code: "default",
    name: "default",
    priority: 500,
    isDefault: true,
    status: QueueStatus.WAITING,
    description: null,
    metadata: metadata({}, {}),
  });
  const user = Object.assign(new User(), { id: USER_ID, email: "vendor@example.com", role: UserRole.EMPLOYEE, metadata: metadata({ rate: "B" }, { company: "Vendor Ltd" }) });
  const server = Object.assign(new ExecutionServer(), {
    id: SERVER_ID,
    name: "hookd-server",
    hostname: "hookd-server",
    os: "linux",
    kind: ExecutionServerKind.SERVER,
    ownerId: null,
    metadata: metadata({}, {}),
  });
  const client = Object.assign(new ExecutionServer(), {
    id: CLIENT_ID,
    name: "vendor-ws01",
    hostname: "vendor-ws01",
    os: "mac",
    kind: ExecutionServerKind.CLIENT,
    ownerId: USER_ID,
    metadata: metadata({}, { site: "london" }),
  });
  const job = Object.assign(new Job(), {
    id: "5e8c7a5f-2b1d-4c3e-9f0a-1b2c3d4e5f60",
    code: "moonshot_delivery_0001",
    name: "moonshot delivery",
    queueId: QUEUE_ID,
    status,
    userId: USER_ID,
    source: `user:${USER_ID}`,
    sourceHr: "vendor@example.com",
    destination: `volume:${VOLUME_ID}`,
    destinationHr: "projects",
    engine: "default",
    tasks: [
      {
        source: { path: "/Users/vendor/out/moonshot.tif", volume: null, volume_hr: null, relative_path: null },
        destination: { path: "/mnt/projects/moonshot/incoming/moonshot.tif", volume: VOLUME_ID, volume_hr: "projects", relative_path: "moonshot/incoming/moonshot.tif" },
        size: 73400320,
      },
    ],
    size: 73400320,
    clientId: CLIENT_ID,
    volumeId: VOLUME_ID,
    metadata: metadata({ project_code: "MOON" }, { delivery: "final" }),
    settings: {},
    hooks: [],
    message: null,
    failCount: status === JobStatus.FAILED ? 1 : 0,
    publishId: null,
    createdAt: CREATED,
    updatedAt: CREATED,
  });
  return { job, queue, user, settings, volume, server, client, clientUser: user };
}

// The job's status while each hook runs, as real jobs have it.
const STATUS: Partial<Record<HookPoint, JobStatus>> = {
  [HookPoint.POST_FAILED_SERVER]: JobStatus.FAILED,
  [HookPoint.POST_FAILED_CLIENT]: JobStatus.FAILED,
  [HookPoint.POST_DONE_SERVER]: JobStatus.DONE,
  [HookPoint.POST_DONE_CLIENT]: JobStatus.DONE,
  // publish-server runs before the upload job is marked done.
  [HookPoint.PUBLISH_SERVER]: JobStatus.RUNNING,
};

function publishSample(hook: HookPoint.PRE_PUBLISH_SERVER | HookPoint.PUBLISH_SERVER, version: string): JsonObject {
  const s = sources(STATUS[hook] ?? JobStatus.RUNNING);
  const frames = [1001, 1002, 1003].map((f) => ({ filename: `sq010_sh020_comp_v003.${f}.exr`, size: 12582912, is_dir: false }));
  const sent: JsonObject[] = [
    { id: "0b6c1f0e-4a1d-4c62-9d8e-3a2b1c0d9e8f", filename: "sq010_sh020_comp_v003", size: 3 * 12582912, is_dir: true, files: frames },
    { id: "7d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", filename: "notes.txt", size: 2048, is_dir: false },
  ];
  const base = { user: s.user!, settings: s.settings, client: s.client, hostname: "vendor-ws01", ip: "203.0.113.7", sentMetadata: {} };
  if (hook === HookPoint.PRE_PUBLISH_SERVER) return publishPayload(hook, { ...base, files: sent });
  const entry = (e: JsonObject, path: string, ident: string): PublishEntry => ({
    id: String(e.id),
    filename: String(e.filename),
    isDir: e.is_dir === true,
    size: Number(e.size),
    ident,
    canPublish: true,
    rejected: false,
    canUpload: false,
    warning: null,
    info: null,
    commentLabel: null,
    path,
    volumeId: VOLUME_ID,
    volumeCode: "projects",
    files: (e.files as JsonObject[] | undefined) ?? null,
  });
  const submitted = (id: string): SubmittedEntry => ({ id, comment: "final comp, approved by sup", status: "pending_review", timeReport: 5400, metadata: { artist: "vendor" } });
  const files = [
    ingestEntry(
      sent[0],
      { id: sent[0].id, ident: "sq010_sh020 comp v003", can_publish: true, path: "volume=projects/moon/sq010/sh020/comp/v003" },
      entry(sent[0], "/mnt/projects/moon/sq010/sh020/comp/v003", "sq010_sh020 comp v003"),
      submitted(String(sent[0].id)),
      "Projects",
    ),
    ingestEntry(
      sent[1],
      { id: sent[1].id, ident: "notes", can_publish: true, path: "volume=projects/moon/sq010/sh020/comp/v003/notes.txt" },
      entry(sent[1], "/mnt/projects/moon/sq010/sh020/comp/v003/notes.txt", "notes"),
      submitted(String(sent[1].id)),
      "Projects",
    ),
  ];
  // The upload job as submitPublish creates it: one task per entry, to its destination.
  const taskOf = (e: JsonObject) => ({
    source: { path: String(e.filename), volume: null, volume_hr: null, relative_path: null },
    destination: { path: String(e.path), volume: VOLUME_ID, volume_hr: "projects", relative_path: String(e.path).replace("/mnt/projects/", "") },
    size: Number(e.size),
  });
  Object.assign(s.job, {
    code: "publish_sq010_sh020_comp_v003_and_1_more",
    name: "publish sq010_sh020_comp_v003 and 1 more",
    engine: "publish",
    tasks: files.map(taskOf),
    size: files.reduce((n, f) => n + Number(f.size), 0),
    publishId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
  });
  return { ...publishServerPayload(publishPayload(hook, { ...base, files }), jobPayload(hook, s, false)), version };
}

/** The sample input of a test run (triggerHook) for a hook point. */
export function samplePayload(hook: HookPoint, version: string): JsonObject {
  if (hook === HookPoint.PRE_PUBLISH_SERVER || hook === HookPoint.PUBLISH_SERVER) return publishSample(hook, version);
  // Client hooks run only for elevated users' clients, which see both metadata parts.
  return { ...jobPayload(hook, sources(STATUS[hook] ?? JobStatus.SUBMITTED), hookPointInfo(hook).client), version };
}
