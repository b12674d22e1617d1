import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultTempDir } from "../config.js";
import { DomainError } from "../domain/errors.js";
import { startSpawner } from "../executor/spawner-factory.js";
import { createLogger } from "../logger.js";
import { enrol, RemoteAgent } from "./agent-process.js";
import { defaultStateDir, stateFile } from "./agent-state.js";

type Flags = Record<string, string | boolean | undefined>;

/**
 * The enrolment token, from one of: --token-file PATH, HOOKD_AGENT_TOKEN, or --token. The first
 * two keep it out of `ps` and shell history (any user on the machine can read a process's
 * arguments); --token stays for a first try by hand. Undefined: none given (an enrolled agent
 * starts from its state directory).
 */
export function enrolmentToken(values: Flags, env: NodeJS.ProcessEnv): string | undefined {
  const file = typeof values["token-file"] === "string" ? values["token-file"] : undefined;
  const fromEnv = env.HOOKD_AGENT_TOKEN?.trim() || undefined;
  const flag = typeof values.token === "string" && values.token !== "" ? values.token : undefined;
  const given = [file !== undefined && "--token-file", fromEnv !== undefined && "HOOKD_AGENT_TOKEN", flag !== undefined && "--token"].filter((g): g is string => g !== false);
  if (given.length > 1) throw new DomainError("BAD_USER_INPUT", `give the enrolment token one way, not ${given.join(" and ")}`);
  if (file === undefined) return fromEnv ?? flag;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new DomainError("BAD_USER_INPUT", `--token-file: cannot read '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.trim();
  if (token === "" || /\s/.test(token)) throw new DomainError("BAD_USER_INPUT", `--token-file: '${file}' must hold the enrolment token (hke_…) alone on one line`);
  return token;
}

/** `hookd agent ...`: enrols on the first start, then runs until SIGINT/SIGTERM. */
export async function runAgentCommand(values: Flags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const str = (name: string) => (typeof values[name] === "string" && values[name] !== "" ? (values[name] as string) : undefined);
  const url = str("url");
  if (!url || !/^https?:\/\//.test(url)) throw new DomainError("BAD_USER_INPUT", `--url is required: hookd's address, http://host:port or https://... (got ${url ?? "nothing"})`);
  const concurrency = Number(str("concurrency") ?? "4");
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new DomainError("BAD_USER_INPUT", `--concurrency must be a whole number from 1 to 256 (got ${str("concurrency")})`);
  const stateDir = path.resolve(str("state-dir") ?? defaultStateDir());
  const options = {
    url,
    token: enrolmentToken(values, env),
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
  // The hooks this agent runs inherit its environment: they have no business with the token.
  delete env.HOOKD_AGENT_TOKEN;
  if (str("token") !== undefined) options.logger.warn("--token is readable by every user of this machine (ps, /proc) while the agent runs; prefer --token-file PATH or HOOKD_AGENT_TOKEN");
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
