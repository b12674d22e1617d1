import { In, IsNull, Not } from "typeorm";
import { badInput, conflict, DomainError } from "../domain/errors.js";
import { Agent } from "../entities/agent.entity.js";
import { ExecutionLogLine, LogStream } from "../entities/execution-log-line.entity.js";
import { ExecutionServer } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import { type ExecutionLifecycle, RemoteRunLog, type Renewal, type RunOutcome } from "../executor/execution-lifecycle.service.js";
import type { ExecutionQueue, RunnerListener } from "../executor/execution-queue.js";
import { maskPiece, maskSecrets } from "../executor/execution-log.js";
import type { HookSpec } from "../executor/local-hook-runner.js";
import type { Logger } from "../logger.js";
import type { LogLineEvent, PubSub } from "../pubsub/pubsub.js";
import { type Store } from "../store/store.js";
import { checkHello, type AgentHello } from "./agent-enrolment.service.js";

/** The runner id an agent holds leases as. */
export const agentRunnerId = (agent: Pick<Agent, "id">) => `agent:${agent.id}`;

/** Lines one agentLog call may carry (the socket's message limit bounds the bytes). */
export const MAX_LOG_BATCH = 5000;
/** QUEUED ids sent to an agent when it connects, oldest first; more come by the next notices. */
const QUEUED_ON_CONNECT = 1000;
const LAST_SEEN_RESOLUTION_MS = 10_000;
/** How often connected agents are looked up for a revoke another process (`hookd agent revoke`) stored. */
const REVOCATION_CHECK_MS = 1000;

export interface AgentGatewayOptions {
  leaseMs: number;
  logCapBytes: number;
  /** The secrets a hook asks for, and every value to mask in what agents send. */
  secrets: { envFor(names: readonly string[] | undefined): Promise<Record<string, string> | null>; maskList(): Promise<string[]> };
}

/** Runs one offer-taking agent may hold at once (its hello's `concurrency`). */
const MAX_AGENT_CONCURRENCY = 256;

/**
 * What an agent hears over its assignment stream: work to claim and runs to end (ids), runs
 * hookd claimed for it (snapshots), and, first on each connection of an offer-taking agent, the
 * runs leased to it.
 */
export interface Assignment {
  queued: string[];
  cancel: string[];
  offered?: AgentHookSpec[];
  /** Only in the first event of an offer-taking agent's connection. */
  held?: string[] | null;
}

/** What an agent needs to run a claimed execution: the snapshot LocalHookRunner takes, plus its limits. */
export interface AgentHookSpec extends HookSpec {
  attempt: number;
  retryOfId: string | null;
  env: Record<string, string> | null;
  leaseSeconds: number;
  logCapBytes: number;
}

export interface AgentLogLine {
  seq: number;
  stream: LogStream;
  at: Date;
  text: string;
  /** A piece of a line too long for one row (or a last line without a newline): the line goes on in the next piece of its stream. */
  partial?: boolean | null;
}

export interface AgentOutcome {
  status: ExecutionStatus;
  exitCode?: number | null;
  signal?: string | null;
  error?: string | null;
  output?: JsonObject | null;
  droppedBytes?: number | null;
}

const STREAMS = new Set<string>(Object.values(LogStream));

const FINAL: ExecutionStatus[] = [ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.CANCELLED];
const OUTCOME_FIELDS = new Set(["status", "exitCode", "signal", "error", "output", "droppedBytes"]);
const INT_MAX = 2 ** 31 - 1;

/**
 * An outcome in the packed form agents send (one JSON object with AgentOutcomeInput's fields),
 * checked field by field as GraphQL would: BAD_USER_INPUT naming the first wrong one.
 */
