import { spawn as nodeSpawn, type ChildProcess } from "node:child_process";
import { constants as fsConstants, existsSync } from "node:fs";
import { access } from "node:fs/promises";
import { createRequire } from "node:module";
import { constants as osConstants } from "node:os";
import { fileURLToPath } from "node:url";

// Three ways to start hook processes behind one interface:
// - AddonSpawner: a Node-API addon (native/spawn-addon.c) starts hooks with vfork + exec from
//   hookd's main thread and watches their pipes and exit (a pidfd) in Node's own event loop.
// - HelperSpawner: a long-lived small C process (native/spawn-helper.c) does the same vfork +
//   exec and relays output and exit status over a pipe: one hop more per run, but no native code
//   inside hookd, and it works without pidfd (Linux before 5.3).
// - NodeSpawner: child_process.spawn. On Linux, Node 20 forks the whole hookd process for it,
//   which costs milliseconds of main-thread CPU per spawn, growing with the heap.
// scripts/build-native.mjs builds the two native ones; BENCHMARKS.md has what each costs.

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
}

/**
 * spawn failures (ENOENT, EACCES, ENOEXEC, ...) come back as a rejected promise with an Error
 * carrying `.code` = the errno name and `.errno` = its negative number, like Node's.
 */
export interface Spawner {
  readonly kind: "addon" | "helper" | "node";
  init(): Promise<void>;
  spawn(req: SpawnRequest): Promise<SpawnedProcess>;
  destroy(): Promise<void>;
}

export interface SpawnerLogger {
  error(msg: string, err?: unknown): void;
}

/** dist/native/hookd-spawn-helper, relative to this compiled module (dist/src/executor/spawner.js). */
export function defaultHelperPath(): string {
  return fileURLToPath(new URL("../../native/hookd-spawn-helper", import.meta.url));
}

/** dist/native/hookd-spawn.node, relative to this compiled module. */
export function defaultAddonPath(): string {
  return fileURLToPath(new URL("../../native/hookd-spawn.node", import.meta.url));
}

// ---- shared pieces ----

export interface SpawnError extends Error {
  errno: number;
  code: string;
  syscall: string;
  path: string;
  spawnargs: string[];
}

/** An Error shaped like the one child_process emits for a failed spawn. */
function spawnError(errno: number, argv: string[]): SpawnError {
  const code = errnoNames.get(errno) ?? `E${errno}`;
  const err = new Error(`spawn ${argv[0]} ${code}`) as SpawnError;
  err.errno = -errno;
  err.code = code;
  err.syscall = `spawn ${argv[0]}`;
  err.path = argv[0];
  err.spawnargs = argv.slice(1);
  return err;
}

/** Node rejects these synchronously in child_process.spawn; both spawners reject the promise. */
function validateRequest(req: SpawnRequest): void {
  const bad = (what: string, why: string): never => {
    const err = new TypeError(`The argument '${what}' ${why}`) as TypeError & { code: string };
    err.code = "ERR_INVALID_ARG_VALUE";
    throw err;
  };
  if (!Array.isArray(req.argv) || req.argv.length === 0 || typeof req.argv[0] !== "string" || req.argv[0] === "")
    bad("argv", "must start with a non-empty program name");
  for (const arg of req.argv) if (typeof arg !== "string" || arg.includes("\0")) bad("argv", "must be strings without null bytes");
  if (req.cwd !== undefined && (typeof req.cwd !== "string" || req.cwd.includes("\0"))) bad("cwd", "must be a string without null bytes");
}

/** "NAME=value" for each set variable; throws like Node for a NUL inside one. */
function envEntries(env: NodeJS.ProcessEnv, keys: Iterable<string>): string[] {
  const entries: string[] = [];
  for (const key of keys) {
    const value = env[key];
    if (value === undefined) continue;
    const entry = `${key}=${value}`;
    if (entry.includes("\0")) throw Object.assign(new TypeError("The argument 'env' must not contain null bytes"), { code: "ERR_INVALID_ARG_VALUE" });
    entries.push(entry);
  }
  return entries;
}

