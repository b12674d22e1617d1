import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { IsNull, MoreThan } from "typeorm";
import { badInput, conflict, DomainError, notFound, unauthenticated } from "../domain/errors.js";
import { OS_NAMES, type OsName } from "../domain/os.js";
import { Agent } from "../entities/agent.entity.js";
import { AgentToken } from "../entities/agent-token.entity.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { User } from "../entities/user.entity.js";
import { type ChangeSource, EntityCache } from "../store/entity-cache.js";
import type { Store } from "../store/store.js";
import type { Actor, AuditService } from "../services/audit.service.js";
import { assertName } from "../services/validation.js";

/** Enrolment tokens (traded once) and agents' own credentials: told apart from API keys (hkd_) by their prefix. */
export const AGENT_TOKEN_PREFIX = "hke_";
export const AGENT_CREDENTIAL_PREFIX = "hka_";

const DEFAULT_TOKEN_SECONDS = 3600;
const MAX_TOKEN_SECONDS = 30 * 24 * 3600;
const MAX_LABELS = 32;

const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

export interface CreateAgentToken {
  kind: ExecutionServerKind;
  name: string;
  /** CLIENT: the user whose client the agent becomes. */
  user?: string | null;
  expiresInSeconds?: number | null;
}

/** What an agent says about itself when it enrols and whenever it connects. */
export interface AgentHello {
  hostname: string;
  os: string;
  labels?: string[] | null;
  version?: string | null;
}

export interface Enrolled {
  agent: Agent;
  server: ExecutionServer;
  /** The agent's own credential: returned once, never stored. */
  credential: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AgentEnrolmentService {
  private readonly byHash: EntityCache<Agent | null>;
  /** Another process (`hookd agent revoke`) wrote since the last look: the cache may hold a revoked agent. */
  private readonly externalChange: () => boolean;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    /** Told of a revoke once it is stored: the gateway disconnects the agent. */
    private readonly onRevoked: (agentId: string) => void = () => undefined,
    changes: ChangeSource = store,
  ) {
    // Every operation of an agent authenticates; a revoke (a write to Agent) drops the cache.
    this.byHash = new EntityCache(changes, [Agent], 1000);
    this.externalChange = store.externalChangeSignal([Agent]);
  }

  async createToken(input: CreateAgentToken, actor: Actor): Promise<{ token: string; agentToken: AgentToken }> {
    if (!Object.values(ExecutionServerKind).includes(input.kind)) throw badInput("input.kind", `must be SERVER or CLIENT (got '${input.kind}')`);
    const name = assertName("input.name", input.name);
    const seconds = input.expiresInSeconds ?? DEFAULT_TOKEN_SECONDS;
    if (!Number.isInteger(seconds) || seconds < 60 || seconds > MAX_TOKEN_SECONDS)
      throw badInput("input.expiresInSeconds", `must be a whole number of seconds from 60 to ${MAX_TOKEN_SECONDS} (got ${seconds})`);
    let userId: string | null = null;
    if (input.kind === ExecutionServerKind.CLIENT) {
      if (!input.user) throw badInput("input.user", "a CLIENT agent runs the hooks of one user's client: name the user");
      if (!(await this.store.manager.existsBy(User, { id: input.user }))) throw notFound("user", input.user);
      userId = input.user;
    } else if (input.user) {
      throw badInput("input.user", "a SERVER agent is an execution server of the workspace, not of a user: leave user out");
    }
    const token = `${AGENT_TOKEN_PREFIX}${randomBytes(24).toString("base64url")}`;
    const agentToken = await this.store.transaction(async (em) => {
      const row = await em.save(
        em.create(AgentToken, {
          kind: input.kind,
          name,
          userId,
          hash: sha256(token),
          expiresAt: new Date(Date.now() + seconds * 1000),
          usedAt: null,
          createdById: typeof actor === "object" ? actor.id : null,
        }),
      );
      await this.audit.record(em, actor, "agentToken.create", "AgentToken", row.id, null, { kind: row.kind, name: row.name, userId, expiresAt: row.expiresAt });
      return row;
    });
    return { token, agentToken };
  }

