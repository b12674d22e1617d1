import { hookPointInfo, type HookPoint } from "../domain/hook-points.js";
import type { ExecutionServer } from "../entities/execution-server.entity.js";
import type { Job } from "../entities/job.entity.js";
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
  const jobMetadata = aggregateMetadata([s.settings.metadata, s.volume?.metadata, s.queue.metadata, s.job.metadata]);
  const clientMetadata = aggregateMetadata([s.settings.metadata]);
  const clients: JsonObject[] = [];
  if (s.server) clients.push({ role: "server", id: s.server.id, name: s.server.name, hostname: s.server.hostname, os: s.server.os, metadata: visible(clientMetadata, withInternal) });
  if (s.client) {
    clients.push({
      role: "client",
      id: s.client.id,
      name: s.client.name,
      hostname: s.client.hostname,
      os: s.client.os,
      user: s.clientUser?.id ?? null,
      user_hr: s.clientUser?.email ?? null,
      metadata: visible(clientMetadata, withInternal),
    });
  }
  const tasks: JsonObject = {};
  s.job.tasks.forEach((task, i) => {
    tasks[String(i + 1)] = { source: { ...task.source }, destination: { ...task.destination }, size: task.size };
  });
  return {
    hook: info.dashed,
    id: s.job.id,
    code: s.job.code,
    name: s.job.name,
    version: HOOKD_VERSION,
    status: s.job.status.toLowerCase(),
    created: s.job.createdAt.toISOString(),
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
  };
}
