import { PostgresInitial1796170000000 } from "./1796170000000-initial.js";

// PostgreSQL's own migrations, in order, beside SQLite's (../index.ts); each runs once, recorded in
// the "migrations" table. A schema change adds one here and one there (scripts/generate-migration.mjs).
export const POSTGRES_MIGRATIONS = [PostgresInitial1796170000000];
