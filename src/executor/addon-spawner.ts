import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { constants as osConstants } from "node:os";
import { fileURLToPath } from "node:url";
import { Proc, STDERR, STDOUT, validateRequest, type ExitStatus, type SpawnedProcess, type SpawnRequest, type Spawner } from "./spawner.js";

// The spawn addon (native/spawn-addon.c, Linux only): vfork + exec on a thread of the addon's, so
// a spawn does not fork hookd's whole process the way Node's child_process does on Linux.

/** dist/native/hookd-spawn.node, relative to this compiled module (dist/src/executor/). */
export function defaultAddonPath(): string {
  return fileURLToPath(new URL("../../native/hookd-spawn.node", import.meta.url));
}

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
 * snapshot of the server's environment, see inheritEnv) packs only its own properties and copies
 * the rest. Frozen, so what was packed cannot change.
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
 * argv, env ("NAME=value") and cwd as NUL-terminated strings, the layout the addon reads. Throws
 * like Node for a NUL inside an env entry.
 */
function packStrings(req: SpawnRequest): { frame: Buffer; envc: number } {
  let base = packedBase(req.env);
  const own = base ? Object.keys(req.env) : null;
  // An own variable that overrides an inherited one: pack it all the plain way.
  if (base && own!.some((key) => base!.names.has(key))) base = null;
  const envStrings = envEntries(req.env, base ? own! : keysIn(req.env));
  let size = base ? base.bytes.length : 0;
  for (const s of req.argv) size += Buffer.byteLength(s) + 1;
  for (const s of envStrings) size += Buffer.byteLength(s) + 1;
  if (req.cwd !== undefined) size += Buffer.byteLength(req.cwd) + 1;
  const frame = Buffer.allocUnsafe(size);
  let off = 0;
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

/** Every enumerable key, inherited ones too: what child_process.spawn passes on. */
function keysIn(env: NodeJS.ProcessEnv): string[] {
  const keys: string[] = [];
  for (const key in env) keys.push(key);
  return keys;
}

/** An exit status from the addon: the code, or minus the signal number. */
function nativeExit(value: number, groupEmpty: boolean): ExitStatus {
  return value >= 0 ? { code: value, signal: null, groupEmpty } : { code: null, signal: signalNames.get(-value) ?? (`SIG${-value}` as NodeJS.Signals), groupEmpty };
}

// os.constants.errno knows ENOEXEC and the like, which util.getSystemErrorName (libuv) does not.
// Where two names share a number the first wins: EAGAIN, ENOTSUP, as libuv names them.
const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(osConstants.signals)) if (!signalNames.has(num)) signalNames.set(num, name as NodeJS.Signals);

// Event types, as in native/spawn-events.h.
const EV_SPAWNED = 1;
const EV_SPAWN_ERROR = 2;
const EV_STDOUT = 3;
const EV_STDERR = 4;
const EV_EOF_STDOUT = 5;
const EV_EOF_STDERR = 6;
const EV_EXITED = 7;

/** native/spawn-addon.c's functions. */
interface SpawnAddon {
  open(callback: (events: Buffer) => void): object;
  /** Queues a start on the addon's spawn thread; a SPAWNED or SPAWN_ERROR event for `id` follows. */
  spawn(instance: object, id: number, strings: Buffer, argc: number, envc: number, hasCwd: number): void;
  close(instance: object): void;
  /** Stops or resumes reading the output pipes of child `id` (a no-op once it is gone). */
  pause(instance: object, id: number, paused: boolean): void;
}

/**
 * Starts hooks through the spawn addon, inside hookd: vfork + exec on the addon's own thread, the
 * children watched on the main thread. destroy() refuses new spawns; starts already asked for and
 * processes already running are still seen to the end.
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
      const { frame, envc } = packStrings(req);
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

  /** A batch of events (native/spawn-events.h), always whole frames. */
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
        const proc = new Proc(buf.readInt32LE(body), (paused) => this.instance && this.addon?.pause(this.instance, id, paused));
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
