import { ExecutionLogLine } from "../entities/execution-log-line.entity.js";
import { Execution, isFinished } from "../entities/execution.entity.js";
import type { Store } from "../store/store.js";
import type { LogLineEvent, PubSub, Unsubscribe } from "./pubsub.js";

/** One event of the executionLog subscription: a batch of lines, or the final outcome. */
export interface ExecutionLogChunk {
  lines: LogLineEvent[];
  /** Set on the last event only: the finished execution. */
  finished: Execution | null;
}

export interface ExecutionLogStreamOptions {
  /** Live lines held for a reader that has not taken them yet; past this it catches up from the store. */
  maxBufferedBytes?: number;
  /** Lines per event when replaying from the store. */
  pageSize?: number;
  /** Checks the subscriber may still read this log; throws (FORBIDDEN, UNAUTHENTICATED) when not. */
  authorize?: () => Promise<void>;
  /**
   * With a broker (several instances), events can be lost on the way: a reader that heard nothing
   * for this long looks at the store again. Default: 2 s with a distributed pub/sub, never without.
   */
  catchUpMs?: number;
}

/**
 * Cuts `rows` (seq ascending, all > after) to the unbroken run after+1, after+2, ... While a run
 * writes, a later batch can commit before an earlier one (write lanes on PostgreSQL); a reader that
 * went on from past the hole would never see the earlier lines.
 */
export function unbrokenAfter<T extends { seq: number }>(after: number, rows: T[]): T[] {
  let n = 0;
  while (n < rows.length && rows[n].seq === after + 1 + n) n++;
  rows.length = n;
  return rows;
}

/**
 * The executionLog subscription as an async iterator: replays stored lines with seq > after, then
 * continues live, with no gap and no duplicate at the seam, and ends with the outcome.
 *
 * Live lines arrive through the pub/sub after they were stored. They are buffered up to a byte
 * budget; a reader that falls further behind (a slow or stalled socket: graphql-ws only pulls the
 * next event once the previous one was written) loses its buffer and is caught up from the store
 * instead, so memory per subscriber stays bounded and nothing is lost. Written by hand rather than
 * as an async generator so that return() ends it at once even while it waits for lines.
 */
export class ExecutionLogStream implements AsyncIterableIterator<ExecutionLogChunk> {
  private lastSeq: number;
  private live: LogLineEvent[] = [];
  private liveBytes = 0;
  /** The buffer overflowed: the store is the source until the reader has caught up. */
  private behind = false;
  private finishedSeen = false;
  /** Access rules changed since the last check. */
  private recheck = false;
  private done = false;
  private wake: (() => void) | null = null;
  /** An event came while next() was not sleeping (it was reading the store): the next sleep returns at once. */
  private poked = false;
  private readonly unsubscribe: Unsubscribe[];
  private readonly maxBufferedBytes: number;
  private readonly pageSize: number;
  private readonly catchUpMs: number | undefined;
  /** The first read waits until the broker confirmed the subscriptions (PubSub.ready). */
  private subscribed: Promise<void> | null;

