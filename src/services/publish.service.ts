import { badInput, conflict, DomainError, HookRefusal, notFound } from "../domain/errors.js";
import { hookMessageOf } from "../domain/hook-message.js";
import { HookPoint } from "../domain/hook-points.js";
import { isElevated } from "../domain/roles.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { Job } from "../entities/job.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import { Publish, PublishState, type PublishEntry, type SubmittedEntry } from "../entities/publish.entity.js";
import { User } from "../entities/user.entity.js";
import { Volume } from "../entities/volume.entity.js";
import { In } from "typeorm";
import { KeysetPager, type Page } from "../store/keyset-page.js";
import type { PubSub } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import { uuidV7 } from "../store/uuid-v7.js";
import type { ExecutionServerService } from "./execution-server.service.js";
import type { ExecutionService } from "./execution.service.js";
import type { JobEvents } from "./job-events.js";
import type { IdempotencyService } from "./idempotency.service.js";
import { INGEST_FAILED, mayUseClient, seesDetails, type JobService } from "./job.service.js";
import { AnswerError, checkAnswer, normalizeFiles } from "./publish-answer.js";
import { ingestEntry, publishPayload, publishServerPayload } from "./publish-payload.js";
import type { SettingsService } from "./settings.service.js";
import { assertMetadata } from "./validation.js";
import type { VolumeService } from "./volume.service.js";

export interface PrePublish {
  files: unknown;
  client?: string | null;
  hostname?: string | null;
  ip?: string | null;
  metadata?: JsonObject | null;
  /** A repeat with the same key within 24 h answers with the first verdict and runs nothing again. */
  idempotencyKey?: string | null;
}

export interface SubmitPublishEntry {
  id: string;
  comment?: string | null;
  status?: string | null;
  timeReport?: number | null;
  metadata?: JsonObject | null;
}

/** The upload job's name, within the 255 characters a job name may have, whatever the file names. */
export function uploadJobName(filename: string, count: number, max = 255): string {
  const more = count > 1 ? ` and ${count - 1} more` : "";
  const room = max - "publish ".length - more.length;
  // Cut in UTF-16 units, as the name's limit counts them, never inside a surrogate pair.
  const name = filename.length > room ? filename.slice(0, room - 1).replace(/[\uD800-\uDBFF]$/, "") + "…" : filename;
  return `publish ${name}${more}`;
}

export interface PublishFilter {
  state?: PublishState;
  /** The publishing user's id. */
  user?: string;
}

/** Columns that grow with the entries; reads that page leave them out. */
const HEAVY_COLUMNS = ["files", "answer", "entries", "submitted"];
const MAX_ENTRY_PAGE = 1000;

const FAILED_RUN: readonly ExecutionStatus[] = [ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.CANCELLED];

/** The publish workflow (SPEC §3): validate with pre-publish, submit the upload, ingest with publish. */
export class PublishService {
  constructor(
    private readonly store: Store,
    private readonly settings: SettingsService,
    private readonly volumes: VolumeService,
    private readonly servers: ExecutionServerService,
    private readonly executions: ExecutionService,
    private readonly jobs: JobService,
    private readonly pubsub: PubSub,
    events: JobEvents,
    private readonly idempotency: IdempotencyService,
  ) {
    // The upload job's DONE report runs publish-server first; its outcome decides DONE or FAILED.
    events.onDelivered((job) => this.ingest(job));
  }

  /** Runs pre-publish-server on the proposed entries and returns its checked verdict. */
  async prePublish(input: PrePublish, actor: User): Promise<Publish> {
    const { idempotencyKey, ...request } = input;
    return this.idempotency.once({
      userId: actor.id,
      operation: "prePublish",
      key: idempotencyKey,
      input: request,
      run: () => this.prePublishOnce(request, actor),
      ids: (publish) => [publish.id],
      load: ([id]) => this.get(id, actor),
    });
  }