interface PackedEnv {
  bytes: Buffer;
  count: number;
  names: Set<string>;
}

/**
 * Environments packed once: a spawn's env whose prototype is a frozen object (the executor's
 * snapshot of the server's environment, with the hook's own variables as own properties) packs
 * only its own properties and copies the rest. Packing the ~40 inherited variables every time was
 * ~5% of hookd's main thread per hook run. Frozen, so what was packed cannot change.
 */
const packedBases = new WeakMap<object, PackedEnv>();

function packedBase(env: NodeJS.ProcessEnv): PackedEnv | null {
  const base = Object.getPrototypeOf(env) as object | null;
  if (base === null || base === Object.prototype || !Object.isFrozen(base)) return null;
  let packed = packedBases.get(base);
  if (!packed) {
    const names = new Set<string>();
    for (const key in base) names.add(key);
    const entries = envEntries(base as NodeJS.ProcessEnv, names);
    const bytes = Buffer.from(entries.map((e) => `${e}\0`).join(""));
    packed = { bytes, count: entries.length, names };
    packedBases.set(base, packed);
  }
  return packed;
}

/**
 * argv, env ("NAME=value") and cwd as NUL-terminated strings after `header` bytes left for the
 * caller, the layout both native spawners read. Throws like Node for a NUL inside an env entry.
 */
function packStrings(req: SpawnRequest, header: number): { frame: Buffer; envc: number } {
  let base = packedBase(req.env);
  const own = base ? Object.keys(req.env) : null;
  // An own variable that overrides an inherited one: pack it all the plain way.
  if (base && own!.some((key) => base!.names.has(key))) base = null;
  const envStrings = envEntries(req.env, base ? own! : keysIn(req.env));
  let size = header + (base ? base.bytes.length : 0);
  for (const s of req.argv) size += Buffer.byteLength(s) + 1;
  for (const s of envStrings) size += Buffer.byteLength(s) + 1;
  if (req.cwd !== undefined) size += Buffer.byteLength(req.cwd) + 1;
  const frame = Buffer.allocUnsafe(size);
  let off = header;
  for (const s of req.argv) {
    off += frame.write(s, off);
    frame[off++] = 0;
  }
  for (const s of envStrings) {
    off += frame.write(s, off);
    frame[off++] = 0;
  }
  if (base) off += base.bytes.copy(frame, off);
  if (req.cwd !== undefined) {
    off += frame.write(req.cwd, off);
    frame[off++] = 0;
  }
  return { frame, envc: envStrings.length + (base ? base.count : 0) };
}

/**
 * `own` on top of `base`: own variables win. A frozen base is packed once (packStrings). Defined,
 * not assigned: assigning a name a frozen base has would throw (it is read-only there).
 */
export function inheritEnv(base: Readonly<NodeJS.ProcessEnv>, own: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const descriptors: PropertyDescriptorMap = {};
  for (const key in own) descriptors[key] = { value: own[key], enumerable: true, writable: true, configurable: true };
  return Object.create(base, descriptors) as NodeJS.ProcessEnv;
}

/** Every enumerable key, inherited ones too: what child_process.spawn passes on. */
function keysIn(env: NodeJS.ProcessEnv): string[] {
  const keys: string[] = [];
  for (const key in env) keys.push(key);
  return keys;
}

/** An exit status from the native spawners: the code, or minus the signal number. */
function nativeExit(value: number, groupEmpty: boolean): ExitStatus {
  return value >= 0
    ? { code: value, signal: null, groupEmpty }
    : { code: null, signal: signalNames.get(-value) ?? (`SIG${-value}` as NodeJS.Signals), groupEmpty };
}

