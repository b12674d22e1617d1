import { existsSync } from "node:fs";
import type { SpawnerKind } from "../config.js";
import type { Logger } from "../logger.js";
import { AddonSpawner, defaultAddonPath, defaultHelperPath, HelperSpawner, NodeSpawner, type Spawner } from "./spawner.js";

export interface SpawnerPaths {
  addon: string;
  helper: string;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The spawner the configuration asks for, started. "addon" and "helper" fail at start-up when they
 * cannot work (rather than quietly running slower); "auto" takes the first that works of addon,
 * helper and Node's spawn, and says why when it passes one over.
 */
export async function startSpawner(
  kind: SpawnerKind,
  logger: Logger,
  paths: SpawnerPaths = { addon: defaultAddonPath(), helper: defaultHelperPath() },
): Promise<Spawner> {
  const linux = process.platform === "linux";
  const build = "install a C compiler (cc) and run npm run build";
  if (kind === "node") return started(new NodeSpawner());

  const passedOver: string[] = [];
  // Not built is a build choice (info); built but failing to start is a problem (warn).
  let failed = false;
  const say = (msg: string) => (failed ? logger.warn(msg) : logger.info(msg));
  if (kind === "addon" || kind === "auto") {
    if (!linux || !existsSync(paths.addon)) {
      const why = !linux ? `runs on Linux only (this is ${process.platform})` : `${paths.addon} was not built`;
      if (kind === "addon") throw new Error(`HOOKD_SPAWNER=addon: the spawn addon ${why}; ${linux ? `${build} (Node's C headers are needed too), or ` : ""}set HOOKD_SPAWNER=helper, node or auto`);
      passedOver.push(`the spawn addon ${why}`);
    } else {
      const spawner = new AddonSpawner(paths.addon);
      try {
        return await started(spawner);
      } catch (err) {
        if (kind === "addon") throw new Error(`HOOKD_SPAWNER=addon: ${message(err)}; set HOOKD_SPAWNER=helper, node or auto`);
        passedOver.push(message(err));
        failed = true;
      }
    }
  }
  if (kind === "helper" || kind === "auto") {
    if (!linux || !existsSync(paths.helper)) {
      const why = !linux ? `runs on Linux only (this is ${process.platform})` : `${paths.helper} was not built`;
      if (kind === "helper") throw new Error(`HOOKD_SPAWNER=helper: the spawn helper ${why}; ${linux ? `${build}, or ` : ""}set HOOKD_SPAWNER=node or auto`);
      passedOver.push(`the spawn helper ${why}`);
    } else {
      const spawner = new HelperSpawner(paths.helper, logger);
      try {
        const ready = await started(spawner);
        if (passedOver.length) say(`hooks start through the spawn helper (${passedOver.join("; ")})`);
        return ready;
      } catch (err) {
        if (kind === "helper") throw new Error(`HOOKD_SPAWNER=helper: the spawn helper ${paths.helper} could not start: ${message(err)}`);
        passedOver.push(`the spawn helper ${paths.helper} could not start (${message(err)})`);
        failed = true;
      }
    }
  }
  say(`hooks start through Node's child_process, which forks hookd for every run (${passedOver.join("; ")}; npm run build with a C compiler builds the native spawners)`);
  return started(new NodeSpawner());
}

async function started(spawner: Spawner): Promise<Spawner> {
  await spawner.init();
  return spawner;
}
