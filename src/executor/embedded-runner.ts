import { In, IsNull } from "typeorm";
import { LogStream } from "../entities/execution-log-line.entity.js";
import { Agent } from "../entities/agent.entity.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { Logger } from "../logger.js";
import type { PubSub } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import { embeddedRunnerId, type ExecutionLifecycle } from "./execution-lifecycle.service.js";
import { ExecutionLog } from "./execution-log.js";
import type { ExecutionQueue, RunnerListener } from "./execution-queue.js";
import type { LocalHookRunner } from "./local-hook-runner.js";
import { groupRunsExecution } from "./process-group.js";
import { killProcessGroup } from "./process-runner.js";

export interface EmbeddedRunnerOptions {
  /** Hooks running at once; more wait QUEUED, in order. */
  concurrency: number;
  leaseMs: number;
  /** How often the store is asked for QUEUED work this runner may have missed. */
  pollMs: number;
  logCapBytes: number;
}

/** How long a hook runs before its process group is recorded (see run()). */
const RECORD_START_AFTER_MS = 50;

interface Run {
  controller: AbortController;
  done: Promise<void>;
}

/**
 * The runner of this hookd's own execution server (and of clients registered on this host with
 * this OS that have no agent: a client with an agent is served by its agent only). It takes work the same way any runner does: it hears
 * of QUEUED executions, claims each (a lease), runs it with LocalHookRunner, renews its leases
 * while hooks run and reports the outcome to the lifecycle.
 */
export class EmbeddedRunner implements RunnerListener {
  readonly id: string;
  /** Ids heard of and not yet claimed, oldest first. */
  private readonly pending = new Set<string>();
  private readonly running = new Map<string, Run>();
  /** Hooks whose processes still run, plus claims under way: what the concurrency limit counts. */
  private busy = 0;
  /** Execution servers this runner serves, by id (true) or not (false). */
  private readonly served = new Map<string, boolean>();
  /** Execution servers an agent was enrolled for (revoked or not): never this runner's to serve. */
  private agentBound = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private detach: (() => void) | null = null;
  private stopped = false;
  private polling: Promise<void> | null = null;

  constructor(
    private readonly self: ExecutionServer,
    private readonly lifecycle: ExecutionLifecycle,
    private readonly queue: ExecutionQueue,
    private readonly store: Store,
    private readonly pubsub: PubSub,
    private readonly hooks: LocalHookRunner,
    private readonly logger: Logger,
    private readonly options: EmbeddedRunnerOptions,
  ) {
    this.id = embeddedRunnerId(self.id);
    this.served.set(self.id, true);
    // An enrolment binds a client to its agent (and may re-type it): decide again at the next offer.
    store.watch([Agent, ExecutionServer], () => {
      this.served.clear();
      this.served.set(self.id, true);
    });
  }

  /** Whether this runner serves `server` (synchronous: for the lifecycle's waitingFor). */
  serves(server: ExecutionServer): boolean {
    if (server.id === this.self.id) return true;
    return server.kind === ExecutionServerKind.CLIENT && server.hostname === this.self.hostname && server.os === this.self.os && !this.agentBound.has(server.id);
  }

  /** Ends what this runner held when its process last stopped, then starts taking work. */
  async init(): Promise<void> {
    await this.loadAgentBound();
    await this.recover();
    this.detach = this.queue.attach(this);
    const renew = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    const poll = setInterval(() => void this.poll(), this.options.pollMs);
    for (const t of [renew, poll]) t.unref();
    this.timers = [renew, poll];
    await this.poll();
  }

  /** Stops taking work and ends what runs (recorded CANCELLED), waiting for it to be recorded. */
  async destroy(): Promise<void> {
    this.stopped = true;
    this.detach?.();
    for (const t of this.timers) clearInterval(t);
    this.pending.clear();
    for (const run of this.running.values()) run.controller.abort(new Error("hookd stopped"));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await this.polling;
    this.hooks.close();
  }

  offered(serverId: string, executionIds: string[]): void {
    const known = this.served.get(serverId);
    if (known === false || this.stopped) return;
    if (known === undefined) {
      // A server first heard of (or changed since): decide once, then take what was offered (the poll would too, later).
      void Promise.all([this.store.manager.findOneBy(ExecutionServer, { id: serverId }), this.store.manager.existsBy(Agent, { executionServerId: serverId })])
        .then(([server, bound]) => {
          if (bound) this.agentBound.add(serverId);
          this.served.set(serverId, server !== null && this.serves(server));
          if (this.served.get(serverId)) this.offered(serverId, executionIds);
        })
        .catch((err) => this.logger.error(`could not look up execution server ${serverId}`, err));
      return;
    }
    for (const id of executionIds) if (!this.running.has(id)) this.pending.add(id);
    this.pump();
  }

