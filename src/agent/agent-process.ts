import { readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { currentOs } from "../domain/os.js";
import { ExecaSpawner } from "../executor/execa-spawner.js";
import { LeaseFence, leaseMarginMs } from "../executor/lease-fence.js";
import { OutputCap } from "../executor/output-cap.js";
import type { Spawner } from "../executor/spawner.js";
import { LocalHookRunner, type HookSpec } from "../executor/local-hook-runner.js";
import { groupRunsExecution, killMarked } from "../executor/process-group.js";
import { killProcessGroup } from "../executor/process-runner.js";
import type { Logger } from "../logger.js";
import { HOOKD_VERSION } from "../version.js";
import { LogSpool, type SpooledLine } from "./agent-log-spool.js";
import { ensureRunsDir, readRunRecords, readState, removeRun, removeRunRecord, runsDir, spoolFile, stateFile, writeRunRecord, writeState, type AgentState, type RunRecord } from "./agent-state.js";

// `hookd agent`: runs, on another machine, the hooks hookd assigns to one execution server or
// client. It connects out (graphql-ws, authenticated by its own credential), runs what hookd
// offers it (claimed for it, up to its concurrency) with LocalHookRunner (the embedded runner's
// rules), streams the log by seq, renews its lease and reports the outcome. See
// docs/agent-protocol.md.

export interface AgentOptions {
  /** hookd's base address: http(s)://host:port (a path prefix is kept). */
  url: string;
  /** Enrolment token: needed on the first start only. */
  token?: string;
  /** When given, must be the token's name (a check that the right token went to the right machine). */
  name?: string;
  hostname: string;
  labels: string[];
  stateDir: string;
  concurrency: number;
  tempDir: string;
  killGraceMs: number;
  logger: Logger;
  /** How hooks start: hookd's spawn addon where it is built (Linux), else execa (startSpawner "auto"). */
  spawner?: Spawner;
}

const SPEC = "id hook command os input timeoutSeconds jobId publishId attempt retryOfId env leaseSeconds logCapBytes";
const ASSIGNMENTS = `subscription($hello: AgentHelloInput!) { agentAssignments(hello: $hello) { queued cancel held offered { ${SPEC} } } }`;
/** For a hookd that does not offer runs yet (no `concurrency` in the hello): ids only, the agent claims. */
const ASSIGNMENTS_IDS = `subscription($hello: AgentHelloInput!) { agentAssignments(hello: $hello) { queued cancel } }`;
const CLAIM = `mutation($id: ID!) { agentClaim(executionId: $id) { ${SPEC} } }`;
const RENEW = `mutation($ids: [ID!]!) { agentRenew(executionIds: $ids) { lost cancel } }`;
// Lines travel packed ([[seq, stream, at, text], ...]): hookd reads them without coercing typed input objects.
const LOG = `mutation($id: ID!, $packed: JSON) { agentLog(executionId: $id, packed: $packed) { acknowledged } }`;
// The outcome travels packed too (one JSON object): hookd checks it without coercing a typed input object.
const FINISH = `mutation($id: ID!, $outcome: JSON, $lastSeq: Int!, $packed: JSON) { agentFinish(executionId: $id, packedOutcome: $outcome, lastSeq: $lastSeq, packed: $packed) }`;
/** For a hookd that does not take `packedOutcome` yet. */
const FINISH_TYPED = `mutation($id: ID!, $outcome: AgentOutcomeInput!, $lastSeq: Int!, $packed: JSON) { agentFinish(executionId: $id, outcome: $outcome, lastSeq: $lastSeq, packed: $packed) }`;
// A piece of a long line that goes on in the next one carries a fifth element, true (hookd masks a secret cut between the two).
const pack = (lines: PendingLine[]) => lines.map((l) => (l.partial ? [l.seq, l.stream, l.at, l.text, true] : [l.seq, l.stream, l.at, l.text]));

/** Per agentLog call: well inside the server's 1 MiB message limit even when every byte needs escaping. */
const BATCH_LINES = 1000;
const BATCH_BYTES = 128 * 1024;
const MAX_BACKOFF_MS = 30_000;
/** Unacknowledged lines also kept in memory per run (the rest are read back from the spool on disk). */
const MEMORY_LINES = 32 * BATCH_LINES;
const MEMORY_BYTES = 32 * BATCH_BYTES;
/** A run's process group is recorded on disk once it has run this long. */
const RECORD_RUN_AFTER_MS = 50;
/** agentLog calls in flight per run. */
const PIPELINE = 3;
/** Ids of runs this process ended, kept so a `held` list read before its finish was stored never starts one again. */
const ENDED_KEPT = 4096;
/** Close codes after which reconnecting cannot help: the credential is refused. */
const FATAL_CLOSE = new Set([4400, 4401, 4403]);

interface ClaimedSpec extends HookSpec {
  leaseSeconds: number;
  logCapBytes: number;
}

export class AgentRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Exponential with full jitter, so agents cut off together do not come back together. */
export const backoffMs = (retries: number) => Math.round(Math.min(MAX_BACKOFF_MS, 500 * 2 ** retries) * (0.5 + Math.random() / 2));
const isCloseEvent = (e: unknown): e is { code: number; reason: string } => typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "number";

/** Trades the enrolment token for the agent's own credential and keeps it (first start only). */
export async function enrol(options: Pick<AgentOptions, "url" | "token" | "name" | "hostname" | "labels" | "stateDir">): Promise<AgentState> {
  const existing = readState(options.stateDir);
  if (existing) return existing;
  if (!options.token) throw new Error(`not enrolled yet (no ${stateFile(options.stateDir)}): pass --token with an enrolment token (createAgentToken, or hookd agent-token create)`);
  const res = await fetch(new URL("agent/enrol", withSlash(options.url)), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: options.token, name: options.name, hostname: options.hostname, os: currentOs(), labels: options.labels, version: HOOKD_VERSION }),
  });
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string }; agentId?: string; name?: string; kind?: "SERVER" | "CLIENT"; executionServerId?: string; credential?: string };
  if (!res.ok || !body.credential) throw new Error(`enrolment refused by ${options.url} (HTTP ${res.status}): ${body.error?.message ?? "no answer"}`);
  const state: AgentState = {
    url: options.url,
    agentId: body.agentId!,
    name: body.name!,
    kind: body.kind!,
    executionServerId: body.executionServerId!,
    credential: body.credential,
    enrolledAt: new Date().toISOString(),
  };
  writeState(options.stateDir, state);
  return state;
}

