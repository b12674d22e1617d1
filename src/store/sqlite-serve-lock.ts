import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import { DomainError } from "../domain/errors.js";

interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
}

/**
 * Keeps a second `hookd serve` off an SQLite database another live process serves: two servers on
 * one file would each run the other's queued hooks and fight over its leases. A file beside the
 * database, created exclusively, names the holder (pid, hostname, start time). It is stale when
 * that pid is gone on this host (a kill -9 leaves it behind), or is our own pid taken before this
 * process started (a container restarted as pid 1). The CLI's other commands do not take it: they work beside a running server.
 */
export class SqliteServeLock {
  private constructor(
    readonly file: string,
    private readonly holder: LockHolder,
  ) {}

  static acquire(databasePath: string): SqliteServeLock {
    const file = `${databasePath}.lock`;
    const holder: LockHolder = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = openSync(file, "wx", 0o600);
        try {
          writeSync(fd, `${JSON.stringify(holder)}\n`);
        } finally {
          closeSync(fd);
        }
        return new SqliteServeLock(file, holder);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      }
      const other = readHolder(file);
      if (other && !isStale(other)) {
        throw new DomainError(
          "CONFLICT",
          `the database ${databasePath} is served by another hookd (pid ${other.pid} on ${other.hostname}, started ${other.startedAt}); ` +
            `stop that one first, or give this one its own HOOKD_DATA_DIR. If that process is gone, delete ${file}`,
        );
      }
      // Stale (or unreadable: a holder that died while writing it): take it over.
      rmSync(file, { force: true });
    }
  }

  /** Removes the lock file, unless another process took it over meanwhile. */
  release(): void {
    const current = readHolder(this.file);
    if (current && current.pid === this.holder.pid && current.hostname === this.holder.hostname && current.startedAt === this.holder.startedAt) rmSync(this.file, { force: true });
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as LockHolder;
    return Number.isInteger(parsed.pid) && typeof parsed.hostname === "string" ? parsed : null;
  } catch {
    return null;
  }
}

function isStale(holder: LockHolder): boolean {
  // Another host's process cannot be checked from here: only its owner can say it is gone.
  if (holder.hostname !== os.hostname()) return false;
  // Our own pid: taken by this very process (live), or by an earlier one that had the pid (a container's pid 1).
  if (holder.pid === process.pid) return Date.parse(holder.startedAt) < Date.now() - process.uptime() * 1000 - 1000;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    // EPERM: the pid exists (another user's process): live.
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
