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
    let position = this.offsets[Math.floor((fromSeq - this.firstSeq) / INDEX_STRIDE)];
    const out: SpooledLine[] = [];
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let carry = "";
    let text = 0;
    while (position < this.size) {
      const n = readSync(this.fd, chunk, 0, READ_CHUNK, position);
      if (n === 0) break;
      position += n;
      const parts = (carry + chunk.toString("utf8", 0, n)).split("\n");
      carry = parts.pop()!;
      for (const part of parts) {
        const line = JSON.parse(part) as SpooledLine;
        if (line.seq < fromSeq) continue;
        if (out.length >= maxLines || (out.length > 0 && text + line.text.length > maxTextBytes)) return out;
        out.push(line);
        text += line.text.length;
      }
    }
    return out;
  }

  flush(): void {
    if (this.bufferBytes === 0 || this.closed) return;
    const data = this.buffer.join("");
    this.buffer = [];
    this.bufferBytes = 0;
    writeSync(this.fd, data);
  }

  /** Every line was acknowledged: the file is emptied; the next line it holds has seq `nextSeq`. */
  reset(nextSeq: number): void {
    this.buffer = [];
    this.bufferBytes = 0;
    this.size = 0;
    this.offsets = [];
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
