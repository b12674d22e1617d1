import { Execution, ExecutionStatus, isFinished } from "../entities/execution.entity.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import type { Logger } from "../logger.js";
import type { ExecutionEvent, PubSub, Unsubscribe } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import type { MetricsService } from "./metrics.service.js";

/** Finished ids remembered so an outcome published twice is logged and counted once. */
const SEEN_MAX = 4096;

/**
 * Watches executions finish (the executionUpdated topic) and writes one log line per finished
 * execution and its metrics. It lives outside the executor so whoever runs a hook, and however,
 * the line and the counts are the same.
 */
export class ExecutionObserver {
  private unsubscribe: Unsubscribe | null = null;
  private readonly pending = new Set<Promise<void>>();
  private readonly seen = new Set<string>();
  private readonly serverNames = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
    private readonly metrics: MetricsService | null,
  ) {}

  start(): void {
    this.unsubscribe = this.pubsub.subscribe("executionUpdated", "*", (event) => {
      if (!isFinished(event.status) || this.seen.has(event.id)) return;
      if (this.seen.size >= SEEN_MAX) this.seen.clear();
      this.seen.add(event.id);
      const work = this.finished(event).catch((err) => this.logger.error(`could not record the outcome of execution ${event.id}`, err));
      this.pending.add(work);
      void work.finally(() => this.pending.delete(work));
    });
  }

  /** Stops listening and waits for the outcomes already heard. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await Promise.all([...this.pending]);
  }

  private async finished(event: ExecutionEvent): Promise<void> {
    // A broker-backed pubsub carries no row: read it.
    const execution = event.stored ?? (await this.store.manager.findOneBy(Execution, { id: event.id }));
    if (!execution) return;
    const ran = execution.startedAt !== null && execution.finishedAt !== null;
    const durationMs = ran ? execution.finishedAt!.getTime() - execution.startedAt!.getTime() : null;
    const fields = {
      hook: execution.hook,
      executionId: execution.id,
      queue: execution.queue,
      jobId: execution.jobId,
      publishId: execution.publishId,
      runner: await this.serverName(execution.executionServerId),
      status: execution.status,
      exitCode: execution.exitCode,
      signal: execution.signal,
      durationMs,
      error: execution.error,
      skipReason: execution.skipReason,
      attempt: execution.attempt,
      logLines: execution.logLineCount,
      droppedBytes: execution.droppedBytes,
    };
    const message = `execution ${execution.status.toLowerCase()}: ${execution.hook}`;
    if (execution.status === ExecutionStatus.FAILED || execution.status === ExecutionStatus.TIMED_OUT) this.logger.warn(message, fields);
    else this.logger.info(message, fields);

    const metrics = this.metrics;
    if (!metrics) return;
    metrics.executionsTotal.inc({ hook: execution.hook, status: execution.status });
    if (durationMs !== null) metrics.executionDuration.observe({ hook: execution.hook }, Math.max(0, durationMs) / 1000);
    if (execution.startedAt !== null) metrics.queueWait.observe(Math.max(0, execution.startedAt.getTime() - execution.createdAt.getTime()) / 1000);
    if (execution.logLineCount > 0) metrics.logLinesTotal.inc(execution.logLineCount);
    if (execution.droppedBytes > 0) metrics.logBytesDroppedTotal.inc(execution.droppedBytes);
  }

  /** Execution servers are few and rarely renamed: names are kept once read. */
  private async serverName(id: string | null): Promise<string | null> {
    if (id === null) return null;
    const known = this.serverNames.get(id);
    if (known !== undefined) return known;
    const server = await this.store.manager.findOne(ExecutionServer, { where: { id }, select: { id: true, name: true } });
    if (!server) return null;
    this.serverNames.set(id, server.name);
    return server.name;
  }
}
