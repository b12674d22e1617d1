// What one run may keep of its output, by hookd's log and an agent's alike: the head, and the tail
// (where scripts print their summary or traceback), the middle dropped and counted. Lines past the
// head wait here, bounded by the tail's size, until the run ends. Imports nothing of the server.

const MIB = 1024 * 1024;

export const formatBytes = (n: number) => (n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`);

/** The tail's share of the cap: a fifth, at most 2 MiB (10 MiB: 8 MiB + 2 MiB). */
export const tailBytesOf = (capBytes: number) => Math.min(2 * MIB, Math.floor(capBytes / 5));

export class OutputCap<T> {
  private readonly headCap: number;
  private readonly tailCap: number;
  private headBytes = 0;
  private headLines = 0;
  private readonly tail: { item: T; size: number }[] = [];
  private tailBytes = 0;
  /** Lines and bytes neither in the head nor in the tail. */
  droppedLines = 0;
  droppedBytes = 0;

  constructor(private readonly capBytes: number) {
    this.tailCap = tailBytesOf(capBytes);
    this.headCap = capBytes - this.tailCap;
  }

  /** True: a line of `size` bytes is in the head, to store now. False: hold() it for the tail. */
  head(size: number): boolean {
    if (this.tail.length > 0 || this.headBytes + size > this.headCap) return false;
    this.headBytes += size;
    this.headLines++;
    return true;
  }

  /** A line past the head: kept while it is among the last the tail holds (see end()). */
  hold(item: T, size: number): void {
    this.tail.push({ item, size });
    this.tailBytes += size;
    let first = 0;
    while (this.tailBytes > this.tailCap && first < this.tail.length) {
      this.tailBytes -= this.tail[first].size;
      this.droppedBytes += this.tail[first].size;
      this.droppedLines++;
      first++;
    }
    if (first > 0) this.tail.splice(0, first);
  }

  /**
   * The run ended: the system line that says what was dropped (null when nothing was), then the
   * tail's lines, in order, to store after it.
   */
  end(): { summary: string | null; tail: T[] } {
    const tail = this.tail.map((t) => t.item);
    const summary =
      this.droppedLines === 0
        ? null
        : `output cap of ${formatBytes(this.capBytes)} reached: ${this.droppedLines} lines (${formatBytes(this.droppedBytes)}) after the first ${this.headLines} were not stored; the last ${tail.length} lines (${formatBytes(this.tailBytes)}) follow; the hook kept running`;
    this.tail.length = 0;
    this.tailBytes = 0;
    return { summary, tail };
  }
}