const withSlash = (url: string) => (url.endsWith("/") ? url : `${url}/`);

/** The graphql-ws address for hookd's base address: ws(s)://.../graphql. */
export const socketUrl = (url: string) => new URL("graphql", withSlash(url)).toString().replace(/^http/, "ws");

export class RemoteAgent {
  private client: Client | null = null;
  private readonly pending = new Set<string>();
  private readonly runs = new Map<string, RemoteRun>();
  /** Claims under way: they count against the concurrency, and their ids are not claimed twice. */
  private readonly claimingIds = new Set<string>();
  /** Runs this process ran, most recent last (bounded). */
  private readonly ended = new Set<string>();
  /**
   * Runs leased to this agent when this process first heard from hookd, and those its run records
   * name: a previous process held them (it may have started them), so they are reported, never run.
   * Null until the first `held` list came.
   */
  private inherited: Set<string> | null = null;
  /** Runs the previous process recorded on disk (recover() reports them). */
  private recorded = new Set<string>();
  /** hookd refused the hello's concurrency (an older hookd): connect as agents did before offers. */
  private idsOnly = false;
  /** hookd refused agentFinish's packedOutcome (an older hookd): the outcome goes as a typed input object. */
  private typedOutcome = false;
  private stopped = false;
  private leaseMs = 30_000;
  private renewTimer: NodeJS.Timeout | null = null;
  /** Fencing: a run whose lease could not be renewed in time is ended here, before hookd may hand it to another runner. */
  private readonly leases: LeaseFence;
  private fenceTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private readonly hooks: LocalHookRunner;
  private readonly spawner: Spawner;
  private fail!: (err: Error) => void;
  /** Settles when the agent stops: resolved by stop(), rejected when the credential is refused. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly state: AgentState,
    private readonly options: AgentOptions,
  ) {
    this.spawner = options.spawner ?? new ExecaSpawner();
    this.hooks = new LocalHookRunner({ spawner: this.spawner, tempDir: options.tempDir, killGraceMs: options.killGraceMs, keepTempFiles: false, warn: (m) => this.log.warn(m) });
    this.leases = new LeaseFence(this.leaseMs, leaseMarginMs(this.leaseMs, options.killGraceMs));
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.fail = reject;
    });
  }

  get log(): Logger {
    return this.options.logger;
  }

  get stateDir(): string {
    return this.options.stateDir;
  }

  /** Connects (outbound only) and keeps reconnecting until stopped. */
  start(): void {
    ensureRunsDir(this.options.stateDir);
    const leftovers = readRunRecords(this.options.stateDir, (m) => this.log.warn(m));
    this.clearRunsDir(leftovers);
    this.recorded = new Set(leftovers.map((r) => r.id));
    this.connect();
    if (leftovers.length > 0) this.recover(leftovers).catch((err) => this.log.error("could not deal with the runs the previous agent process held", err));
  }

