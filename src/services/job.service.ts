import { SkipReason } from "../domain/effective-hooks.js";
import { badInput, conflict, DomainError, forbidden, HookRefusal, notFound } from "../domain/errors.js";
import { hookMessageOf } from "../domain/hook-message.js";
import { hookPointInfo, HookPoint } from "../domain/hook-points.js";
import { isElevated, UserRole } from "../domain/roles.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import { Job, JobStatus, type JobTask, type TaskPath } from "../entities/job.entity.js";
import type { JsonObject, MetadataInputFields } from "../entities/metadata.embedded.js";
import { Publish, PublishState } from "../entities/publish.entity.js";
import { Queue, QueueStatus } from "../entities/queue.entity.js";
import { User } from "../entities/user.entity.js";
import { Volume } from "../entities/volume.entity.js";
import type { PubSub } from "../pubsub/pubsub.js";
import { KeysetPager, type Page } from "../store/keyset-page.js";
import { type EntityManager, IsNull, Not, type SelectQueryBuilder } from "typeorm";
import type { Store } from "../store/store.js";
import { uuidV7 } from "../store/uuid-v7.js";
import type { ExecutionServerService } from "./execution-server.service.js";
import type { JobEvents } from "./job-events.js";
import type { IdempotencyService } from "./idempotency.service.js";
import type { ExecutionService } from "./execution.service.js";
import { parseJobHooks, type JobHookInput } from "./job-hooks.js";
import { jobPayload, type JobPayloadSources } from "./job-payload.js";
import type { QueueService } from "./queue.service.js";
import type { SettingsService } from "./settings.service.js";
import { applyMetadata, assertCode, assertMetadata, assertName } from "./validation.js";
import type { ResolvedPath, VolumeService } from "./volume.service.js";

export interface TaskInput {
  source: string;
  destination: string;
  size: number;
  metadata?: JsonObject | null;
}

export interface SubmitJob {
  code?: string;
  name: string;
  queue?: string;
  source: string;
  destination: string;
  tasks: TaskInput[];
  client?: string;
  engine?: string;
  metadata?: MetadataInputFields;
  /** The original's job `settings`: stored and passed to hooks as they are. */
  settings?: JsonObject | null;
  /** The original's job `hooks`: [{ when: "hook-job-publish-server", data }]. */
  hooks?: JobHookInput[] | null;
  /** A repeat with the same key within 24 h answers with the first job and runs nothing again. */
  idempotencyKey?: string | null;
}

export interface JobFilter {
  status?: JobStatus;
  queue?: string;
  user?: string;
}

interface Party {
  ident: string;
  hr: string;
  volume: Volume | null;
}

const PARTY_TYPES = ["user", "volume", "client", "server"];
const FAILED_RUN: readonly ExecutionStatus[] = [ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.CANCELLED];
const MAX_TASKS = 100_000;
/** Writes of a job whose generated code another instance took at the same moment, before giving up. */
const MAX_CODE_ATTEMPTS = 5;

/** Which status may follow which (SPEC §1): submitted → running → done | failed; failed → running by retryJob. */
const NEXT: Record<JobStatus, readonly JobStatus[]> = {
  [JobStatus.SUBMITTED]: [JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED],
  [JobStatus.RUNNING]: [JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED],
  [JobStatus.FAILED]: [],
  [JobStatus.DONE]: [],
};

export class JobService {
  /** Generated codes of submissions in flight in this process (reserveCode). */
  private readonly pendingCodes = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly settings: SettingsService,
    private readonly queues: QueueService,
    private readonly volumes: VolumeService,
    private readonly servers: ExecutionServerService,
    private readonly executions: ExecutionService,
    private readonly pubsub: PubSub,
    private readonly events: JobEvents,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * Submits a job: pre-submit-server then pre-submit-client run first and may refuse it (then no
   * job exists, and their executions stay for audit); post-submit hooks run after, without
   * holding up the caller.
   */
  async submit(input: SubmitJob, actor: User, extra: { publishId?: string; sourcesAreNames?: boolean } = {}): Promise<Job> {
    const { idempotencyKey, ...request } = input;
    return this.idempotency.once({
      userId: actor.id,
      operation: "submitJob",
      key: idempotencyKey,
      input: request,
      run: () => this.submitOnce(request, actor, extra),
      ids: (job) => [job.id],
      load: ([id]) => this.get(id, actor),
    });
  }

