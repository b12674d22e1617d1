import { MoreThan } from "typeorm";
import { ExecutionLogLine, LogStream } from "../entities/execution-log-line.entity.js";
import type { LogLineEvent, PubSub } from "../pubsub/pubsub.js";
import type { Store, WriteOp } from "../store/store.js";
import { OutputCap } from "./output-cap.js";

export interface ExecutionLogOptions {
  /** Bytes of output one execution may store; what comes after is counted, not stored. */
  capBytes: number;
  /** How long a line may wait before its batch is written. */
  flushIntervalMs?: number;
  /** Lines per batch at most (one INSERT each). */
  maxBatch?: number;
  /** Secret values to mask (`***`) in every line before it is stored or streamed. */
  secrets?: readonly string[];
}

export const MASK = "***";

/**
 * Masks every secret value in `text`. `values` longest first, so a value that contains another is
 * masked whole. Every line a hook writes passes here once on the server, from this process's
 * runner and from agents alike, before it is stored or streamed.
 */
export function maskSecrets(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) if (v.length > 0 && out.includes(v)) out = out.split(v).join(MASK);
  return out;
}

/**
 * Masks one piece of a hook's output. `held`: what was held back from the previous piece of the
 * same stream. A `partial` piece (its line goes on in the next piece) keeps back its end while
 * that end could begin a secret value, so a value cut between two pieces is masked whole.
 */
export function maskPiece(held: string, text: string, partial: boolean, values: readonly string[]): { text: string; held: string } {
  const masked = maskSecrets(held + text, values);
  const tail = partial ? openSecretTail(masked, values) : 0;
  return tail > 0 ? { text: masked.slice(0, masked.length - tail), held: masked.slice(masked.length - tail) } : { text: masked, held: "" };
}

