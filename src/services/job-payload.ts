import { hookPointInfo, type HookPoint } from "../domain/hook-points.js";
import type { ExecutionServer } from "../entities/execution-server.entity.js";
import { JobStatus, type Job } from "../entities/job.entity.js";
import type { JsonObject, MetadataPair } from "../entities/metadata.embedded.js";
import type { Queue } from "../entities/queue.entity.js";
import type { User } from "../entities/user.entity.js";
import type { Volume } from "../entities/volume.entity.js";
import type { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import { HOOKD_VERSION } from "../version.js";

/** What a job hook's JSON is built from. */
export interface JobPayloadSources {
  job: Job;
  queue: Queue;
  user: User | null;
  settings: WorkspaceSettings;
  volume: Volume | null;
  server: ExecutionServer | null;
  client: ExecutionServer | null;
  clientUser: User | null;
}

/**
 * Dates in the original's form: `YYYY-MM-DDTHH:MM:SS`, UTC, with no `Z` and no fraction. The
 * original's Python API turns only `...SS` or `...SS.mmm` into a datetime; whole seconds are what
 * its own examples show.
 */
export function originalDate(date: Date): string {
  return date.toISOString().slice(0, 19);
}

/** The job status in the JSON, in the original's words; GraphQL keeps its own enum. */
export const JOB_STATUS_WORDS: Record<JobStatus, string> = {
  [JobStatus.SUBMITTED]: "waiting",
  [JobStatus.RUNNING]: "running",
  [JobStatus.DONE]: "done",
  [JobStatus.FAILED]: "failed",
};

/** Metadata aggregated downstream-wins over the levels given, internal and external apart (SPEC §4). */
export function aggregateMetadata(levels: (MetadataPair | null | undefined)[]): { internal: JsonObject; external: JsonObject } {
  const internal: JsonObject = {};
  const external: JsonObject = {};
  for (const level of levels) {
    if (!level) continue;
    Object.assign(internal, level.internal);
    Object.assign(external, level.external);
  }
  return { internal, external };
}

/** Only elevated users' client hooks see internal metadata; server hooks always do. */
const visible = (m: { internal: JsonObject; external: JsonObject }, withInternal: boolean) => (withInternal ? { internal: m.internal, external: m.external } : { external: m.external });

/**
 * The JSON handed to a job hook. Field names are the contract with existing scripts (SPEC §4):
 * keep them exactly.
 */
export function jobPayload(hook: HookPoint, s: JobPayloadSources, clientElevated: boolean): JsonObject {
  const info = hookPointInfo(hook);
  const withInternal = !info.client || clientElevated;
  const jobMetadata = aggregateMetadata([s.settings.metadata, s.volume?.metadata, s.queue.metadata, s.user?.metadata, s.job.metadata]);
  // Each machine's own metadata, aggregated upstream over the workspace's.
  const machineMetadata = (m: ExecutionServer) => visible(aggregateMetadata([s.settings.metadata, m.metadata]), withInternal);
  const clients: JsonObject[] = [];
  if (s.server) clients.push({ role: "server", id: s.server.id, name: s.server.name, hostname: s.server.hostname, os: s.server.os, metadata: machineMetadata(s.server) });
  if (s.client) {
    clients.push({
      role: "client",
      id: s.client.id,
      name: s.client.name,
      hostname: s.client.hostname,
      os: s.client.os,
      user: s.clientUser?.id ?? null,
      user_hr: s.clientUser?.email ?? null,
      metadata: machineMetadata(s.client),
    });
  }
  const tasks: JsonObject = {};
  // Keys from "0", as in the original's job specification.
  s.job.tasks.forEach((task, i) => {
    tasks[String(i)] = { source: { ...task.source }, destination: { ...task.destination }, size: task.size, metadata: task.metadata ?? {} };
  });
  const own = s.job.hooks.find((h) => h.hook === hook);
  return {
    hook: info.dashed,
    id: s.job.id,
    code: s.job.code,
    name: s.job.name,
    version: HOOKD_VERSION,
    status: JOB_STATUS_WORDS[s.job.status],
    created: originalDate(s.job.createdAt),
    size: s.job.size,
    user: s.user?.id ?? null,
    user_hr: s.user?.email ?? null,
    queue: s.queue.id,
    queue_hr: s.queue.name,
    source: s.job.source,
    source_hr: s.job.sourceHr,
    destination: s.job.destination,
    destination_hr: s.job.destinationHr,
    engine: s.job.engine,
    engine_hr: s.job.engine,
    tasks,
    clients,
    metadata: visible(jobMetadata, withInternal),
    settings: s.job.settings,
    // Only when the job carries a hook entry of its own for this hook point.
    ...(own ? { data: own.data } : {}),
  };
}
