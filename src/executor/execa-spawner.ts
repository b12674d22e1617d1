import { execa } from "execa";
import { Proc, STDERR, STDOUT, validateRequest, type SpawnedProcess, type SpawnerLogger, type SpawnRequest, type Spawner } from "./spawner.js";

/**
 * Starts hooks through execa: portable (on Windows it resolves PATHEXT, runs shebang scripts and
 * quotes arguments, which child_process alone does not). execa only starts the process here:
 * output goes straight to the callbacks, nothing is buffered, and hookd ends the process group
 * itself (no execa timeout, cleanup or kill).
 */
export class ExecaSpawner implements Spawner {
  readonly kind = "execa" as const;

  constructor(private readonly logger?: SpawnerLogger) {}

  async init(): Promise<void> {}

  spawn(req: SpawnRequest): Promise<SpawnedProcess> {
    return new Promise((resolve, reject) => {
      validateRequest(req);
      const subprocess = execa(req.argv[0], req.argv.slice(1), {
        env: ownEnv(req.env),
        extendEnv: false,
        cwd: req.cwd,
        // Its own process group (POSIX); on Windows detaching would give it a console of its own.
        detached: process.platform !== "win32",
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        shell: false,
        windowsHide: true,
        buffer: false,
        reject: false,
        cleanup: false,
        forceKillAfterDelay: false,
      });
      let proc: Proc | null = null;
      // What execa reports once the process is gone: for a start that failed before a process
      // existed (child_process threw: E2BIG, ENOEXEC, a NUL in env), Node's error is its cause.
      subprocess.then(
        (result) => {
          if (!proc && result.failed) reject(result.cause instanceof Error ? result.cause : result);
        },
        (err: unknown) => (proc ? this.logger?.error(`execa failed watching child process ${proc.pid}`, err) : reject(err)),
      );
      subprocess.once("spawn", () => {
        proc = new Proc(subprocess.pid!, (paused) => {
          // A paused stream stops reading the pipe once its buffer is full.
          for (const stream of [subprocess.stdout!, subprocess.stderr!]) paused ? stream.pause() : stream.resume();
        });
        // 'data' needs I/O, which comes after this resolution's continuations (Node emits
        // 'spawn' on nextTick), so callers can still set their callbacks.
        subprocess.stdout!.on("data", (chunk: Buffer) => proc!.data(STDOUT, chunk));
        subprocess.stderr!.on("data", (chunk: Buffer) => proc!.data(STDERR, chunk));
        subprocess.once("exit", (code, signal) => proc!.exit({ code, signal }));
        subprocess.once("close", (code, signal) => {
          proc!.exit({ code, signal });
          proc!.eof();
          proc!.eof();
        });
        resolve(proc);
      });
      subprocess.on("error", (err) => {
        if (!proc) reject(err);
        else this.logger?.error(`child process ${proc.pid} reported an error`, err);
      });
    });
  }

  async destroy(): Promise<void> {}
}

/**
 * The variables as a plain object: execa and cross-spawn read env with Object.keys and spreads,
 * which miss the inherited ones (the executor's env inherits the server's, see inheritEnv).
 */
function ownEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const key in env) {
    const value = env[key];
    if (value !== undefined) flat[key] = value;
  }
  return flat;
}
