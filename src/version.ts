import { createRequire } from "node:module";

// From package.json, so the version scripts see (`version` in job hooks) follows releases.
const require = createRequire(import.meta.url);
export const HOOKD_VERSION: string = (require("../../package.json") as { version: string }).version;
