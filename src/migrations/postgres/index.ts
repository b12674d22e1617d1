import { PostgresInitial1796170000000 } from "./1796170000000-initial.js";
import { PostgresHookPolicies1796170000001 } from "./1796170000001-hook-policies.js";
import { PostgresIdempotencyKeys1796170000002 } from "./1796170000002-idempotency-keys.js";
import { PostgresHookdInstances1796180000000 } from "./1796180000000-hookd-instances.js";
import { PostgresLogLinesKeyedBySeq1796190000000 } from "./1796190000000-log-lines-keyed-by-seq.js";
import { PostgresConfigurationHistory1796200000000 } from "./1796200000000-configuration-history.js";
import { PostgresExecutionFilterIndexes1796200000001 } from "./1796200000001-execution-filter-indexes.js";

// PostgreSQL's own migrations, in order, beside SQLite's (../index.ts); each runs once, recorded in
// the "migrations" table. A schema change adds one here and one there (scripts/generate-migration.mjs).
export const POSTGRES_MIGRATIONS = [
  PostgresInitial1796170000000,
  PostgresHookPolicies1796170000001,
  PostgresIdempotencyKeys1796170000002,
  PostgresHookdInstances1796180000000,
  PostgresLogLinesKeyedBySeq1796190000000,
  PostgresConfigurationHistory1796200000000,
  PostgresExecutionFilterIndexes1796200000001,
];