  /** Spools and records nobody will use: left by a previous process, with no run record to go with them. */
  private clearRunsDir(keep: RunRecord[]): void {
    const wanted = new Set(keep.flatMap((r) => [`${r.id}.json`, `${r.id}.log`]));
    for (const name of readdirSync(runsDir(this.options.stateDir))) if (!wanted.has(name)) rmSync(path.join(runsDir(this.options.stateDir), name), { force: true });
  }

  /**
   * The previous agent process stopped (killed, crashed, the machine restarted) while it held
   * these runs: nobody can finish them. Their process groups are ended (only where /proc shows the
   * group still runs that execution: a recorded id may have been reused) and each is reported
   * FAILED at once, instead of hookd waiting for its lease to expire.
   */
  private async recover(records: RunRecord[]): Promise<void> {
    await Promise.all(
      records.map(async (r) => {
        const ended = r.pid !== null && (await groupRunsExecution(r.pid, r.id)) && (await killProcessGroup(r.pid, this.options.killGraceMs).catch(() => false));
        // What left the group (setsid) and outlived the watchdog too.
        killMarked(`HOOKD_EXECUTION_ID=${r.id}`);
        let settled = false;
        const error = `the agent restarted while this hook ran (its previous process was killed or crashed); the hook's outcome is unknown${ended ? "; its leftover process group was ended" : ""}`;
        const name = r.hook === "" ? "" : ` (${r.hook})`;
        for (let attempt = 0; !this.stopped; attempt++) {
          try {
            // The lines hookd holds: the outcome goes after them.
            const { agentLog } = await this.request<{ agentLog: { acknowledged: number } }>(LOG, { id: r.id, packed: [] });
            const agentFinish = await this.finish({ id: r.id, lastSeq: agentLog.acknowledged, outcome: { status: "FAILED", error } });
            this.log.warn(
              `execution ${r.id}${name} was running when the agent last stopped: ${agentFinish ? "reported FAILED" : "hookd had already ended it"}${ended ? "; its process group was ended" : ""}`,
            );
            settled = true;
            break;
          } catch (err) {
            if (err instanceof AgentRequestError && (err.code === "CONFLICT" || err.code === "NOT_FOUND")) {
              this.log.warn(`execution ${r.id}${name} was running when the agent last stopped; hookd had already ended it${ended ? "; its process group was ended" : ""}`);
              settled = true;
              break;
            }
            if (err instanceof AgentRequestError) {
              this.log.error(`execution ${r.id} was running when the agent last stopped; hookd refused the report: ${err.message}`);
              settled = true;
              break;
            }
            await sleep(backoffMs(attempt));
          }
        }
        // Kept when the agent stopped first: the next start reports it.
        if (settled && this.recorded.has(r.id)) removeRun(this.options.stateDir, r.id);
      }),
    );
  }

