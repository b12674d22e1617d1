import { randomFillSync } from "node:crypto";

const bytes = Buffer.alloc(16);
// Random bytes for 256 ids per call into the CSPRNG: each call costs more than the bytes do.
const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;
// Ids made in one millisecond count up in the 12 bits after the version (RFC 9562, 6.2 method 1),
// so rows created together (a job's executions) sort in the order they were made.
let lastMs = -1;
let counter = 0;

/**
 * A time-ordered UUID (RFC 9562 version 7: 48 bits of Unix milliseconds, then random bits), for
 * the rows hookd writes on every run (executions, audit events, jobs, publishes). Random (v4) ids
 * put every new row's primary-key and foreign-key index entries on a random b-tree page, so a
 * commit wrote one page per index per row; ids that grow with time land on the same last pages,
 * which a group commit then writes once (BENCHMARKS.md). Still a UUID to every client.
 */
export function uuidV7(now = Date.now()): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(bytes, 0, poolOffset, poolOffset + 16);
  poolOffset += 16;
  // The timestamp, big-endian, in the first six bytes (2^48 ms reaches the year 10889).
  bytes.writeUIntBE(now, 0, 6);
  if (now === lastMs && counter < 0xfff) counter++;
  else if (now !== lastMs) {
    lastMs = now;
    counter = ((bytes[6] << 8) | bytes[7]) & 0x7ff; // a random start, with room to count
  }
  bytes[6] = 0x70 | (counter >> 8); // version 7
  bytes[7] = counter & 0xff;
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