  private async submitOnce(input: SubmitJob, actor: User, extra: { publishId?: string; sourcesAreNames?: boolean }): Promise<Job> {
    const name = assertName("input.name", input.name, 255);
    if (input.code !== undefined) assertCode("input.code", input.code);
    const queue = input.queue ? await this.queues.get(input.queue) : await this.queues.getDefault();
    const settings = await this.settings.get();
    const detailed = seesDetails(actor, settings);
    const server = await this.servers.find(settings.defaultExecutionServerId);
    const os = server?.os ?? "linux";
    const source = await this.resolveParty("input.source", input.source, actor);
    const destination = await this.resolveParty("input.destination", input.destination, actor);
    const client = input.client ? await this.resolveClient(input.client, actor) : null;
    // Internal metadata is the workspace's (README: STANDARD users never read it); letting them
    // set it on their job would override it for every server hook.
    if (input.metadata?.internal !== undefined && actor.role === UserRole.STANDARD)
      throw new DomainError("FORBIDDEN", "input.metadata.internal: STANDARD users may not set internal metadata; send external metadata only", "input.metadata.internal");
    if (!Array.isArray(input.tasks) || input.tasks.length === 0) throw badInput("input.tasks", "a job needs at least one task (a file with source, destination and size)");
    if (input.tasks.length > MAX_TASKS) throw badInput("input.tasks", `at most ${MAX_TASKS} tasks per job (got ${input.tasks.length})`);
    const hooks = parseJobHooks("input.hooks", input.hooks);
    if (input.settings) assertMetadata("input.settings", input.settings);
    // One read of the volumes for every path of the job (no query per task).
    const resolve = await this.volumes.pathResolver(os, { listVolumes: isElevated(actor.role) });
    const tasks: JobTask[] = [];
    for (const [i, task] of input.tasks.entries()) {
      if (!Number.isFinite(task.size) || task.size < 0 || !Number.isInteger(task.size)) throw badInput(`input.tasks[${i}].size`, `must be a whole number of bytes, 0 or more (got ${task.size})`);
      if (task.metadata) assertMetadata(`input.tasks[${i}].metadata`, task.metadata);
      const sourceField = `input.tasks[${i}].source`;
      tasks.push({
        // A publish's sources are the vendor's file names, never paths to parse (SPEC §3.3).
        source: extra.sourcesAreNames
          ? { path: nonEmpty(sourceField, task.source), volume: null, volume_hr: null, relative_path: null }
          : taskPath(resolve(sourceField, nonEmpty(sourceField, task.source))),
        destination: taskPath(resolve(`input.tasks[${i}].destination`, nonEmpty(`input.tasks[${i}].destination`, task.destination))),
        size: task.size,
        ...(task.metadata ? { metadata: task.metadata } : {}),
      });
    }
    const now = new Date();
    const job = this.store.manager.create(Job, {
      id: uuidV7(),
      code: input.code ?? "",
      name,
      queueId: queue.id,
      status: JobStatus.SUBMITTED,
      userId: actor.id,
      source: source.ident,
      sourceHr: source.hr,
      destination: destination.ident,
      destinationHr: destination.hr,
      engine: input.engine?.trim() || "default",
      tasks,
      size: tasks.reduce((sum, t) => sum + t.size, 0),
      clientId: client?.id ?? null,
      volumeId: destination.volume?.id ?? source.volume?.id ?? tasks.find((t) => t.destination.volume)?.destination.volume ?? null,
      message: null,
      failCount: 0,
      publishId: extra.publishId ?? null,
      settings: input.settings ?? {},
      hooks,
      createdAt: now,
      updatedAt: now,
    });
    applyMetadata("input.metadata", job.metadata, input.metadata);
    if (input.code !== undefined && (await this.store.manager.existsBy(Job, { code: input.code }))) throw conflict("input.code", `a job with code '${input.code}' already exists`);
    // Codes this submission reserved: released once it is stored or refused.
    const reserved: string[] = [];
    try {
      job.code = input.code ?? (await this.reserveCode(name, reserved, this.store.manager));
      return await this.submitChecked(job, queue, input.code !== undefined, name, reserved, detailed);
    } finally {
      for (const code of reserved) this.pendingCodes.delete(code);
    }
  }

