import { closeSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from "node:fs";

/** One log line as the agent numbers and sends it. */
export interface SpooledLine {
  seq: number;
  stream: "STDOUT" | "STDERR" | "SYSTEM";
  at: string;
  text: string;
  /** Goes on in the next piece of its stream (see agent-process.ts). */
  partial?: boolean;
}

/** Every this many seqs the spool remembers a line's offset, so a resend from any seq reads little. */
const INDEX_STRIDE = 1000;
/** Appends are buffered up to this, then written (and at least every FLUSH_MS). */
const BUFFER_BYTES = 64 * 1024;
const FLUSH_MS = 200;
const READ_CHUNK = 256 * 1024;

/**
 * A run's log lines that did not fit in memory while hookd had not acknowledged them (the agent
 * cut off, or hookd slower than the hook), on disk: JSON lines, 0600 in the agent's state
 * directory. The sender reads them back from any seq; once all are acknowledged the file is
 * emptied. Bounded by the caller (the run's output cap); removed with the run. It does not
 * outlive the agent's process in any useful way: a restarted agent fails the runs it held
 * instead of resuming them (docs/agent-protocol.md).
 */
export class LogSpool {
  private readonly fd: number;
  private buffer: string[] = [];
  private bufferBytes = 0;
  /** Bytes in the file plus the buffer: the offset of the next line. */
  private size = 0;
  /** offsets[k]: where the line of seq firstSeq + k * INDEX_STRIDE starts. */
  private offsets: number[] = [];
  private firstSeq: number;
  private lastSeq: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Where the line after the last read starts. */
  private cursor: { seq: number; position: number } | null = null;
  private chunk = Buffer.allocUnsafe(READ_CHUNK);

  /** `firstSeq`: the seq of the first line it will hold. */
  constructor(
    readonly file: string,
    firstSeq: number,
  ) {
    this.firstSeq = firstSeq;
    this.lastSeq = firstSeq - 1;
    this.fd = openSync(file, "w+", 0o600);
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** Lines must come with consecutive seqs. */
  append(line: SpooledLine): void {
    if (line.seq !== this.lastSeq + 1) throw new Error(`spool ${this.file}: expected seq ${this.lastSeq + 1}, got ${line.seq}`);
    this.lastSeq = line.seq;
    if ((line.seq - this.firstSeq) % INDEX_STRIDE === 0) this.offsets.push(this.size);
    const json = `${JSON.stringify(line)}\n`;
    const bytes = Buffer.byteLength(json);
    this.buffer.push(json);
    this.bufferBytes += bytes;
    this.size += bytes;
    if (this.bufferBytes >= BUFFER_BYTES) this.flush();
  }

  /** Bytes spooled so far (for the bound and for tests). */
  get bytes(): number {
    return this.size;
  }

  /** Lines from `fromSeq` on, at most `maxLines` and about `maxTextBytes` of text (at least one line). */
  read(fromSeq: number, maxLines: number, maxTextBytes: number): SpooledLine[] {
    if (fromSeq < this.firstSeq || fromSeq > this.lastSeq) return [];
    this.flush();
    // The sender reads on from where its last read stopped: start there, not at the index entry.
    let position = this.cursor?.seq === fromSeq ? this.cursor.position : this.offsets[Math.floor((fromSeq - this.firstSeq) / INDEX_STRIDE)];
    const out: SpooledLine[] = [];
    let text = 0;
    while (position < this.size) {
      const n = readSync(this.fd, this.chunk, 0, this.chunk.length, position);
      if (n === 0) break;
      // JSON lines: a newline byte only ends a line (JSON escapes its own, UTF-8 never makes one).
      let start = 0;
      for (let nl = this.chunk.indexOf(10, start); nl >= 0 && nl < n; nl = this.chunk.indexOf(10, start)) {
        const line = JSON.parse(this.chunk.toString("utf8", start, nl)) as SpooledLine;
        const at = position + start;
        start = nl + 1;
        if (line.seq < fromSeq) continue;
        if (out.length >= maxLines || (out.length > 0 && text + line.text.length > maxTextBytes)) {
          this.cursor = { seq: line.seq, position: at };
          return out;
        }
        out.push(line);
        text += line.text.length;
      }
      // No whole line in the chunk: one longer than it (escaping can make a line several times its text).
      if (start === 0) this.chunk = Buffer.allocUnsafe(this.chunk.length * 2);
      position += start;
    }
    this.cursor = { seq: (out.at(-1)?.seq ?? fromSeq - 1) + 1, position };
    return out;
  }

  flush(): void {
    if (this.bufferBytes === 0 || this.closed) return;
    const data = this.buffer.join("");
    // At its offset, not the fd's position: after a reset (truncate) that would still be the old end.
    writeSync(this.fd, data, this.size - this.bufferBytes);
    this.buffer = [];
    this.bufferBytes = 0;
  }

  /** Every line was acknowledged: the file is emptied; the next line it holds has seq `nextSeq`. */
  reset(nextSeq: number): void {
    this.buffer = [];
    this.bufferBytes = 0;
    this.size = 0;
    this.offsets = [];
    this.cursor = null;
    this.firstSeq = nextSeq;
    this.lastSeq = nextSeq - 1;
    ftruncateSync(this.fd, 0);
  }

  /** Closes and deletes the file. */
  remove(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    closeSync(this.fd);
    rmSync(this.file, { force: true });
  }
}
