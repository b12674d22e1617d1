import { accessSync, constants, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import proxyaddr from "proxy-addr";
import { LOG_LEVELS, type LogLevel } from "./logger.js";

/** Everything hookd reads from its environment, validated once at start-up. */
export interface HookdConfig {
  host: string;
  port: number;
  dataDir: string;
  /** SQLite database file (under dataDir unless HOOKD_DATABASE is set); unused on PostgreSQL. */
  databasePath: string;
  /** Which store: the embedded SQLite file (default) or a PostgreSQL server. */
  database: DatabaseConfig;
  /** Key for the first ADMIN, instead of a generated one; ignored once an admin exists. */
  bootstrapAdminKey: string | null;
  bootstrapAdminEmail: string;
  /** Development mode: errors carry stack traces. Never in production. */
  development: boolean;
  /** Log SQL statements (HOOKD_LOG_SQL=1). */
  logSql: boolean;
  /** AES-256-GCM key for secrets (HOOKD_SECRET_KEY, 32 bytes); null: setSecret is refused. */
  secretKey: Buffer | null;
  /** pino level of hookd's own log (HOOKD_LOG_LEVEL). */
  logLevel: LogLevel;
  executor: ExecutorConfig;
  /** Failed authentications allowed per client address per window before wrong keys get 429. */
  authFailureLimit: { attempts: number; windowSeconds: number };
  /**
   * HOOKD_TRUST_PROXY: the proxies whose X-Forwarded-For names the client (addresses, CIDR
   * ranges, loopback, linklocal, uniquelocal). Empty (the default): no proxy header is believed.
   */
  trustProxy: string[];
  operations: OperationsConfig;
  /** Live events, cache invalidation and dispatch notices: in this process, or shared by several through Redis. */
  pubsub: PubSubConfig;
}

export interface PubSubConfig {
  /** "memory" (one hookd process) or "redis" (several, behind a load balancer) (HOOKD_PUBSUB). */
  kind: "memory" | "redis";
  /** HOOKD_REDIS_URL: required for redis. */
  redisUrl: string | null;
  /** Before every Redis channel name (HOOKD_REDIS_PREFIX, default "hookd:"): workspaces sharing one Redis use different ones. */
  prefix: string;
}

export type DatabaseConfig = { type: "sqlite" } | { type: "postgres" /** HOOKD_DATABASE_URL */; url: string /** Connections in the pool (HOOKD_DATABASE_POOL_SIZE). */; poolSize: number };

/** Running hookd as a service: metrics and retention. */
export interface OperationsConfig {
  /** GET /metrics is served (HOOKD_METRICS, default on). */
  metricsEnabled: boolean;
  /** A bearer token that may read /metrics besides ADMIN keys (HOOKD_METRICS_TOKEN). */
  metricsToken: string | null;
  /** Finished executions, their log lines and audit events older than this go; 0 keeps all. */
  retentionDays: number;
}

export interface ExecutorConfig {
  /** Where hooks run: "embedded" (in this process) is the only queue in this version. */
  queue: "embedded";
  /** Hooks running at once; more wait in order. */
  concurrency: number;
  /** Output bytes stored per execution. */
  logCapBytes: number;
  /** Between SIGTERM and SIGKILL of a hook's process group. */
  killGraceMs: number;
  /**
   * How long a runner's claim on an execution lasts unless renewed (a third of it, while the hook
   * runs). A runner that vanishes has its RUNNING executions FAILED once their leases expire.
   */
  leaseMs: number;
  /** Keep each execution's temp directory (input and output JSON) for debugging. */
  keepTempFiles: boolean;
  /** Parent of the per-execution temp directories. */
  tempDir: string;
  /**
   * How hook processes are started: "execa" (portable), "addon" (a Linux-only Node-API addon that
   * spawns with vfork + exec instead of forking hookd), or "auto" (the addon where it works, else
   * execa).
   */
  spawner: SpawnerKind;
}

export const SPAWNER_KINDS = ["auto", "addon", "execa"] as const;
/** Values earlier versions took, with what to set now. */
const REMOVED_SPAWNERS: Record<string, string> = {
  node: "HOOKD_SPAWNER=node is now HOOKD_SPAWNER=execa (hooks start through execa)",
  helper: "HOOKD_SPAWNER=helper: the spawn helper was removed; set HOOKD_SPAWNER=addon (the spawn addon), execa or auto",
};
export type SpawnerKind = (typeof SPAWNER_KINDS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export const MIN_BOOTSTRAP_KEY_LENGTH = 20;

/**
 * Reads the configuration from an environment. Every problem is collected and reported together,
 * each saying which variable to set and how.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<HookdConfig> = {}): HookdConfig {
  const problems: string[] = [];

  const host = env.HOST?.trim() || "127.0.0.1";

  let port = 4000;
  if (env.PORT !== undefined && env.PORT.trim() !== "") {
    const parsed = Number(env.PORT);
    if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
      problems.push(`PORT must be a whole number from 0 to 65535 (got '${env.PORT}')`);
    } else {
      port = parsed;
    }
  }

  const dataDir = path.resolve(env.HOOKD_DATA_DIR?.trim() || "data");
  const databasePath = env.HOOKD_DATABASE?.trim() ? path.resolve(env.HOOKD_DATABASE.trim()) : path.join(dataDir, "hookd.sqlite");

  let bootstrapAdminKey: string | null = null;
  if (env.HOOKD_BOOTSTRAP_ADMIN_KEY !== undefined && env.HOOKD_BOOTSTRAP_ADMIN_KEY !== "") {
    const key = env.HOOKD_BOOTSTRAP_ADMIN_KEY;
    if (key.length < MIN_BOOTSTRAP_KEY_LENGTH || /\s/.test(key)) {
      problems.push(`HOOKD_BOOTSTRAP_ADMIN_KEY must be at least ${MIN_BOOTSTRAP_KEY_LENGTH} characters with no spaces (got ${key.length} characters); generate one with: openssl rand -hex 24`);
    } else {
      bootstrapAdminKey = key;
    }
  }

  const bootstrapAdminEmail = env.HOOKD_BOOTSTRAP_ADMIN_EMAIL?.trim() || "admin@localhost";
  if (!/^[^\s@]+@[^\s@]+$/.test(bootstrapAdminEmail)) {
    problems.push(`HOOKD_BOOTSTRAP_ADMIN_EMAIL must be an email address (got '${bootstrapAdminEmail}')`);
  }

  const dbType = env.HOOKD_DB_TYPE?.trim() || "sqlite";
  const databaseUrl = env.HOOKD_DATABASE_URL?.trim() || "";
  if (dbType !== "sqlite" && dbType !== "postgres") {
    problems.push(`HOOKD_DB_TYPE must be 'sqlite' (the default: a file under HOOKD_DATA_DIR) or 'postgres' (with HOOKD_DATABASE_URL) (got '${dbType}')`);
  } else if (dbType === "postgres") {
    if (databaseUrl === "") {
      problems.push("HOOKD_DB_TYPE=postgres needs HOOKD_DATABASE_URL, e.g. postgres://hookd:secret@db.example.com:5432/hookd");
    } else if (!isPostgresUrl(databaseUrl)) {
      problems.push(
        `HOOKD_DATABASE_URL must be a postgres:// or postgresql:// URL with a host and a database name, e.g. postgres://hookd:secret@db.example.com:5432/hookd (got '${redactPassword(databaseUrl)}')`,
      );
    }
  } else if (databaseUrl !== "") {
    problems.push("HOOKD_DATABASE_URL is set but HOOKD_DB_TYPE is not 'postgres': set HOOKD_DB_TYPE=postgres to use it, or unset HOOKD_DATABASE_URL for the embedded SQLite store");
  }

  // A typo ("ture", "enabled") must not silently mean "off": only these words are taken, either way.
  const bool = (name: string, fallback: boolean, on = "turn it on", off = "turn it off"): boolean => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    problems.push(`${name} must be 1 (${on}) or 0 (${off}); true/false, yes/no and on/off are taken too, in any case (got '${env[name]}')`);
    return fallback;
  };
  const int = (name: string, fallback: number, min: number, max: number, unit = ""): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}${unit} (got '${raw}')`);
      return fallback;
    }
    return value;
  };
  const seconds = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      problems.push(`${name} must be a number of seconds from ${min} to ${max} (got '${raw}')`);
      return fallback;
    }
    return value;
  };
  const queue = env.HOOKD_EXECUTION_QUEUE?.trim() || "embedded";
  if (queue !== "embedded") {
    problems.push(`HOOKD_EXECUTION_QUEUE='${queue}' is not available in this version; the only execution queue is 'embedded' (unset HOOKD_EXECUTION_QUEUE)`);
  }
  const spawner = (env.HOOKD_SPAWNER?.trim() || "auto") as SpawnerKind;
  if (Object.hasOwn(REMOVED_SPAWNERS, spawner)) {
    problems.push(REMOVED_SPAWNERS[spawner]);
  } else if (!SPAWNER_KINDS.includes(spawner)) {
    problems.push(
      `HOOKD_SPAWNER must be one of ${SPAWNER_KINDS.join(", ")} (got '${env.HOOKD_SPAWNER}'); 'auto' takes the spawn addon (Linux, built by npm run build with a C compiler) where it works, else execa`,
    );
  }
  const executor: ExecutorConfig = {
    queue: "embedded",
    concurrency: int("HOOKD_EXECUTOR_CONCURRENCY", 8, 1, 256),
    logCapBytes: int("HOOKD_LOG_CAP_BYTES", 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024, " bytes"),
    killGraceMs: int("HOOKD_KILL_GRACE_MS", 2000, 0, 60_000, " ms"),
    leaseMs: seconds("HOOKD_LEASE_SECONDS", 30, 0.5, 3600) * 1000,
    keepTempFiles: bool("HOOKD_KEEP_TEMP_FILES", false, "keep each run's input and output files", "remove them"),
    tempDir: "",
    spawner,
  };
  executor.tempDir = path.resolve(env.HOOKD_TEMP_DIR?.trim() || defaultTempDir(env, executor.keepTempFiles));
  // Fencing needs room: a runner that could not renew ends its hook one margin before the lease
  // runs out and has it gone, kill grace included, before the lease counts as expired.
  if (executor.killGraceMs > (2 * executor.leaseMs) / 3) {
    problems.push(
      `HOOKD_LEASE_SECONDS (${executor.leaseMs / 1000}) is too short for HOOKD_KILL_GRACE_MS (${executor.killGraceMs}): a runner that cannot renew its lease must end its hook, kill grace included, within a third of the lease; set HOOKD_LEASE_SECONDS to at least ${Math.ceil((executor.killGraceMs * 1.5) / 100) / 10} or lower HOOKD_KILL_GRACE_MS`,
    );
  }

  const logLevel = (env.HOOKD_LOG_LEVEL?.trim().toLowerCase() || "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`HOOKD_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got '${env.HOOKD_LOG_LEVEL}')`);
  }
  let metricsToken: string | null = null;
  if (env.HOOKD_METRICS_TOKEN !== undefined && env.HOOKD_METRICS_TOKEN !== "") {
    const token = env.HOOKD_METRICS_TOKEN;
    if (token.length < MIN_BOOTSTRAP_KEY_LENGTH || /\s/.test(token)) {
      problems.push(`HOOKD_METRICS_TOKEN must be at least ${MIN_BOOTSTRAP_KEY_LENGTH} characters with no spaces (got ${token.length} characters); generate one with: openssl rand -hex 24`);
    } else {
      metricsToken = token;
    }
  }
  const operations: OperationsConfig = {
    metricsEnabled: bool("HOOKD_METRICS", true, "serve GET /metrics", "turn it off"),
    metricsToken,
    retentionDays: int("HOOKD_RETENTION_DAYS", 90, 0, 36_500, " days (0 keeps everything)"),
  };
  const pubsubKind = env.HOOKD_PUBSUB?.trim() || "memory";
  const redisUrl = env.HOOKD_REDIS_URL?.trim() || null;
  const prefix = env.HOOKD_REDIS_PREFIX ?? "hookd:";
  if (pubsubKind !== "memory" && pubsubKind !== "redis") {
    problems.push(`HOOKD_PUBSUB must be 'memory' (one hookd process) or 'redis' (several instances sharing events through Redis) (got '${pubsubKind}')`);
  } else if (pubsubKind === "redis" && redisUrl === null) {
    problems.push("HOOKD_PUBSUB=redis needs HOOKD_REDIS_URL: set it to the Redis server's URL, e.g. HOOKD_REDIS_URL=redis://127.0.0.1:6379");
  } else if (pubsubKind === "memory" && redisUrl !== null) {
    problems.push("HOOKD_REDIS_URL is set but HOOKD_PUBSUB is 'memory', so Redis would not be used: set HOOKD_PUBSUB=redis, or unset HOOKD_REDIS_URL");
  }
  if (redisUrl !== null && !/^rediss?:\/\/[^/\s]+/.test(redisUrl)) {
    problems.push(`HOOKD_REDIS_URL must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379 (got '${redisUrl}')`);
  }
  if (prefix.length > 100 || /\s/.test(prefix)) {
    problems.push(`HOOKD_REDIS_PREFIX must be at most 100 characters with no spaces (got '${prefix}')`);
  }
  const pubsub: PubSubConfig = { kind: pubsubKind === "redis" ? "redis" : "memory", redisUrl, prefix };
  const poolSize = int("HOOKD_DATABASE_POOL_SIZE", 10, 1, 1000, " connections");
  const database: DatabaseConfig = dbType === "postgres" ? { type: "postgres", url: databaseUrl, poolSize } : { type: "sqlite" };
  const authFailureLimit = {
    attempts: int("HOOKD_AUTH_FAILURES", 20, 1, 1_000_000),
    windowSeconds: int("HOOKD_AUTH_FAILURE_WINDOW_SECONDS", 60, 1, 86_400, " seconds"),
  };

  const trustProxy = (env.HOOKD_TRUST_PROXY ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  // "Trust every proxy" would let any caller name any address in X-Forwarded-For: a way round the limit.
  const everyone = trustProxy.find((entry) => /^(true|all|\*|0\.0\.0\.0\/0|::\/0)$/i.test(entry));
  if (everyone !== undefined) {
    problems.push(`HOOKD_TRUST_PROXY must list the proxies in front of hookd, not '${everyone}' (any caller could then forge its address): e.g. HOOKD_TRUST_PROXY=loopback or 10.0.0.7,10.0.1.0/24`);
  } else {
    try {
      proxyaddr.compile(trustProxy);
    } catch (err) {
      problems.push(
        `HOOKD_TRUST_PROXY must be a comma-separated list of proxy addresses, CIDR ranges, or loopback, linklocal, uniquelocal (${(err as Error).message}; got '${env.HOOKD_TRUST_PROXY}')`,
      );
    }
  }

  let secretKey: Buffer | null = null;
  const rawSecretKey = env.HOOKD_SECRET_KEY?.trim();
  if (rawSecretKey) {
    const decoded = /^[0-9a-fA-F]{64}$/.test(rawSecretKey) ? Buffer.from(rawSecretKey, "hex") : /^[A-Za-z0-9+/]{43}=?$/.test(rawSecretKey) ? Buffer.from(rawSecretKey, "base64") : null;
    if (decoded === null || decoded.length !== 32)
      problems.push(`HOOKD_SECRET_KEY must be 32 bytes as 64 hex digits or 44 base64 characters (got ${rawSecretKey.length} characters); generate one with: openssl rand -base64 32`);
    else secretKey = decoded;
  }

  const logSql = bool("HOOKD_LOG_SQL", false, "log every SQL statement, without its parameters", "do not");

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    host,
    port,
    dataDir,
    databasePath,
    database,
    bootstrapAdminKey,
    bootstrapAdminEmail,
    development: env.NODE_ENV === "development",
    logSql,
    logLevel,
    secretKey,
    executor,
    operations,
    authFailureLimit,
    trustProxy,
    pubsub,
    ...overrides,
  };
}

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "postgres:" || url.protocol === "postgresql:") && url.hostname !== "" && url.pathname.length > 1;
  } catch {
    return false;
  }
}

/** A URL as it may appear in an error message: without its password. */
export function redactPassword(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return value.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

/**
 * Where run files (each hook's input and output JSON) go unless HOOKD_TEMP_DIR says: a directory
 * in memory when there is one, the OS temp directory otherwise. They live for one run, so memory
 * is their place: a payload never reaches a disk (nor survives a crash there), and files on a
 * disk file system cost far more per run (BENCHMARKS.md). In order: systemd's RuntimeDirectory= (its
 * first path), then /dev/shm. Files kept for debugging (HOOKD_KEEP_TEMP_FILES) pile up, so
 * those go to the OS temp directory, not to memory.
 */
export function defaultTempDir(env: NodeJS.ProcessEnv, keepTempFiles: boolean): string {
  if (keepTempFiles) return os.tmpdir();
  const candidates = [env.RUNTIME_DIRECTORY?.split(":")[0], "/dev/shm"];
  for (const dir of candidates) {
    if (!dir || !path.isAbsolute(dir)) continue;
    try {
      if (!statSync(dir).isDirectory()) continue;
      accessSync(dir, constants.W_OK | constants.X_OK);
      return dir;
    } catch {
      // missing or not ours to write: the next one
    }
  }
  return os.tmpdir();
}