// os.constants.errno knows ENOEXEC and the like, which util.getSystemErrorName (libuv) does not.
// Where two names share a number the first wins: EAGAIN, ENOTSUP, as libuv names them.
const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(osConstants.signals)) if (!signalNames.has(num)) signalNames.set(num, name as NodeJS.Signals);

const STDOUT = 0;
const STDERR = 1;

/** The SpawnedProcess both spawners hand out. */
class Proc implements SpawnedProcess {
  readonly exited: Promise<ExitStatus>;
  readonly closed: Promise<ExitStatus>;
  private resolveExited!: (s: ExitStatus) => void;
  private rejectExited!: (e: Error) => void;
  private resolveClosed!: (s: ExitStatus) => void;
  private rejectClosed!: (e: Error) => void;
  private out: ((chunk: Buffer) => void) | null = null;
  private err: ((chunk: Buffer) => void) | null = null;
  /** Output held while the spawn() promise's continuations have not run yet (helper only). */
  held: [Buffer[], Buffer[]] | null = null;
  exitStatus: ExitStatus | null = null;
  eofs = 0;
  settled = false;

  constructor(readonly pid: number) {
    this.exited = new Promise((resolve, reject) => {
      this.resolveExited = resolve;
      this.rejectExited = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.resolveClosed = resolve;
      this.rejectClosed = reject;
    });
    // Rejections after a helper crash must not become unhandled when a caller awaits only one.
    this.exited.catch(() => {});
    this.closed.catch(() => {});
  }

  get onStdout() {
    return this.out;
  }
  set onStdout(cb) {
    this.out = cb;
    if (cb && this.held && this.held[STDOUT].length) this.release(STDOUT, cb);
  }
  get onStderr() {
    return this.err;
  }
  set onStderr(cb) {
    this.err = cb;
    if (cb && this.held && this.held[STDERR].length) this.release(STDERR, cb);
  }

  private release(stream: number, cb: (chunk: Buffer) => void): void {
    const chunks = this.held![stream];
    this.held![stream] = [];
    for (const chunk of chunks) cb(chunk);
  }

  data(stream: number, chunk: Buffer): void {
    const cb = stream === STDOUT ? this.out : this.err;
    if (cb) cb(chunk);
    else if (this.held) this.held[stream].push(chunk);
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

  fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (!this.exitStatus) this.rejectExited(err);
    this.rejectClosed(err);
  }
}

// ---- child_process.spawn ----

export class NodeSpawner implements Spawner {
  readonly kind = "node" as const;

  constructor(private readonly logger?: SpawnerLogger) {}

  async init(): Promise<void> {}

  spawn(req: SpawnRequest): Promise<SpawnedProcess> {
    return new Promise((resolve, reject) => {
      validateRequest(req);
      const child: ChildProcess = nodeSpawn(req.argv[0], req.argv.slice(1), {
        env: req.env,
        cwd: req.cwd,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        shell: false,
        windowsHide: true,
      });
      let proc: Proc | null = null;
      child.once("spawn", () => {
        proc = new Proc(child.pid!);
        // 'data' needs I/O, which comes after this resolution's continuations (Node emits
        // 'spawn' on nextTick), so callers can still set their callbacks.
        child.stdout!.on("data", (chunk: Buffer) => proc!.data(STDOUT, chunk));
        child.stderr!.on("data", (chunk: Buffer) => proc!.data(STDERR, chunk));
        child.once("exit", (code, signal) => proc!.exit({ code, signal }));
        child.once("close", (code, signal) => {
          proc!.exit({ code, signal });
          proc!.eof();
          proc!.eof();
        });
        resolve(proc);
      });
      child.on("error", (err) => {
        if (!proc) reject(err);
        else this.logger?.error(`child process ${proc.pid} reported an error`, err);
      });
    });
  }

  async destroy(): Promise<void> {}
}

// ---- the C helper ----

