import { IsNull, LessThan, Like } from "typeorm";
import { LogStream } from "../entities/execution-log-line.entity.js";
import { Agent } from "../entities/agent.entity.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { Logger } from "../logger.js";
import type { PubSub } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import { performance } from "node:perf_hooks";
import { embeddedRunnerId, type ExecutionLifecycle } from "./execution-lifecycle.service.js";
import { ExecutionLog } from "./execution-log.js";
import type { ExecutionQueue, RunnerListener } from "./execution-queue.js";
import { LeaseFence, leaseMarginMs } from "./lease-fence.js";
import type { LocalHookRunner } from "./local-hook-runner.js";
import { groupRunsExecution, killMarked } from "./process-group.js";
import { killProcessGroup } from "./process-runner.js";

export interface EmbeddedRunnerOptions {
  /** Hooks running at once; more wait QUEUED, in order. */
  concurrency: number;
  leaseMs: number;
  /** Fencing: how long before its lease ends the runner ends a hook it could not renew (default: leaseMarginMs()). */
  leaseMarginMs?: number;
  killGraceMs?: number;
  /** How often the store is asked for QUEUED work this runner may have missed. */
  pollMs: number;
  logCapBytes: number;
  /**
   * Set when several hookd instances share the database (a distributed pub/sub): this one's id.
   * Its runner id then carries it, and at start-up it ends only runs of this server whose lease
   * expired (another live instance may hold the rest).
   */
  instanceId?: string;
  /** The secrets a hook asks for, and every value to mask in logs. */
  secrets?: { envFor(names: readonly string[] | undefined): Promise<Record<string, string> | null>; maskList(): Promise<string[]> };
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
  private renewing = false;
  /** The last renewal failed (said once in the log, retried soon). */
  private renewFailing = false;
  private polling: Promise<void> | null = null;
  /** Work was offered while a look at the store ran: look again when it ends. */
  private lookAgain = false;
  /**
   * On PostgreSQL the runner takes its work in batches (ExecutionLifecycle.claimNext, FOR UPDATE
   * SKIP LOCKED): a notice, a free slot and the timer each claim what there is room for, and
   * runners of other instances take other rows. On SQLite (one process) it claims by id.
   */
  private readonly batches: boolean;
  /** Fencing: the margin, and when each held run must be ending if its lease was not renewed. */
  private readonly marginMs: number;
  private readonly leases: LeaseFence;

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
    this.id = embeddedRunnerId(self.id, options.instanceId);
    this.marginMs = options.leaseMarginMs ?? leaseMarginMs(options.leaseMs, options.killGraceMs ?? 2000);
    this.leases = new LeaseFence(options.leaseMs, this.marginMs);
    this.batches = store.kind === "postgres";
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
    const fence = setInterval(() => this.fence(), this.leases.checkEveryMs);
    for (const t of [renew, poll, fence]) t.unref();
    this.timers = [renew, poll, fence];
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
    if (this.batches) {
      void this.look(false);
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

  /** `claimedAt`: performance.now() before the claim was asked for (a batch's, for claimNext). */
  private start(id: string, claimed?: Execution, claimedAt = performance.now()): void {
    this.busy++;
    let free = true;
    const release = () => {
      if (!free) return;
      free = false;
      this.busy--;
      if (this.batches) void this.look(false);
      else this.pump();
    };
    const controller = new AbortController();
    const done = (claimed ? Promise.resolve(claimed) : this.lifecycle.claim(id, this.id))
      .then((execution) => (execution ? this.run(execution, controller, release) : undefined))
      .catch((err) => this.logger.error(`execution ${id} could not be run`, err))
      .finally(() => {
        this.running.delete(id);
        this.leases.forget(id);
        release();
      });
    this.running.set(id, { controller, done });
    this.leases.held(id, claimedAt);
  }

  private async run(execution: Execution, controller: AbortController, release: () => void): Promise<void> {
    let env: Record<string, string> | null;
    let secrets: string[];
    try {
      env = (await this.options.secrets?.envFor(execution.policy?.env)) ?? null;
      secrets = (await this.options.secrets?.maskList()) ?? [];
    } catch (err) {
      // Never run a hook whose secrets could leak unmasked (or that would run without the ones it asked for).
      const log = new ExecutionLog(this.store, this.pubsub, execution.id, { capBytes: this.options.logCapBytes });
      release();
      await this.lifecycle.finish(
        execution.id,
        this.id,
        { status: ExecutionStatus.FAILED, error: `hookd could not read the hook's secrets: ${err instanceof Error ? err.message : String(err)}` },
        log,
      );
      return;
    }
    const log = new ExecutionLog(this.store, this.pubsub, execution.id, { capBytes: this.options.logCapBytes, secrets });
    // The process group is recorded once the hook has run for a moment: most hooks are done
    // sooner, and their argv goes with the outcome instead (one write fewer per run). A crash in
    // that moment leaves the group unrecorded: the run is still failed at the next start.
    let record: NodeJS.Timeout | undefined;
    const outcome = await this.hooks.run(env ? { ...execution, env } : execution, {
      signal: controller.signal,
      onLine: (stream, text, at, partial) => log.output(stream === "stdout" ? LogStream.STDOUT : LogStream.STDERR, text, at, partial),
      outputGate: log,
      onStart: (pid, argv) => {
        record = setTimeout(() => this.lifecycle.started(execution.id, this.id, { pid, argv }), RECORD_START_AFTER_MS);
      },
      onExit: () => {
        clearTimeout(record);
        release();
      },
    });
    // An outcome the store refuses (a full disk) is tried again while this runner holds the run (finish()).
    await this.lifecycle.finish(execution.id, this.id, { ...outcome, error: log.mask(outcome.error) }, log);
  }

  /** Renews the leases of what runs here; ends what was lost or cancelled meanwhile. */
  private async renew(): Promise<void> {
    if (this.running.size === 0 || this.stopped || this.renewing) return;
    this.renewing = true;
    const askedAt = performance.now();
    try {
      const { lost, cancel } = await this.lifecycle.renew(this.id, [...this.running.keys()]);
      this.leases.renewed(
        [...this.running.keys()].filter((id) => !lost.includes(id)),
        askedAt,
      );
      for (const id of [...lost, ...cancel]) this.running.get(id)?.controller.abort(new Error(lost.includes(id) ? "lease lost" : "cancelled"));
      this.renewFailing = false;
    } catch (err) {
      if (!this.renewFailing) this.logger.error("could not renew the leases of running hooks", err);
      this.renewFailing = true;
      // Try again soon, not a third of a lease later: a short outage must not cost the hooks.
      const retry = setTimeout(() => void this.renew(), Math.max(20, Math.min(1000, Math.floor(this.options.leaseMs / 10))));
      retry.unref();
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Fencing: a hook whose lease this runner could not renew in time is ended (its group and what
   * left it), one margin before the lease runs out, so when anyone may count the lease expired
   * nothing of the attempt still runs. Its outcome is stored if the store takes it in time.
   */
  private fence(): void {
    for (const { id, reason } of this.leases.due("hookd")) {
      this.logger.warn(`execution ${id}: ${reason.message}`);
      this.running.get(id)?.controller.abort(reason);
    }
  }

  /** The timer's look at the store: the servers this runner serves (clients may be added), then their QUEUED work. */
  private poll(): Promise<void> {
    return this.look(true);
  }

  /** Asks the store for QUEUED work of the servers this runner serves (after a restart, a missed notice, or on PostgreSQL any notice). */
  private look(refreshServers: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.polling) {
      if (!refreshServers) this.lookAgain = true;
      return this.polling;
    }
    this.polling = (async () => {
      try {
        if (refreshServers || this.served.size === 0) {
          await this.loadAgentBound();
          const candidates = await this.store.manager.find(ExecutionServer, { where: [{ id: this.self.id }, { kind: ExecutionServerKind.CLIENT, hostname: this.self.hostname, os: this.self.os }] });
          for (const s of candidates) this.served.set(s.id, this.serves(s));
        }
        do {
          this.lookAgain = false;
          const serverIds = [...this.served].filter(([, yes]) => yes).map(([id]) => id);
          if (this.batches) {
            const askedAt = performance.now();
            const claimed = await this.lifecycle.claimNext(serverIds, this.id, this.options.concurrency - this.busy);
            for (const e of claimed) this.start(e.id, e, askedAt);
          } else {
            const room = this.options.concurrency - this.busy - this.pending.size;
            if (room <= 0) return;
            for (const id of await this.lifecycle.claimableIds(serverIds, room)) if (!this.running.has(id)) this.pending.add(id);
            this.pump();
          }
        } while (this.lookAgain && !this.stopped && this.busy < this.options.concurrency);
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
    const held = this.options.instanceId
      ? // A new instance id each start: what an earlier instance on this host left is known by its expired lease.
        await this.store.manager.find(Execution, {
          where: { status: ExecutionStatus.RUNNING, runnerId: Like(`${embeddedRunnerId(this.self.id)}/%`), leaseExpiresAt: LessThan(new Date(Date.now() - this.marginMs)) },
        })
      : await this.store.manager.find(Execution, {
          where: [
            { status: ExecutionStatus.RUNNING, runnerId: this.id },
            { status: ExecutionStatus.RUNNING, runnerId: IsNull() },
          ],
        });
    for (const e of held) {
      // The recorded group id may have been reused by an unrelated program since.
      const ended = e.pid !== null && (await groupRunsExecution(e.pid, e.id)) && (await killProcessGroup(e.pid).catch(() => false));
      // What left the group (setsid) and outlived the watchdog too (it was killed with hookd).
      killMarked(`HOOKD_EXECUTION_ID=${e.id}`);
      if (await this.lifecycle.interrupted(e.id, e.runnerId, ended)) this.logger.warn(`execution ${e.id} (${e.hook}) was running when hookd stopped; marked FAILED`);
    }
  }
}
