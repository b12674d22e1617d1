import { randomUUID } from "node:crypto";
import { AgentEnrolmentService } from "../agent/agent-enrolment.service.js";
import { AgentGateway } from "../agent/agent-gateway.service.js";
import type { ExecutorConfig } from "../config.js";
import type { ExecutionServer } from "../entities/execution-server.entity.js";
import { ExecutionLifecycle } from "../executor/execution-lifecycle.service.js";
import { BrokerExecutionQueue, EmbeddedExecutionQueue, type ExecutionQueue } from "../executor/execution-queue.js";
import { ChangeFeed } from "../pubsub/change-feed.js";
import type { Logger } from "../logger.js";
import { InProcessPubSub, type PubSub } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import { SecretService } from "./secret.service.js";
import { IdempotencyService } from "./idempotency.service.js";
import { AuditService } from "./audit.service.js";
import { ConfigurationService } from "./configuration.service.js";
import { ExecutionServerService } from "./execution-server.service.js";
import { ExecutionService } from "./execution.service.js";
import { JobEvents } from "./job-events.js";
import { JobService } from "./job.service.js";
import { HookConfigService } from "./hook-config.service.js";
import { PublishService } from "./publish.service.js";
import { QueueService } from "./queue.service.js";
import { ReplayService } from "./replay.service.js";
import { SettingsService } from "./settings.service.js";
import { UserService } from "./user.service.js";
import { VolumeService } from "./volume.service.js";

/** The app's services, built once per app by createApp (never module singletons). */
export interface Services {
  store: Store;
  pubsub: PubSub;
  executionQueue: ExecutionQueue;
  /** The one writer of executions' status. */
  lifecycle: ExecutionLifecycle;
  /** Runners in this process (the embedded one, once started): who can take work at once. */
  localRunners: Set<{ serves(server: ExecutionServer): boolean }>;
  /** Remote agents: enrolment tokens and credentials, and the runner gateway they connect to. */
  agentEnrolment: AgentEnrolmentService;
  agentGateway: AgentGateway;
  settings: SettingsService;
  users: UserService;
  queues: QueueService;
  volumes: VolumeService;
  executionServers: ExecutionServerService;
  hookConfigs: HookConfigService;
  executions: ExecutionService;
  jobs: JobService;
  publishes: PublishService;
  audit: AuditService;
  /** Configuration history, export and apply (issue 37). */
  configuration: ConfigurationService;
  /** Past inputs run against a candidate configuration (issue 37). */
  replays: ReplayService;
  secrets: SecretService;
  idempotency: IdempotencyService;
}

export interface ServiceDeps {
  executor: ExecutorConfig;
  logger: Logger;
  /** Swappable infrastructure; the embedded defaults when left out. */
  pubsub?: PubSub;
  executionQueue?: ExecutionQueue;
  /** This process among the instances sharing the database (tags its cache invalidations); random when left out. */
  instanceId?: string;
  /** HOOKD_SECRET_KEY; without it secrets cannot be set. */
  secretKey?: Buffer | null;
}

export function createServices(store: Store, deps: ServiceDeps): Services {
  const pubsub = deps.pubsub ?? new InProcessPubSub();
  // Caches hear of writes by this process and, through the broker, by the other instances.
  const changes = new ChangeFeed(store, pubsub, deps.instanceId ?? randomUUID());
  const audit = new AuditService(store);
  const configuration = new ConfigurationService(store, audit, pubsub);
  const secrets = new SecretService(store, audit, configuration, deps.secretKey ?? null);
  const idempotency = new IdempotencyService(store, deps.logger);
  const settings = new SettingsService(store, audit, pubsub, configuration);
  const queues = new QueueService(store, audit, configuration);
  const hookConfigs = new HookConfigService(store, settings, queues, audit, configuration, changes);
  const executionQueue = deps.executionQueue ?? (pubsub.distributed ? new BrokerExecutionQueue(pubsub) : new EmbeddedExecutionQueue());
  const localRunners = new Set<{ serves(server: ExecutionServer): boolean }>();
  let agentGateway: AgentGateway | null = null;
  const lifecycle = new ExecutionLifecycle(store, pubsub, executionQueue, deps.logger, {
    leaseMs: deps.executor.leaseMs,
    killGraceMs: deps.executor.killGraceMs,
    changes,
    servedNow: (server) => server.online || [...localRunners].some((r) => r.serves(server)) || agentGateway!.serves(server),
  });
  agentGateway = new AgentGateway(store, pubsub, lifecycle, executionQueue, deps.logger, { leaseMs: deps.executor.leaseMs, logCapBytes: deps.executor.logCapBytes, secrets });
  const executions = new ExecutionService(store, hookConfigs, lifecycle, pubsub, audit, idempotency);
  const volumes = new VolumeService(store, audit, configuration);
  const executionServers = new ExecutionServerService(store);
  const jobEvents = new JobEvents();
  const jobs = new JobService(store, settings, queues, volumes, executionServers, executions, pubsub, jobEvents, idempotency);
  return {
    store,
    pubsub,
    executionQueue,
    lifecycle,
    localRunners,
    agentEnrolment: new AgentEnrolmentService(store, audit, (id) => agentGateway!.revoked(id), changes),
    agentGateway,
    settings,
    users: new UserService(store, audit, pubsub, changes),
    queues,
    volumes,
    executionServers,
    hookConfigs,
    executions,
    jobs,
    publishes: new PublishService(store, settings, volumes, executionServers, executions, jobs, pubsub, jobEvents, idempotency),
    audit,
    configuration,
    replays: new ReplayService(store, hookConfigs, executions),
    secrets,
    idempotency,
  };
}
