import { type HookPolicyInput, parseHookPolicy } from "../domain/hook-policy.js";
import type { EntityManager } from "typeorm";
import { badInput, conflict, notFound } from "../domain/errors.js";
import { HookPoint } from "../domain/hook-points.js";
import { Job } from "../entities/job.entity.js";
import type { MetadataInputFields } from "../entities/metadata.embedded.js";
import { QueueHook, QueueHookMode } from "../entities/queue-hook.entity.js";
import { Queue, QueueStatus } from "../entities/queue.entity.js";
import type { Store } from "../store/store.js";
import { FIRST_START_LOCK } from "../store/store.js";
import { snapshot, type Actor, type AuditService } from "./audit.service.js";
import { applyCommands, type CommandsInput } from "./hook-commands.js";
import type { ConfigurationService } from "./configuration.service.js";
import { applyMetadata, assertCode, assertIntRange, assertName, assertTimeout } from "./validation.js";

export const DEFAULT_QUEUE_CODE = "default";
export const DEFAULT_PRIORITY = 500;

export interface QueueFields {
  code?: string;
  name?: string;
  priority?: number;
  default?: boolean;
  status?: QueueStatus;
  description?: string | null;
  metadata?: MetadataInputFields;
}

export interface SetQueueHook {
  queue: string;
  hook: HookPoint;
  mode: QueueHookMode;
  commands: CommandsInput;
  enabled?: boolean;
  timeoutSeconds?: number | null;
  /** This queue's policy for the hook point (null: the workspace entry's); left out: kept. */
  policy?: HookPolicyInput | null;
}

