import type { Store } from "../store/store.js";
import { ExecutionServerService } from "./execution-server.service.js";
import { HookConfigService } from "./hook-config.service.js";
import { QueueService } from "./queue.service.js";
import { SettingsService } from "./settings.service.js";
import { UserService } from "./user.service.js";
import { VolumeService } from "./volume.service.js";

/** The app's services, built once per app by createApp (never module singletons). */
export interface Services {
  store: Store;
  settings: SettingsService;
  users: UserService;
  queues: QueueService;
  volumes: VolumeService;
  executionServers: ExecutionServerService;
  hookConfigs: HookConfigService;
}

export function createServices(store: Store): Services {
  const settings = new SettingsService(store);
  const queues = new QueueService(store);
  return {
    store,
    settings,
    users: new UserService(store),
    queues,
    volumes: new VolumeService(store),
    executionServers: new ExecutionServerService(store),
    hookConfigs: new HookConfigService(store, settings, queues),
  };
}
