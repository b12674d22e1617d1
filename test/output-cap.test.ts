import { test } from "node:test";
import assert from "node:assert/strict";
import { OutputCap, tailBytesOf } from "../src/executor/output-cap.js";

// The output cap hookd's log and an agent both apply: the head, the tail, the middle counted.

test("past the cap the first four fifths and the last fifth are kept, and one summary says what was dropped between", () => {
  const cap = new OutputCap<number>(1000);
  const kept: number[] = [];
  for (let i = 0; i < 50; i++) cap.head(50) ? kept.push(i) : cap.hold(i, 50);
  assert.deepEqual(kept, [...Array(16).keys()], "the head: 800 bytes");
  const { summary, tail } = cap.end();
  assert.deepEqual(tail, [46, 47, 48, 49], "the tail: the last 200 bytes");
  assert.equal(summary, "output cap of 1000 bytes reached: 30 lines (1.5 KiB) after the first 16 were not stored; the last 4 lines (200 bytes) follow; the hook kept running");
  assert.deepEqual([cap.droppedLines, cap.droppedBytes], [30, 1500]);
});

test("output that fits the head and the tail loses nothing and says nothing; the tail's share is a fifth, at most 2 MiB", () => {
  const cap = new OutputCap<number>(1000);
  const kept: number[] = [];
  for (let i = 0; i < 20; i++) cap.head(50) ? kept.push(i) : cap.hold(i, 50);
  const { summary, tail } = cap.end();
  assert.deepEqual([...kept, ...tail], [...Array(20).keys()]);
  assert.equal(summary, null);
  assert.equal(tailBytesOf(10 * 1024 * 1024), 2 * 1024 * 1024);
  assert.equal(tailBytesOf(1024 * 1024 * 1024), 2 * 1024 * 1024);
});
