import { badInput } from "../domain/errors.js";
import { UserRole } from "../domain/roles.js";
import { ExecutionServerKind, ExecutionServer } from "../entities/execution-server.entity.js";
import type { MetadataInputFields } from "../entities/metadata.embedded.js";
import { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { PubSub } from "../pubsub/pubsub.js";
import type { Store } from "../store/store.js";
import { snapshot, type Actor, type AuditService } from "./audit.service.js";
import { applyMetadata } from "./validation.js";
import type { ConfigurationService } from "./configuration.service.js";

export interface UpdateSettings {
  hooksEnabled?: boolean;
  defaultExecutionServer?: string | null;
  auditRoles?: UserRole[];
  metadata?: MetadataInputFields;
  scheduleToStartSeconds?: number;
}

/** The longest an execution may wait for a runner: 30 days. */
export const MAX_SCHEDULE_TO_START_SECONDS = 30 * 24 * 3600;

export class SettingsService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly pubsub: PubSub,
    private readonly history: ConfigurationService,
  ) {}

  async get(): Promise<WorkspaceSettings> {
    const row = await this.store.manager.findOneBy(WorkspaceSettings, { id: WorkspaceSettings.ID });
    // The row is created at bootstrap; a missing row only happens mid-bootstrap, so defaults are right.
    return row ?? new WorkspaceSettings();
  }

  async update(input: UpdateSettings, actor: Actor): Promise<WorkspaceSettings> {
    if (input.auditRoles?.includes(UserRole.STANDARD)) {
      throw badInput("input.auditRoles", "STANDARD users may never audit hooks or read execution logs; allowed: ADMIN, EMPLOYEE");
    }
    const limit = input.scheduleToStartSeconds;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_SCHEDULE_TO_START_SECONDS)) {
      throw badInput("input.scheduleToStartSeconds", `must be a whole number of seconds from 1 to ${MAX_SCHEDULE_TO_START_SECONDS} (got ${limit})`);
    }
    return this.store
      .transaction(async (em) => {
        const settings = (await em.findOneBy(WorkspaceSettings, { id: WorkspaceSettings.ID })) ?? new WorkspaceSettings();
        const before = snapshot(settings);
        if (input.hooksEnabled !== undefined) settings.hooksEnabled = input.hooksEnabled;
        if (input.auditRoles !== undefined) settings.auditRoles = [...new Set(input.auditRoles)];
        if (limit !== undefined) settings.scheduleToStartSeconds = limit;
        applyMetadata("input.metadata", settings.metadata, input.metadata);
        if (input.defaultExecutionServer !== undefined) {
          if (input.defaultExecutionServer === null) {
            throw badInput("input.defaultExecutionServer", "cannot be cleared: hooks need a default execution server; give the id of another server");
          }
          const server = await em.findOneBy(ExecutionServer, { id: input.defaultExecutionServer });
          if (!server) throw badInput("input.defaultExecutionServer", `no execution server has id '${input.defaultExecutionServer}'`);
          if (server.kind !== ExecutionServerKind.SERVER) {
            throw badInput("input.defaultExecutionServer", `'${server.name}' is a client; the default must be a site server (kind SERVER)`);
          }
          settings.defaultExecutionServerId = server.id;
        }
        const saved = await em.save(settings);
        await this.audit.record(em, actor, "settings.update", "settings", String(WorkspaceSettings.ID), before, saved);
        await this.history.record(em, actor, "settings.update", "settings");
        return saved;
      })
      .then((saved) => {
        if (input.auditRoles !== undefined) this.pubsub.publish("accessChanged", "*", { reason: "audit roles changed" });
        return saved;
      });
  }
}