  /**
   * Trades an enrolment token for an agent: the token is used up, the agent's execution server
   * (SERVER) or the user's client (CLIENT) of the token's name is found or made, and the agent's
   * own credential is returned once.
   */
  async enrol(token: string, hello: AgentHello, expectedName?: string | null): Promise<Enrolled> {
    const info = checkHello(hello);
    const credential = `${AGENT_CREDENTIAL_PREFIX}${randomBytes(24).toString("base64url")}`;
    return this.store.transaction(async (em) => {
      const row = await em.findOneBy(AgentToken, { hash: sha256(token) });
      if (!row) throw unauthenticated("invalid enrolment token (unknown, or revoked): make one with createAgentToken or `hookd agent-token create`");
      if (row.usedAt !== null) throw unauthenticated(`enrolment token ${row.id} was already used on ${row.usedAt.toISOString()}: a token enrols one agent; make a new one`);
      if (row.expiresAt.getTime() <= Date.now()) throw unauthenticated(`enrolment token ${row.id} expired on ${row.expiresAt.toISOString()}; make a new one`);
      // Checked before the token is used up: a token given to the wrong machine stays good.
      if (expectedName && expectedName !== row.name) throw badInput("name", `this enrolment token is for '${row.name}', not '${expectedName}'`);
      // Conditional: two agents racing with one token, only one wins.
      const used = await em.update(AgentToken, { id: row.id, usedAt: IsNull() }, { usedAt: new Date() });
      if (used.affected === 0) throw unauthenticated(`enrolment token ${row.id} was already used`);
      const where = row.kind === ExecutionServerKind.CLIENT ? { kind: row.kind, ownerId: row.userId!, name: row.name } : { kind: row.kind, ownerId: IsNull(), name: row.name };
      let server = await em.findOneBy(ExecutionServer, where);
      if (server?.labels.includes("embedded")) throw badInput("token", `'${row.name}' is a hookd's own execution server; enrol the agent under another name`);
      server ??= em.create(ExecutionServer, { kind: row.kind, name: row.name, ownerId: row.userId, online: false, lastSeenAt: null });
      Object.assign(server, { hostname: info.hostname, os: info.os, labels: info.labels });
      server = await em.save(server);
      const agent = await em.save(
        em.create(Agent, {
          kind: row.kind,
          name: row.name,
          prefix: credential.slice(0, 12),
          hash: sha256(credential),
          executionServerId: server.id,
          userId: row.userId,
          hostname: info.hostname,
          os: info.os,
          version: info.version,
          revokedAt: null,
        }),
      );
      await this.audit.record(em, "hookd", "agent.enrol", "Agent", agent.id, null, { kind: agent.kind, name: agent.name, executionServerId: server.id, hostname: info.hostname });
      return { agent, server, credential };
    });
  }

  agentsOf(executionServerId: string): Promise<Agent[]> {
    return this.store.manager.find(Agent, { where: { executionServerId }, order: { createdAt: "ASC" } });
  }

  /** Revokes an agent: its credential is refused from now on, and it is disconnected. */
  async revoke(id: string, actor: Actor): Promise<Agent> {
    const revoked = await this.store.transaction(async (em) => {
      const agent = await em.findOneBy(Agent, { id });
      if (!agent) throw notFound("agent", id);
      if (agent.revokedAt !== null) return agent;
      agent.revokedAt = new Date();
      await em.update(Agent, { id }, { revokedAt: agent.revokedAt });
      await this.audit.record(em, actor, "agent.revoke", "Agent", id, null, { name: agent.name, executionServerId: agent.executionServerId });
      return agent;
    });
    this.onRevoked(revoked.id);
    return revoked;
  }

