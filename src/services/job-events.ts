import type { Job } from "../entities/job.entity.js";

/** What a listener answers when a job is reported DONE: whether it may be DONE, and why not. */
export interface DeliveredVerdict {
  ok: boolean;
  error?: string;
}

/**
 * Events of a job's life that other services act on, without the job service knowing them.
 * `delivered`: a job was reported DONE and is not DONE yet; each listener's verdict is awaited in
 * turn, and the first refusal makes the job FAILED (the publish workflow ingests here, SPEC §3.4).
 */
export class JobEvents {
  private readonly deliveredListeners: ((job: Job) => Promise<DeliveredVerdict | null>)[] = [];

  /** `listener` answers null for a job it has nothing to do with. */
  onDelivered(listener: (job: Job) => Promise<DeliveredVerdict | null>): void {
    this.deliveredListeners.push(listener);
  }

  async delivered(job: Job): Promise<DeliveredVerdict> {
    for (const listener of this.deliveredListeners) {
      const verdict = await listener(job);
      if (verdict && !verdict.ok) return verdict;
    }
    return { ok: true };
  }
}
