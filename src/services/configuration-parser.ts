import { badInput } from "../domain/errors.js";
import {
  childPath,
  CONFIGURATION_FORMAT,
  type CommandsDoc,
  type ConfigurationDocument,
  type HookDoc,
  type MetadataDoc,
  type QueueDoc,
  type QueueHookDoc,
  type SettingsDoc,
  type VolumeDoc,
} from "../domain/configuration-document.js";
import { HOOK_POINTS, hookPointInfo, type HookPoint } from "../domain/hook-points.js";
import { parseHookPolicy, type HookPolicy, type HookPolicyInput } from "../domain/hook-policy.js";
import { OS_NAMES } from "../domain/os.js";
import { UserRole } from "../domain/roles.js";
import { applyCommands } from "./hook-commands.js";
import { MAX_SCHEDULE_TO_START_SECONDS } from "./settings.service.js";
import { assertCode, assertIntRange, assertMetadata, assertName, assertTimeout } from "./validation.js";
import { checkVolumePaths } from "./volume.service.js";

// Reads a configuration document someone wrote (or exported): every field is checked with the
// rule the matching mutation applies, and an error names its path in the document. Left-out
// optional fields take the value a new row would have, so a hand-written document can be short.

export interface ParseContext {
  /** Names of the site servers (kind SERVER) there are. */
  servers: ReadonlySet<string>;
  /** Names more than one site server has: a document cannot say which it means. */
  ambiguous: ReadonlySet<string>;
  /** Names of the secrets that are set. */
  secrets: ReadonlySet<string>;
  /** A rollback restores what it can: secrets and servers that are gone are not its to bring back. */
  lenient: boolean;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

function object(path: string, value: unknown, known: readonly string[]): Obj {
  if (!isObject(value)) throw badInput(path || "document", `must be an object (got ${describe(value)})`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw badInput(childPath(path, key), `unknown field; expected one of ${known.join(", ")}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? `'${value}'` : typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

function boolean(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw badInput(path, `must be true or false (got ${describe(value)})`);
  return value;
}

function string(path: string, value: unknown): string {
  if (typeof value !== "string") throw badInput(path, `must be a string (got ${describe(value)})`);
  return value;
}

function nullableString(path: string, value: unknown): string | null {
  return value === undefined || value === null ? null : string(path, value);
}

function integer(path: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw badInput(path, `must be a whole number (got ${describe(value)})`);
  return value;
}

function timeout(path: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const seconds = integer(path, value);
  assertTimeout(path, seconds);
  return seconds;
}

function metadata(path: string, value: unknown): MetadataDoc {
  if (value === undefined) return { external: {}, internal: {} };
  const m = object(path, value, ["external", "internal"]);
  const half = (name: "external" | "internal") => {
    const v = m[name] ?? {};
    if (!isObject(v)) throw badInput(childPath(path, name), `must be a JSON object (got ${describe(v)})`);
    assertMetadata(childPath(path, name), v);
    return v;
  };
  return { external: half("external"), internal: half("internal") };
}

function commands(path: string, hook: HookPoint, value: unknown): CommandsDoc {
  const c = value === undefined ? {} : object(path, value, OS_NAMES);
  const input: Record<string, string | null> = {};
  for (const os of OS_NAMES) input[os] = nullableString(childPath(path, os), c[os]);
  const parsed = applyCommands(path, hook, input);
  return { linux: parsed.linux, mac: parsed.mac, windows: parsed.windows };
}

const POLICY_FIELDS = ["retry", "maxConcurrent", "concurrencyKey", "env"];
const RETRY_FIELDS = ["maxAttempts", "initialDelaySeconds", "factor", "maxDelaySeconds", "jitter", "retryExitCodes", "permanentExitCodes", "retryTimedOut", "retryRunnerLost"];

function policy(path: string, value: unknown, ctx: ParseContext): HookPolicy | null {
  if (value === undefined || value === null) return null;
  const p = object(path, value, POLICY_FIELDS);
  if (p.retry !== undefined && p.retry !== null) object(childPath(path, "retry"), p.retry, RETRY_FIELDS);
  for (const list of ["env", "retryExitCodes", "permanentExitCodes"]) {
    const owner = list === "env" ? p : ((p.retry ?? {}) as Obj);
    const at = list === "env" ? childPath(path, list) : childPath(childPath(path, "retry"), list);
    const v = owner[list];
    if (v !== undefined && v !== null && (!Array.isArray(v) || v.some((x) => typeof x !== "string"))) throw badInput(at, `must be a list of strings (got ${describe(v)})`);
  }
  const parsed = parseHookPolicy(path, p as HookPolicyInput);
  if (!ctx.lenient) {
    parsed.env.forEach((name, i) => {
      if (!ctx.secrets.has(name)) throw badInput(`${childPath(path, "env")}[${i}]`, `secret '${name}' is not set here; set it first (setSecret or the dashboard), values never travel in a document`);
    });
  }
  return parsed;
}

function hookPoint(path: string, key: string): HookPoint {
  if (!(HOOK_POINTS as readonly string[]).includes(key)) throw badInput(path, `'${key}' is not a hook point; expected one of ${HOOK_POINTS.join(", ")}`);
  return key as HookPoint;
}

function server(path: string, value: unknown, ctx: ParseContext): string | null {
  const name = nullableString(path, value);
  if (name !== null && !ctx.servers.has(name)) throw badInput(path, `no site server (kind SERVER) is named '${name}'; servers register themselves when hookd or hookd agent starts`);
  if (name !== null && ctx.ambiguous.has(name)) throw badInput(path, `several site servers are named '${name}'; rename one so the name says which`);
  return name;
}

function hook(path: string, key: string, value: unknown, ctx: ParseContext): HookDoc {
  const point = hookPoint(path, key);
  const h = object(path, value, ["enabled", "commands", "timeoutSeconds", "executionServer", "policy"]);
  const executionServer = server(childPath(path, "executionServer"), h.executionServer, ctx);
  if (executionServer !== null && hookPointInfo(point).client) {
    throw badInput(childPath(path, "executionServer"), `${point} runs on the job's client; an execution server applies only to *_SERVER hooks`);
  }
  return {
    enabled: boolean(childPath(path, "enabled"), h.enabled, false),
    commands: commands(childPath(path, "commands"), point, h.commands),
    timeoutSeconds: timeout(childPath(path, "timeoutSeconds"), h.timeoutSeconds),
    executionServer,
    policy: policy(childPath(path, "policy"), h.policy, ctx),
  };
}

function queueHook(path: string, key: string, value: unknown, ctx: ParseContext): QueueHookDoc {
  const point = hookPoint(path, key);
  const h = object(path, value, ["mode", "enabled", "commands", "timeoutSeconds", "policy"]);
  if (h.mode !== "OVERRIDE" && h.mode !== "APPEND") throw badInput(childPath(path, "mode"), `must be OVERRIDE or APPEND (got ${describe(h.mode)})`);
  return {
    mode: h.mode,
    enabled: boolean(childPath(path, "enabled"), h.enabled, true),
    commands: commands(childPath(path, "commands"), point, h.commands),
    timeoutSeconds: timeout(childPath(path, "timeoutSeconds"), h.timeoutSeconds),
    policy: policy(childPath(path, "policy"), h.policy, ctx),
  };
}

function queue(path: string, code: string, value: unknown, ctx: ParseContext): QueueDoc {
  assertCode(path, code);
  const q = object(path, value, ["name", "priority", "default", "status", "description", "metadata", "hooks"]);
  const status = q.status ?? "WAITING";
  if (status !== "WAITING" && status !== "PAUSED") throw badInput(childPath(path, "status"), `must be WAITING or PAUSED (got ${describe(status)})`);
  const description = nullableString(childPath(path, "description"), q.description);
  if (description !== null && description.length > 10_000) throw badInput(childPath(path, "description"), `must be at most 10000 characters (got ${description.length})`);
  const hooksPath = childPath(path, "hooks");
  const hooks = q.hooks === undefined ? {} : object(hooksPath, q.hooks, HOOK_POINTS);
  return {
    name: q.name === undefined ? code : assertName(childPath(path, "name"), string(childPath(path, "name"), q.name)),
    priority: q.priority === undefined ? 500 : assertIntRange(childPath(path, "priority"), integer(childPath(path, "priority"), q.priority), 0, 1000),
    default: boolean(childPath(path, "default"), q.default, false),
    status,
    description,
    metadata: metadata(childPath(path, "metadata"), q.metadata),
    hooks: Object.fromEntries(Object.entries(hooks).map(([k, v]) => [k, queueHook(childPath(hooksPath, k), k, v, ctx)])),
  };
}

function volume(path: string, code: string, value: unknown): VolumeDoc {
  assertCode(path, code);
  const v = object(path, value, ["name", "paths", "metadata"]);
  const pathsAt = childPath(path, "paths");
  const p = v.paths === undefined ? {} : object(pathsAt, v.paths, OS_NAMES);
  const paths = {
    linux: nullableString(childPath(pathsAt, "linux"), p.linux),
    mac: nullableString(childPath(pathsAt, "mac"), p.mac),
    windows: nullableString(childPath(pathsAt, "windows"), p.windows),
  };
  checkVolumePaths(pathsAt, paths);
  return {
    name: v.name === undefined ? code : assertName(childPath(path, "name"), string(childPath(path, "name"), v.name)),
    paths: { linux: paths.linux?.trim() ?? null, mac: paths.mac?.trim() ?? null, windows: paths.windows?.trim() ?? null },
    metadata: metadata(childPath(path, "metadata"), v.metadata),
  };
}

function settings(path: string, value: unknown, ctx: ParseContext): SettingsDoc {
  const s = object(path, value, ["hooksEnabled", "defaultExecutionServer", "scheduleToStartSeconds", "auditRoles", "metadata"]);
  const rolesAt = childPath(path, "auditRoles");
  const roles = s.auditRoles ?? [];
  if (!Array.isArray(roles)) throw badInput(rolesAt, `must be a list of roles (got ${describe(roles)})`);
  roles.forEach((role, i) => {
    if (role !== UserRole.ADMIN && role !== UserRole.EMPLOYEE) throw badInput(`${rolesAt}[${i}]`, `must be ADMIN or EMPLOYEE; STANDARD users may never audit hooks (got ${describe(role)})`);
  });
  const limitAt = childPath(path, "scheduleToStartSeconds");
  const defaultAt = childPath(path, "defaultExecutionServer");
  if (s.defaultExecutionServer === undefined || s.defaultExecutionServer === null) throw badInput(defaultAt, "is required: the name of the site server hooks run on by default");
  return {
    hooksEnabled: boolean(childPath(path, "hooksEnabled"), s.hooksEnabled, true),
    defaultExecutionServer: ctx.lenient ? string(defaultAt, s.defaultExecutionServer) : server(defaultAt, s.defaultExecutionServer, ctx),
    scheduleToStartSeconds: s.scheduleToStartSeconds === undefined ? 86_400 : assertIntRange(limitAt, integer(limitAt, s.scheduleToStartSeconds), 1, MAX_SCHEDULE_TO_START_SECONDS),
    auditRoles: [...new Set(roles as string[])],
    metadata: metadata(childPath(path, "metadata"), s.metadata),
  };
}

const SECTIONS = ["format", "settings", "hooks", "queues", "volumes", "executionServers", "secrets"];

/** The document in its normal form (what export writes), or BAD_USER_INPUT naming the first path at fault. */
export function parseConfigurationDocument(raw: unknown, ctx: ParseContext): ConfigurationDocument {
  const doc = object("", raw, SECTIONS);
  if (doc.format !== CONFIGURATION_FORMAT) throw badInput("format", `must be '${CONFIGURATION_FORMAT}' (got ${describe(doc.format)})`);
  for (const section of ["settings", "hooks", "queues"]) {
    if (doc[section] === undefined) throw badInput(section, "is required: a document is the whole configuration (hookd config export writes one)");
  }
  const hooks = object("hooks", doc.hooks, HOOK_POINTS);
  const queues = object("queues", doc.queues, Object.keys(doc.queues as Obj));
  const volumes = doc.volumes === undefined ? {} : object("volumes", doc.volumes, Object.keys(doc.volumes as Obj));
  const servers = doc.executionServers === undefined ? {} : object("executionServers", doc.executionServers, Object.keys(doc.executionServers as Obj));
  const secrets = doc.secrets ?? [];
  if (!Array.isArray(secrets)) throw badInput("secrets", `must be a list of secret names (got ${describe(secrets)})`);

  const parsed: ConfigurationDocument = {
    format: CONFIGURATION_FORMAT,
    settings: settings("settings", doc.settings, ctx),
    hooks: Object.fromEntries(Object.entries(hooks).map(([k, v]) => [k, hook(childPath("hooks", k), k, v, ctx)])),
    queues: Object.fromEntries(Object.entries(queues).map(([k, v]) => [k, queue(childPath("queues", k), k, v, ctx)])),
    volumes: Object.fromEntries(Object.entries(volumes).map(([k, v]) => [k, volume(childPath("volumes", k), k, v)])),
    executionServers: {},
    secrets: [],
  };
  for (const [name, value] of Object.entries(servers)) {
    const at = childPath("executionServers", name);
    const os = object(at, value, ["os"]).os;
    if (!OS_NAMES.includes(os as never)) throw badInput(childPath(at, "os"), `must be one of ${OS_NAMES.join(", ")} (got ${describe(os)})`);
    // Listed only: a name two servers share is ambiguous only where a hook or the settings refer to it.
    if (!ctx.lenient && !ctx.servers.has(name)) throw badInput(at, `no site server (kind SERVER) is named '${name}'; servers register themselves when hookd or hookd agent starts`);
    parsed.executionServers[name] = { os: os as string };
  }
  secrets.forEach((name, i) => {
    const at = `secrets[${i}]`;
    if (typeof name !== "string") throw badInput(at, `must be a secret name (got ${describe(name)})`);
    if (!ctx.lenient && !ctx.secrets.has(name)) throw badInput(at, `secret '${name}' is not set here; set it first (setSecret or the dashboard), values never travel in a document`);
    if (parsed.secrets.includes(name)) throw badInput(at, `'${name}' is listed twice`);
    parsed.secrets.push(name);
  });
  parsed.secrets.sort();

  const defaults = Object.entries(parsed.queues).filter(([, q]) => q.default);
  if (Object.keys(parsed.queues).length === 0) throw badInput("queues", "must list at least one queue: a workspace always has one");
  if (defaults.length !== 1) {
    throw badInput("queues", `exactly one queue must have default: true (found ${defaults.length}${defaults.length ? `: ${defaults.map(([c]) => c).join(", ")}` : ""})`);
  }
  return parsed;
}