  /** The rest of a submission, once its code is chosen: blocking hooks, the write, then the post-submit hooks. */
  private async submitChecked(job: Job, queue: Queue, codeGiven: boolean, name: string, reserved: string[], detailed: boolean): Promise<Job> {
    for (const hook of [HookPoint.PRE_SUBMIT_SERVER, HookPoint.PRE_SUBMIT_CLIENT]) {
      // The queue may be deleted while a blocking hook runs: refuse before the next one, and at the write.
      if (!(await this.store.manager.existsBy(Queue, { id: queue.id }))) throw queueDeleted(queue);
      const ran = await this.runHooks(hook, job, true);
      const failed = ran.find((e) => FAILED_RUN.includes(e.status));
      if (failed) {
        const why = failed.error ?? failed.status;
        const said = hookMessageOf(failed.output);
        // The hook's error (its stderr) and the execution are for ADMIN and audit roles only; its message is everyone's.
        throw new HookRefusal(
          detailed
            ? `${hookPointInfo(hook).dashed} refused the job: ${why} (execution ${failed.id})`
            : said
              ? `${hookPointInfo(hook).dashed} refused the job: ${said}`
              : `${hookPointInfo(hook).dashed} refused the job; nothing was stored (an administrator can see why in the hook's execution)`,
          hook,
          said,
        );
      }
    }
    let saved: Job;
    for (let attempt = 1; ; attempt++) {
      try {
        saved = await this.store.transaction(async (em) => {
          // The code was free before the blocking hooks ran; check again now that the write is ours.
          if (await em.existsBy(Job, { code: job.code })) {
            if (codeGiven) throw conflict("input.code", `a job with code '${job.code}' was submitted meanwhile`);
            // Another instance (or a caller naming this code) took it meanwhile: the caller named none, so take the next free one.
            job.code = await this.reserveCode(name, reserved, em);
          }
          // The queue may have been deleted while the blocking hooks ran: refuse with nothing stored.
          if (!(await em.existsBy(Queue, { id: job.queueId }))) throw queueDeleted(queue);
          return em.save(job);
        });
        break;
      } catch (err) {
        // Saved by another instance between the check and the write (the unique index said so): again, with a fresh code.
        const taken = err instanceof DomainError && err.code === "CONFLICT" && err.field === "input.code";
        if (codeGiven || !taken || attempt >= MAX_CODE_ATTEMPTS) throw err;
        job.code = await this.reserveCode(name, reserved, this.store.manager);
      }
    }
    this.publish(saved);
    await this.runHooks(HookPoint.POST_SUBMIT_SERVER, saved, false);
    await this.runHooks(HookPoint.POST_SUBMIT_CLIENT, saved, false);
    return saved;
  }