export function unpackOutcome(packed: unknown): AgentOutcome {
  if (packed === null || typeof packed !== "object" || Array.isArray(packed)) throw badInput("packedOutcome", "must be an object { status, exitCode, signal, error, output, droppedBytes }");
  const o = packed as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!OUTCOME_FIELDS.has(key)) throw badInput(`packedOutcome.${key}`, `is not a field of an outcome (${[...OUTCOME_FIELDS].join(", ")})`);
  const { status, exitCode, signal, error, output, droppedBytes } = o;
  if (typeof status !== "string" || !FINAL.includes(status as ExecutionStatus)) throw badInput("packedOutcome.status", `must be one of ${FINAL.join(", ")} (got ${JSON.stringify(status)})`);
  const wholeOrNull = (name: string, v: unknown, min: number) => {
    if (v != null && (!Number.isInteger(v) || (v as number) < min || (v as number) > INT_MAX))
      throw badInput(`packedOutcome.${name}`, `must be a whole number from ${min} to ${INT_MAX}, or null (got ${JSON.stringify(v)})`);
  };
  const textOrNull = (name: string, v: unknown) => {
    if (v != null && typeof v !== "string") throw badInput(`packedOutcome.${name}`, `must be a string or null (got ${JSON.stringify(v)})`);
  };
  wholeOrNull("exitCode", exitCode, -(2 ** 31));
  textOrNull("signal", signal);
  textOrNull("error", error);
  if (output != null && (typeof output !== "object" || Array.isArray(output))) throw badInput("packedOutcome.output", `must be a JSON object or null (got ${JSON.stringify(output).slice(0, 40)})`);
  wholeOrNull("droppedBytes", droppedBytes, 0);
  return {
    status: status as ExecutionStatus,
    exitCode: (exitCode ?? null) as number | null,
    signal: (signal ?? null) as string | null,
    error: (error ?? null) as string | null,
    output: (output ?? null) as JsonObject | null,
    droppedBytes: (droppedBytes ?? null) as number | null,
  };
}

/** Lines in the packed form agents send: [[seq, stream, at, text, partial?], ...]; BAD_USER_INPUT naming the first wrong field. */
export function unpackLines(packed: unknown): AgentLogLine[] {
  if (!Array.isArray(packed)) throw badInput("packed", "must be a list of [seq, stream, at, text]");
  if (packed.length > MAX_LOG_BATCH) throw badInput("packed", `at most ${MAX_LOG_BATCH} lines per call (got ${packed.length})`);
  return packed.map((l: unknown, i) => {
    if (!Array.isArray(l) || (l.length !== 4 && l.length !== 5)) throw badInput(`packed[${i}]`, "must be [seq, stream, at, text] or [seq, stream, at, text, true] (a piece of a line that goes on)");
    const [seq, stream, at, text, partial] = l as unknown[];
    if (!Number.isInteger(seq) || (seq as number) < 1) throw badInput(`packed[${i}][0]`, `seq must be a whole number >= 1 (got ${JSON.stringify(seq)})`);
    if (typeof stream !== "string" || !STREAMS.has(stream)) throw badInput(`packed[${i}][1]`, `stream must be STDOUT, STDERR or SYSTEM (got ${JSON.stringify(stream)})`);
    const date = typeof at === "string" ? new Date(at) : null;
    if (!date || Number.isNaN(date.getTime())) throw badInput(`packed[${i}][2]`, `at must be an ISO 8601 time (got ${JSON.stringify(at)})`);
    if (typeof text !== "string") throw badInput(`packed[${i}][3]`, "text must be a string");
    if (partial !== undefined && typeof partial !== "boolean") throw badInput(`packed[${i}][4]`, `partial must be true or false (got ${JSON.stringify(partial)})`);
    return { seq: seq as number, stream: stream as LogStream, at: date, text, ...(partial ? { partial: true } : {}) };
  });
}

/** One agent connection's assignment stream: a push queue that graphql-ws reads; its end is the disconnect. */
class AssignmentStream implements AsyncIterableIterator<Assignment> {
  private readonly buffer: Assignment[] = [];
  private waiting: ((r: IteratorResult<Assignment>) => void) | null = null;
  private done = false;
  /** Offers go to it once its first event (what it holds) is pushed, until a newer connection of its agent replaces it. */
  ready = false;