// Event types, as in native/spawn-helper.c (see the protocol description there).
const EV_SPAWNED = 1;
const EV_SPAWN_ERROR = 2;
const EV_STDOUT = 3;
const EV_STDERR = 4;
const EV_EOF_STDOUT = 5;
const EV_EOF_STDERR = 6;
const EV_EXITED = 7;
/** MAX_REQUEST in the helper. */
const MAX_REQUEST = 64 * 1024 * 1024;
/** The helper sends at most 64 KiB of output per frame; anything much larger is garbage. */
const MAX_EVENT = 1 << 20;

interface PendingSpawn {
  argv: string[];
  resolve(proc: SpawnedProcess): void;
  reject(err: Error): void;
}

/** One running helper process and the requests it carries. */
class HelperConnection {
  readonly child: ChildProcess;
  /** Resolves once the helper runs; rejects if it could not be started. */
  readonly ready: Promise<void>;
  /** Resolves when the helper is gone (after its stdout closed). */
  readonly gone: Promise<void>;
  private readonly pending = new Map<number, PendingSpawn>();
  private readonly procs = new Map<number, Proc>();
  private nextId = 0;
  private dead = false;
  private shuttingDown = false;
  private protocolError: string | null = null;
  private refed = true;
  /** The start of a frame that straddles two reads. */
  private rest: Buffer | null = null;
  /** Processes whose SPAWNED was handled in the current read: their output is held (see Proc). */
  private fresh: Proc[] = [];

  constructor(
    binaryPath: string,
    private readonly onGone: (conn: HelperConnection, err: Error, expected: boolean) => void,
  ) {
    this.child = nodeSpawn(binaryPath, [], { stdio: ["pipe", "pipe", "inherit"] });
    this.ready = new Promise((resolve, reject) => {
      this.child.once("spawn", resolve);
      this.child.once("error", (err) => {
        reject(err);
        this.die(`could not be started: ${err.message}`);
      });
    });
    this.ready.catch(() => {});
    this.gone = new Promise((resolve) => this.child.once("close", () => resolve()));
    this.child.once("close", (code, signal) => this.die(`exited (code ${code} signal ${signal})`));
    // EPIPE after the helper died: 'close' reports that.
    this.child.stdin!.on("error", () => {});
    this.child.stdout!.on("data", (chunk: Buffer) => this.onData(chunk));
    this.updateRef();
  }

  get busy(): number {
    return this.pending.size + this.procs.size;
  }

  spawn(req: SpawnRequest): Promise<SpawnedProcess> {
    if (this.dead) return Promise.reject(new Error("the spawn helper is gone"));
    validateRequest(req);
    const { frame, envc } = packStrings(req, 4 + 13);
    // The helper treats a longer frame as garbage and exits; the kernel's limit is far lower anyway.
    if (frame.length - 4 > MAX_REQUEST) return Promise.reject(spawnError(7 /* E2BIG */, req.argv));

    do this.nextId = (this.nextId + 1) >>> 0;
    while (this.pending.has(this.nextId) || this.procs.has(this.nextId));
    const id = this.nextId;

    frame.writeUInt32LE(frame.length - 4, 0);
    frame.writeUInt32LE(id, 4);
    frame.writeUInt32LE(req.argv.length, 8);
    frame.writeUInt32LE(envc, 12);
    frame[16] = req.cwd !== undefined ? 1 : 0;

    return new Promise((resolve, reject) => {
      this.pending.set(id, { argv: req.argv, resolve, reject });
      this.updateRef();
      this.child.stdin!.write(frame);
    });
  }

  /** Ends the helper's stdin (it exits on EOF) and waits; SIGKILL after 2 s. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (!this.dead) {
      this.child.ref();
      this.child.stdin!.end();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
      await this.gone;
      clearTimeout(timer);
    }
  }

  /** Keeps hookd's event loop alive only while the helper has work (an idle helper must not). */
  private updateRef(): void {
    const want = this.busy > 0 || this.shuttingDown;
    if (want === this.refed) return;
    this.refed = want;
    for (const handle of [this.child, this.child.stdin, this.child.stdout] as unknown as Array<{ ref?(): void; unref?(): void }>) {
      if (want) handle.ref?.();
      else handle.unref?.();
    }
  }

