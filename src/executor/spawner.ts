// Two ways to start hook processes behind one interface, one file each:
// - ExecaSpawner (execa-spawner.ts): execa, portable (PATHEXT, shebangs and quoting on Windows).
// - AddonSpawner (addon-spawner.ts): a Linux-only Node-API addon (native/spawn-addon.c) that
//   starts hooks with vfork + exec instead of forking hookd; optional, built by
//   scripts/build-native.mjs. BENCHMARKS.md has what it buys.

export interface SpawnRequest {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /**
   * True when the spawner saw the process group empty as it reaped the leader: nothing of the
   * hook is left to end. Undefined when the spawner does not know (then look).
   */
  groupEmpty?: boolean;
}

/**
 * A started process. stdin is /dev/null; it leads its own process group.
 *
 * Output callbacks: set them synchronously right after `await spawner.spawn(...)` (before any
 * other await that waits for I/O or timers). No output is dispatched before the spawn() promise's
 * continuations have run; output that arrives while a callback is null after that is discarded.
 */
export interface SpawnedProcess {
  /** Also its process group id (it leads its own group): kill the group with process.kill(-pid). */
  readonly pid: number;
  onStdout: ((chunk: Buffer) => void) | null;
  onStderr: ((chunk: Buffer) => void) | null;
  /** Resolves when the process was reaped: exit code or signal name (like child_process 'exit'). */
  readonly exited: Promise<ExitStatus>;
  /** Resolves after exit AND both stdout and stderr reached EOF (like child_process 'close'). */
  readonly closed: Promise<ExitStatus>;
  /** Stops (true) or resumes reading its stdout and stderr: its writes block once a pipe is full. */
  pauseOutput(paused: boolean): void;
}

/**
 * spawn failures (ENOENT, EACCES, ENOEXEC, ...) come back as a rejected promise with an Error
 * carrying `.code` = the errno name and `.errno` = its negative number, like Node's.
 */
export interface Spawner {
  readonly kind: "addon" | "execa";
  init(): Promise<void>;
  spawn(req: SpawnRequest): Promise<SpawnedProcess>;
  destroy(): Promise<void>;
}

export interface SpawnerLogger {
  error(msg: string, err?: unknown): void;
}

/** Node rejects these synchronously in child_process.spawn; the spawners reject the promise. */
export function validateRequest(req: SpawnRequest): void {
  const bad = (what: string, why: string): never => {
    const err = new TypeError(`The argument '${what}' ${why}`) as TypeError & { code: string };
    err.code = "ERR_INVALID_ARG_VALUE";
    throw err;
  };
  if (!Array.isArray(req.argv) || req.argv.length === 0 || typeof req.argv[0] !== "string" || req.argv[0] === "") bad("argv", "must start with a non-empty program name");
  for (const arg of req.argv) if (typeof arg !== "string" || arg.includes("\0")) bad("argv", "must be strings without null bytes");
  if (req.cwd !== undefined && (typeof req.cwd !== "string" || req.cwd.includes("\0"))) bad("cwd", "must be a string without null bytes");
}

/**
 * `own` on top of `base`: own variables win. The addon packs a frozen base once
 * (addon-spawner.ts). Defined, not assigned: assigning a name a frozen base has would throw (it is
 * read-only there).
 */
export function inheritEnv(base: Readonly<NodeJS.ProcessEnv>, own: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const descriptors: PropertyDescriptorMap = {};
  for (const key in own) descriptors[key] = { value: own[key], enumerable: true, writable: true, configurable: true };
  return Object.create(base, descriptors) as NodeJS.ProcessEnv;
}

export const STDOUT = 0;
export const STDERR = 1;

/** The SpawnedProcess both spawners hand out; they report output, EOFs and the exit to it. */
export class Proc implements SpawnedProcess {
  readonly exited: Promise<ExitStatus>;
  readonly closed: Promise<ExitStatus>;
  private resolveExited!: (s: ExitStatus) => void;
  private resolveClosed!: (s: ExitStatus) => void;
  onStdout: ((chunk: Buffer) => void) | null = null;
  onStderr: ((chunk: Buffer) => void) | null = null;
  private exitStatus: ExitStatus | null = null;
  private eofs = 0;
  settled = false;

  /** `pauser`: how the spawner stops and resumes reading this process's pipes. */
  constructor(
    readonly pid: number,
    private readonly pauser: (paused: boolean) => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  data(stream: typeof STDOUT | typeof STDERR, chunk: Buffer): void {
    const cb = stream === STDOUT ? this.onStdout : this.onStderr;
    if (cb) cb(chunk);
  }

  pauseOutput(paused: boolean): void {
    if (!this.settled) this.pauser(paused);
  }

  exit(status: ExitStatus): void {
    if (this.exitStatus) return;
    this.exitStatus = status;
    this.resolveExited(status);
    this.maybeClose();
  }

  eof(): void {
    this.eofs++;
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.settled || !this.exitStatus || this.eofs < 2) return;
    this.settled = true;
    this.resolveClosed(this.exitStatus);
  }
}
