import os from "node:os";
import path from "node:path";
import { defaultTempDir } from "../config.js";
import { DomainError } from "../domain/errors.js";
import { startSpawner } from "../executor/spawner-factory.js";
import { createLogger } from "../logger.js";
import { enrol, RemoteAgent } from "./agent-process.js";
import { defaultStateDir, stateFile } from "./agent-state.js";

/** `hookd agent ...`: enrols on the first start, then runs until SIGINT/SIGTERM. */
export async function runAgentCommand(values: Record<string, string | boolean | undefined>): Promise<void> {
  const str = (name: string) => (typeof values[name] === "string" && values[name] !== "" ? (values[name] as string) : undefined);
  const url = str("url");
  if (!url || !/^https?:\/\//.test(url)) throw new DomainError("BAD_USER_INPUT", `--url is required: hookd's address, http://host:port or https://... (got ${url ?? "nothing"})`);
  const concurrency = Number(str("concurrency") ?? "4");
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new DomainError("BAD_USER_INPUT", `--concurrency must be a whole number from 1 to 256 (got ${str("concurrency")})`);
  const stateDir = path.resolve(str("state-dir") ?? defaultStateDir());
  const options = {
    url,
    token: str("token"),
    name: str("name"),
    hostname: str("hostname") ?? os.hostname(),
    labels: (str("labels") ?? "")
      .split(",")
      .map((l) => l.trim())
      .filter((l) => l !== ""),
    stateDir,
    concurrency,
    // As hookd's own runner: a run's input file in memory where there is some (HOOKD_TEMP_DIR to choose).
    tempDir: path.resolve(process.env.HOOKD_TEMP_DIR?.trim() || defaultTempDir(process.env, false)),
    killGraceMs: 2000,
    logger: createLogger({ level: "info" }),
  };
  let state: Awaited<ReturnType<typeof enrol>>;
  try {
    state = await enrol(options);
  } catch (err) {
    throw new DomainError("UNAUTHENTICATED", (err as Error).message);
  }
  options.logger.info(`agent ${state.name} (${state.kind}, id ${state.agentId}); credential in ${stateFile(stateDir)}`);
  // hookd's spawn addon where it was built (Linux, with a C compiler): forking this Node process
  // per hook costs milliseconds of CPU; elsewhere execa, so no compiler is needed.
  const spawner = await startSpawner("auto", options.logger);
  const agent = new RemoteAgent(state, { ...options, spawner });
  agent.start();
  const stop = (signal: string) => {
    options.logger.info(`${signal}: stopping`);
    void agent.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  await agent.done.catch((err: Error) => {
    throw new DomainError("UNAUTHENTICATED", err.message);
  });
}
