import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { LogSpool, type SpooledLine } from "../src/agent/agent-log-spool.js";

// The agent's on-disk spool, on a real file: what a sender reads back, batch after batch and from
// any seq, is exactly what was appended.

const line = (seq: number, text: string): SpooledLine => ({ seq, stream: seq % 3 === 0 ? "STDERR" : "STDOUT", at: new Date(1_700_000_000_000 + seq).toISOString(), text });

function withSpool(firstSeq: number, work: (spool: LogSpool) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-spool-"));
  const spool = new LogSpool(path.join(dir, "run.log.jsonl"), firstSeq);
  try {
    work(spool);
  } finally {
    spool.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("read back in batches from where the last read stopped, and from any seq, the lines are those appended", () => {
  withSpool(11, (spool) => {
    // Multi-byte text, characters JSON escapes, and a line far longer than one read of the file.
    const texts = (seq: number) => (seq === 2500 ? "é".repeat(200_000) : seq % 7 === 0 ? `tab\there "quoted" \\ ${seq} ✓` : `line ${seq} ${"x".repeat(seq % 90)}`);
    const all: SpooledLine[] = [];
    for (let seq = 11; seq <= 6010; seq++) {
      const l = line(seq, texts(seq));
      if (seq % 5 === 0) l.partial = true;
      all.push(l);
      spool.append(l);
    }
    assert.equal(statSync(spool.file).mode & 0o777, 0o600);

    // Sequential batches, as the sender takes them.
    const seen: SpooledLine[] = [];
    for (let from = 11; from <= 6010; ) {
      const batch = spool.read(from, 700, 128 * 1024);
      assert.ok(batch.length > 0, `a batch from ${from}`);
      assert.equal(batch[0].seq, from);
      seen.push(...batch);
      from = batch.at(-1)!.seq + 1;
    }
    assert.deepEqual(seen, all);

    // A resend from an earlier seq (an unacknowledged batch), then on again.
    for (const from of [11, 1010, 1011, 2499, 2500, 2501, 4321, 6010]) {
      const batch = spool.read(from, 300, 64 * 1024);
      assert.deepEqual(batch, all.slice(from - 11, from - 11 + batch.length), `from ${from}`);
      assert.ok(batch.length >= 1 && batch.length <= 300);
    }
    // The long line comes alone when it is over the text budget, but it comes.
    assert.equal(spool.read(2500, 300, 1000).length, 1);
    assert.deepEqual(spool.read(6011, 10, 1000), []);
    assert.deepEqual(spool.read(10, 10, 1000), []);
  });
});

test("after a reset the spool holds the lines appended since, from their seq", () => {
  withSpool(1, (spool) => {
    for (let seq = 1; seq <= 50; seq++) spool.append(line(seq, `a${seq}`));
    assert.equal(spool.read(1, 20, 1 << 20).length, 20);
    spool.reset(51);
    assert.deepEqual(spool.read(21, 20, 1 << 20), []);
    for (let seq = 51; seq <= 60; seq++) spool.append(line(seq, `b${seq}`));
    assert.deepEqual(
      spool.read(51, 100, 1 << 20).map((l) => l.text),
      Array.from({ length: 10 }, (_, i) => `b${51 + i}`),
    );
    assert.throws(() => spool.append(line(62, "gap")), /expected seq 61, got 62/);
  });
});
