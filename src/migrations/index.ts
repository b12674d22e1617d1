import { Initial1763800000000 } from "./1763800000000-initial.js";

// In order; each runs once, recorded in the "migrations" table.
export const MIGRATIONS = [Initial1763800000000];