  private connect(): void {
    this.client = createClient({
      url: socketUrl(this.options.url),
      webSocketImpl: WebSocket,
      connectionParams: { agentCredential: this.state.credential },
      lazy: false,
      keepAlive: 10_000,
      retryAttempts: Number.MAX_SAFE_INTEGER,
      retryWait: (retries) => sleep(backoffMs(retries)),
      shouldRetry: (e) => !(isCloseEvent(e) && FATAL_CLOSE.has(e.code)) && !this.stopped,
      on: {
        connected: () => this.log.info(`connected to ${this.options.url} as ${this.state.kind} agent ${this.state.name}`),
        closed: (e) => {
          if (this.stopped) return;
          const why = isCloseEvent(e) ? `${e.code}${e.reason ? ` ${e.reason}` : ""}` : "closed";
          if (isCloseEvent(e) && FATAL_CLOSE.has(e.code))
            this.fatal(new Error(`hookd refused the agent's credential (${why}); enrol again: remove ${stateFile(this.options.stateDir)} and pass a new --token`));
          else this.log.warn(`disconnected from hookd (${why}); reconnecting`);
        },
      },
    });
    this.subscribeAssignments();
  }

  /** Ends what runs (recorded CANCELLED where hookd can be told), then disconnects. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    for (const run of this.runs.values()) run.controller.abort(new Error("the agent stopped"));
    await Promise.race([Promise.allSettled([...this.runs.values()].map((r) => r.finished)), sleep(5000)]);
    this.stopped = true;
    this.stopTimers();
    await this.client?.dispose();
    this.hooks.close();
    await this.spawner.destroy();
    this.resolveDone();
  }

  private stopTimers(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.fenceTimer) clearInterval(this.fenceTimer);
  }

  /** True once hookd refused the credential: nothing more can be reported. */
  refused = false;

  /** The credential was refused (revoked): end the hooks (their groups, with the kill grace), then stop. */
  private fatal(err: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.refused = true;
    this.stopTimers();
    for (const run of this.runs.values()) run.controller.abort(err);
    void Promise.race([Promise.allSettled([...this.runs.values()].map((r) => r.finished)), sleep(this.options.killGraceMs + 5000)]).then(async () => {
      await this.client?.dispose();
      this.hooks.close();
      await this.spawner.destroy().catch(() => undefined);
      this.fail(err);
    });
  }

  private subscribeAssignments(): void {
    // With its concurrency, hookd claims runs for this agent and sends their snapshots (no agentClaim round trip).
    const hello = { hostname: this.options.hostname, os: currentOs(), labels: this.options.labels, version: HOOKD_VERSION, ...(this.idsOnly ? {} : { concurrency: this.options.concurrency }) };
    this.client!.subscribe<{ agentAssignments: { queued: string[]; cancel: string[]; held?: string[] | null; offered?: ClaimedSpec[] } }>(
      { query: this.idsOnly ? ASSIGNMENTS_IDS : ASSIGNMENTS, variables: { hello } },
      {
        next: (result) => {
          if (result.errors) return this.fatal(new Error(`hookd refused the agent's connection: ${result.errors.map((e) => e.message).join("; ")}`));
          const a = result.data!.agentAssignments;
          for (const id of a.cancel) {
            this.pending.delete(id);
            this.runs.get(id)?.controller.abort(new Error("cancelled"));
          }
          // A run both held and offered (claimed while the list was read) is an offer: it runs.
          const offered = new Set((a.offered ?? []).map((spec) => spec.id));
          if (a.held) this.reconcile(a.held.filter((id) => !offered.has(id)));
          // Claimed for this agent within its concurrency: run at once. The lease began before the
          // offer left hookd; the margin covers its way here.
          const receivedAt = performance.now();
          for (const spec of a.offered ?? []) {
            this.pending.delete(spec.id);
            if (!this.runs.has(spec.id) && !this.ended.has(spec.id) && !this.inherited?.has(spec.id)) this.execute(spec, receivedAt);
          }
          // An id may be offered twice (a notice and the list on connect): claim it once.
          for (const id of a.queued) if (!this.runs.has(id) && !this.claimingIds.has(id)) this.pending.add(id);
          this.pump();
        },
        error: (err) => {
          if (Array.isArray(err) && !this.idsOnly && err.some((e: { message: string }) => /concurrency|"(held|offered)"/.test(e.message))) {
            this.idsOnly = true;
            this.log.warn("hookd does not offer runs with the assignment (an older hookd): claiming each run");
            return this.subscribeAssignments();
          }
          if (Array.isArray(err)) return this.fatal(new Error(`hookd refused the agent's connection: ${err.map((e: { message: string }) => e.message).join("; ")}`));
          if (!this.stopped) this.log.warn(`assignment stream ended: ${isCloseEvent(err) ? err.code : String(err)}`);
        },
        // hookd completes the stream only when it stops; listen again on the next connection.
        complete: () => {
          if (!this.stopped) setTimeout(() => !this.stopped && this.subscribeAssignments(), backoffMs(0));
        },
      },
    );
  }

