import { IsNull, LessThan } from "typeorm";
import { backoffMs, type FailureKind, retryable } from "../domain/hook-policy.js";
import { hookPointInfo } from "../domain/hook-points.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { Store } from "../store/store.js";
import { uuidV7 } from "../store/uuid-v7.js";
import type { RunOutcome } from "./execution-transitions.js";
import { LEASE_NOT_RENEWED } from "./lease-fence.js";
import { clockTime } from "./start-rules.js";

// Whether and when a failed run is tried again under its retry policy. Plans only: the next
// attempt is stored by the transition that records the failure, in the same write.

export interface RetryPlan {
  /** The next attempt, for the transition to store with the outcome. */
  next: Execution | null;
  /** A system log line saying whether and when it is retried. */
  note: string | null;
  columns: { nextAttemptAt: Date | null; nextAttemptId: string | null } | Record<string, never>;
}

export const NO_RETRY: RetryPlan = { next: null, note: null, columns: {} };

export function formatSeconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

/** How a runner's failed outcome counts for the retry rules. */
export function failureOf(outcome: RunOutcome): FailureKind | null {
  if (outcome.status === ExecutionStatus.TIMED_OUT) return { kind: "timed-out" };
  if (outcome.status !== ExecutionStatus.FAILED) return null;
  if (outcome.exitCode !== undefined && outcome.exitCode !== null && outcome.exitCode !== 0) return { kind: "exit", exitCode: outcome.exitCode };
  if (outcome.signal) return { kind: "signal" };
  if (outcome.error?.startsWith("hookd lost track") || outcome.error?.startsWith(LEASE_NOT_RENEWED)) return { kind: "runner-lost" };
  return { kind: "other" };
}

export class RetryPlanner {
  constructor(
    private readonly store: Store,
    private readonly now: () => Date,
    private readonly settings: () => Promise<WorkspaceSettings>,
    private readonly random?: () => number,
  ) {}

  /**
   * The next attempt under the execution's retry policy, to be stored with its outcome (so a
   * restart between attempts loses nothing): QUEUED, not before its backoff nor before
   * `earliest` (the end of a lease whose runner may still be ending the hook), linked to the first.
   */
  async plan(row: Execution, status: ExecutionStatus, failure: FailureKind | null, earliest: Date | null = null): Promise<RetryPlan> {
    const policy = row.policy?.retry ?? null;
    if (policy === null || failure === null || (status !== ExecutionStatus.FAILED && status !== ExecutionStatus.TIMED_OUT)) return NO_RETRY;
    // A chain continued by hand (retryExecution, retryJob) starts the policy's attempts afresh there.
    const start = row.attempt < policy.maxAttempts ? 1 : (await this.runStart(row)).attempt;
    const n = row.attempt - start + 1;
    const of = start === 1 ? `attempt ${row.attempt} of ${policy.maxAttempts}` : `attempt ${row.attempt} (${n} of ${policy.maxAttempts} since attempt ${start}, run again by hand)`;
    const { retry, why } = retryable(policy, failure);
    if (!retry) return { ...NO_RETRY, note: `${of}: not retried: ${why}` };
    if (n >= policy.maxAttempts) return { ...NO_RETRY, note: `${of}: ${why}; no attempts left` };
    const now = this.now();
    const backoff = new Date(now.getTime() + backoffMs(policy, n + 1, this.random));
    const notBefore = earliest !== null && earliest > backoff ? earliest : backoff;
    let timeoutSeconds = row.timeoutSeconds;
    if (hookPointInfo(row.hook).blocking) {
      // The caller waits: every attempt must end within the first attempt's timeout.
      const first = row.retryOfId === null ? row : ((await this.store.findById(Execution, row.retryOfId)) ?? row);
      const left = Math.floor((first.createdAt.getTime() + first.timeoutSeconds * 1000 - notBefore.getTime()) / 1000);
      if (left < 1) return { ...NO_RETRY, note: `${of}: ${why}; not retried: no time is left within the hook's timeout of ${formatSeconds(first.timeoutSeconds)}, which its caller waits for` };
      timeoutSeconds = Math.min(timeoutSeconds, left);
    }
    const wait = hookPointInfo(row.hook).blocking ? timeoutSeconds : (await this.settings()).scheduleToStartSeconds;
    const next = Object.assign(new Execution(), nextAttemptOf(row), {
      id: uuidV7(),
      attempt: row.attempt + 1,
      retryOfId: row.retryOfId ?? row.id,
      timeoutSeconds,
      notBefore,
      deadlineAt: new Date(notBefore.getTime() + wait * 1000),
      waitingFor: `attempt ${row.attempt + 1} waits for its retry backoff until ${clockTime(notBefore)}`,
      createdAt: now,
    });
    return {
      next,
      note: `${of}: ${why}; attempt ${next.attempt} (execution ${next.id}) at ${clockTime(notBefore)}`,
      columns: { nextAttemptAt: notBefore, nextAttemptId: next.id },
    };
  }

  /**
   * The attempt that began the automatic retries `row` is part of: the latest at or before it that
   * no retry policy created (the first run, or one run again by hand); policy-made attempts wait
   * for a backoff (notBefore), the others do not.
   */
  private async runStart(row: Execution): Promise<Execution> {
    if (row.notBefore === null || row.retryOfId === null) return row;
    const started = await this.store.manager.findOne(Execution, {
      select: { id: true, attempt: true },
      where: [
        { retryOfId: row.retryOfId, attempt: LessThan(row.attempt), notBefore: IsNull() },
        { id: row.retryOfId, attempt: LessThan(row.attempt) },
      ],
      order: { attempt: "DESC" },
    });
    return started ?? row;
  }
}

/**
 * A new attempt of `e` (an automatic retry or one asked for by hand): the same configuration, input
 * and policy, QUEUED, nothing of the previous run. The caller sets id, attempt, retryOfId, createdAt.
 */
export function nextAttemptOf(e: Execution): Partial<Execution> {
  const { hook, source, mode, configId, queue, command, os, executionServerId, jobId, publishId, input, timeoutSeconds, triggeredById, policy, concurrencyKey } = e;
  return {
    hook,
    source,
    mode,
    configId,
    queue,
    command,
    os,
    executionServerId,
    jobId,
    publishId,
    input,
    timeoutSeconds,
    triggeredById,
    policy,
    concurrencyKey,
    status: ExecutionStatus.QUEUED,
    afterId: null,
    notBefore: null,
    nextAttemptAt: null,
    nextAttemptId: null,
    waitingFor: null,
    argv: null,
    output: null,
    exitCode: null,
    signal: null,
    error: null,
    skipReason: null,
    pid: null,
    runnerId: null,
    leaseExpiresAt: null,
    deadlineAt: null,
    cancelRequestedAt: null,
    logLineCount: 0,
    droppedBytes: 0,
    startedAt: null,
    finishedAt: null,
  };
}
