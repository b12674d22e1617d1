import { notFound } from "../domain/errors.js";
import type { OsName } from "../domain/os.js";
import { ExecutionServer, ExecutionServerKind } from "../entities/execution-server.entity.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { Store } from "../store/store.js";

export class ExecutionServerService {
  constructor(private readonly store: Store) {}

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
      let server = await em.findOneBy(ExecutionServer, { hostname, kind: ExecutionServerKind.SERVER });
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
