import type { Logger } from "../logger.js";
import type { ExecutionLifecycle } from "./execution-lifecycle.service.js";

/**
 * Ends what no runner will finish: RUNNING executions whose lease expired (the runner vanished),
 * RUNNING ones past their deadline (the runner did not end the hook in its timeout) and QUEUED
 * ones no runner took within the schedule-to-start limit. Any hookd may sweep: each change is
 * conditional on the state it found, so two sweepers never record one thing twice.
 */
export class ExecutionRecovery {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly lifecycle: ExecutionLifecycle,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  /** One sweep at once (start-up: what expired while nothing ran), then one per interval. */
  async start(): Promise<void> {
    await this.sweep();
    // Retries and APPEND entries whose follow-up a stop interrupted.
    await this.lifecycle.resumeChains().catch((err) => this.logger.error("could not resume retry chains", err));
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping;
    this.lifecycle.close();
  }

  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        await this.lifecycle.expireLeases();
        await this.lifecycle.expireDeadlines();
      } catch (err) {
        this.logger.error("could not end expired executions", err);
      } finally {
        this.sweeping = null;
      }
    })();
    return this.sweeping;
  }
}
