import { In, LessThan } from "typeorm";
import { hookPointInfo } from "../domain/hook-points.js";
import { Agent } from "../entities/agent.entity.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";
import type { ExecutionLifecycle } from "./execution-lifecycle.service.js";
import type { ExecutionQueue } from "./execution-queue.js";
import type { ExecutionTransitions } from "./execution-transitions.js";
import { formatSeconds } from "./retry-planner.js";
import { clockTime, hasStartRules } from "./start-rules.js";

const RUNNER_PREFIX = "hookd:";
/** Agents' runner ids: `agent:<agent id>`. */
const AGENT_PREFIX = "agent:";

/**
 * The runner id of a hookd's embedded runner for its own execution server. Several instances on
 * one host share that server; each then runs under its own id (`instance`), so one instance's
 * restart never takes the other's runs for its own.
 */
export const embeddedRunnerId = (serverId: string, instance?: string) => `${RUNNER_PREFIX}${serverId}${instance ? `/${instance}` : ""}`;

/**
 * What no runner will finish: RUNNING executions whose lease expired more than the fencing margin
 * ago (the runner vanished, or ended the hook itself when it could not renew), RUNNING ones past
 * their deadline (the runner did not end the hook in its timeout), QUEUED ones no runner took
 * within the schedule-to-start limit, and what a runner held when its process stopped. The writes
 * go through the transitions, conditional on the state found: two sweepers never record one
 * thing twice.
 */
export class RecoverySweeps {
  constructor(
    private readonly store: Store,
    private readonly transitions: ExecutionTransitions,
    private readonly queue: ExecutionQueue,
    private readonly logger: Logger,
    private readonly now: () => Date,
    private readonly leaseMs: number,
    private readonly marginMs: number,
  ) {}

  /**
   * A RUNNING execution that `runnerId` held when its process stopped (the runner's own restart),
   * after it ended what was left of it: FAILED, saying whether leftover processes were ended.
   */
  interrupted(id: string, runnerId: string | null, leftoverEnded: boolean): Promise<boolean> {
    const error = `interrupted: hookd stopped while this execution was running${leftoverEnded ? "; its leftover process group was ended" : ""}`;
    return this.transitions.end(id, { status: ExecutionStatus.RUNNING, runnerId }, { status: ExecutionStatus.FAILED, error }, { kind: "runner-lost" }, true);
  }

  /** RUNNING executions whose holder stopped renewing: FAILED, the outcome unknown. Returns how many. */
  async expireLeases(): Promise<number> {
    const now = this.now();
    // Only past the margin: by then a runner that could not renew has ended the hook itself.
    const rows = await this.store.manager.find(Execution, { where: { status: ExecutionStatus.RUNNING, leaseExpiresAt: LessThan(new Date(now.getTime() - this.marginMs)) } });
    let n = 0;
    // A run whose outcome this process holds, unstored, is held: its runner stores it (storeOutcome).
    for (const e of rows.filter((r) => !this.transitions.isUnstored(r.id))) {
      const renewed = new Date(e.leaseExpiresAt!.getTime() - this.leaseMs);
      const error = `runner ${await this.runnerName(e)} stopped renewing its lease at ${clockTime(renewed)}; the hook's outcome is unknown`;
      const expect = { status: ExecutionStatus.RUNNING, runnerId: e.runnerId, leaseExpiresAt: e.leaseExpiresAt };
      if (await this.transitions.end(e.id, expect, { status: ExecutionStatus.FAILED, error }, { kind: "runner-lost" })) {
        this.logger.warn(`execution ${e.id} (${e.hook}): ${error}`);
        n++;
      }
    }
    return n;
  }

  /**
   * Deadlines passed: QUEUED ones no runner took in time are FAILED; RUNNING ones whose runner
   * renews its lease but did not end the hook in its timeout are TIMED_OUT here, and the runner
   * is told to end them (a next attempt waits for their lease plus the margin). Returns how many.
   */
  async expireDeadlines(): Promise<number> {
    const now = this.now();
    const rows = await this.store.manager.find(Execution, { where: { status: In([ExecutionStatus.QUEUED, ExecutionStatus.RUNNING]), deadlineAt: LessThan(now) } });
    let n = 0;
    for (const e of rows.filter((r) => !this.transitions.isUnstored(r.id))) {
      if (e.status === ExecutionStatus.QUEUED) {
        const blocking = hookPointInfo(e.hook).blocking;
        const waited = Math.round((e.deadlineAt!.getTime() - e.createdAt.getTime()) / 1000);
        const error =
          e.waitingFor !== null && hasStartRules(e) && e.executionServerId !== null
            ? `did not start within ${formatSeconds(waited)}: ${e.waitingFor}${blocking ? " (a blocking hook waits at most its timeout)" : ""}`
            : `no runner for ${await this.serverName(e.executionServerId)} came online within ${formatSeconds(waited)}${blocking ? " (a blocking hook waits at most its timeout)" : ""}`;
        if (await this.transitions.end(e.id, { status: ExecutionStatus.QUEUED }, { status: ExecutionStatus.FAILED, error })) {
          this.queue.cancel(e.id);
          n++;
        }
      } else {
        const error = `timed out after ${formatSeconds(e.timeoutSeconds)}; runner ${await this.runnerName(e)} did not end it in time, so hookd recorded the timeout and told the runner to end its process group`;
        if (await this.transitions.end(e.id, { status: ExecutionStatus.RUNNING, runnerId: e.runnerId }, { status: ExecutionStatus.TIMED_OUT, error }, { kind: "timed-out" })) {
          this.queue.cancel(e.id);
          n++;
        }
      }
    }
    return n;
  }

  private async serverName(id: string | null): Promise<string> {
    if (id === null) return "no execution server";
    const server = await this.store.manager.findOneBy(ExecutionServer, { id });
    if (!server) return `execution server ${id}`;
    return `${server.kind === ExecutionServerKind.CLIENT ? "client" : "execution server"} ${server.name}`;
  }

  private async runnerName(e: Execution): Promise<string> {
    const id = e.runnerId;
    if (id?.startsWith(RUNNER_PREFIX)) {
      const [serverId, instance] = id.slice(RUNNER_PREFIX.length).split("/");
      const server = await this.store.manager.findOneBy(ExecutionServer, { id: serverId });
      if (server) return instance ? `${server.name} (hookd instance ${instance.slice(0, 8)})` : server.name;
    }
    if (id?.startsWith(AGENT_PREFIX)) {
      const agent = await this.store.manager.findOneBy(Agent, { id: id.slice(AGENT_PREFIX.length) });
      if (agent) return `${agent.name} (agent)`;
    }
    return id ?? "(unknown)";
  }
}

/** Runs the sweeps: once at start-up (what expired while nothing ran), then once per interval. */
export class ExecutionRecovery {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly lifecycle: ExecutionLifecycle,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

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