  constructor(
    private readonly store: Store,
    pubsub: PubSub,
    private readonly executionId: string,
    after: number,
    private readonly options: ExecutionLogStreamOptions = {},
  ) {
    this.lastSeq = after;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.pageSize = options.pageSize ?? 1000;
    this.catchUpMs = options.catchUpMs ?? (pubsub.distributed ? 2000 : undefined);
    // Listen before the first read of the store, so nothing published in between is missed.
    this.unsubscribe = [
      pubsub.subscribe("executionLog", executionId, (batch) => this.onLines(batch)),
      pubsub.subscribe("accessChanged", "*", () => {
        this.recheck = true;
        this.poke();
      }),
      pubsub.subscribe("executionUpdated", executionId, (event) => {
        if (isFinished(event.status)) {
          this.finishedSeen = true;
          this.poke();
        }
      }),
    ];
    // Starts in catch-up mode: the stored lines come first.
    this.behind = true;
    this.subscribed = pubsub.ready();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ExecutionLogChunk>> {
    if (this.subscribed) {
      await this.subscribed;
      this.subscribed = null;
    }
    while (!this.done) {
      if (this.recheck && this.options.authorize) {
        this.recheck = false;
        try {
          await this.options.authorize();
        } catch (err) {
          // Taken away while open (audit roles changed, key revoked): end with the reason.
          this.close();
          throw err;
        }
      }
      if (this.behind) {
        // Buffer live lines again from now on; anything also read from the store is deduplicated by seq.
        this.behind = false;
        const lines = await this.readStored();
        if (lines.length > 0) {
          this.behind = true; // there may be more stored
          return this.emit(lines);
        }
      }
      if (this.live.length > 0) {
        const lines = this.live.filter((l) => l.seq > this.lastSeq);
        this.live = [];
        this.liveBytes = 0;
        if (lines.length > 0 && lines[0].seq !== this.lastSeq + 1) {
          // Lines are numbered without holes: a gap means events were missed (a broker in between). The store has them.
          this.behind = true;
          continue;
        }
        if (lines.length > 0) return this.emit(lines);
        continue;
      }
      if (this.finishedSeen || (await this.finishedInStore())) {
        // A last look at the store: with a broker between, a line could arrive after the status.
        // Every write of a finished run has committed, so what is stored is the whole log.
        const lines = await this.readStored(false);
        if (lines.length > 0) return this.emit(lines);
        const finished = await this.store.manager.findOneBy(Execution, { id: this.executionId });
        this.close();
        return { done: false, value: { lines: [], finished } };
      }
      await this.sleep();
    }
    return { done: true, value: undefined };
  }

  /** Until an event pokes; with a broker, at most catchUpMs, then the store is asked again (lines and status). */
  private async sleep(): Promise<void> {
    if (this.poked) {
      this.poked = false;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (this.catchUpMs !== undefined)
        timer = setTimeout(() => {
          this.behind = true;
          this.checkedStore = false;
          resolve();
        }, this.catchUpMs);
    });
    clearTimeout(timer);
    this.wake = null;
  }

  async return(): Promise<IteratorResult<ExecutionLogChunk>> {
    this.close();
    return { done: true, value: undefined };
  }

  private checkedStore = false;
  /** The status in the store, read once: a subscription to a finished execution replays and completes. */
  private async finishedInStore(): Promise<boolean> {
    if (this.checkedStore) return false;
    this.checkedStore = true;
    const row = await this.store.manager.findOne(Execution, { where: { id: this.executionId }, select: { id: true, status: true } });
    if (row && isFinished(row.status)) this.finishedSeen = true;
    return this.finishedSeen;
  }

  private onLines(batch: LogLineEvent[]): void {
    if (this.done || this.behind) return;
    let bytes = 0;
    for (const line of batch) bytes += line.text.length + 32;
    if (this.liveBytes + bytes > this.maxBufferedBytes) {
      // Too far behind: drop the buffer; the store has every line.
      this.live = [];
      this.liveBytes = 0;
      this.behind = true;
    } else {
      this.live.push(...batch);
      this.liveBytes += bytes;
    }
    this.poke();
  }

  /** Stored lines after the last one emitted; while the run writes, only the unbroken run (the rest arrives live once stored). */
  private async readStored(contiguous = true): Promise<LogLineEvent[]> {
    const rows = await this.store.manager
      .createQueryBuilder(ExecutionLogLine, "l")
      .select(["l.seq", "l.stream", "l.at", "l.text"])
      .where("l.executionId = :id AND l.seq > :after", { id: this.executionId, after: this.lastSeq })
      .orderBy("l.seq", "ASC")
      .take(this.pageSize)
      .getMany();
    if (contiguous) unbrokenAfter(this.lastSeq, rows);
    return rows.map((r) => ({ executionId: this.executionId, seq: r.seq, stream: r.stream, at: r.at, text: r.text }));
  }

  private emit(lines: LogLineEvent[]): IteratorResult<ExecutionLogChunk> {
    this.lastSeq = lines[lines.length - 1].seq;
    return { done: false, value: { lines, finished: null } };
  }

  private poke(): void {
    if (this.wake) this.wake();
    else this.poked = true;
  }

  private close(): void {
    if (this.done) return;
    this.done = true;
    for (const off of this.unsubscribe) off();
    this.live = [];
    this.poke();
  }
}