  /** Every agent, oldest first, with the execution server (or client) it runs. */
  listAgents(): Promise<{ agent: Agent; server: ExecutionServer | null }[]> {
    return this.store.manager.find(Agent, { order: { createdAt: "ASC" } }).then(async (agents) => {
      const servers = await this.store.manager.find(ExecutionServer);
      return agents.map((agent) => ({ agent, server: servers.find((s) => s.id === agent.executionServerId) ?? null }));
    });
  }

  /**
   * Revokes the agent with this id, or every agent not yet revoked of this name (a name may have
   * had several agents: replacements enrolled under it). NOT_FOUND naming what was looked for.
   */
  async revokeByIdOrName(key: string, actor: Actor): Promise<Agent[]> {
    if (UUID.test(key) && (await this.store.manager.existsBy(Agent, { id: key }))) return [await this.revoke(key, actor)];
    const active = await this.store.manager.find(Agent, { where: { name: key, revokedAt: IsNull() }, order: { createdAt: "ASC" } });
    if (active.length === 0) {
      const any = await this.store.manager.existsBy(Agent, { name: key });
      throw new DomainError("NOT_FOUND", any ? `every agent named '${key}' is revoked already` : `no agent has the id or name '${key}' (hookd agent list shows them)`);
    }
    const revoked: Agent[] = [];
    for (const a of active) revoked.push(await this.revoke(a.id, actor));
    return revoked;
  }

  /** Enrolment tokens that may still be used: not used, not expired. */
  pendingTokens(): Promise<AgentToken[]> {
    return this.store.manager.find(AgentToken, { where: { usedAt: IsNull(), expiresAt: MoreThan(new Date()) }, order: { createdAt: "ASC" } });
  }

  /** Revokes an enrolment token not used yet: it is deleted (only the audit trail keeps it), so no agent can enrol with it. */
  async revokeToken(id: string, actor: Actor): Promise<AgentToken> {
    return this.store.transaction(async (em) => {
      const row = UUID.test(id) ? await em.findOneBy(AgentToken, { id }) : null;
      if (!row) throw notFound("enrolment token", id);
      if (row.usedAt !== null) throw conflict("id", `enrolment token ${id} was used on ${row.usedAt.toISOString()}: revoke the agent it enrolled instead (hookd agent revoke ${row.name})`);
      await em.delete(AgentToken, { id });
      await this.audit.record(em, actor, "agentToken.revoke", "AgentToken", id, { kind: row.kind, name: row.name, expiresAt: row.expiresAt }, null);
      return row;
    });
  }

  /**
   * The agent a credential belongs to; UNAUTHENTICATED naming why not. `fresh` (a new connection:
   * rare) reads the store, so a revoke made where no change signal reaches this process still holds.
   */
  async authenticate(credential: string, options: { fresh?: boolean } = {}): Promise<Agent> {
    if (options.fresh || this.externalChange()) this.byHash.clear();
    const hash = sha256(credential);
    const agent = await this.byHash.get(hash, () => this.store.manager.findOneBy(Agent, { hash }));
    if (!agent || !timingSafeEqual(Buffer.from(agent.hash, "hex"), Buffer.from(hash, "hex"))) throw unauthenticated("invalid agent credential: enrol the agent again with a new token");
    if (agent.revokedAt !== null) throw unauthenticated(`agent ${agent.name} (${agent.prefix}…) was revoked on ${agent.revokedAt.toISOString()}`);
    return agent;
  }
}

/** Validates what an agent says about itself. */
export function checkHello(hello: AgentHello): { hostname: string; os: OsName; labels: string[]; version: string | null } {
  const hostname = assertName("hostname", hello.hostname ?? "", 255);
  if (!OS_NAMES.includes(hello.os as OsName)) throw badInput("os", `must be one of ${OS_NAMES.join(", ")} (got '${hello.os}')`);
  const labels = (hello.labels ?? []).map((l, i) => assertName(`labels[${i}]`, String(l), 64));
  if (labels.length > MAX_LABELS) throw badInput("labels", `at most ${MAX_LABELS} labels (got ${labels.length})`);
  const version = hello.version == null ? null : assertName("version", String(hello.version), 32);
  return { hostname, os: hello.os as OsName, labels, version };
}