  /** A status report from the transfer engine or a client; done and failed fire their hooks. */
  async updateStatus(id: string, status: JobStatus, message: string | null, actor: User): Promise<Job> {
    if (status === JobStatus.DONE) {
      // A publish's upload, or a job carrying publish-server of its own, is done only once
      // publish-server has ingested it (SPEC §3.4).
      const current = await this.get(id, actor);
      if (current.status === JobStatus.SUBMITTED) {
        // Before the ingest runs: a held job has not run, so it cannot be done either.
        const queue = await this.store.manager.findOneBy(Queue, { id: current.queueId });
        if (queue?.status === QueueStatus.PAUSED) throw heldConflict(current, queue);
      }
      const ingests = current.publishId !== null || current.hooks.some((h) => h.hook === HookPoint.PUBLISH_SERVER);
      if (ingests && NEXT[current.status].includes(JobStatus.DONE)) {
        // Ingesting reads the job whole (its tasks too), unlike what get() reads.
        const result = await this.events.delivered(await this.store.manager.findOneByOrFail(Job, { id }));
        if (!result.ok) return this.updateStatus(id, JobStatus.FAILED, result.error ?? "publish-server failed", actor);
      }
    }
    const job = await this.transition(
      id,
      actor,
      (current, queue) => {
        if (!NEXT[current.status].includes(status)) {
          const hint = current.status === JobStatus.FAILED && status === JobStatus.RUNNING ? "; use retryJob to run a failed job again" : "";
          throw conflict("status", `job '${current.code}' is ${current.status}; it cannot become ${status}${hint}`);
        }
        // A held job cannot start, nor be reported done without having started.
        if ((status === JobStatus.RUNNING || status === JobStatus.DONE) && current.status === JobStatus.SUBMITTED && queue.status === QueueStatus.PAUSED) throw heldConflict(current, queue);
        current.status = status;
        if (status === JobStatus.FAILED) current.failCount += 1;
      },
      message,
    );
    if (status === JobStatus.DONE) {
      await this.runHooks(HookPoint.POST_DONE_SERVER, job, false);
      await this.runHooks(HookPoint.POST_DONE_CLIENT, job, false);
    } else if (status === JobStatus.FAILED) {
      await this.runHooks(HookPoint.POST_FAILED_SERVER, job, false);
      await this.runHooks(HookPoint.POST_FAILED_CLIENT, job, false);
    }
    return job;
  }

  /** failed → running. A publish upload whose ingest failed runs publish-server again at once. */
  async retry(id: string, actor: User): Promise<Job> {
    const job = await this.transition(
      id,
      actor,
      (current) => {
        if (current.status !== JobStatus.FAILED) throw conflict("id", `job '${current.code}' is ${current.status}; only a FAILED job can be retried`);
        current.status = JobStatus.RUNNING;
      },
      null,
    );
    if (job.publishId && (await this.ingestFailed(job.publishId))) return this.updateStatus(job.id, JobStatus.DONE, "publish-server retried", actor);
    return job;
  }

  private async ingestFailed(publishId: string): Promise<boolean> {
    const publish = await this.store.manager.findOne(Publish, { where: { id: publishId }, select: { id: true, state: true } });
    return publish?.state === PublishState.FAILED;
  }

  /** A job without its tasks (read them a page at a time with tasksPage): a job may hold 100k. */
  async get(id: string, actor: User): Promise<Job> {
    const job = await this.withoutTasks(this.store.manager.createQueryBuilder(Job, "j")).where("j.id = :id", { id }).getOne();
    // Another user's job answers as not found to a STANDARD user, so ids cannot be probed.
    if (!job || !this.mayRead(actor, job)) throw notFound("job", id);
    return job;
  }

  private withoutTasks(qb: SelectQueryBuilder<Job>): SelectQueryBuilder<Job> {
    const columns = this.store.dataSource.getMetadata(Job).columns.filter((c) => c.propertyName !== "tasks");
    return qb.select(columns.map((c) => `${qb.alias}.${c.propertyPath}`));
  }