  private onData(chunk: Buffer): void {
    // Continuations of spawn() promises resolved during the previous read have run by now:
    // from here on, output nobody asked for is dropped.
    if (this.fresh.length) {
      for (const proc of this.fresh) proc.held = null;
      this.fresh = [];
    }
    let buf = chunk;
    let off = 0;
    if (this.rest) {
      const rest = this.rest;
      this.rest = null;
      if (rest.length < 4) {
        buf = Buffer.concat([rest, chunk]); // rare: a split length prefix
      } else {
        // Complete the straddling frame with just the bytes it needs; the rest of the chunk
        // is parsed in place.
        const total = 4 + rest.readUInt32LE(0);
        const missing = total - rest.length;
        if (chunk.length < missing) {
          this.rest = Buffer.concat([rest, chunk]);
          return;
        }
        const frame = Buffer.concat([rest, chunk.subarray(0, missing)], total);
        this.onFrame(frame, 4, total - 4);
        off = missing;
      }
    }
    const end = buf.length;
    while (end - off >= 4 && !this.protocolError) {
      const len = buf.readUInt32LE(off);
      if (len > MAX_EVENT) return this.fail(`frame length ${len} exceeds ${MAX_EVENT}`);
      if (end - off - 4 < len) break;
      this.onFrame(buf, off + 4, len);
      off += 4 + len;
    }
    if (off < end && !this.protocolError) {
      const rest = buf.subarray(off);
      if (rest.length >= 4 && rest.readUInt32LE(0) > MAX_EVENT) return this.fail(`frame length ${rest.readUInt32LE(0)} exceeds ${MAX_EVENT}`);
      this.rest = rest;
    }
  }

  private onFrame(buf: Buffer, start: number, len: number): void {
    if (len < 5) return this.fail(`event of ${len} bytes`);
    const type = buf[start];
    const id = buf.readUInt32LE(start + 1);
    const body = start + 5;
    const bodyLen = len - 5;
    switch (type) {
      case EV_STDOUT:
      case EV_STDERR: {
        const proc = this.procs.get(id);
        if (!proc) return this.fail(`output for unknown id ${id}`);
        if (bodyLen === 0) return;
        // A view when the payload is most of the buffer; otherwise a copy, so a small retained
        // chunk does not pin a whole 64 KiB read. Nothing here reuses buffers, so views are safe.
        const payload =
          bodyLen * 2 >= buf.length ? buf.subarray(body, body + bodyLen) : Buffer.from(buf.subarray(body, body + bodyLen));
        proc.data(type === EV_STDOUT ? STDOUT : STDERR, payload);
        return;
      }
      case EV_SPAWNED: {
        const req = this.pending.get(id);
        if (!req || bodyLen !== 4) return this.fail(`bad SPAWNED for id ${id}`);
        this.pending.delete(id);
        const proc = new Proc(buf.readInt32LE(body));
        proc.held = [[], []];
        this.fresh.push(proc);
        this.procs.set(id, proc);
        req.resolve(proc);
        return;
      }
      case EV_SPAWN_ERROR: {
        const req = this.pending.get(id);
        if (!req || bodyLen !== 4) return this.fail(`bad SPAWN_ERROR for id ${id}`);
        this.pending.delete(id);
        this.updateRef();
        req.reject(spawnError(buf.readInt32LE(body), req.argv));
        return;
      }
      case EV_EOF_STDOUT:
      case EV_EOF_STDERR:
      case EV_EXITED: {
        const proc = this.procs.get(id);
        if (!proc) return this.fail(`event ${type} for unknown id ${id}`);
        if (type === EV_EXITED) {
          if (bodyLen !== 6) return this.fail(`bad EXITED for id ${id}`);
          const value = buf.readInt32LE(body + 1);
          proc.exit(nativeExit(buf[body] === 0 ? value : -value, buf[body + 5] === 0));
        } else {
          proc.eof();
        }
        if (proc.settled) {
          this.procs.delete(id);
          this.updateRef();
        }
        return;
      }
      default:
        return this.fail(`unknown event type ${type}`);
    }
  }

