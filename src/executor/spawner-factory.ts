import { existsSync } from "node:fs";
import type { SpawnerKind } from "../config.js";
import type { Logger } from "../logger.js";
import { defaultHelperPath, HelperSpawner, NodeSpawner, type Spawner } from "./spawner.js";

/**
 * The spawner the configuration asks for, started. "helper" fails at start-up when the helper
 * was not built (rather than quietly running slower); "auto" falls back to Node's spawn and says so.
 */
export async function startSpawner(kind: SpawnerKind, logger: Logger, helperPath = defaultHelperPath()): Promise<Spawner> {
  const helperUsable = process.platform === "linux" && existsSync(helperPath);
  if (kind === "helper" && !helperUsable) {
    throw new Error(
      process.platform !== "linux"
        ? `HOOKD_SPAWNER=helper: the spawn helper runs on Linux only (this is ${process.platform}); set HOOKD_SPAWNER=node or auto`
        : `HOOKD_SPAWNER=helper: the spawn helper ${helperPath} was not built; install a C compiler (cc) and run npm run build, or set HOOKD_SPAWNER=node or auto`,
    );
  }
  if (kind === "node" || !helperUsable) {
    if (kind === "auto") logger.info(`hooks start through Node's child_process (the spawn helper ${helperPath} was not built: npm run build with a C compiler builds it)`);
    const spawner = new NodeSpawner();
    await spawner.init();
    return spawner;
  }
  const spawner = new HelperSpawner(helperPath, logger);
  try {
    await spawner.init();
    return spawner;
  } catch (err) {
    if (kind === "helper") throw err;
    logger.warn(`the spawn helper ${helperPath} could not start (${err instanceof Error ? err.message : String(err)}); hooks start through Node's child_process`);
    const fallback = new NodeSpawner();
    await fallback.init();
    return fallback;
  }
}