  private async prePublishOnce(input: PrePublish, actor: User): Promise<Publish> {
    const { files, problems } = normalizeFiles(input.files);
    if (problems.length > 0) throw badInput("input.files", problems.join("; "));
    if (input.metadata) assertMetadata("input.metadata", input.metadata);
    const found = input.client ? await this.store.manager.findOneBy(ExecutionServer, { id: input.client, kind: ExecutionServerKind.CLIENT }) : null;
    // Another user's client is not a STANDARD user's to name (as for submitJob), and answers alike.
    const client = found && mayUseClient(actor, found) ? found : null;
    if (input.client && !client) throw badInput("input.client", `no client has id '${input.client}'; register it first (registerClient)`);
    const id = uuidV7();
    const settings = await this.settings.get();
    const payload = publishPayload(HookPoint.PRE_PUBLISH_SERVER, { user: actor, settings, client, hostname: input.hostname ?? null, ip: input.ip ?? null, sentMetadata: input.metadata ?? {}, files });
    const ran = await this.executions.run(HookPoint.PRE_PUBLISH_SERVER, payload, null, { publishId: id, triggeredBy: actor });
    if (ran.length === 0 || ran.every((e) => e.status === ExecutionStatus.SKIPPED)) {
      const entries = await this.executions.explain(HookPoint.PRE_PUBLISH_SERVER);
      throw new DomainError(
        "CONFLICT",
        `pre-publish-server is not configured, so nothing can validate this publish: ${entries}; an ADMIN sets it with setHookConfig(input: { hook: PRE_PUBLISH_SERVER, ... })`,
      );
    }
    // With a queue APPEND entry, the last entry that ran has the final say.
    const done = await this.executions.waitForAll(ran.filter((e) => e.status !== ExecutionStatus.SKIPPED));
    const failed = done.find((e) => FAILED_RUN.includes(e.status));
    // The hook's error (its stderr) and the execution are for ADMIN and audit roles only.
    const detailed = seesDetails(actor, await this.settings.get());
    const plain = "pre-publish-server could not validate this publish; nothing was stored (an administrator can see why in the hook's execution)";
    // What the hook said to the user reaches every role; with it, others read that instead of the plain text.
    const refusal = (e: Execution, details: string, said: string | null) =>
      new HookRefusal(detailed ? `pre-publish-server failed: ${details} (execution ${e.id})` : said ? `pre-publish-server refused this publish: ${said}` : plain, HookPoint.PRE_PUBLISH_SERVER, said);
    if (failed) throw refusal(failed, failed.error ?? failed.status, hookMessageOf(failed.output));
    const answering = done[done.length - 1];
    const answer = answering.output ?? {};
    let checked: ReturnType<typeof checkAnswer>;
    try {
      checked = checkAnswer(answer, files);
      const os = (await this.servers.find(answering.executionServerId))?.os ?? "linux";
      // One read of the volumes for every entry; absolute or volume notation, normalised, no NUL.
      const resolve = await this.volumes.pathResolver(os, { listVolumes: true });
      for (const entry of checked.entries) {
        if (!entry.path) continue;
        let resolved: ReturnType<Awaited<ReturnType<VolumeService["pathResolver"]>>>;
        try {
          resolved = resolve(`entry '${entry.id}': path`, entry.path);
        } catch (err) {
          throw new AnswerError([err instanceof DomainError ? err.message : String(err)]);
        }
        Object.assign(entry, { path: resolved.path, volumeId: resolved.volume?.id ?? null, volumeCode: resolved.volume?.code ?? null });
      }
    } catch (err) {
      if (!(err instanceof AnswerError)) throw err;
      const message = `the pre-publish answer breaks the rules: ${err.message}`;
      await this.executions.failAfterTheFact(answering.id, message);
      throw refusal(answering, message, hookMessageOf(answer));
    }
    const now = new Date();
    const publish = this.store.manager.create(Publish, {
      id,
      userId: actor.id,
      state: PublishState.VALIDATED,
      clientId: client?.id ?? null,
      hostname: input.hostname ?? null,
      ip: input.ip ?? null,
      metadata: input.metadata ?? {},
      files,
      answer,
      guidelines: checked.guidelines,
      commentRequired: checked.commentRequired,
      timeReportRequired: checked.timeReportRequired,
      metadataRequired: checked.metadataRequired,
      statuses: checked.statuses,
      entries: checked.entries,
      submitted: null,
      jobId: null,
      error: null,
      createdAt: now,
      updatedAt: now,
    });
    return this.store.transaction((em) => em.save(publish));
  }

