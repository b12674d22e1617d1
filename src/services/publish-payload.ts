import { HookPoint } from "../domain/hook-points.js";
import type { ExecutionServer } from "../entities/execution-server.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { PublishEntry, SubmittedEntry } from "../entities/publish.entity.js";
import type { User } from "../entities/user.entity.js";
import type { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import { aggregateMetadata } from "./job-payload.js";

// The JSON handed to the publish hooks (SPEC §4, docs/hook-payloads.md). Field names are the
// contract with existing scripts: keep them exactly.

/** What a publish hook's JSON is built from. */
export interface PublishPayloadSources {
  user: User;
  settings: WorkspaceSettings;
  client: ExecutionServer | null;
  hostname: string | null;
  ip: string | null;
  /** What the caller sent with the proposal: the most downstream level of the external part. */
  sentMetadata: JsonObject;
  files: JsonObject[];
}

/** The upload job's standard fields that publish-server gets too (the original: "very similar to the standard data passed on to a job lifecycle hook"). */
export const UPLOAD_JOB_FIELDS = [
  "id",
  "code",
  "name",
  "status",
  "created",
  "queue",
  "queue_hr",
  "source",
  "source_hr",
  "destination",
  "destination_hr",
  "engine",
  "engine_hr",
  "tasks",
  "clients",
  "version",
] as const;

/** pre-publish-server's input, and the publish part of publish-server's. */
export function publishPayload(hook: HookPoint.PRE_PUBLISH_SERVER | HookPoint.PUBLISH_SERVER, s: PublishPayloadSources): JsonObject {
  return {
    hook: hook === HookPoint.PRE_PUBLISH_SERVER ? "pre-publish-server" : "publish-server",
    user: s.user.id,
    user_hr: s.user.email,
    client: s.client?.id ?? null,
    hostname: s.hostname ?? s.client?.hostname ?? null,
    ip: s.ip,
    // "User metadata, aggregated with workspace metadata"; publish hooks run on the server, so both parts.
    metadata: aggregateMetadata([s.settings.metadata, s.user.metadata, { internal: {}, external: s.sentMetadata }]),
    size: s.files.reduce((sum, f) => sum + (Number(f.size) || 0), 0),
    files: s.files,
  };
}

/**
 * One entry as publish-server gets it: as sent, with everything pre-publish answered for it (its
 * extra keys too), then what the user submitted, and the resolved destination.
 */
export function ingestEntry(sent: JsonObject, answered: JsonObject, entry: PublishEntry, submitted: SubmittedEntry, volumeName: string | null): JsonObject {
  return {
    ...sent,
    ...answered,
    // The nested files as the user sent them (directories).
    ...(sent.files !== undefined ? { files: sent.files } : {}),
    id: entry.id,
    filename: entry.filename,
    is_dir: entry.isDir,
    size: entry.size,
    ident: entry.ident,
    can_publish: entry.canPublish,
    can_upload: entry.canUpload,
    warning: entry.warning,
    info: entry.info,
    comment_label: entry.commentLabel,
    path: entry.path,
    v: entry.volumeId,
    v_hr: entry.volumeId ? volumeName : null,
    comment: submitted.comment,
    status: submitted.status,
    time_report: submitted.timeReport,
    metadata: submitted.metadata ?? {},
  };
}

/** publish-server's input: the publish fields, with the upload job's standard fields beside them. */
export function publishServerPayload(publish: JsonObject, uploadJob: JsonObject): JsonObject {
  const job: JsonObject = {};
  for (const key of UPLOAD_JOB_FIELDS) job[key] = uploadJob[key];
  // A job's own publish-server entry (the original client's `hooks`) hands its data along.
  return { ...job, ...publish, ...(uploadJob.data !== undefined ? { data: uploadJob.data } : {}) };
}
