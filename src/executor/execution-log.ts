import { LogStream } from "../entities/execution-log-line.entity.js";
import type { LogLineEvent, PubSub } from "../pubsub/pubsub.js";
import type { Store, WriteOp } from "../store/store.js";

export interface ExecutionLogOptions {
  /** Bytes of output one execution may store; what comes after is counted, not stored. */
  capBytes: number;
  /** How long a line may wait before its batch is written. */
  flushIntervalMs?: number;
  /** Lines per batch at most (one INSERT each). */
  maxBatch?: number;
}

const MIB = 1024 * 1024;
const bytesOf = (lines: { text: string }[]) => lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0);
const formatBytes = (n: number) => (n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`);

/**
 * Numbers, stores and publishes one execution's output. Lines are written in batches (never one
 * INSERT per line) and published to live readers only after they are stored, so a reader that
 * replays from the store and then listens sees one gap-free sequence.
 */
export class ExecutionLog {
  private seq = 0;
  /** Lines written to the store: 1..storedLines (writes stop at the first failure). */
  private storedLines = 0;
  private storedBytes = 0;
  private droppedBytes = 0;
  private droppedLines = 0;
  private pending: LogLineEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private writeError: unknown = null;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly store: Store,
    private readonly pubsub: PubSub,
    private readonly executionId: string,
    private readonly options: ExecutionLogOptions,
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.maxBatch = options.maxBatch ?? 1000;
  }

  get lineCount(): number {
    return this.seq;
  }

  get dropped(): number {
    return this.droppedBytes;
  }

  /** A line of the hook's output. */
  output(stream: LogStream.STDOUT | LogStream.STDERR, text: string, at: Date): void {
    const size = Buffer.byteLength(text) + 1;
    if (this.droppedBytes > 0 || this.storedBytes + size > this.options.capBytes) {
      this.droppedBytes += size;
      this.droppedLines += 1;
      return;
    }
    this.storedBytes += size;
    this.append(stream, text, at);
  }

  /** A line from hookd itself; always stored. */
  system(text: string): void {
    this.append(LogStream.SYSTEM, text, new Date());
  }

  /** Ends the log: adds the cap line if output was dropped. Returns the final line count. */
  seal(): number {
    if (!this.sealed) {
      this.sealed = true;
      if (this.droppedBytes > 0) {
        this.system(`output cap of ${formatBytes(this.options.capBytes)} reached: ${this.droppedLines} more lines (${formatBytes(this.droppedBytes)}) were not stored; the hook kept running`);
      }
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
    throw this.writeError;
  }

  private append(stream: LogStream, text: string, at: Date): void {
    this.pending.push({ executionId: this.executionId, seq: ++this.seq, stream, at, text });
    if (this.pending.length >= this.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.writing = this.writing.then(async () => {
      if (this.writeError) {
        this.unstoredBytes += bytesOf(batch);
        return;
      }
      try {
        await this.store.appendLogLines(batch);
        this.storedLines += batch.length;
        this.pubsub.publish("executionLog", this.executionId, batch);
      } catch (err) {
        this.writeError = err;
        this.unstoredBytes += bytesOf(batch);
      }
    });
  }
}
