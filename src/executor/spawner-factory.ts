import { existsSync } from "node:fs";
import type { SpawnerKind } from "../config.js";
import type { Logger } from "../logger.js";
import { AddonSpawner, defaultAddonPath } from "./addon-spawner.js";
import { ExecaSpawner } from "./execa-spawner.js";
import type { Spawner } from "./spawner.js";

export interface SpawnerPaths {
  addon: string;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The spawner the configuration asks for, started. "addon" fails at start-up when it cannot work
 * (rather than quietly running slower); "auto" takes the addon where it works, else execa, and
 * says why it passed the addon over.
 */
export async function startSpawner(kind: SpawnerKind, logger: Logger, paths: SpawnerPaths = { addon: defaultAddonPath() }): Promise<Spawner> {
  if (kind === "execa") return started(new ExecaSpawner(logger));

  const linux = process.platform === "linux";
  let why: string;
  // Not built is a build choice (info); built but failing to start is a problem (warn).
  let failed = false;
  if (!linux || !existsSync(paths.addon)) {
    why = !linux ? `the spawn addon runs on Linux only (this is ${process.platform})` : `the spawn addon ${paths.addon} was not built`;
    if (kind === "addon") {
      const build = linux ? "install a C compiler (cc) and Node's C headers and run npm run build, or " : "";
      throw new Error(`HOOKD_SPAWNER=addon: ${why}; ${build}set HOOKD_SPAWNER=execa or auto`);
    }
  } else {
    try {
      return await started(new AddonSpawner(paths.addon));
    } catch (err) {
      if (kind === "addon") throw new Error(`HOOKD_SPAWNER=addon: ${message(err)}; set HOOKD_SPAWNER=execa or auto`);
      why = message(err);
      failed = true;
    }
  }
  const say = `hooks start through execa (${why}${linux && !failed ? "; npm run build with a C compiler builds it" : ""})`;
  if (failed) logger.warn(say);
  else logger.info(say);
  return started(new ExecaSpawner(logger));
}

async function started(spawner: Spawner): Promise<Spawner> {
  await spawner.init();
  return spawner;
}
