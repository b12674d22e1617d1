import { Initial1763800000000 } from "./1763800000000-initial.js";
import { WorkflowAndAudit1795363320632 } from "./1795363320632-workflow-and-audit.js";
import { UserClientMetadataJobSettings1796158820098 } from "./1796158820098-user-client-metadata-job-settings.js";
import { ExecutionLeases1796158936338 } from "./1796158936338-execution-leases.js";
import { UserDisabled1796159077318 } from "./1796159077318-user-disabled.js";
import { RemoteAgents1796162408793 } from "./1796162408793-remote-agents.js";
import { HookdInstances1796180000000 } from "./1796180000000-hookd-instances.js";
import { LogLinesKeyedBySeq1796190000000 } from "./1796190000000-log-lines-keyed-by-seq.js";
import { ExecutionFilterIndexes1796200000001 } from "./1796200000001-execution-filter-indexes.js";
import { HookPolicies1796170000000 } from "./1796170000000-hook-policies.js";
import { IdempotencyKeys1796170000001 } from "./1796170000001-idempotency-keys.js";
import { ConfigurationHistory1796200000000 } from "./1796200000000-configuration-history.js";

// In order; each runs once, recorded in the "migrations" table.
export const MIGRATIONS = [
  Initial1763800000000,
  WorkflowAndAudit1795363320632,
  UserClientMetadataJobSettings1796158820098,
  ExecutionLeases1796158936338,
  UserDisabled1796159077318,
  RemoteAgents1796162408793,
  HookPolicies1796170000000,
  IdempotencyKeys1796170000001,
  HookdInstances1796180000000,
  LogLinesKeyedBySeq1796190000000,
  ConfigurationHistory1796200000000,
  ExecutionFilterIndexes1796200000001,
];
