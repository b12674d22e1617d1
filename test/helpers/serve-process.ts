import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ensureTestDatabase } from "./test-database.js";

/** The compiled command line (dist/src/cli.js). */
export const CLI = fileURLToPath(new URL("../../src/cli.js", import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  /** http://host:port, from its listening line. */
  url: string;
  stdout: () => string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `hookd serve` as a real process (PORT=0 unless `env` says) and waits for its listening
 * line; under HOOKD_TEST_DB=postgres on its data directory's database (test-database.ts).
 */
export async function serveProcess(env: Record<string, string>): Promise<ServeProcess> {
  const database = env.HOOKD_DATA_DIR ? await ensureTestDatabase(env.HOOKD_DATA_DIR) : {};
  const child = spawn(process.execPath, [CLI, "serve"], { env: { ...process.env, PORT: "0", ...database, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hookd did not start:\n${out}\n${err}`)), 20_000);
    child.on("exit", (code) => reject(new Error(`hookd exited with ${code}:\n${out}\n${err}`)));
    child.stdout!.on("data", () => {
      const m = /listening on (http:\/\/[^/\s]+)\/graphql/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        child,
        url: m[1],
        stdout: () => out,
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners("exit");
            child.on("exit", (code) => done(code));
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

/**
 * Runs the command line without blocking this process's event loop (an in-process server keeps
 * answering, and its keep-alive connections do not time out under a blocked loop); under
 * HOOKD_TEST_DB=postgres on the database of `env.HOOKD_DATA_DIR`.
 */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const database = env.HOOKD_DATA_DIR ? await ensureTestDatabase(env.HOOKD_DATA_DIR) : {};
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...database, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("exit", (status) => resolve({ status, stdout, stderr })));
}
