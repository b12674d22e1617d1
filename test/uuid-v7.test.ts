import { test } from "node:test";
import assert from "node:assert/strict";
import { uuidV7 } from "../src/store/uuid-v7.js";

test("uuidV7: RFC 9562 version 7, the creation time first, so later ids sort after earlier ones", () => {
  const id = uuidV7(Date.UTC(2026, 10, 25, 12, 0, 0, 345));
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // The first 48 bits are the milliseconds.
  assert.equal(parseInt(id.replace(/-/g, "").slice(0, 12), 16), Date.UTC(2026, 10, 25, 12, 0, 0, 345));
  const ids = [0, 1, 2, 1000, 86_400_000].map((offset) => uuidV7(1_795_000_000_000 + offset));
  assert.deepEqual([...ids].sort(), ids);
  // The rest is random: many ids in one millisecond never repeat.
  const same = new Set(Array.from({ length: 10_000 }, () => uuidV7(1_795_000_000_000)));
  assert.equal(same.size, 10_000);
});

test("uuidV7: ids made in one millisecond sort in the order they were made (a job's executions, created together)", () => {
  const ms = 1_795_000_123_456;
  const ids = Array.from({ length: 2048 }, () => uuidV7(ms));
  assert.deepEqual([...ids].sort(), ids);
  const fromClock = Array.from({ length: 5000 }, () => uuidV7());
  assert.deepEqual([...fromClock].sort(), fromClock);
});
