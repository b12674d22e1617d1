import { In } from "typeorm";
import { badInput, conflict, notFound } from "../domain/errors.js";
import { Agent } from "../entities/agent.entity.js";
import { OS_NAMES, type OsName } from "../domain/os.js";
import type { User } from "../entities/user.entity.js";
import type { MetadataInputFields } from "../entities/metadata.embedded.js";
import { applyMetadata, assertName } from "./validation.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { Store } from "../store/store.js";
import { FIRST_START_LOCK } from "../store/store.js";

export interface RegisterClient {
  name: string;
  hostname: string;
  os: OsName;
  labels?: string[];
  metadata?: MetadataInputFields;
}

export class ExecutionServerService {
  constructor(private readonly store: Store) {}

  /**
   * Registers a user's client (a desktop app or site server that runs client hooks), or updates
   * the one of that name. A client is known by its owner and name: another client on the same
   * host is never renamed or re-typed. A client run by an agent keeps the hostname and OS its
   * agent reports.
   */
  async registerClient(input: RegisterClient, owner: User): Promise<ExecutionServer> {
    const name = assertName("input.name", input.name);
    const hostname = assertName("input.hostname", input.hostname, 255);
    if (!OS_NAMES.includes(input.os)) throw badInput("input.os", `must be one of ${OS_NAMES.join(", ")} (got '${input.os}')`);
    return this.store.transaction(async (em) => {
      const existing = await em.findOneBy(ExecutionServer, { kind: ExecutionServerKind.CLIENT, ownerId: owner.id, name });
      if (existing && (existing.hostname !== hostname || existing.os !== input.os)) {
        const agent = await em.findOneBy(Agent, { executionServerId: existing.id });
        if (agent) {
          const field = existing.os !== input.os ? "input.os" : "input.hostname";
          throw conflict(
            field,
            `client '${name}' is run by agent '${agent.name}' on ${existing.hostname} (${existing.os}); its hostname and OS are the agent's: register the other machine under another name`,
          );
        }
      }
      const client = existing ?? em.create(ExecutionServer, { kind: ExecutionServerKind.CLIENT, ownerId: owner.id, name, online: false, lastSeenAt: null });
      Object.assign(client, { hostname, os: input.os, labels: input.labels ?? client.labels ?? [] });
      applyMetadata("input.metadata", client.metadata, input.metadata);
      return em.save(client);
    });
  }

  list(): Promise<ExecutionServer[]> {
    return this.store.manager.find(ExecutionServer, { order: { kind: "DESC", name: "ASC" } });
  }

  async get(id: string): Promise<ExecutionServer> {
    const server = await this.store.manager.findOneBy(ExecutionServer, { id });
    if (!server) throw notFound("execution server", id);
    return server;
  }

  async find(id: string | null): Promise<ExecutionServer | null> {
    return id === null ? null : this.store.manager.findOneBy(ExecutionServer, { id });
  }

  /**
   * The running hookd registers itself (hostname, OS) as a site server, online, and becomes the
   * default execution server when none is set.
   */
  async registerSelf(hostname: string, os: OsName): Promise<ExecutionServer> {
    return this.store.transaction(async (em) => {
      // Two instances on one host starting together: one server row, not two.
      await this.store.lockInTransaction(em, FIRST_START_LOCK);
      // An agent's execution server may share the hostname (an agent on hookd's own machine): never take it over.
      const candidates = await em.findBy(ExecutionServer, { hostname, kind: ExecutionServerKind.SERVER });
      const bound = candidates.length === 0 ? [] : await em.find(Agent, { select: { executionServerId: true }, where: { executionServerId: In(candidates.map((c) => c.id)) } });
      let server = candidates.find((c) => !bound.some((a) => a.executionServerId === c.id)) ?? null;
      if (!server) server = em.create(ExecutionServer, { hostname, name: hostname, kind: ExecutionServerKind.SERVER, ownerId: null, labels: ["embedded"] });
      server.os = os;
      server.online = true;
      server.lastSeenAt = new Date();
      server = await em.save(server);
      const settings = (await em.findOneBy(WorkspaceSettings, { id: WorkspaceSettings.ID })) ?? new WorkspaceSettings();
      if (settings.defaultExecutionServerId === null || !(await em.existsBy(ExecutionServer, { id: settings.defaultExecutionServerId }))) {
        settings.defaultExecutionServerId = server.id;
        await em.save(settings);
      }
      return server;
    });
  }

  async markOffline(id: string): Promise<void> {
    await this.store.transaction((em) => em.update(ExecutionServer, { id }, { online: false, lastSeenAt: new Date() }));
  }
}
