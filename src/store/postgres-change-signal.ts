import { randomUUID } from "node:crypto";
import pg from "pg";
import type { QueryRunner } from "typeorm";
import type { Logger } from "../logger.js";

/** The one channel. Its payload is the sender's origin id only: NOTIFY refuses 8000 bytes or more. */
export const CHANGE_CHANNEL = "hookd_changes";
/** Shown in pg_stat_activity, so an operator (and a test) can tell the listener apart. */
export const LISTENER_APPLICATION_NAME = "hookd change listener";
const MAX_RETRY_MS = 10_000;

/**
 * PostgreSQL's counterpart of SQLite's data_version: another process's commits, heard through
 * LISTEN/NOTIFY. A transaction that writes an entity some cache watches sends NOTIFY with this
 * store's origin id (delivered at its commit, never for a rollback). A serving store listens on a
 * dedicated connection (a pooled one would lose the LISTEN when released); a notification from
 * another origin, a dropped connection and a reconnect (notifications may have been missed) each
 * move one generation, and every signal function turns true once per move it has not seen.
 */
export class PostgresChangeSignal {
  readonly origin = randomUUID();
  private generation = 0;
  private client: pg.Client | null = null;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private listening: { url: string; logger: Logger } | null = null;

  /** Inside the writing transaction, so PostgreSQL sends it at the commit. */
  notify(runner: QueryRunner): Promise<unknown> {
    return runner.query("SELECT pg_notify($1, $2)", [CHANGE_CHANNEL, this.origin]);
  }

  /** True once after each change heard since the last call (never true where nothing listens). */
  signal(): () => boolean {
    let seen = this.generation;
    return () => {
      if (seen === this.generation) return false;
      seen = this.generation;
      return true;
    };
  }

  /** Resolves once the first LISTEN holds, or has failed (logged, then retried with backoff). */
  listen(url: string, logger: Logger): Promise<void> {
    this.listening = { url, logger };
    return this.connect(false);
  }

  private async connect(again: boolean): Promise<void> {
    if (this.closed || !this.listening) return;
    const client = new pg.Client({ connectionString: this.listening.url, application_name: LISTENER_APPLICATION_NAME, keepAlive: true });
    this.client = client;
    client.on("notification", (n) => {
      if (n.channel === CHANGE_CHANNEL && n.payload !== this.origin) this.generation++;
    });
    client.on("error", (err) => this.lost(client, err));
    client.on("end", () => this.lost(client, new Error("the connection ended")));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      this.lost(client, err as Error);
      return;
    }
    if (this.client !== client) return;
    this.failures = 0;
    if (again) {
      this.generation++; // what was committed while nobody listened
      this.listening.logger.info("listening again for changes made by other processes (hookd key, hookd user)");
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client || this.closed || !this.listening) return;
    this.client = null;
    this.generation++; // changes since the last notification may never arrive
    client.end().catch(() => undefined);
    const delay = Math.min(250 * 2 ** this.failures++, MAX_RETRY_MS);
    this.listening.logger.warn(
      `PostgreSQL change listener (LISTEN ${CHANGE_CHANNEL}) failed: ${err.message}; reconnecting in ${delay} ms. ` +
        "Until then changes made by other processes (hookd key revoke, hookd user disable) reach this server's caches only at reconnect",
    );
    this.retry = setTimeout(() => void this.connect(true), delay);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