  /** Submits the accepted entries: creates the upload job whose tasks carry each destination. */
  async submit(publishId: string, entries: SubmitPublishEntry[], actor: User, idempotencyKey?: string | null): Promise<Publish> {
    return this.idempotency.once({
      userId: actor.id,
      operation: "submitPublish",
      key: idempotencyKey,
      input: { publishId, entries },
      run: () => this.submitOnce(publishId, entries, actor),
      ids: (publish) => [publish.id],
      load: ([id]) => this.get(id, actor),
    });
  }

  private async submitOnce(publishId: string, entries: SubmitPublishEntry[], actor: User): Promise<Publish> {
    const publish = await this.get(publishId, actor);
    if (publish.state !== PublishState.VALIDATED) throw conflict("input.publishId", `publish ${publishId} is ${publish.state}; only a VALIDATED publish can be submitted`);
    if (!Array.isArray(entries) || entries.length === 0) throw badInput("input.entries", "submit at least one entry");
    const problems: string[] = [];
    const seen = new Set<string>();
    const submitted: SubmittedEntry[] = [];
    const offered = publish.statuses.map((s) => s.value);
    const fallback = publish.statuses.find((s) => s.default)?.value ?? null;
    // By id: a search per entry made a 14k-entry submit take seconds, holding up every request.
    const byId = new Map(publish.entries.map((x) => [x.id, x]));
    entries.forEach((e, i) => {
      const where = `input.entries[${i}]`;
      const entry = byId.get(e.id);
      if (!entry) return void problems.push(`${where}: unknown entry id '${e.id}'`);
      if (seen.has(e.id)) return void problems.push(`${where}: entry '${e.id}' is submitted twice`);
      seen.add(e.id);
      if (entry.rejected) return void problems.push(`${where}: entry '${e.id}' (${entry.filename}) was rejected by pre-publish${entry.warning ? ` (${entry.warning})` : ""} and cannot be submitted`);
      if (!entry.canPublish && !entry.canUpload) return void problems.push(`${where}: entry '${e.id}' (${entry.filename}) may not be published or uploaded`);
      const comment = e.comment?.trim() || null;
      if (publish.commentRequired && !comment) problems.push(`${where}: entry '${e.id}' needs a comment${entry.commentLabel ? ` (${entry.commentLabel})` : ""}`);
      if (e.timeReport !== undefined && e.timeReport !== null && (!Number.isInteger(e.timeReport) || e.timeReport < 0))
        problems.push(`${where}: timeReport must be a whole number of seconds, 0 or more (got ${e.timeReport})`);
      if (publish.timeReportRequired && (e.timeReport === undefined || e.timeReport === null)) problems.push(`${where}: entry '${e.id}' needs a time report (timeReport, in seconds)`);
      if (publish.metadataRequired && (!e.metadata || Object.keys(e.metadata).length === 0)) problems.push(`${where}: entry '${e.id}' needs metadata`);
      let status = e.status ?? null;
      if (status !== null && !offered.includes(status))
        problems.push(`${where}: status '${status}' was not offered; choose one of ${offered.length ? offered.map((v) => `'${v}'`).join(", ") : "(none were offered)"}`);
      if (status === null && offered.length > 0) {
        status = fallback;
        if (status === null) problems.push(`${where}: entry '${e.id}' needs a status; choose one of ${offered.map((v) => `'${v}'`).join(", ")}`);
      }
      submitted.push({ id: e.id, comment, status, timeReport: e.timeReport ?? null, metadata: e.metadata ?? null });
    });
    if (problems.length > 0) throw badInput("input.entries", problems.join("; "));

    const accepted = publish.entries.filter((x) => seen.has(x.id));
    const first = accepted[0];
    const job = await this.jobs.submit(
      {
        name: uploadJobName(first.filename, accepted.length),
        source: `user:${actor.id}`,
        destination: first.volumeId ? `volume:${first.volumeId}` : `user:${actor.id}`,
        client: publish.clientId ?? undefined,
        tasks: accepted.map((x) => ({ source: x.filename, destination: x.path!, size: x.size })),
        engine: "publish",
      },
      actor,
      { publishId: publish.id, sourcesAreNames: true },
    );
    return this.store.transaction(async (em) => {
      const fresh = await em.findOneByOrFail(Publish, { id: publish.id });
      Object.assign(fresh, { state: PublishState.SUBMITTED, submitted, jobId: job.id, updatedAt: new Date() });
      return em.save(fresh);
    });
  }