  /** A frame hookd cannot make sense of: kill the helper; 'close' then fails everything. */
  private fail(reason: string): void {
    this.protocolError ??= reason;
    this.rest = null;
    this.child.kill("SIGKILL");
  }

  private die(how: string): void {
    if (this.dead) return;
    this.dead = true;
    const protocol = this.protocolError ? ` after a protocol error (${this.protocolError})` : "";
    const err = this.shuttingDown
      ? new Error(`the spawn helper was shut down (destroy()) while this process ran`)
      : new Error(`the spawn helper ${how}${protocol}; the processes it was running are no longer watched (they may still run)`);
    for (const req of this.pending.values()) req.reject(err);
    for (const proc of this.procs.values()) proc.fail(err);
    this.pending.clear();
    this.procs.clear();
    this.fresh = [];
    this.onGone(this, err, this.shuttingDown);
  }
}

/**
 * Starts hooks through the C helper. If the helper dies, every pending spawn and running process
 * (exited / closed) rejects with an Error saying so, the death is logged, and the next spawn()
 * starts a new helper. The helper is started by init() or lazily by the first spawn().
 */
export class HelperSpawner implements Spawner {
  readonly kind = "helper" as const;
  private conn: HelperConnection | null = null;
  private starting: Promise<HelperConnection> | null = null;
  private destroyed = false;

  constructor(
    readonly binaryPath: string,
    private readonly logger?: SpawnerLogger,
  ) {}

  async init(): Promise<void> {
    this.destroyed = false;
    await this.connection();
  }

  /** The running helper's pid, if one runs (for diagnostics and tests). */
  get helperPid(): number | undefined {
    return this.conn?.child.pid;
  }

