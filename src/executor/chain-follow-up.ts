import { IsNull, Not } from "typeorm";
import { SkipReason } from "../domain/effective-hooks.js";
import { hookPointInfo } from "../domain/hook-points.js";
import { Execution, ExecutionStatus, isFinished } from "../entities/execution.entity.js";
import type { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";
import type { ExecutionQueue } from "./execution-queue.js";
import type { ExecutionTransitions } from "./execution-transitions.js";
import { waitingForEarlier } from "./start-rules.js";

// What follows a final outcome: the next attempt is woken at its time, the entries that waited
// for this one run (or are SKIPPED), runs that waited for its concurrency slot are offered again.
// The writes it decides go through the transitions.

export class ChainFollowUp {
  private readonly wakeTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: Store,
    private readonly transitions: ExecutionTransitions,
    private readonly queue: ExecutionQueue,
    private readonly logger: Logger,
    private readonly now: () => Date,
    private readonly settings: () => Promise<WorkspaceSettings>,
  ) {}

  /**
   * After `done` reached a final status: its next attempt is announced and woken at its time; the
   * entries that waited for it run (or, when a blocking hook's entry refused, are SKIPPED: the
   * chain stops); runs that waited for its concurrency slot are offered again.
   */
  async after(done: Execution, next: Execution | null): Promise<void> {
    try {
      if (next) {
        this.transitions.adopt(next);
        this.wake(next);
      }
      // Most runs have nothing waiting for them: their ids first (a prepared statement on SQLite), rows only for what is found.
      for (const id of await this.store.findIdsBy(Execution, { afterId: done.id, status: ExecutionStatus.QUEUED })) {
        const w = await this.store.findById(Execution, id);
        if (w?.status === ExecutionStatus.QUEUED && w.afterId === done.id) await this.settleWaiting(w, done, next);
      }
      if (done.policy?.maxConcurrent || done.concurrencyKey !== null) {
        const where = { configId: done.configId, hook: done.hook, status: ExecutionStatus.QUEUED, afterId: IsNull() };
        const rows = await this.store.manager.find(Execution, {
          select: { id: true, executionServerId: true },
          where: done.concurrencyKey !== null && !done.policy?.maxConcurrent ? { ...where, concurrencyKey: done.concurrencyKey } : where,
          order: { id: "ASC" },
          take: Math.max(1, done.policy?.maxConcurrent ?? 1),
        });
        for (const r of rows) if (r.executionServerId !== null) this.queue.offer(r.executionServerId, [r.id]);
      }
    } catch (err) {
      this.logger.error(`could not start what follows execution ${done.id}`, err);
    }
  }

  private async settleWaiting(w: Execution, done: Execution, next: Execution | null): Promise<void> {
    const expect = { status: ExecutionStatus.QUEUED, afterId: done.id };
    let set: Partial<Execution>;
    if (next) set = { afterId: next.id, waitingFor: waitingForEarlier(next.id) };
    else if (hookPointInfo(w.hook).blocking && done.status !== ExecutionStatus.SUCCEEDED) {
      const error = `not run: the entry before it (execution ${done.id}) ended ${done.status}${done.error ? `: ${done.error}` : ""}`;
      set = { status: ExecutionStatus.SKIPPED, skipReason: SkipReason.EARLIER_ENTRY_FAILED, error, afterId: null, waitingFor: null, deadlineAt: null, finishedAt: this.now() };
    } else {
      const wait = hookPointInfo(w.hook).blocking ? w.timeoutSeconds : (await this.settings()).scheduleToStartSeconds;
      set = { afterId: null, waitingFor: null, deadlineAt: new Date(this.now().getTime() + wait * 1000) };
    }
    const row = await this.transitions.move(w, set, expect);
    if (row === null) return; // cancelled meanwhile
    if (row.afterId === null && !isFinished(row.status) && row.executionServerId !== null) this.queue.offer(row.executionServerId, [row.id]);
  }

  /** Offers an attempt to its runners once its backoff is over (the runners' poll finds it too, after a restart). */
  private wake(e: Execution): void {
    if (e.executionServerId === null || e.notBefore === null) return;
    const serverId = e.executionServerId;
    const timer = setTimeout(
      () => {
        this.wakeTimers.delete(timer);
        this.queue.offer(serverId, [e.id]);
      },
      Math.max(0, e.notBefore.getTime() - this.now().getTime()),
    );
    timer.unref();
    this.wakeTimers.add(timer);
  }

  /**
   * Start-up: entries left waiting for an execution that finished while no hookd was there to
   * follow up (a stop between the two writes) are settled now, and waiting retries woken.
   */
  async resume(): Promise<void> {
    const waiting = await this.store.manager.find(Execution, { where: { status: ExecutionStatus.QUEUED, afterId: Not(IsNull()) } });
    for (const w of waiting) {
      const before = await this.store.findById(Execution, w.afterId!);
      if (before && isFinished(before.status)) await this.settleWaiting(w, before, before.nextAttemptId ? await this.store.findById(Execution, before.nextAttemptId) : null);
    }
    const retries = await this.store.manager.find(Execution, { where: { status: ExecutionStatus.QUEUED, notBefore: Not(IsNull()) } });
    for (const r of retries) this.wake(r);
  }

  /** Stops the backoff timers (the attempts stay stored, QUEUED). */
  close(): void {
    for (const t of this.wakeTimers) clearTimeout(t);
    this.wakeTimers.clear();
  }
}