  /** agentFinish with the outcome packed, or typed for a hookd that does not take it packed. */
  async finish(variables: { id: string; lastSeq: number; outcome: Record<string, unknown>; packed?: unknown[] }): Promise<boolean> {
    if (!this.typedOutcome) {
      try {
        return (await this.request<{ agentFinish: boolean }>(FINISH, variables)).agentFinish;
      } catch (err) {
        if (!(err instanceof AgentRequestError && err.code === "GRAPHQL_VALIDATION_FAILED" && /packedOutcome/.test(err.message))) throw err;
        this.typedOutcome = true;
        this.log.warn("hookd does not take agentFinish's packedOutcome (an older hookd): sending the outcome typed");
      }
    }
    return (await this.request<{ agentFinish: boolean }>(FINISH_TYPED, variables)).agentFinish;
  }

  /** One operation over the socket; it waits out a reconnect (graphql-ws sends it again then). */
  request<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let data: T | undefined;
      this.client!.subscribe<T>(
        { query, variables },
        {
          next: (result) => {
            if (result.errors?.length) {
              const e = result.errors[0] as { message: string; extensions?: { code?: string } };
              reject(new AgentRequestError(e.extensions?.code ?? "INTERNAL", e.message));
            } else data = result.data as T;
          },
          error: (err) => {
            if (Array.isArray(err)) {
              const e = err[0] as { message: string; extensions?: { code?: string } };
              reject(new AgentRequestError(e.extensions?.code ?? "GRAPHQL_VALIDATION_FAILED", e.message));
            } else reject(err instanceof Error ? err : new Error(isCloseEvent(err) ? `socket closed (${err.code})` : String(err)));
          },
          complete: () => (data === undefined ? reject(new Error("no answer")) : resolve(data)),
        },
      );
    });
  }

  /**
   * The runs hookd says this agent holds, on each connection. The first list this process hears
   * names what a previous process held: it may have started them before it stopped, so each is
   * reported FAILED (as the run records are), never run again. Later, a held run this process
   * does not know is an offer cut off with its socket: claimed again (the same snapshot) and run.
   */
  private reconcile(held: string[]): void {
    if (this.inherited === null) {
      this.inherited = new Set(held);
      for (const id of this.recorded) this.inherited.add(id);
      const unrecorded = held.filter((id) => !this.recorded.has(id));
      if (unrecorded.length > 0)
        this.recover(unrecorded.map((id) => ({ id, hook: "", pid: null, claimedAt: "" }))).catch((err) => this.log.error("could not report the runs the previous agent process held", err));
      return;
    }
    for (const id of held) {
      if (this.runs.has(id) || this.claimingIds.has(id) || this.ended.has(id) || this.inherited.has(id)) continue;
      this.pending.delete(id);
      this.claim(id);
    }
  }

  private claim(id: string): void {
    this.claimingIds.add(id);
    const askedAt = performance.now();
    this.request<{ agentClaim: ClaimedSpec | null }>(CLAIM, { id })
      .then((r) => {
        if (r.agentClaim && !this.runs.has(id)) this.execute(r.agentClaim, askedAt);
      })
      .catch((err) => this.log.warn(`could not claim execution ${id}: ${(err as Error).message}`))
      .finally(() => {
        this.claimingIds.delete(id);
        this.pump();
      });
  }

  private pump(): void {
    while (!this.stopped && this.runs.size + this.claimingIds.size < this.options.concurrency && this.pending.size > 0) {
      const id = this.pending.values().next().value as string;
      this.pending.delete(id);
      this.claim(id);
    }
  }

  /** `heldSince`: performance.now() when the claim was asked for (or the offer arrived). */
  private execute(spec: ClaimedSpec, heldSince: number): void {
    const run = new RemoteRun(this, spec);
    this.runs.set(spec.id, run);
    this.leaseMs = spec.leaseSeconds * 1000;
    this.leases.configure(this.leaseMs, leaseMarginMs(this.leaseMs, this.options.killGraceMs));
    this.leases.held(spec.id, heldSince);
    this.renewTimer ??= setInterval(() => void this.renew(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.fenceTimer ??= setInterval(() => this.fence(), this.leases.checkEveryMs);
    this.log.info(`running ${spec.hook} (execution ${spec.id})`);
    run.finished = run
      .go(this.hooks)
      .catch((err) => this.log.error(`execution ${spec.id} could not be run`, err))
      .finally(() => {
        this.runs.delete(spec.id);
        this.leases.forget(spec.id);
        this.ended.add(spec.id);
        if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.values().next().value as string);
        this.pump();
      });
  }

  /** Fencing: ends each run whose lease this agent could not renew in time (see lease-fence.ts). */
  private fence(): void {
    for (const { id, reason } of this.leases.due("the agent")) {
      const run = this.runs.get(id);
      if (!run) continue;
      this.log.warn(`execution ${id}: ${reason.message}`);
      run.controller.abort(reason);
    }
  }

  /** Renews every lease held; hookd's answer says what was lost or cancelled meanwhile. */
  private async renew(): Promise<void> {
    if (this.runs.size === 0 || this.renewing || this.stopped) return;
    this.renewing = true;
    const askedAt = performance.now();
    const ids = [...this.runs.keys()];
    try {
      const { agentRenew } = await this.request<{ agentRenew: { lost: string[]; cancel: string[] } }>(RENEW, { ids });
      this.leases.renewed(
        ids.filter((id) => !agentRenew.lost.includes(id)),
        askedAt,
      );
      for (const id of agentRenew.lost) this.runs.get(id)?.lose();
      for (const id of agentRenew.cancel) this.runs.get(id)?.controller.abort(new Error("cancelled"));
    } catch (err) {
      this.log.warn(`could not renew leases: ${(err as Error).message}`);
    } finally {
      this.renewing = false;
    }
  }
}

