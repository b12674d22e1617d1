import type { ExecutorConfig } from "../config.js";
import { EmbeddedExecutionQueue, type ExecutionQueue } from "../executor/execution-queue.js";
import { HookExecutor } from "../executor/hook-executor.js";
import { ExecaSpawner } from "../executor/execa-spawner.js";
import type { Spawner } from "../executor/spawner.js";
import type { Logger } from "../logger.js";
import { InProcessPubSub, type PubSub } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import { AuditService } from "./audit.service.js";
import { ExecutionServerService } from "./execution-server.service.js";
import { ExecutionService } from "./execution.service.js";
import { JobService } from "./job.service.js";
import { HookConfigService } from "./hook-config.service.js";
import { PublishService } from "./publish.service.js";
import { QueueService } from "./queue.service.js";
import { SettingsService } from "./settings.service.js";
import { UserService } from "./user.service.js";
import { VolumeService } from "./volume.service.js";

/** The app's services, built once per app by createApp (never module singletons). */
export interface Services {
  store: Store;
  pubsub: PubSub;
  executionQueue: ExecutionQueue;
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
}

export interface ServiceDeps {
  executor: ExecutorConfig;
  logger: Logger;
  /** Marks this store's hook processes (storeMarker of the database path). */
  storeMarker: string;
  /** Swappable infrastructure; the embedded defaults when left out. */
  pubsub?: PubSub;
  /** Starts hook processes; Node's child_process when left out. */
  spawner?: Spawner;
  executionQueue?: (executor: HookExecutor, onCancelledWhileQueued: (id: string) => Promise<void>) => ExecutionQueue;
}

export function createServices(store: Store, deps: ServiceDeps): Services {
  const pubsub = deps.pubsub ?? new InProcessPubSub();
  const audit = new AuditService(store);
  const settings = new SettingsService(store, audit, pubsub);
  const queues = new QueueService(store, audit);
  const hookConfigs = new HookConfigService(store, settings, queues, audit);
  const hookExecutor = new HookExecutor({ store, pubsub, spawner: deps.spawner ?? new ExecaSpawner(), config: deps.executor, logger: deps.logger, storeMarker: deps.storeMarker });
  // The queue reports cancels of not-yet-started executions back to the service that records them.
  let executions: ExecutionService | undefined;
  const onCancelled = (id: string) => executions!.markCancelled(id);
  const executionQueue = deps.executionQueue?.(hookExecutor, onCancelled) ?? new EmbeddedExecutionQueue(store, hookExecutor, deps.executor.concurrency, deps.logger, onCancelled);
  executions = new ExecutionService(store, hookConfigs, executionQueue, pubsub, deps.logger, audit, deps.storeMarker);
  const volumes = new VolumeService(store, audit);
  const executionServers = new ExecutionServerService(store);
  const jobs = new JobService(store, settings, queues, volumes, executionServers, executions, pubsub);
  return {
    store,
    pubsub,
    executionQueue,
    settings,
    users: new UserService(store, audit, pubsub),
    queues,
    volumes,
    executionServers,
    hookConfigs,
    executions,
    jobs,
    publishes: new PublishService(store, settings, volumes, executionServers, executions, jobs, pubsub),
    audit,
  };
}
