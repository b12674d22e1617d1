import { PostgresInitial1796170000000 } from "./1796170000000-initial.js";
import { PostgresHookdInstances1796180000000 } from "./1796180000000-hookd-instances.js";

// PostgreSQL's own migrations, in order, beside SQLite's (../index.ts); each runs once, recorded in
// the "migrations" table. A schema change adds one here and one there (scripts/generate-migration.mjs).
export const POSTGRES_MIGRATIONS = [PostgresInitial1796170000000, PostgresHookdInstances1796180000000];