  constructor(
    readonly agent: Agent,
    private readonly onClose: () => void,
    /** Closes the agent's socket (a revoke). */
    readonly closeSocket: (code: number, reason: string) => void,
    /** Runs it takes at once: hookd claims for it and offers the snapshots. Null: ids only, it claims (an older agent). */
    readonly concurrency: number | null = null,
  ) {}

  get closed(): boolean {
    return this.done;
  }

  push(a: Assignment): void {
    if (this.done) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ value: a, done: false });
      return;
    }
    // A slow reader gets one merged notice, not an unbounded backlog.
    const last = this.buffer.at(-1);
    if (last) {
      last.queued.push(...a.queued.filter((id) => !last.queued.includes(id)));
      last.cancel.push(...a.cancel.filter((id) => !last.cancel.includes(id)));
      if (a.offered?.length) last.offered = [...(last.offered ?? []), ...a.offered];
      last.held ??= a.held ?? null;
    } else this.buffer.push({ queued: [...a.queued], cancel: [...a.cancel], offered: [...(a.offered ?? [])], held: a.held ?? null });
  }

  next(): Promise<IteratorResult<Assignment>> {
    const value = this.buffer.shift();
    if (value) return Promise.resolve({ value, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<Assignment>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err: unknown): Promise<IteratorResult<Assignment>> {
    this.close();
    return Promise.reject(err);
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
    this.onClose();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

interface LogState {
  /** The last seq stored (null: not read from the store yet). */
  last: number | null;
  /** Appends and the finish of one execution run one at a time, in order. */
  chain: Promise<unknown>;
  /**
   * Per stream: the end of a partial piece held back because a secret may go on in the next
   * piece; it begins that stream's next row (or a row of its own at the finish). Held in memory:
   * a hookd restart between the two pieces loses these few characters, never shows them.
   */
  held: Map<LogStream, { text: string; at: Date }>;
}

/**
 * The server's side of remote agents: a runner gateway. Agents connect out to hookd and hear of
 * QUEUED work for their own execution server (or client), or, when they say their concurrency,
 * are offered runs this gateway claimed for them; they claim, renew, log and finish
 * through the lifecycle like the embedded runner, as runner `agent:<agent id>`. Every operation
 * goes through `own`, so an agent touches only executions of its own server.
 */
export class AgentGateway implements RunnerListener {
  /** Open assignment streams by execution server id. */
  private readonly streams = new Map<string, Set<AssignmentStream>>();
  private readonly logs = new Map<string, LogState>();
  /** Executions an agent of this process claimed, and their server: where a cancel goes. */
  private readonly heldServer = new Map<string, string>();
  /**
   * Per offer-taking agent: the runs it holds (offered or claimed, until finished or lost),
   * read from the store when it connects; with its concurrency, how many more it is offered.
   */
  private readonly agentRuns = new Map<string, Set<string>>();
  /** The current connection of each offer-taking agent: the one offers go to. */
  private readonly offerStreams = new Map<string, AssignmentStream>();
  /** Servers that may have QUEUED work no agent had room for: looked up again when a slot frees. */
  private readonly backlog = new Set<string>();
  /** Servers whose QUEUED work is being looked up, and whether another look-up was asked for meanwhile. */
  private readonly refilling = new Map<string, boolean>();
  private readonly lastSeen = new Map<string, number>();
  private readonly writes = new Set<Promise<unknown>>();
  private detach: (() => void) | null = null;
  private revocationTimer: NodeJS.Timeout | null = null;
  private checkingRevocations = false;

  constructor(
    private readonly store: Store,
    private readonly pubsub: PubSub,
    private readonly lifecycle: ExecutionLifecycle,
    private readonly queue: ExecutionQueue,
    private readonly logger: Logger,
    private readonly options: AgentGatewayOptions,
  ) {}

  /** Agents' servers are offline until their agent connects to this process (a restart dropped every socket). */
  async init(): Promise<void> {
    const agents = await this.store.manager.find(Agent, { select: { executionServerId: true } });
    if (agents.length > 0) await this.store.transaction((em) => em.update(ExecutionServer, { id: In(agents.map((a) => a.executionServerId)), online: true }, { online: false }));
    this.detach = this.queue.attach(this);
    this.revocationTimer = setInterval(() => void this.checkRevocations(), REVOCATION_CHECK_MS);
    this.revocationTimer.unref();
  }

  async destroy(): Promise<void> {
    this.detach?.();
    if (this.revocationTimer) clearInterval(this.revocationTimer);
    for (const set of this.streams.values()) for (const s of [...set]) s.close();
    await Promise.allSettled([...this.writes]);
  }

  /** Whether a connected agent serves `server` (the lifecycle's servedNow). */
  serves(server: ExecutionServer): boolean {
    return (this.streams.get(server.id)?.size ?? 0) > 0;
  }

  offered(serverId: string, executionIds: string[]): void {
    let offerTaking = false;
    for (const s of this.streams.get(serverId) ?? []) {
      if (s.concurrency === null) s.push({ queued: executionIds, cancel: [] });
      else offerTaking = true;
    }
    if (!offerTaking) return;
    if (this.place(serverId, executionIds).length > 0) this.backlog.add(serverId);
    // A look-up under way may have read the store before these: it must not clear the backlog.
    if (this.refilling.has(serverId)) this.refilling.set(serverId, true);
  }

  /**
   * Claims each id for the least busy offer-taking agent of the server with a free slot and
   * offers it the snapshot; returns the ids no agent had room for (they stay QUEUED). The slot
   * is taken before the claim is written, so a burst of notices cannot exceed a concurrency.
   */
  private place(serverId: string, ids: string[]): string[] {
    const left: string[] = [];
    for (const id of ids) {
      let best: AssignmentStream | null = null;
      let bestHeld = Number.POSITIVE_INFINITY;
      let taken = false;
      for (const s of this.streams.get(serverId) ?? []) {
        if (s.concurrency === null || !s.ready || this.offerStreams.get(s.agent.id) !== s) continue;
        const held = this.agentRuns.get(s.agent.id)!;
        if (held.has(id)) taken = true;
        if (held.size < s.concurrency && held.size < bestHeld) [best, bestHeld] = [s, held.size];
      }
      if (taken) continue;
      if (!best) {
        left.push(id);
        continue;
      }
      this.agentRuns.get(best.agent.id)!.add(id);
      void this.offer(best, id);
    }
    return left;
  }

  private async offer(stream: AssignmentStream, id: string): Promise<void> {
    let spec: AgentHookSpec | null = null;
    try {
      // The same claim as agentClaim's: a conditional write, so a run another runner took is not offered.
      spec = await this.claimFor(stream.agent, id, false);
    } catch (err) {
      this.logger.warn(`could not claim execution ${id} for agent ${stream.agent.name}: ${String(err)}`);
    }
    if (!spec) {
      // Not claimable (taken, ended, or held back by a start rule, which offers it again when its time comes).
      this.agentRuns.get(stream.agent.id)?.delete(id);
      return;
    }
    // The agent reconnected meanwhile: its new connection gets it (its `held` may have been read before this claim).
    const to = stream.closed || this.offerStreams.get(stream.agent.id) !== stream ? this.offerStreams.get(stream.agent.id) : stream;
    // No connection now: the next one's `held` names it.
    if (!to) return;
    this.agentRuns.get(to.agent.id)?.add(id);
    to.push({ queued: [], cancel: [], offered: [spec] });
  }

  /** A slot freed (or an agent connected) where work may wait: offer the oldest claimable runs. */
  private refill(serverId: string): void {
    if (!this.backlog.has(serverId)) return;
    if (this.refilling.has(serverId)) {
      this.refilling.set(serverId, true);
      return;
    }
    let free = 0;
    for (const s of this.streams.get(serverId) ?? []) {
      if (s.concurrency !== null && s.ready && this.offerStreams.get(s.agent.id) === s) free += Math.max(0, s.concurrency - this.agentRuns.get(s.agent.id)!.size);
    }
    if (free === 0) return;
    this.refilling.set(serverId, false);
    const work = (async () => {
      const ids = await this.lifecycle.claimableIds([serverId], free);
      // Every QUEUED one was seen: none waits for a slot any more (a notice meanwhile sets it again).
      if (ids.length < free && this.refilling.get(serverId) === false) this.backlog.delete(serverId);
      // Slots taken meanwhile (by a notice): what does not fit now waits for the next free one.
      if (this.place(serverId, ids).length > 0) this.backlog.add(serverId);
    })();
    this.track(
      work.finally(() => {
        const again = this.refilling.get(serverId);
        this.refilling.delete(serverId);
        if (again) this.refill(serverId);
      }),
    );
  }

  cancelled(executionId: string): void {
    // Ids only: the agent that does not hold it ignores it; its renewal would tell it too.
    const serverId = this.heldServer.get(executionId);
    if (serverId === undefined) return;
    for (const s of this.streams.get(serverId) ?? []) s.push({ queued: [], cancel: [executionId] });
  }

  /**
   * An agent connects: its server is online, and it hears what is QUEUED for it now, then as it
   * comes. An agent that says how many runs it takes at once (`concurrency`) first hears which
   * runs are leased to it, then is offered runs hookd claimed for it, up to that many at once.
   */
  async connect(agent: Agent, hello: AgentHello & { concurrency?: number | null }, closeSocket: (code: number, reason: string) => void = () => undefined): Promise<AsyncIterable<Assignment>> {
    const info = checkHello(hello);
    const concurrency = hello.concurrency ?? null;
    if (concurrency !== null && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_AGENT_CONCURRENCY))
      throw badInput("hello.concurrency", `must be a whole number from 1 to ${MAX_AGENT_CONCURRENCY} (got ${concurrency})`);
    const serverId = agent.executionServerId;
    const stream: AssignmentStream = new AssignmentStream(agent, () => this.disconnected(stream), closeSocket, concurrency);
    let set = this.streams.get(serverId);
    if (!set) this.streams.set(serverId, (set = new Set()));
    set.add(stream);
    const now = new Date();
    try {
      await this.store.transaction(async (em) => {
        await em.update(ExecutionServer, { id: serverId }, { online: true, lastSeenAt: now, hostname: info.hostname, os: info.os, labels: info.labels });
        await em.update(Agent, { id: agent.id }, { hostname: info.hostname, os: info.os, version: info.version });
      });
    } catch (err) {
      stream.close();
      throw err;
    }
    this.lastSeen.set(serverId, now.getTime());
    this.logger.info(`agent ${agent.name} connected`, { agent: agent.id, hostname: info.hostname, os: info.os, version: info.version ?? undefined });
    if (concurrency !== null) {
      // Offers to its previous connection (still open here, or cut before they arrived) are in this list.
      this.offerStreams.set(agent.id, stream);
      const held = await this.store.manager.find(Execution, { select: { id: true }, where: { status: ExecutionStatus.RUNNING, runnerId: agentRunnerId(agent) } });
      const ids = held.map((e) => e.id);
      for (const id of ids) this.heldServer.set(id, serverId);
      this.agentRuns.set(agent.id, new Set(ids));
      stream.push({ queued: [], cancel: [], held: ids });
      stream.ready = true;
      this.backlog.add(serverId);
      this.refill(serverId);
      return stream;
    }
    const queued = await this.store.manager.find(Execution, {
      select: { id: true },
      where: { status: ExecutionStatus.QUEUED, executionServerId: serverId },
      order: { createdAt: "ASC" },
      take: QUEUED_ON_CONNECT,
    });
    if (queued.length > 0) stream.push({ queued: queued.map((e) => e.id), cancel: [] });
    return stream;
  }

  /** A revoked agent is disconnected at once (4403); what it held fails when its leases expire. */
  revoked(agentId: string): void {
    for (const set of this.streams.values()) {
      for (const s of [...set]) {
        if (s.agent.id !== agentId) continue;
        s.closeSocket(4403, "this agent was revoked");
        s.close();
      }
    }
  }

  /** A revoke stored by this process disconnects at once (revoked()); one stored by another is found here, within a second. */
  private async checkRevocations(): Promise<void> {
    if (this.checkingRevocations || this.streams.size === 0) return;
    this.checkingRevocations = true;
    try {
      const names = new Map([...this.streams.values()].flatMap((set) => [...set].map((s) => [s.agent.id, s.agent.name] as const)));
      const rows = await this.store.manager.find(Agent, { select: { id: true, revokedAt: true }, where: { id: In([...names.keys()]), revokedAt: Not(IsNull()) } });
      for (const r of rows) {
        this.logger.warn(`agent ${names.get(r.id)} (${r.id}) was revoked by another process; disconnected`, { agent: r.id });
        this.revoked(r.id);
      }
    } catch (err) {
      this.logger.warn(`could not look for revoked agents: ${String(err)}`);
    } finally {
      this.checkingRevocations = false;
    }
  }

  /** Takes a QUEUED execution of the agent's server: its snapshot, or null when it is no longer QUEUED. */
  async claim(agent: Agent, id: string): Promise<AgentHookSpec | null> {
    await this.own(agent, id);
    const spec = await this.claimFor(agent, id, true);
    // Counted against an offer-taking agent's concurrency like an offer (a run in `held` it claims again, or an id it was sent).
    if (spec) this.agentRuns.get(agent.id)?.add(id);
    return spec;
  }

  /** The claim of agentClaim and of offers; `again`: a claim the agent sends again answers the run it already holds. */
  private async claimFor(agent: Agent, id: string, again: boolean): Promise<AgentHookSpec | null> {
    let e = await this.lifecycle.claim(id, agentRunnerId(agent));
    if (!e) {
      if (!again) return null;
      // A claim sent again after a reconnect, whose first answer was lost: the same lease.
      const current = await this.lifecycle.get(id);
      if (current?.status !== ExecutionStatus.RUNNING || current.runnerId !== agentRunnerId(agent)) return null;
      e = current;
    } else this.logs.set(id, { last: 0, chain: Promise.resolve(), held: new Map() });
    this.heldServer.set(id, agent.executionServerId);
    return {
      id: e.id,
      hook: e.hook,
      command: e.command,
      os: e.os,
      input: e.input,
      timeoutSeconds: e.timeoutSeconds,
      jobId: e.jobId,
      publishId: e.publishId,
      attempt: e.attempt,
      retryOfId: e.retryOfId,
      env: await this.options.secrets.envFor(e.policy?.env),
      leaseSeconds: this.options.leaseMs / 1000,
      logCapBytes: this.options.logCapBytes,
    };
  }

  /** Extends the agent's leases; the answer says which it lost and which to cancel. */
  async renew(agent: Agent, ids: string[]): Promise<Renewal> {
    const renewal = await this.lifecycle.renew(agentRunnerId(agent), ids);
    for (const id of renewal.lost) this.forget(id, agent);
    this.seen(agent.executionServerId);
    return renewal;
  }

  /**
   * Stores the agent's log lines with the agent's own seqs, conditional on its lease: a seq
   * already stored is ignored, a batch that does not continue the stored lines stores nothing.
   * Returns the last seq stored, from which the agent sends next.
   */
  appendLog(agent: Agent, id: string, lines: AgentLogLine[]): Promise<number> {
    if (lines.length > MAX_LOG_BATCH) throw badInput("lines", `at most ${MAX_LOG_BATCH} lines per call (got ${lines.length})`);
    return this.serialized(id, (state) => this.storeLines(agent, id, state, lines));
  }

  private async storeLines(agent: Agent, id: string, state: LogState, lines: AgentLogLine[]): Promise<number> {
    const runnerId = agentRunnerId(agent);
    await this.held(agent, id);
    const last = await this.lastStored(id, state);
    const { rows, held } = await this.masked(id, state, last, lines);
    if (rows.length === 0) return last;
    // Conditional on the lease, in one transaction.
    if (!(await this.lifecycle.appendWhileHeld(id, runnerId, rows))) throw lostLease(id);
    state.last = rows.at(-1)!.seq;
    state.held = held;
    this.pubsub.publish("executionLog", id, rows);
    return state.last;
  }

  /**
   * The rows to store for lines that continue the `last` stored (none when they do not), masked,
   * and what each stream then holds back. Worked on a copy: `state` changes only once they are stored.
   */
  private async masked(id: string, state: LogState, last: number, lines: AgentLogLine[]): Promise<{ rows: LogLineEvent[]; held: LogState["held"] }> {
    const fresh = lines.filter((l) => l.seq > last).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0 || fresh[0].seq !== last + 1) return { rows: [], held: state.held };
    const rows: LogLineEvent[] = [];
    // Masked here, where every line an agent sends passes once, before it is stored or streamed.
    const secrets = await this.options.secrets.maskList();
    const held = new Map(state.held);
    for (const [i, l] of fresh.entries()) {
      if (l.seq !== last + 1 + i) throw badInput(`lines[${i}].seq`, `seqs must be consecutive: expected ${last + 1 + i}, got ${l.seq}`);
      if (!Object.values(LogStream).includes(l.stream)) throw badInput(`lines[${i}].stream`, `must be STDOUT, STDERR or SYSTEM`);
      const at = l.at instanceof Date && !Number.isNaN(l.at.getTime()) ? l.at : new Date();
      if (l.stream === LogStream.SYSTEM || secrets.length === 0) {
        rows.push({ executionId: id, seq: l.seq, stream: l.stream, at, text: maskSecrets(l.text, secrets) });
        continue;
      }
      const piece = maskPiece(held.get(l.stream)?.text ?? "", l.text, l.partial === true, secrets);
      held.delete(l.stream);
      if (piece.held !== "") held.set(l.stream, { text: piece.held, at });
      rows.push({ executionId: id, seq: l.seq, stream: l.stream, at, text: piece.text });
    }
    return { rows, held };
  }

  /**
   * The agent's outcome, once every line up to `lastSeq` is stored; `lines`, the last ones, may
   * come with it (a short hook's whole log: one call instead of two), stored in the outcome's
   * write. False when the agent no longer held the execution (the record already says what happened).
   */
  finish(agent: Agent, id: string, outcome: AgentOutcome, lastSeq: number, lines: AgentLogLine[] = []): Promise<boolean> {
    if (!FINAL.includes(outcome.status)) throw badInput("outcome.status", `must be one of ${FINAL.join(", ")} (got ${outcome.status})`);
    if (!Number.isInteger(lastSeq) || lastSeq < 0) throw badInput("lastSeq", `must be a whole number >= 0 (got ${lastSeq})`);
    if (lines.length > MAX_LOG_BATCH) throw badInput("lines", `at most ${MAX_LOG_BATCH} lines per call (got ${lines.length})`);
    return this.serialized(id, async (state) => {
      const e = await this.own(agent, id);
      // Ended meanwhile (lease expired, deadline passed), or a finish sent again after a reconnect.
      if (e.status !== ExecutionStatus.RUNNING || e.runnerId !== agentRunnerId(agent)) {
        this.forget(id, agent);
        return false;
      }
      const stored = await this.lastStored(id, state);
      // The last lines go in the outcome's own write (one transaction, as the embedded runner's finish).
      const { rows, held: heldBack } = await this.masked(id, state, stored, lines);
      const last = rows.at(-1)?.seq ?? stored;
      if (last !== lastSeq) throw conflict("lastSeq", `hookd holds lines 1..${last} of execution ${id}; send lines ${last + 1}..${lastSeq} before finishing`);
      const run: RunOutcome = {
        status: outcome.status as RunOutcome["status"],
        exitCode: outcome.exitCode ?? null,
        signal: outcome.signal ?? null,
        error: outcome.error ? maskSecrets(outcome.error, await this.options.secrets.maskList()) : null,
        output: outcome.output ?? null,
      };
      // What was held back at the end of a partial piece is a line's end after all.
      const held = [...heldBack].map(([stream, h]) => ({ stream, text: h.text, at: h.at }));
      const log = new RemoteRunLog(this.store, this.pubsub, id, { lastSeq, droppedBytes: Math.max(0, outcome.droppedBytes ?? 0), lines: rows, held }, () => new Date());
      const finished = await this.lifecycle.finish(id, agentRunnerId(agent), run, log);
      this.forget(id, agent);
      return finished !== null;
    });
  }

  /** The one check of what an agent may touch: executions of its own execution server (or client). */
  private async own(agent: Agent, id: string): Promise<Execution> {
    const e = await this.lifecycle.get(id);
    if (!e || e.executionServerId !== agent.executionServerId) throw new DomainError("NOT_FOUND", `execution '${id}' is not assigned to agent '${agent.name}'`);
    return e;
  }

  /** Own, and held by this agent now. */
  private async held(agent: Agent, id: string): Promise<Execution> {
    const e = await this.own(agent, id);
    if (e.status !== ExecutionStatus.RUNNING || e.runnerId !== agentRunnerId(agent)) throw lostLease(id, e.status);
    return e;
  }

  private async lastStored(id: string, state: LogState): Promise<number> {
    if (state.last !== null) return state.last;
    const row = await this.store.manager.createQueryBuilder(ExecutionLogLine, "l").select("MAX(l.seq)", "last").where("l.executionId = :id", { id }).getRawOne<{ last: number | null }>();
    return (state.last = Number(row?.last ?? 0));
  }

  private serialized<T>(id: string, work: (state: LogState) => Promise<T>): Promise<T> {
    let state = this.logs.get(id);
    // After a hookd restart the agent comes back with lines already stored: read them once.
    if (!state) this.logs.set(id, (state = { last: null, chain: Promise.resolve(), held: new Map() }));
    const s = state;
    const result = s.chain.then(() => work(s));
    s.chain = result.catch((err) => {
      // Not this agent's (or not held): keep no state for ids an agent merely named.
      if (err instanceof DomainError && s.last === null) this.logs.delete(id);
    });
    return result;
  }

  /** The run ended or is no longer the agent's: its slot is free for the next offer. */
  private forget(id: string, agent: Agent): void {
    this.logs.delete(id);
    this.heldServer.delete(id);
    if (this.agentRuns.get(agent.id)?.delete(id)) this.refill(agent.executionServerId);
  }

  private seen(serverId: string): void {
    const now = Date.now();
    if (now - (this.lastSeen.get(serverId) ?? 0) < LAST_SEEN_RESOLUTION_MS) return;
    this.lastSeen.set(serverId, now);
    this.track(this.store.transaction((em) => em.update(ExecutionServer, { id: serverId }, { lastSeenAt: new Date(now) })));
  }

  private disconnected(stream: AssignmentStream): void {
    const serverId = stream.agent.executionServerId;
    const set = this.streams.get(serverId);
    set?.delete(stream);
    if (this.offerStreams.get(stream.agent.id) === stream) {
      this.offerStreams.delete(stream.agent.id);
      this.agentRuns.delete(stream.agent.id);
    }
    this.logger.info(`agent ${stream.agent.name} disconnected`, { agent: stream.agent.id });
    if (set && set.size > 0) return;
    this.streams.delete(serverId);
    this.track(this.store.transaction((em) => em.update(ExecutionServer, { id: serverId }, { online: false, lastSeenAt: new Date() })));
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err) => this.logger.warn(`could not record an agent's state: ${String(err)}`)).finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
  }
}

function lostLease(id: string, status?: ExecutionStatus): DomainError {
  return conflict("executionId", `execution ${id} is no longer held by this agent${status ? ` (it is ${status})` : ""}: stop it; its outcome is not wanted`);
}
