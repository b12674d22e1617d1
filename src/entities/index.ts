import { Agent } from "./agent.entity.js";
import { AgentToken } from "./agent-token.entity.js";
import { ApiKey } from "./api-key.entity.js";
import { AuditEvent } from "./audit-event.entity.js";
import { ConfigurationVersion } from "./configuration-version.entity.js";
import { ExecutionLogLine } from "./execution-log-line.entity.js";
import { ExecutionServer } from "./execution-server.entity.js";
import { Execution } from "./execution.entity.js";
import { HookConfig } from "./hook-config.entity.js";
import { HookdInstance } from "./hookd-instance.entity.js";
import { IdempotencyKey } from "./idempotency-key.entity.js";
import { Job } from "./job.entity.js";
import { Publish } from "./publish.entity.js";
import { QueueHook } from "./queue-hook.entity.js";
import { Secret } from "./secret.entity.js";
import { Queue } from "./queue.entity.js";
import { User } from "./user.entity.js";
import { Volume } from "./volume.entity.js";
import { WorkspaceSettings } from "./workspace-settings.entity.js";

export const ENTITIES = [
  User,
  ApiKey,
  WorkspaceSettings,
  HookConfig,
  Queue,
  QueueHook,
  Volume,
  ExecutionServer,
  Job,
  Execution,
  ExecutionLogLine,
  Publish,
  AuditEvent,
  AgentToken,
  Agent,
  HookdInstance,
  Secret,
  IdempotencyKey,
  ConfigurationVersion,
];