type PendingLine = SpooledLine;

/** One claimed execution on the agent: its process, its unacknowledged log lines, its end. */
class RemoteRun {
  readonly controller = new AbortController();
  finished: Promise<void> = Promise.resolve();
  /**
   * Unacknowledged lines: the first ones in memory (seq ascending from acked + 1, bounded by
   * MEMORY_LINES/BYTES), the rest, once memory is full, in the spool on disk (made when first needed).
   */
  private lines: PendingLine[] = [];
  private memoryBytes = 0;
  private spool: LogSpool | null = null;
  /** Lines go to the spool until the sender has caught up with all of them. */
  private spilled = false;
  /** The last seq hookd acknowledged. */
  private acked = 0;
  /** The last seq sent (acknowledged or in flight), and the agentLog calls in flight. */
  private sent = 0;
  private readonly inflight = new Set<Promise<void>>();
  private seq = 0;
  /** The head and the tail of the output are kept, the middle counted (output-cap.ts). */
  private readonly cap: OutputCap<{ stream: "STDOUT" | "STDERR"; text: string; at: Date; partial: boolean }>;
  private sealed = false;
  private lost = false;
  private wake: (() => void) | null = null;
  private recordTimer: NodeJS.Timeout | undefined;
  private recorded = false;

  constructor(
    private readonly agent: RemoteAgent,
    private readonly spec: ClaimedSpec,
  ) {
    this.cap = new OutputCap(spec.logCapBytes);
  }

  /** hookd no longer counts this run as the agent's: end it and report nothing. */
  lose(): void {
    if (this.lost) return;
    this.lost = true;
    this.controller.abort(new Error("lease lost"));
    this.agent.log.warn(`execution ${this.spec.id}: hookd says this agent no longer holds it; ended, outcome not reported`);
    this.notify();
  }

  async go(hooks: LocalHookRunner): Promise<void> {
    try {
      await this.runAndReport(hooks);
    } finally {
      clearTimeout(this.recordTimer);
      this.spool?.remove();
      // Kept when the credential was refused mid-run: nothing could be reported, and the next start says so.
      if (this.recorded && (!this.agent.refused || this.lost)) removeRunRecord(this.agent.stateDir, this.spec.id);
    }
  }