  /**
   * Tasks `after`+1 to `after`+`first` (numbered from 1, as in the hooks' JSON), read in SQL so
   * that a page costs its own size, not the job's. A STANDARD reader sees volume paths in volume
   * notation: the volume's server prefix is not theirs to read.
   */
  async tasksPage(job: Job, first: number, after: number, actor: User): Promise<JobTask[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_TASK_PAGE) throw badInput("first", `must be a whole number from 1 to ${MAX_TASK_PAGE} (got ${first})`);
    if (!Number.isInteger(after) || after < 0) throw badInput("after", `must be a task number, 0 or more (got ${after})`);
    const tasks: JobTask[] = Array.isArray(job.tasks) ? job.tasks.slice(after, after + first) : ((await this.store.jsonArrayPage(Job, "tasks", job.id, first, after)) as JobTask[]);
    return isElevated(actor.role) ? tasks : tasks.map((t) => ({ ...t, source: inVolumeNotation(t.source), destination: inVolumeNotation(t.destination) }));
  }

  async taskCount(job: Job): Promise<number> {
    if (Array.isArray(job.tasks)) return job.tasks.length;
    return this.store.jsonArrayLength(Job, "tasks", job.id);
  }

  /** The job's queue now: a queue deleted since the job was read moved the job to the default one. */
  async queueOf(job: Job): Promise<Queue> {
    const em = this.store.manager;
    const queue = await em.findOneBy(Queue, { id: job.queueId });
    if (queue) return queue;
    const fresh = await em.findOne(Job, { where: { id: job.id }, select: { id: true, queueId: true } });
    // Not stored yet: a submission whose queue was deleted meanwhile.
    if (!fresh) throw queueDeleted({ code: job.queueId });
    job.queueId = fresh.queueId;
    return em.findOneByOrFail(Queue, { id: job.queueId });
  }

  private readonly pager = new KeysetPager<Job>("createdAt");

  async list(filter: JobFilter, first: number, after: string | null | undefined, actor: User): Promise<Page<Job>> {
    const qb = this.withoutTasks(this.store.manager.createQueryBuilder(Job, "j"));
    if (!isElevated(actor.role)) qb.andWhere("j.userId = :me", { me: actor.id });
    if (filter.status) qb.andWhere("j.status = :status", { status: filter.status });
    if (filter.user) qb.andWhere("j.userId = :user", { user: filter.user });
    if (filter.queue) qb.andWhere("j.queueId = :queueId", { queueId: (await this.queues.get(filter.queue)).id });
    return this.pager.page(qb, first, after);
  }

  /**
   * A failed ingest's message carries publish-server's error (its stderr) and the execution id:
   * for ADMIN and audit roles. Others read that it failed; messages reported with a status are
   * everyone's who may read the job.
   */
  async messageFor(job: { publishId: string | null; message: string | null }, actor: User): Promise<string | null> {
    if (!job.publishId || !job.message?.startsWith(INGEST_FAILED) || seesDetails(actor, await this.settings.get())) return job.message;
    return PLAIN_INGEST_FAILED;
  }

  cursorOf(job: Job): string {
    return this.pager.cursorOf(job);
  }

  executionsOf(jobId: string): Promise<Execution[]> {
    return this.store.manager.find(Execution, { where: { jobId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  /**
   * The latest message each hook point of this job left for its user (hook-message.ts), oldest
   * first: how a non-blocking hook (post-failed, say) tells the user what to do next.
   */
  async hookMessagesOf(jobId: string): Promise<{ hook: HookPoint; message: string; at: Date }[]> {
    const runs = await this.store.manager.find(Execution, {
      where: { jobId, output: Not(IsNull()) },
      select: { id: true, hook: true, output: true, createdAt: true, finishedAt: true },
      order: { createdAt: "ASC", id: "ASC" },
    });
    const latest = new Map<HookPoint, { hook: HookPoint; message: string; at: Date }>();
    for (const run of runs) {
      const message = hookMessageOf(run.output);
      if (message !== null) latest.set(run.hook, { hook: run.hook, message, at: run.finishedAt ?? run.createdAt });
    }
    return [...latest.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  mayRead(actor: User, job: Job): boolean {
    return isElevated(actor.role) || job.userId === actor.id;
  }

  private async transition(id: string, actor: User, change: (job: Job, queue: Queue) => void, message: string | null): Promise<Job> {
    const job = await this.store.transaction(async (em) => {
      const current = await em.findOneBy(Job, { id });
      if (!current || !this.mayRead(actor, current)) throw notFound("job", id);
      if (actor.role === UserRole.STANDARD && current.userId !== actor.id) throw forbidden("only the job's owner, an EMPLOYEE or an ADMIN may report its status");
      const queue = await em.findOneByOrFail(Queue, { id: current.queueId });
      change(current, queue);
      if (message !== null) current.message = message.slice(0, 10_000);
      current.updatedAt = new Date();
      return em.save(current);
    });
    this.publish(job);
    return job;
  }

  /** Runs the entries of one hook point for a job; client hooks follow the client rules of SPEC §1. */
  private async runHooks(hook: HookPoint, job: Job, wait: boolean): Promise<Execution[]> {
    const sources = await this.sources(job);
    let executions: Execution[];
    if (hookPointInfo(hook).client) {
      const client = sources.client;
      if (!client) return [];
      const elevated = sources.clientUser !== null && isElevated(sources.clientUser.role);
      const context = elevated
        ? { jobId: job.id }
        : {
            jobId: job.id,
            skip: { reason: SkipReason.CLIENT_NOT_ELEVATED, message: `client hooks never run for a STANDARD user's client ('${client.name}' belongs to ${sources.clientUser?.email ?? "no user"})` },
          };
      executions = await this.executions.run(hook, jobPayload(hook, sources, elevated), sources.queue.code, context, client.id);
    } else {
      executions = await this.executions.run(hook, jobPayload(hook, sources, false), sources.queue.code, { jobId: job.id });
    }
    // A blocking hook whose runner is not connected waits for one at most its timeout, then fails.
    return wait ? this.executions.waitForAll(executions) : executions;
  }

  /** The JSON a hook of this job gets, server side (publish-server takes the upload job's fields from it). */
  async payloadFor(hook: HookPoint, job: Job): Promise<JsonObject> {
    return jobPayload(hook, await this.sources(job), false);
  }

  private async sources(job: Job): Promise<JobPayloadSources> {
    const em = this.store.manager;
    const settings = await this.settings.get();
    const client = job.clientId ? await em.findOneBy(ExecutionServer, { id: job.clientId }) : null;
    return {
      job,
      queue: await this.queueOf(job),
      user: job.userId ? await em.findOneBy(User, { id: job.userId }) : null,
      settings,
      volume: job.volumeId ? await em.findOneBy(Volume, { id: job.volumeId }) : null,
      server: await this.servers.find(settings.defaultExecutionServerId),
      client,
      clientUser: client?.ownerId ? await em.findOneBy(User, { id: client.ownerId }) : null,
    };
  }

  private async resolveParty(field: string, raw: string, actor: User): Promise<Party> {
    const match = /^([a-z_]+):(.+)$/.exec(raw.trim());
    if (!match) throw badInput(field, `must be a party ident <entitytype>:<entityid>, e.g. user:<id> or volume:projects (got '${raw}')`);
    const [, type, key] = match;
    const em = this.store.manager;
    switch (type) {
      case "user": {
        // Any other answer would tell a STANDARD user which emails have accounts.
        if (actor.role === UserRole.STANDARD && key !== actor.id && key.toLowerCase() !== actor.email)
          throw badInput(field, `a STANDARD user may name only themselves as a user party (user:${actor.email}); use a volume, client or server otherwise`);
        const user = (await em.findOneBy(User, { id: key })) ?? (await em.findOneBy(User, { email: key.toLowerCase() }));
        if (!user) throw badInput(field, `no user has id or email '${key}'`);
        return { ident: `user:${user.id}`, hr: user.email, volume: null };
      }
      case "volume": {
        const volume = (await em.findOneBy(Volume, { id: key })) ?? (await em.findOneBy(Volume, { code: key }));
        if (!volume) throw badInput(field, `no volume has id or code '${key}'`);
        return { ident: `volume:${volume.id}`, hr: volume.code, volume };
      }
      case "client":
      case "server": {
        const server = await em.findOneBy(ExecutionServer, { id: key });
        if (!server) throw badInput(field, `no execution server has id '${key}'`);
        return { ident: `${type}:${server.id}`, hr: server.name, volume: null };
      }
      default:
        throw badInput(field, `unknown entity type '${type}'; known: ${PARTY_TYPES.join(", ")}`);
    }
  }

  private async resolveClient(id: string, actor: User): Promise<ExecutionServer> {
    const client = await this.store.manager.findOneBy(ExecutionServer, { id });
    // A STANDARD user's job runs client hooks on their own clients only: another user's client
    // would run them elevated. Not theirs answers as not found, so ids cannot be probed.
    if (!client || !mayUseClient(actor, client)) throw badInput("input.client", `no execution server has id '${id}'; register the client first (registerClient)`);
    if (client.kind !== ExecutionServerKind.CLIENT) throw badInput("input.client", `'${client.name}' is a site server, not a client`);
    return client;
  }

  /**
   * A free code from the name, held for this submission until it is stored or refused: submissions
   * of one name at once (in this process) each get their own before their pre-submit hooks run,
   * so the hooks see the code the job is stored under.
   */
  private async reserveCode(name: string, reserved: string[], em: EntityManager): Promise<string> {
    const code = await this.generateCode(name, em);
    this.pendingCodes.add(code);
    reserved.push(code);
    return code;
  }

  /** A code from the name: lowercase letters, digits, '_', '.', '-', made unique with a counter. */
  private async generateCode(name: string, em: EntityManager): Promise<string> {
    const base =
      name
        .toLowerCase()
        .normalize("NFKD")
        .replace(/[^a-z0-9._-]+/g, "_")
        .replace(/^_+|_+$/g, "")
        .slice(0, 100) || "job";
    // One query for the codes taken (not one per counter value: a name used 10k times took 10k).
    const rows = await em
      .createQueryBuilder(Job, "j")
      .select("j.code", "code")
      .where(`j.code = :base OR j.code LIKE :pattern ESCAPE '\\'`, { base, pattern: `${base.replace(/[\\%_]/g, "\\$&")}\\_%` })
      .getRawMany<{ code: string }>();
    const taken = new Set(rows.map((r) => r.code));
    for (let n = 1; ; n++) {
      const code = n === 1 ? base : `${base}_${n}`;
      if (!taken.has(code) && !this.pendingCodes.has(code)) return code;
    }
  }

  private publish(job: Job): void {
    this.pubsub.publish("jobUpdated", job.id, { id: job.id, code: job.code, status: job.status, message: job.message, publishId: job.publishId });
  }
}

const MAX_TASK_PAGE = 1000;
/** How the publish service words a failed ingest (publish.service.ts), and what others read instead. */
export const INGEST_FAILED = "publish-server failed";
export const PLAIN_INGEST_FAILED = "publish-server could not ingest the upload (an administrator can see why in the hook's execution)";

/** ADMIN and the audit roles read hooks' errors and execution ids in refusals; others a plain message. */
export function seesDetails(actor: User, settings: { auditRoles: readonly UserRole[] }): boolean {
  return actor.role === UserRole.ADMIN || settings.auditRoles.includes(actor.role);
}

/** A STANDARD user may name only their own clients; elevated users any. */
export function mayUseClient(actor: User, client: ExecutionServer): boolean {
  return isElevated(actor.role) || client.ownerId === actor.id;
}

function queueDeleted(queue: { code: string }): DomainError {
  return conflict("input.queue", `queue '${queue.code}' was deleted while the job was being submitted; nothing was stored: submit it again`);
}

function heldConflict(job: Job, queue: Queue): DomainError {
  return conflict("status", `job '${job.code}' is held: its queue '${queue.code}' is paused`);
}

/** A task path as a STANDARD user sees it: on a volume, `volume=<code>/<relative path>`. */
function inVolumeNotation(p: TaskPath): TaskPath {
  return p.volume_hr === null || p.relative_path === null ? { ...p } : { ...p, path: p.relative_path ? `volume=${p.volume_hr}/${p.relative_path}` : `volume=${p.volume_hr}` };
}

function nonEmpty(field: string, value: string): string {
  if (typeof value !== "string" || value.trim() === "") throw badInput(field, "must be a path (absolute, or volume=<code>/<relative path>)");
  return value.trim();
}

function taskPath(resolved: ResolvedPath): TaskPath {
  return { path: resolved.path, volume: resolved.volume?.id ?? null, volume_hr: resolved.volume?.code ?? null, relative_path: resolved.relativePath };
}
