import { performance } from "node:perf_hooks";

// Fencing, the runner's half of the lease protocol (the embedded runner's and the agent's alike):
// a runner that could not renew a lease in time ends the hook itself, one margin before the lease
// runs out by its own monotonic clock; hookd counts a lease expired only one margin after it ran
// out. So once a lease counts as expired, nothing of that attempt still runs, and a next attempt
// may start. Shared by hookd and `hookd agent`: imports nothing of the server.

/** How a fenced run's error begins; the retry rules count such a run as a lost runner. */
export const LEASE_NOT_RENEWED = "lease not renewed in time";

/**
 * The fencing margin: half the kill grace plus half a second, at most a third of the lease (so
 * renewals keep room). A runner that starts ending its hook one margin before its lease ends has
 * it gone, grace included, before the lease counts as expired one margin after its end.
 */
export function leaseMarginMs(leaseMs: number, killGraceMs: number): number {
  return Math.round(Math.min(killGraceMs / 2 + 500, leaseMs / 3));
}

/** The abort reason of a fenced hook: it ends FAILED with this message (local-hook-runner.ts). */
export class LeaseLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LeaseLost";
  }
}

/** The deadlines of the leases one runner holds, on performance.now()'s monotonic clock. */
export class LeaseFence {
  private readonly fenceAt = new Map<string, number>();

  constructor(
    private leaseMs: number,
    private marginMs: number,
  ) {}

  /** The lease length changed (an agent hears it with each run). */
  configure(leaseMs: number, marginMs: number): void {
    this.leaseMs = leaseMs;
    this.marginMs = marginMs;
  }

  /** Held from a claim asked for at `askedAt` (performance.now() before the request left). */
  held(id: string, askedAt: number): void {
    this.fenceAt.set(id, Math.max(this.fenceAt.get(id) ?? 0, askedAt + this.leaseMs - this.marginMs));
  }

  /** A renewal asked for at `askedAt` was confirmed for `ids`. */
  renewed(ids: Iterable<string>, askedAt: number): void {
    for (const id of ids) if (this.fenceAt.has(id)) this.held(id, askedAt);
  }

  forget(id: string): void {
    this.fenceAt.delete(id);
  }

  /**
   * The runs past their fence now, each once, with the reason to end them; `who` names the
   * runner in it ("hookd", "the agent").
   */
  due(who: string): { id: string; reason: LeaseLost }[] {
    const now = performance.now();
    const due: { id: string; reason: LeaseLost }[] = [];
    for (const [id, at] of this.fenceAt) {
      if (now < at) continue;
      this.fenceAt.delete(id);
      const since = ((now - at + this.leaseMs - this.marginMs) / 1000).toFixed(1);
      due.push({
        id,
        reason: new LeaseLost(`${LEASE_NOT_RENEWED}: ${who} could not renew its lease on this execution for ${since} s, so it ended the hook before another attempt could start`),
      });
    }
    return due;
  }

  /** How often to look: a twentieth of the lease, between 20 and 250 ms. */
  get checkEveryMs(): number {
    return Math.max(20, Math.min(250, Math.floor(this.leaseMs / 20)));
  }
}
