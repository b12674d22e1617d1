import type { WorkspaceSettings } from "../entities/workspace-settings.entity.js";
import type { Services } from "../services/services.js";
import type { Principal } from "../services/user.service.js";

/** What every resolver gets: the authenticated caller and the app's services. */
export interface RequestContext {
  principal: Principal;
  services: Services;
  /** Workspace settings, read at most once per request (the auth checker needs the audit roles). */
  settings(): Promise<WorkspaceSettings>;
  /** The same credentials checked again, now: long-lived subscriptions use it when access rules change. */
  reauthenticate(): Promise<RequestContext>;
}

export async function createRequestContext(services: Services, authorization: string | undefined): Promise<RequestContext> {
  const principal = await services.users.authenticate(authorization);
  let settings: Promise<WorkspaceSettings> | undefined;
  return {
    principal,
    services,
    settings: () => (settings ??= services.settings.get()),
    reauthenticate: () => createRequestContext(services, authorization),
  };
}