  cancelled(executionId: string): void {
    this.pending.delete(executionId);
    this.running.get(executionId)?.controller.abort(new Error("cancelled"));
  }

  /** How many wait and run, for tests and metrics. */
  get size(): { waiting: number; running: number } {
    return { waiting: this.pending.size, running: this.running.size };
  }

  private pump(): void {
    while (!this.stopped && this.busy < this.options.concurrency && this.pending.size > 0) {
      const id = this.pending.values().next().value as string;
      this.pending.delete(id);
      this.start(id);
    }
  }

  private start(id: string): void {
    this.busy++;
    let free = true;
    const release = () => {
      if (!free) return;
      free = false;
      this.busy--;
      this.pump();
    };
    const controller = new AbortController();
    const done = this.lifecycle
      .claim(id, this.id)
      .then((execution) => (execution ? this.run(execution, controller, release) : undefined))
      .catch((err) => this.logger.error(`execution ${id} could not be run`, err))
      .finally(() => {
        this.running.delete(id);
        release();
      });
    this.running.set(id, { controller, done });
  }

  private async run(execution: Execution, controller: AbortController, release: () => void): Promise<void> {
    const log = new ExecutionLog(this.store, this.pubsub, execution.id, { capBytes: this.options.logCapBytes });
    // The process group is recorded once the hook has run for a moment: most hooks are done
    // sooner, and their argv goes with the outcome instead (one write fewer per run). A crash in
    // that moment leaves the group unrecorded: the run is still failed at the next start.
    let record: NodeJS.Timeout | undefined;
    const outcome = await this.hooks.run(execution, {
      signal: controller.signal,
      onLine: (stream, text, at) => log.output(stream === "stdout" ? LogStream.STDOUT : LogStream.STDERR, text, at),
      onStart: (pid, argv) => {
        record = setTimeout(() => this.lifecycle.started(execution.id, this.id, { pid, argv }), RECORD_START_AFTER_MS);
      },
      onExit: () => {
        clearTimeout(record);
        release();
      },
    });
    await this.lifecycle.finish(execution.id, this.id, outcome, log);
  }

  /** Renews the leases of what runs here; ends what was lost or cancelled meanwhile. */
  private async renew(): Promise<void> {
    if (this.running.size === 0 || this.stopped) return;
    try {
      const { lost, cancel } = await this.lifecycle.renew(this.id, [...this.running.keys()]);
      for (const id of [...lost, ...cancel]) this.running.get(id)?.controller.abort(new Error(lost.includes(id) ? "lease lost" : "cancelled"));
    } catch (err) {
      this.logger.error("could not renew the leases of running hooks", err);
    }
  }

  /** Asks the store for QUEUED work of the servers this runner serves (after a restart, or a missed notice). */
  private poll(): Promise<void> {
    if (this.stopped || this.polling) return this.polling ?? Promise.resolve();
    this.polling = (async () => {
      try {
        await this.loadAgentBound();
        const candidates = await this.store.manager.find(ExecutionServer, { where: [{ id: this.self.id }, { kind: ExecutionServerKind.CLIENT, hostname: this.self.hostname, os: this.self.os }] });
        const servers = candidates.filter((s) => this.serves(s));
        for (const s of servers) this.served.set(s.id, true);
        const room = this.options.concurrency - this.busy - this.pending.size;
        if (room <= 0) return;
        const rows = await this.store.manager.find(Execution, {
          select: { id: true },
          where: { status: ExecutionStatus.QUEUED, executionServerId: In(servers.map((s) => s.id)) },
          order: { createdAt: "ASC" },
          take: room,
        });
        for (const { id } of rows) if (!this.running.has(id)) this.pending.add(id);
        this.pump();
      } catch (err) {
        this.logger.error("could not look for queued hooks", err);
      } finally {
        this.polling = null;
      }
    })();
    return this.polling;
  }

  private async loadAgentBound(): Promise<void> {
    const rows = await this.store.manager.find(Agent, { select: { executionServerId: true } });
    this.agentBound = new Set(rows.map((r) => r.executionServerId));
  }

  /**
   * Start-up: what this runner held when its process stopped cannot be finished by anyone. Its
   * process group is ended when it still runs this execution, and the execution FAILED.
   */
  private async recover(): Promise<void> {
    const held = await this.store.manager.find(Execution, {
      where: [
        { status: ExecutionStatus.RUNNING, runnerId: this.id },
        { status: ExecutionStatus.RUNNING, runnerId: IsNull() },
      ],
    });
    for (const e of held) {
      // The recorded group id may have been reused by an unrelated program since.
      const ended = e.pid !== null && (await groupRunsExecution(e.pid, e.id)) && (await killProcessGroup(e.pid).catch(() => false));
      if (await this.lifecycle.interrupted(e.id, e.runnerId, ended)) this.logger.warn(`execution ${e.id} (${e.hook}) was running when hookd stopped; marked FAILED`);
    }
  }
}