  private async runAndReport(hooks: LocalHookRunner): Promise<void> {
    const sending = this.send();
    const outcome = await hooks.run(this.spec, {
      signal: this.controller.signal,
      onLine: (stream, text, at, partial) => this.output(stream, text, at, partial),
      // Its process group, kept on disk: a restarted agent ends it and reports what this process
      // could not. Once the hook has run for a moment, as the embedded runner does: most are done
      // sooner (two file operations fewer per run); a crash in that moment is still failed by hookd.
      onStart: (pid) => {
        const claimedAt = new Date().toISOString();
        this.recordTimer = setTimeout(() => {
          try {
            writeRunRecord(this.agent.stateDir, { id: this.spec.id, hook: this.spec.hook, pid, claimedAt });
            this.recorded = true;
          } catch (err) {
            this.agent.log.warn(`execution ${this.spec.id}: could not record its process group in ${this.agent.stateDir}: ${(err as Error).message}`);
          }
        }, RECORD_RUN_AFTER_MS);
      },
      onExit: () => clearTimeout(this.recordTimer),
    });
    const { summary, tail } = this.cap.end();
    if (summary) this.push("SYSTEM", summary, new Date());
    for (const l of tail) this.push(l.stream, l.text, l.at, l.partial);
    this.sealed = true;
    this.notify();
    await sending;
    for (let attempt = 0; !this.lost && !this.agent.refused; attempt++) {
      try {
        const vars = {
          id: this.spec.id,
          lastSeq: this.seq,
          // What send() left: the last lines, all in memory, within one batch.
          packed: pack(this.lines.filter((l) => l.seq > this.acked)),
          outcome: {
            status: outcome.status,
            exitCode: outcome.exitCode ?? null,
            signal: outcome.signal ?? null,
            error: outcome.error ?? null,
            output: outcome.output ?? null,
            droppedBytes: this.cap.droppedBytes,
          },
        };
        const agentFinish = await this.agent.finish(vars);
        if (!agentFinish) this.agent.log.warn(`execution ${this.spec.id}: hookd had already ended it; this outcome (${outcome.status}) was not stored`);
        else this.agent.log.info(`finished ${this.spec.hook} (execution ${this.spec.id}): ${outcome.status}`);
        return;
      } catch (err) {
        if (err instanceof AgentRequestError && (err.code === "CONFLICT" || err.code === "NOT_FOUND")) {
          this.lost = true;
          this.agent.log.warn(`execution ${this.spec.id}: ${err.message}`);
          return;
        }
        await sleep(backoffMs(attempt));
      }
    }
  }

  private output(stream: "stdout" | "stderr", text: string, at: Date, partial: boolean): void {
    const kind = stream === "stdout" ? "STDOUT" : "STDERR";
    const size = Buffer.byteLength(text) + 1;
    if (this.cap.head(size)) this.push(kind, text, at, partial);
    else this.cap.hold({ stream: kind, text, at, partial }, size);
  }