/** Length of the longest end of `text` that could begin a secret value (it may continue in the next piece). */
function openSecretTail(text: string, values: readonly string[]): number {
  let longest = 0;
  for (const v of values) {
    for (let n = Math.min(v.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(v.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

/**
 * close()'s error when lines of the log could not be stored but the final state was: the outcome
 * is in the store (with the loss said in it). Any other error from close() means it is not.
 */
export class LogLinesLost extends Error {
  constructor(readonly failure: unknown) {
    super(failure instanceof Error ? failure.message : String(failure));
    this.name = "LogLinesLost";
  }
}

const bytesOf = (lines: { text: string }[]) => lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0);

/**
 * Numbers, stores and publishes one execution's output. Lines are written in batches (never one
 * INSERT per line) and published to live readers only after they are stored, so a reader that
 * replays from the store and then listens sees one gap-free sequence.
 */
export class ExecutionLog {
  private seq = 0;
  /** Lines written to the store: 1..storedLines (writes stop at the first failure). */
  private storedLines = 0;
  /** The head and the tail of the output are kept, the middle counted (output-cap.ts). */
  private readonly cap: OutputCap<{ stream: LogStream.STDOUT | LogStream.STDERR; text: string; at: Date }>;
  private pending: LogLineEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private writeError: unknown = null;
  /** Writes running (at most the store's logWriteLanes), and batches waiting for one to end. */
  private lanesBusy = 0;
  private readonly laneWaiters: (() => void)[] = [];
  private anyWriteFailed = false;
  /** A batch after a failed one was stored all the same (they ran at once): past storedLines, to delete. */
  private strayLines = false;
  /** Lines taken and not yet stored (or given up on): what a hook faster than the store builds up. */
  private unsettled = 0;
  private readonly highWater: number;
  private drainWaiters: (() => void)[] = [];
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly secrets: readonly string[];
  /** Per stream: the end of a piece of a long line held back because a secret may continue in the next piece. */
  private readonly carry = new Map<LogStream, { text: string; at: Date }>();

  constructor(
    private readonly store: Store,
    private readonly pubsub: PubSub,
    private readonly executionId: string,
    options: ExecutionLogOptions,
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.maxBatch = options.maxBatch ?? 1000;
    this.secrets = options.secrets ?? [];
    // Two batches: one being written while the next fills. A live reader's lines are at most this
    // far behind the hook, whatever the store's speed (more cost latency, not speed: BENCHMARKS.md).
    this.highWater = 2 * this.maxBatch;
    this.cap = new OutputCap(options.capBytes);
  }

  get lineCount(): number {
    return this.seq;
  }

  get dropped(): number {
    return this.cap.droppedBytes;
  }

  /** OutputGate: the store is this far behind the hook; read no more of its output for now. */
  full(): boolean {
    return this.unsettled >= this.highWater && !this.anyWriteFailed && !this.sealed;
  }

  /** OutputGate: resolves once the store has caught up by half (or will take nothing more). */
  drained(): Promise<void> {
    if (!this.full()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private settled(lines: number): void {
    this.unsettled -= lines;
    if (this.drainWaiters.length > 0 && (this.unsettled <= this.highWater / 2 || this.anyWriteFailed || this.sealed)) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /**
   * A line of the hook's output. `partial`: a piece of a line too long for one row (or a last
   * line without a newline), continued in the next piece of the same stream.
   */
  output(stream: LogStream.STDOUT | LogStream.STDERR, text: string, at: Date, partial = false): void {
    if (this.secrets.length > 0) {
      const piece = maskPiece(this.carry.get(stream)?.text ?? "", text, partial, this.secrets);
      this.carry.delete(stream);
      if (piece.held !== "") this.carry.set(stream, { text: piece.held, at });
      text = piece.text;
      if (text === "" && piece.held !== "") return;
    }
    this.store1(stream, text, at);
  }

  private store1(stream: LogStream.STDOUT | LogStream.STDERR, text: string, at: Date): void {
    const size = Buffer.byteLength(text) + 1;
    if (this.cap.head(size)) this.append(stream, text, at);
    else this.cap.hold({ stream, text, at }, size);
  }

  /** A line from hookd itself; always stored (masked too: an error quotes the hook's stderr). */
  system(text: string): void {
    this.flushCarry();
    this.append(LogStream.SYSTEM, this.secrets.length > 0 ? maskSecrets(text, this.secrets) : text, new Date());
  }

  /** `text` with the secret values masked (the execution's error quotes the hook's stderr). */
  mask(text: string): string;
  mask(text: string | null | undefined): string | null | undefined;
  mask(text: string | null | undefined): string | null | undefined {
    return text && this.secrets.length > 0 ? maskSecrets(text, this.secrets) : text;
  }

  /** What was held back at the end of a partial line is a line's end after all. */
  private flushCarry(): void {
    for (const [stream, held] of this.carry) this.store1(stream as LogStream.STDOUT | LogStream.STDERR, held.text, held.at);
    this.carry.clear();
  }

  /** Ends the log: adds the cap line if output was dropped. Returns the final line count. */
  seal(): number {
    if (!this.sealed) {
      this.flushCarry();
      this.sealed = true;
      const { summary, tail } = this.cap.end();
      if (summary) this.system(summary);
      for (const l of tail) this.append(l.stream, l.text, l.at);
    }
    return this.seq;
  }

  private sealed = false;
  /** Bytes of lines whose write failed (and of every line after): lost, not stored. */
  unstoredBytes = 0;

  /**
   * Seals the log and writes what is pending together with `finalState(lines)` (the execution's
   * final state, given how many log lines are stored) in one transaction, then publishes the last
   * lines. Should a log write fail, the final state is still written on its own, with the count
   * of the lines that did get stored, before the error is thrown: the outcome must not be lost
   * with the log, and a reader paging up to the count must not wait for lines that never come.
   */
  async close(finalState: (storedLines: number, failure?: unknown) => WriteOp[] = () => []): Promise<void> {
    this.seal();
    this.settled(0);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    await this.writing;
    if (!this.writeError) {
      try {
        // The final state first: it may be the execution's insert, which its lines refer to.
        await this.store.write([...finalState(this.storedLines + batch.length), { logLines: batch }]);
        this.storedLines += batch.length;
        if (batch.length > 0) this.pubsub.publish("executionLog", this.executionId, batch);
        return;
      } catch (err) {
        this.writeError = err;
      }
    }
    this.unstoredBytes += bytesOf(batch);
    const alone = finalState(this.storedLines, this.writeError);
    if (alone.length > 0) await this.store.write(alone);
    if (this.strayLines) {
      // Lines 1..storedLines are the log; a reader must not find a later batch after the gap.
      const executionId = this.executionId;
      const after = this.storedLines;
      await this.store.transaction((em) => em.delete(ExecutionLogLine, { executionId, seq: MoreThan(after) })).catch(() => undefined);
    }
    throw new LogLinesLost(this.writeError);
  }

  private append(stream: LogStream, text: string, at: Date): void {
    this.pending.push({ executionId: this.executionId, seq: ++this.seq, stream, at, text });
    this.unsettled++;
    if (this.pending.length >= this.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const stored = this.writeBatch(batch);
    stored.catch(() => undefined); // seen in turn below
    // Counted and published in order, whichever write finishes first.
    this.writing = this.writing.then(async () => {
      let failure: unknown = null;
      await stored.catch((err) => (failure = err));
      this.settled(batch.length);
      if (this.writeError || failure) {
        this.writeError ??= failure;
        if (!failure) this.strayLines = true;
        this.unstoredBytes += bytesOf(batch);
        return;
      }
      this.storedLines += batch.length;
      this.pubsub.publish("executionLog", this.executionId, batch);
    });
  }

  /** Starts a batch's write once one of the store's lanes is free, in the order they came. */
  private async writeBatch(batch: LogLineEvent[]): Promise<void> {
    if (this.lanesBusy < this.store.logWriteLanes && this.laneWaiters.length === 0) this.lanesBusy++;
    else await new Promise<void>((handed) => this.laneWaiters.push(handed));
    try {
      if (this.anyWriteFailed) throw new Error("not written: an earlier write of this log failed");
      await this.store.appendLogLines(batch);
    } catch (err) {
      this.anyWriteFailed = true;
      throw err;
    } finally {
      const next = this.laneWaiters.shift();
      if (next) next();
      else this.lanesBusy--;
    }
  }
}
