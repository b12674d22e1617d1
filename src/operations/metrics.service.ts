import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { Not } from "typeorm";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import type { Store } from "../store/store.js";

/** Seconds: hooks run from milliseconds (a quick script) to the 10-minute default timeout. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900];

/** The label of executions that have no execution server. */
export const NO_SERVER = "none";

/**
 * hookd's Prometheus metrics, in a registry of its own (no global state: every app has one).
 * Counters are fed by the execution observer; the running/queued and agent gauges are counted
 * from the store when scraped, so they are right whoever runs the hook and after a restart.
 */
export class MetricsService {
  readonly registry = new Registry();
  readonly executionsTotal: Counter<"hook" | "status">;
  readonly executionDuration: Histogram<"hook">;
  readonly queueWait: Histogram;
  readonly logLinesTotal: Counter;
  readonly logBytesDroppedTotal: Counter;
  readonly graphqlRequestsTotal: Counter<"operation_type" | "outcome">;
  readonly retentionDeletedTotal: Counter<"what">;
  readonly retentionRunning: Gauge;
  readonly retentionLastSeconds: Gauge;

  constructor(
    store: Store,
    /** This hookd's own execution server: not an agent. */
    private readonly selfServerId: string,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.executionsTotal = new Counter({ name: "hookd_executions_total", help: "Finished executions, by hook point and outcome.", labelNames: ["hook", "status"], registers });
    this.executionDuration = new Histogram({ name: "hookd_execution_duration_seconds", help: "How long hooks ran, from start to finish.", labelNames: ["hook"], buckets: DURATION_BUCKETS, registers });
    this.queueWait = new Histogram({ name: "hookd_execution_queue_wait_seconds", help: "How long executions waited QUEUED before they started.", buckets: WAIT_BUCKETS, registers });
    this.logLinesTotal = new Counter({ name: "hookd_log_lines_total", help: "Log lines stored for finished executions.", registers });
    this.logBytesDroppedTotal = new Counter({ name: "hookd_log_bytes_dropped_total", help: "Output bytes of finished executions not stored because the log cap was reached.", registers });
    this.graphqlRequestsTotal = new Counter({
      name: "hookd_graphql_requests_total",
      help: "GraphQL operations, by type (query, mutation, subscription, unknown) and outcome (success, error, unauthenticated).",
      labelNames: ["operation_type", "outcome"],
      registers,
    });
    this.retentionDeletedTotal = new Counter({
      name: "hookd_retention_deleted_total",
      help: "Rows retention deleted, by what (executions, log_lines, audit_events).",
      labelNames: ["what"],
      registers,
    });
    this.retentionRunning = new Gauge({ name: "hookd_retention_running", help: "1 while a retention prune runs.", registers });
    this.retentionLastSeconds = new Gauge({ name: "hookd_retention_last_prune_seconds", help: "How long the last retention prune took.", registers });

    // Per execution server (a handful of machines), counted from the store at scrape time.
    const perServer = async (status: ExecutionStatus): Promise<Map<string, number>> => {
      const rows: { server: string | null; n: number | string }[] = await store.manager
        .createQueryBuilder(Execution, "e")
        .leftJoin(ExecutionServer, "s", "s.id = e.executionServerId")
        .select("s.name", "server")
        .addSelect("COUNT(*)", "n")
        .where("e.status = :status", { status })
        .groupBy("s.name")
        .getRawMany();
      const counts = new Map<string, number>();
      for (const row of rows) {
        const server = row.server ?? NO_SERVER;
        counts.set(server, (counts.get(server) ?? 0) + Number(row.n));
      }
      return counts;
    };
    const serverNames = async (): Promise<string[]> => (await store.manager.find(ExecutionServer, { select: { name: true } })).map((s) => s.name);
    const gaugeOf = (name: string, help: string, status: ExecutionStatus) =>
      new Gauge({
        name,
        help,
        labelNames: ["execution_server"],
        registers,
        async collect() {
          const [counts, names] = await Promise.all([perServer(status), serverNames()]);
          this.reset();
          // Every known server answers, 0 included, so a series does not vanish when it is idle.
          for (const server of names) this.set({ execution_server: server }, 0);
          for (const [server, n] of counts) this.set({ execution_server: server }, n);
        },
      });
    gaugeOf("hookd_executions_running", "Executions RUNNING now, by execution server.", ExecutionStatus.RUNNING);
    gaugeOf("hookd_executions_queued", "Executions QUEUED now, by execution server (or the one they wait for).", ExecutionStatus.QUEUED);
    const self = this.selfServerId;
    new Gauge({
      name: "hookd_agents_connected",
      help: "Execution servers online other than this hookd (remote runners).",
      registers,
      async collect() {
        this.set(await store.manager.count(ExecutionServer, { where: { online: true, id: Not(self) } }));
      },
    });
  }

  /** What one step of a retention prune deleted. */
  retentionDeleted(step: { executions: number; logLines: number; auditEvents: number }): void {
    this.retentionDeletedTotal.inc({ what: "executions" }, step.executions);
    this.retentionDeletedTotal.inc({ what: "log_lines" }, step.logLines);
    this.retentionDeletedTotal.inc({ what: "audit_events" }, step.auditEvents);
  }

  /** The Prometheus text exposition. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