  spawn(req: SpawnRequest): Promise<SpawnedProcess> {
    if (this.destroyed) return Promise.reject(new Error("the HelperSpawner was destroyed"));
    try {
      if (this.conn) return this.conn.spawn(req);
      return this.connection().then((conn) => conn.spawn(req));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    const conn = this.conn ?? (await this.starting?.catch(() => null));
    await conn?.shutdown();
  }

  /** The running helper, started if needed (one start shared by concurrent callers). */
  private connection(): Promise<HelperConnection> {
    if (this.conn) return Promise.resolve(this.conn);
    this.starting ??= this.start().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async start(): Promise<HelperConnection> {
    try {
      await access(this.binaryPath, fsConstants.X_OK);
    } catch (err) {
      throw new Error(
        `the spawn helper ${this.binaryPath} is missing or not executable (${(err as NodeJS.ErrnoException).code}); ` +
          "run `npm run build` with a C compiler (cc) installed",
      );
    }
    const conn = new HelperConnection(this.binaryPath, (gone, err, expected) => {
      if (this.conn === gone) this.conn = null;
      if (!expected) this.logger?.error(`${err.message}; a new helper starts on the next spawn`);
    });
    await conn.ready;
    if (this.destroyed) {
      await conn.shutdown();
      throw new Error("the HelperSpawner was destroyed");
    }
    this.conn = conn;
    return conn;
  }
}

// ---- the addon ----

/** native/spawn-addon.c's functions. */
interface SpawnAddon {
  open(callback: (events: Buffer) => void): object;
  /** Queues a start on the addon's spawn thread; a SPAWNED or SPAWN_ERROR event for `id` follows. */
  spawn(instance: object, id: number, strings: Buffer, argc: number, envc: number, hasCwd: number): void;
  close(instance: object): void;
}

/**
 * Starts hooks through the spawn addon, inside hookd: vfork + exec on the addon's own thread, the
 * children watched on the main thread. destroy() refuses new spawns; starts already asked for and
 * processes already running are still seen to the end (there is no second process to lose).
 */
export class AddonSpawner implements Spawner {
  readonly kind = "addon" as const;
  private addon: SpawnAddon | null = null;
  private instance: object | null = null;
  private readonly procs = new Map<number, Proc>();
  private readonly starting = new Map<number, { argv: string[]; resolve(proc: Proc): void; reject(err: Error): void }>();
  private nextId = 0;

  constructor(readonly addonPath: string = defaultAddonPath()) {}

  async init(): Promise<void> {
    if (this.instance) return;
    if (!this.addon) {
      if (!existsSync(this.addonPath)) {
        throw new Error(`the spawn addon ${this.addonPath} is missing; run \`npm run build\` with a C compiler (cc) and Node's headers installed`);
      }
      try {
        // Node-API addons load through require, also from ES modules.
        this.addon = createRequire(import.meta.url)(this.addonPath) as SpawnAddon;
      } catch (err) {
        throw new Error(`the spawn addon ${this.addonPath} could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.instance = this.addon.open(this.onEvents);
  }

  spawn(req: SpawnRequest): Promise<SpawnedProcess> {
    if (!this.addon || !this.instance) return Promise.reject(new Error("the AddonSpawner is not started (init()) or was destroyed"));
    try {
      validateRequest(req);
      const { frame, envc } = packStrings(req, 0);
      do this.nextId = (this.nextId + 1) >>> 0;
      while (this.procs.has(this.nextId) || this.starting.has(this.nextId));
      const id = this.nextId;
      this.addon.spawn(this.instance, id, frame, req.argv.length, envc, req.cwd !== undefined ? 1 : 0);
      // The addon's events for a child come in later callbacks than its SPAWNED, so this promise's
      // continuations run before any output is dispatched.
      return new Promise((resolve, reject) => this.starting.set(id, { argv: req.argv, resolve, reject }));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async destroy(): Promise<void> {
    if (this.addon && this.instance) this.addon.close(this.instance);
    this.instance = null;
  }

  /** A batch of events in the helper's frame layout (native/spawn-addon.c), always whole frames. */
  private readonly onEvents = (buf: Buffer): void => {
    for (let off = 0; off < buf.length; ) {
      const end = off + 4 + buf.readUInt32LE(off);
      const type = buf[off + 4];
      const id = buf.readUInt32LE(off + 5);
      const body = off + 9;
      off = end;
      if (type === EV_SPAWNED || type === EV_SPAWN_ERROR) {
        const start = this.starting.get(id);
        if (!start) continue;
        this.starting.delete(id);
        if (type === EV_SPAWN_ERROR) {
          start.reject(spawnError(buf.readInt32LE(body), start.argv));
          continue;
        }
        const proc = new Proc(buf.readInt32LE(body));
        this.procs.set(id, proc);
        start.resolve(proc);
        continue;
      }
      const proc = this.procs.get(id);
      if (!proc) continue;
      switch (type) {
        case EV_STDOUT:
        case EV_STDERR: {
          // A view when the output is most of the batch; otherwise a copy, so a small retained
          // chunk does not pin a whole batch.
          const chunk = (end - body) * 2 >= buf.length ? buf.subarray(body, end) : Buffer.from(buf.subarray(body, end));
          proc.data(type === EV_STDOUT ? STDOUT : STDERR, chunk);
          break;
        }
        case EV_EOF_STDOUT:
        case EV_EOF_STDERR:
          proc.eof();
          break;
        case EV_EXITED:
          proc.exit(nativeExit(buf[body] === 0 ? buf.readInt32LE(body + 1) : -buf.readInt32LE(body + 1), buf[body + 5] === 0));
          break;
      }
      if (proc.settled) this.procs.delete(id);
    }
  };
}