  /** For reading: without the entries, files and answer, which a field reads when asked for. */
  async find(id: string, actor: User): Promise<Publish> {
    const columns = this.store.dataSource.getMetadata(Publish).columns.filter((c) => !HEAVY_COLUMNS.includes(c.propertyName));
    const publish = await this.store.manager
      .createQueryBuilder(Publish, "p")
      .select(columns.map((c) => `p.${c.propertyPath}`))
      .where("p.id = :id", { id })
      .getOne();
    if (!publish || (!isElevated(actor.role) && publish.userId !== actor.id)) throw notFound("publish", id);
    return publish;
  }

  private readonly pager = new KeysetPager<Publish>("createdAt");

  /** Publishes newest first, without their heavy columns; a STANDARD user's own only (like jobs). */
  async list(filter: PublishFilter, first: number, after: string | null | undefined, actor: User): Promise<Page<Publish>> {
    const columns = this.store.dataSource.getMetadata(Publish).columns.filter((c) => !HEAVY_COLUMNS.includes(c.propertyName));
    const qb = this.store.manager.createQueryBuilder(Publish, "p").select(columns.map((c) => `p.${c.propertyPath}`));
    if (!isElevated(actor.role)) qb.andWhere("p.userId = :me", { me: actor.id });
    if (filter.state) qb.andWhere("p.state = :state", { state: filter.state });
    if (filter.user) qb.andWhere("p.userId = :user", { user: filter.user });
    return this.pager.page(qb, first, after);
  }

  cursorOf(publish: Publish): string {
    return this.pager.cursorOf(publish);
  }

  /** The publish an upload job belongs to; null for other jobs (and a publish the reader may not see). */
  async ofJob(job: Job, actor: User): Promise<Publish | null> {
    if (!job.publishId) return null;
    try {
      return await this.find(job.publishId, actor);
    } catch (err) {
      if (err instanceof DomainError && err.code === "NOT_FOUND") return null;
      throw err;
    }
  }

  /** The message pre-publish's answer gave the user (hook-message.ts). */
  async messageOf(publish: Publish): Promise<string | null> {
    return hookMessageOf(await this.answerOf(publish));
  }