export class QueueService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly history: ConfigurationService,
  ) {}

  list(): Promise<Queue[]> {
    return this.store.manager.find(Queue, { order: { priority: "DESC", code: "ASC" } });
  }

  async get(code: string): Promise<Queue> {
    const queue = await this.store.manager.findOneBy(Queue, { code });
    if (!queue) throw notFound("queue", code);
    return queue;
  }

  async getDefault(): Promise<Queue> {
    const queue = await this.store.manager.findOneBy(Queue, { isDefault: true });
    if (!queue) throw new Error("no default queue: the database was not bootstrapped");
    return queue;
  }

  jobCount(queueId: string): Promise<number> {
    return this.store.manager.countBy(Job, { queueId });
  }

  hooks(queueId: string): Promise<QueueHook[]> {
    return this.store.manager.find(QueueHook, { where: { queueId }, order: { hook: "ASC" } });
  }

  /** Creates the default queue on an empty database (bootstrap). */
  async ensureDefault(): Promise<void> {
    await this.store.transaction(async (em) => {
      // Instances starting together on a new database: one creates it, the others then see it.
      await this.store.lockInTransaction(em, FIRST_START_LOCK);
      if ((await em.countBy(Queue, { isDefault: true })) > 0) return;
      const queue = em.create(Queue, {
        code: DEFAULT_QUEUE_CODE,
        name: "Default",
        priority: DEFAULT_PRIORITY,
        isDefault: true,
        status: QueueStatus.WAITING,
        description: "Created at first start; new jobs go to the default queue.",
      });
      await em.save(queue);
    });
  }

  async create(input: QueueFields & { code: string }, actor: Actor): Promise<Queue> {
    this.checkFields(input);
    return this.store.transaction(async (em) => {
      await this.assertCodeFree(em, input.code);
      const queue = em.create(Queue, {
        code: input.code,
        name: input.name?.trim() || input.code,
        priority: input.priority ?? DEFAULT_PRIORITY,
        isDefault: false,
        status: input.status ?? QueueStatus.WAITING,
        description: input.description ?? null,
      });
      applyMetadata("input.metadata", queue.metadata, input.metadata);
      if (input.default) {
        await this.clearDefault(em);
        queue.isDefault = true;
      }
      const saved = await em.save(queue);
      await this.audit.record(em, actor, "queue.create", "queue", saved.id, null, saved);
      await this.history.record(em, actor, "queue.create", saved.code);
      return saved;
    });
  }

  async update(code: string, input: QueueFields, actor: Actor): Promise<Queue> {
    this.checkFields(input);
    return this.store.transaction(async (em) => {
      const queue = await em.findOneBy(Queue, { code });
      if (!queue) throw notFound("queue", code);
      const before = snapshot(queue);
      if (input.code !== undefined && input.code !== queue.code) {
        await this.assertCodeFree(em, input.code);
        queue.code = input.code;
      }
      if (input.name !== undefined) queue.name = input.name.trim();
      if (input.priority !== undefined) queue.priority = input.priority;
      if (input.status !== undefined) queue.status = input.status;
      if (input.description !== undefined) queue.description = input.description;
      applyMetadata("input.metadata", queue.metadata, input.metadata);
      if (input.default === true && !queue.isDefault) {
        await this.clearDefault(em);
        queue.isDefault = true;
      } else if (input.default === false && queue.isDefault) {
        throw badInput("input.default", `'${queue.code}' is the default queue and there must always be one; make another queue the default instead`);
      }
      const saved = await em.save(queue);
      await this.audit.record(em, actor, "queue.update", "queue", saved.id, before, saved);
      await this.history.record(em, actor, "queue.update", saved.code);
      return saved;
    });
  }

  /** Deletes a queue, moving its jobs to the default queue. Returns how many jobs moved. */
  async delete(code: string, actor: Actor): Promise<{ queue: Queue; movedJobs: number; movedTo: Queue }> {
    return this.store.transaction(async (em) => {
      const queue = await em.findOneBy(Queue, { code });
      if (!queue) throw notFound("queue", code);
      if ((await em.count(Queue)) === 1) throw conflict("code", `'${code}' is the last queue; a workspace always has one`);
      if (queue.isDefault) throw conflict("code", `'${code}' is the default queue; make another queue the default before deleting it`);
      const target = await em.findOneByOrFail(Queue, { isDefault: true });
      const moved = await em.update(Job, { queueId: queue.id }, { queueId: target.id });
      const before = snapshot(queue);
      const id = queue.id;
      await em.remove(queue);
      queue.id = id;
      await this.audit.record(em, actor, "queue.delete", "queue", id, before, { movedJobs: moved.affected ?? 0, movedTo: target.code });
      await this.history.record(em, actor, "queue.delete", code);
      return { queue, movedJobs: moved.affected ?? 0, movedTo: target };
    });
  }

  async setHook(input: SetQueueHook, actor: Actor): Promise<QueueHook> {
    assertTimeout("input.timeoutSeconds", input.timeoutSeconds);
    const policy = input.policy === undefined || input.policy === null ? input.policy : parseHookPolicy("input.policy", input.policy);
    return this.store.transaction(async (em) => {
      const queue = await em.findOneBy(Queue, { code: input.queue });
      if (!queue) throw notFound("queue", input.queue);
      const existing = await em.findOneBy(QueueHook, { queueId: queue.id, hook: input.hook });
      const before = snapshot(existing);
      const entry = existing ?? em.create(QueueHook, { queueId: queue.id, hook: input.hook, enabled: true });
      entry.mode = input.mode;
      entry.commands = applyCommands("input.commands", input.hook, input.commands, entry.commands);
      if (input.enabled !== undefined) entry.enabled = input.enabled;
      if (input.timeoutSeconds !== undefined) entry.timeoutSeconds = input.timeoutSeconds;
      if (policy !== undefined) entry.policy = policy;
      const saved = await em.save(entry);
      await this.audit.record(em, actor, "queueHook.set", "queueHook", `${queue.code}/${input.hook}`, before, saved);
      await this.history.record(em, actor, "queueHook.set", `${queue.code}/${input.hook}`);
      return saved;
    });
  }

  async removeHook(queueCode: string, hook: HookPoint, actor: Actor): Promise<QueueHook> {
    return this.store.transaction(async (em) => {
      const queue = await em.findOneBy(Queue, { code: queueCode });
      if (!queue) throw notFound("queue", queueCode);
      const entry = await em.findOneBy(QueueHook, { queueId: queue.id, hook });
      if (!entry) throw notFound("queue hook", `${queueCode}/${hook}`);
      const id = entry.id;
      const before = snapshot(entry);
      await em.remove(entry);
      entry.id = id;
      await this.audit.record(em, actor, "queueHook.remove", "queueHook", `${queueCode}/${hook}`, before, null);
      await this.history.record(em, actor, "queueHook.remove", `${queueCode}/${hook}`);
      return entry;
    });
  }

  private checkFields(input: QueueFields): void {
    if (input.code !== undefined) assertCode("input.code", input.code);
    if (input.name !== undefined) assertName("input.name", input.name);
    if (input.priority !== undefined) assertIntRange("input.priority", input.priority, 0, 1000);
    if (input.description !== undefined && input.description !== null && input.description.length > 10_000) {
      throw badInput("input.description", `must be at most 10000 characters (got ${input.description.length})`);
    }
  }

  private async assertCodeFree(em: EntityManager, code: string): Promise<void> {
    if (await em.existsBy(Queue, { code })) throw conflict("input.code", `a queue with code '${code}' already exists`);
  }

  private async clearDefault(em: EntityManager): Promise<void> {
    await em.update(Queue, { isDefault: true }, { isDefault: false });
  }
}