  private push(stream: PendingLine["stream"], text: string, at: Date, partial = false): void {
    const line: PendingLine = { seq: ++this.seq, stream, at: at.toISOString(), text, ...(partial ? { partial: true } : {}) };
    if (!this.spilled && this.lines.length < MEMORY_LINES && this.memoryBytes < MEMORY_BYTES) {
      this.lines.push(line);
      this.memoryBytes += text.length;
    } else {
      if (!this.spilled) {
        if (this.spool) this.spool.reset(line.seq);
        else this.spool = new LogSpool(spoolFile(this.agent.stateDir, this.spec.id), line.seq);
      }
      this.spilled = true;
      this.spool!.append(line);
    }
    // A full batch waits and there is room for another call in flight.
    if (this.seq - this.sent >= BATCH_LINES && this.inflight.size < PIPELINE) this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Every unacknowledged line is in memory and within one batch: agentFinish carries them. */
  private tailFitsFinish(): boolean {
    if (this.spilled || this.lines.length > BATCH_LINES) return false;
    let bytes = 0;
    for (const l of this.lines) bytes += l.text.length;
    return bytes <= BATCH_BYTES;
  }

  /** Lines from `from`, one batch: from memory when it holds them, else read back from the spool. */
  private nextBatch(from: number): PendingLine[] {
    const first = this.lines[0]?.seq;
    if (first !== undefined && from >= first && from <= this.lines.at(-1)!.seq) {
      const batch: PendingLine[] = [];
      let bytes = 0;
      for (let i = from - first; i < this.lines.length; i++) {
        const l = this.lines[i];
        if (batch.length >= BATCH_LINES || (batch.length > 0 && bytes + l.text.length > BATCH_BYTES)) break;
        batch.push(l);
        bytes += l.text.length;
      }
      return batch;
    }
    const batch = this.spool?.read(from, BATCH_LINES, BATCH_BYTES) ?? [];
    if (batch.length === 0) throw new Error(`line ${from} is neither in memory nor in the spool (a bug: please report it)`);
    return batch;
  }

  /** hookd holds 1..acked: drop those from memory; once the spool's tail is sent, memory takes lines again. */
  private acknowledge(acked: number): void {
    if (acked <= this.acked) return;
    this.acked = acked;
    let drop = 0;
    while (drop < this.lines.length && this.lines[drop].seq <= acked) this.memoryBytes -= this.lines[drop++].text.length;
    if (drop > 0) this.lines = this.lines.slice(drop);
    if (this.spilled && this.lines.length === 0 && this.acked === this.seq) {
      this.spilled = false;
      this.spool!.reset(this.seq + 1);
    }
  }

  /**
   * Sends the lines in batches until every one is acknowledged, up to PIPELINE batches in flight
   * (hookd stores one while the next travels). hookd answers each with the last seq it holds;
   * a batch it did not store (it came before the one it continues, or a call failed) is sent
   * again from there. hookd ignores lines it already has, so a resend stores nothing twice.
   */
  private async send(): Promise<void> {
    const inflight = this.inflight;
    this.sent = this.acked;
    let failures = 0;
    /** A call failed: nothing new is sent until the calls in flight have settled and the backoff passed. */
    let pausedUntil = 0;
    while (!this.lost && !this.agent.refused) {
      if (this.sent < this.acked) this.sent = this.acked;
      // Sealed with the rest in memory and within one batch: agentFinish carries it.
      const done = this.acked >= this.seq || (this.sealed && inflight.size === 0 && this.sent === this.acked && this.tailFitsFinish());
      if (done && inflight.size === 0) {
        if (this.sealed) return;
      } else if (this.sent < this.seq && inflight.size < PIPELINE && Date.now() >= pausedUntil && !done) {
        let batch: PendingLine[];
        try {
          batch = this.nextBatch(this.sent + 1);
        } catch (err) {
          this.agent.log.error(`execution ${this.spec.id}: ${(err as Error).message}`);
          await sleep(backoffMs(failures++));
          continue;
        }
        const end = batch.at(-1)!.seq;
        this.sent = end;
        const call: Promise<void> = this.agent
          .request<{ agentLog: { acknowledged: number } }>(LOG, { id: this.spec.id, packed: pack(batch) })
          .then(
            ({ agentLog }) => {
              this.acknowledge(agentLog.acknowledged);
              failures = 0;
              if (agentLog.acknowledged < end) this.sent = Math.min(this.sent, this.acked);
            },
            (err) => {
              if (err instanceof AgentRequestError && (err.code === "CONFLICT" || err.code === "NOT_FOUND")) return this.lose();
              this.agent.log.warn(`execution ${this.spec.id}: could not send log lines: ${(err as Error).message}`);
              this.sent = Math.min(this.sent, this.acked);
              pausedUntil = Date.now() + backoffMs(failures++);
            },
          )
          .finally(() => {
            inflight.delete(call);
            this.notify();
          });
        inflight.add(call);
        continue;
      }
      // Wait for an answer, new lines, the end of a pause, or (at most) 50 ms.
      await new Promise<void>((r) => {
        this.wake = r;
        const pause = pausedUntil - Date.now();
        setTimeout(r, pause > 0 ? Math.min(50, pause) : 50);
      });
    }
    await Promise.allSettled([...inflight]);
  }
}

/** The agent's defaults for this machine. */
export const defaultHostname = () => os.hostname();