  /** Entries `after`+1 to `after`+`first`, in the order they were sent, read in SQL when not loaded. */
  async entriesPage(publish: Publish, first: number, after: number): Promise<PublishEntry[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_ENTRY_PAGE) throw badInput("first", `must be a whole number from 1 to ${MAX_ENTRY_PAGE} (got ${first})`);
    if (!Number.isInteger(after) || after < 0) throw badInput("after", `must be an entry number, 0 or more (got ${after})`);
    if (Array.isArray(publish.entries)) return publish.entries.slice(after, after + first);
    return (await this.store.jsonArrayPage(Publish, "entries", publish.id, first, after)) as PublishEntry[];
  }

  async entryCount(publish: Publish): Promise<number> {
    if (Array.isArray(publish.entries)) return publish.entries.length;
    return this.store.jsonArrayLength(Publish, "entries", publish.id);
  }

  async answerOf(publish: Publish): Promise<JsonObject> {
    if (publish.answer !== undefined) return publish.answer;
    const row = await this.store.manager.findOne(Publish, { where: { id: publish.id }, select: { id: true, answer: true } });
    return row?.answer ?? {};
  }

  async get(id: string, actor: User): Promise<Publish> {
    const publish = await this.store.manager.findOneBy(Publish, { id });
    if (!publish || (!isElevated(actor.role) && publish.userId !== actor.id)) throw notFound("publish", id);
    return publish;
  }

  executionsOf(publishId: string): Promise<Execution[]> {
    return this.store.manager.find(Execution, { where: { publishId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  /** publish-server on the uploaded entries; its failure fails the upload job (SPEC §3.4). */
  private async ingest(job: Job): Promise<{ ok: boolean; error?: string }> {
    if (job.publishId === null) return this.ingestJobHook(job);
    const publish = await this.store.manager.findOneBy(Publish, { id: job.publishId });
    if (!publish) return { ok: true };
    const user = await this.store.manager.findOneByOrFail(User, { id: publish.userId });
    const client = publish.clientId ? await this.store.manager.findOneBy(ExecutionServer, { id: publish.clientId }) : null;
    const submitted = new Map((publish.submitted ?? []).map((s) => [s.id, s]));
    const answered = new Map((Array.isArray(publish.answer.files) ? (publish.answer.files as JsonObject[]) : []).map((a) => [String(a.id), a]));
    const volumeNames = new Map((await this.store.manager.findBy(Volume, { id: In(publish.entries.map((e) => e.volumeId).filter((v): v is string => v !== null)) })).map((v) => [v.id, v.name]));
    const entryById = new Map(publish.entries.map((x) => [x.id, x]));
    const files = publish.files
      .filter((f) => submitted.has(String(f.id)))
      .map((f) => {
        const entry = entryById.get(String(f.id))!;
        return ingestEntry(f, answered.get(entry.id) ?? {}, entry, submitted.get(entry.id)!, entry.volumeId ? (volumeNames.get(entry.volumeId) ?? null) : null);
      });
    const settings = await this.settings.get();
    const payload = publishServerPayload(
      publishPayload(HookPoint.PUBLISH_SERVER, { user, settings, client, hostname: publish.hostname, ip: publish.ip, sentMetadata: publish.metadata, files }),
      await this.jobs.payloadFor(HookPoint.PUBLISH_SERVER, job),
    );
    const ran = await this.executions.run(HookPoint.PUBLISH_SERVER, payload, null, { publishId: publish.id, jobId: job.id, continues: await this.earlierIngests(job.id) });
    const done = await this.executions.waitForAll(ran.filter((e) => e.status !== ExecutionStatus.SKIPPED));
    const failed = done.find((e) => FAILED_RUN.includes(e.status));
    const error = failed ? `${INGEST_FAILED}: ${failed.error ?? failed.status} (execution ${failed.id})` : null;
    await this.store.transaction(async (em) => {
      const fresh = await em.findOneByOrFail(Publish, { id: publish.id });
      Object.assign(fresh, { state: failed ? PublishState.FAILED : PublishState.PUBLISHED, error, updatedAt: new Date() });
      await em.save(fresh);
    });
    this.pubsub.publish("publishUpdated", publish.id, { id: publish.id, state: failed ? PublishState.FAILED : PublishState.PUBLISHED, error });
    return failed ? { ok: false, error: error! } : { ok: true };
  }

  /** A retried job's failed publish-server runs: the new run is their next attempt, so the chain and HOOKD_IDEMPOTENCY_KEY carry on. */
  private earlierIngests(jobId: string): Promise<Execution[]> {
    return this.store.manager.find(Execution, {
      select: { id: true, hook: true, configId: true, source: true, attempt: true, retryOfId: true },
      where: { jobId, hook: HookPoint.PUBLISH_SERVER, status: In([ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.CANCELLED]) },
    });
  }

  /**
   * publish-server for a job that carries it as a hook of its own (the original's publish client
   * sends the publish files along with its upload job): the job's fields, the files of its
   * `data`, and the data itself. Its failure fails the job, as for a publish's upload.
   */
  private async ingestJobHook(job: Job): Promise<{ ok: boolean; error?: string }> {
    const user = job.userId ? await this.store.manager.findOneBy(User, { id: job.userId }) : null;
    if (!user) return { ok: false, error: "publish-server cannot run: the job's user no longer exists" };
    const client = job.clientId ? await this.store.manager.findOneBy(ExecutionServer, { id: job.clientId }) : null;
    const jobFields = await this.jobs.payloadFor(HookPoint.PUBLISH_SERVER, job);
    const data = (jobFields.data ?? {}) as JsonObject;
    const files = Array.isArray(data.files) ? (data.files as JsonObject[]).filter((f) => f !== null && typeof f === "object") : [];
    const settings = await this.settings.get();
    const payload = publishServerPayload(publishPayload(HookPoint.PUBLISH_SERVER, { user, settings, client, hostname: null, ip: null, sentMetadata: {}, files }), jobFields);
    const ran = await this.executions.run(HookPoint.PUBLISH_SERVER, payload, null, { jobId: job.id, continues: await this.earlierIngests(job.id) });
    const done = await this.executions.waitForAll(ran.filter((e) => e.status !== ExecutionStatus.SKIPPED));
    const failed = done.find((e) => FAILED_RUN.includes(e.status));
    return failed ? { ok: false, error: `publish-server failed: ${failed.error ?? failed.status} (execution ${failed.id})` } : { ok: true };
  }
}
