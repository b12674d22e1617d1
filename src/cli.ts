#!/usr/bin/env node
import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { createPubSub } from "./pubsub/pubsub-factory.js";
import { createApp, openStore } from "./app.js";
import { runDemo } from "./demo.js";
import { ConfigError, loadConfig, redactPassword } from "./config.js";
import { DomainError } from "./domain/errors.js";
import { UserRole } from "./domain/roles.js";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { formatChanges } from "./domain/configuration-document.js";
import { DataSource } from "typeorm";
import { silentLogger } from "./logger.js";
import { backupDatabase } from "./operations/backup.service.js";
import { RetentionService } from "./operations/retention.service.js";
import { dataSourceOptions } from "./store/data-source-options.js";
import { printHookdSchema } from "./schema/print-schema.js";
import { createServices } from "./services/services.js";
import { runAgentCommand } from "./agent/agent-command.js";
import { HOOKD_VERSION } from "./version.js";
import type { ExecutionServerKind } from "./entities/execution-server.entity.js";

const USAGE = `usage: hookd <command>

  serve                                   start the server (default)
  user create --email E --role R [--label L]
                                          create a user (R: ADMIN, EMPLOYEE, STANDARD) and print an API key for it
  user list                               list users
  user set-role --email E --role R        change a user's role
  user disable --email E                  refuse the user's API keys from now on (user enable: again)
  key create --email E [--label L]        print a new API key for an existing user
  key list --email E                      list a user's API keys (id, prefix, label, state)
  key revoke <id or prefix>               revoke an API key; it stops working at once
  agent-token create --kind server|client --name N [--user EMAIL] [--expires-in SECONDS]
                                          print a single-use enrolment token for hookd agent (default: 1 h)
  agent-token list                        list enrolment tokens not used yet (id, kind, name, expiry)
  agent-token revoke <id>                 revoke an unused enrolment token
  agent list                              list enrolled agents (id, kind, name, host, state)
  agent revoke <id or name>               revoke an agent (every one not yet revoked of that name); a
                                          running hookd disconnects it at once
  agent --url URL [--token-file F] [--name N] [--hostname H] [--state-dir DIR] [--labels a,b] [--concurrency N]
                                          run hooks on this machine for hookd at URL (see the README, "Agents");
                                          the enrolment token on the first start only: from the file F,
                                          or HOOKD_AGENT_TOKEN (--token T works too, but shows in ps)
  prune [--dry-run]                       delete history older than HOOKD_RETENTION_DAYS (the server
                                          also does this hourly); --dry-run says what would go
  config export [--out FILE]              print the whole configuration as a JSON document (or write it to FILE)
  config apply FILE [--dry-run]           make the configuration what FILE says, all of it or nothing;
                                          --dry-run prints the changes and changes nothing
  backup <file>                           a consistent copy of the live SQLite database (see the README)
  print-schema                            print the GraphQL schema (SDL)
  demo [--keep]                           run the publish workflow end to end on a throwaway workspace
  --version                               print hookd's version

The server and these commands read HOOKD_DATA_DIR (default ./data), HOST, PORT and the other
variables listed in the README.`;

/**
 * The options each command takes (--help and --version go with any): anything else is refused,
 * naming it, rather than ignored (a mistyped --dry-run would have pruned for real).
 */
const COMMAND_FLAGS: Record<string, readonly string[]> = {
  serve: [],
  help: [],
  "user create": ["email", "role", "label"],
  "user list": [],
  "user set-role": ["email", "role"],
  "user disable": ["email"],
  "user enable": ["email"],
  "key create": ["email", "label"],
  "key list": ["email"],
  "key revoke": [],
  "agent-token create": ["kind", "name", "user", "expires-in"],
  "agent-token list": [],
  "agent-token revoke": [],
  "agent list": [],
  "agent revoke": [],
  agent: ["url", "token", "token-file", "name", "hostname", "state-dir", "labels", "concurrency"],
  prune: ["dry-run"],
  backup: [],
  "print-schema": [],
  demo: ["keep"],
};

async function serve(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  const url = await app.listen();
  const admin = app.bootstrap.admin;
  if (admin) {
    if (admin.generated) {
      console.log(`First start: created the ADMIN user ${admin.email}. Its API key (shown only this once; store it now):\n\n  ${admin.secret}\n`);
    } else {
      console.log(`First start: created the ADMIN user ${admin.email} with the key from HOOKD_BOOTSTRAP_ADMIN_KEY.`);
    }
    console.log(`Make more users and keys with: npm run hookd -- user create --email someone@example.com --role EMPLOYEE\n(or the createUser and createApiKey mutations).\n`);
  }
  // After the key: a supervisor (or a test) that waits for this line has the key too.
  app.logger.info(`hookd listening on ${url}/graphql (dashboard: ${url}/; IDE: open /graphql in a browser; health: ${url}/healthz)`, {
    url,
    database: config.database.type === "postgres" ? redactPassword(config.database.url) : config.databasePath,
    server: app.bootstrap.self.hostname,
    os: app.bootstrap.self.os,
    metrics: config.operations.metricsEnabled ? `${url}/metrics` : "off",
    retentionDays: config.operations.retentionDays,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info(`${signal}: stopping`);
    app.close().then(
      () => {
        app.logger.info("stopped");
        process.exit(0);
      },
      (err) => {
        app.logger.error("error while stopping", err);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

async function withServices<T>(work: (services: ReturnType<typeof createServices>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore(config);
  // With several instances, a revoke here must reach their caches and open subscriptions: through the broker.
  const pubsub = createPubSub(config.pubsub, randomUUID(), silentLogger);
  try {
    await pubsub.init();
    return await work(createServices(store, { executor: config.executor, logger: silentLogger, pubsub }));
  } finally {
    await store.drain();
    await pubsub.destroy();
    await store.destroy();
  }
}

function required(values: Record<string, string | boolean | undefined>, name: string): string {
  const value = values[name];
  if (typeof value !== "string" || value === "") throw new DomainError("BAD_USER_INPUT", `--${name} is required\n\n${USAGE}`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      email: { type: "string" },
      role: { type: "string" },
      label: { type: "string" },
      keep: { type: "boolean" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
      // hookd agent and hookd agent-token
      url: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      name: { type: "string" },
      hostname: { type: "string" },
      "state-dir": { type: "string" },
      labels: { type: "string" },
      concurrency: { type: "string" },
      kind: { type: "string" },
      user: { type: "string" },
      "expires-in": { type: "string" },
      out: { type: "string" },
    },
  });
  // "user" and "key" take a verb; the rest of the positionals are the command's arguments.
  const grouped =
    positionals[0] === "user" ||
    positionals[0] === "key" ||
    positionals[0] === "agent-token" ||
    positionals[0] === "config" ||
    (positionals[0] === "agent" && ["list", "revoke"].includes(positionals[1]));
  const command = positionals.slice(0, grouped ? 2 : 1).join(" ") || "serve";
  const args = positionals.slice(grouped ? 2 : 1);
  const oneArgument = (what: string): string => {
    if (args.length !== 1) throw new DomainError("BAD_USER_INPUT", `${command} needs exactly one argument: ${what}\n\n${USAGE}`);
    return args[0];
  };
  if (!["backup", "config apply", "key revoke", "agent revoke", "agent-token revoke"].includes(command) && args.length > 0)
    throw new DomainError("BAD_USER_INPUT", `unexpected argument '${args[0]}' for ${command}\n\n${USAGE}`);
  if (values.version) {
    console.log(`hookd ${HOOKD_VERSION}`);
    return;
  }
  const allowed = COMMAND_FLAGS[command];
  const unexpected = allowed ? Object.keys(values).filter((flag) => flag !== "help" && !allowed.includes(flag)) : [];
  if (unexpected.length > 0) {
    const takes = allowed.length > 0 ? `it takes ${allowed.map((f) => `--${f}`).join(", ")}` : "it takes no options";
    throw new DomainError("BAD_USER_INPUT", `hookd ${command} does not take ${unexpected.map((f) => `--${f}`).join(", ")} (${takes})\n\n${USAGE}`);
  }
  if (values.help || command === "help") {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case "serve":
      return serve();
    case "user create": {
      const email = required(values, "email");
      const role = required(values, "role").toUpperCase() as UserRole;
      await withServices(async (services) => {
        const user = await services.users.create(email, role, "cli");
        const { secret } = await services.users.createApiKey(user.id, values.label ?? "cli", "cli");
        console.log(`created ${user.role} user ${user.email} (id ${user.id}). API key (shown only this once):\n\n  ${secret}\n`);
      });
      return;
    }
    case "user list":
      await withServices(async (services) => {
        for (const user of await services.users.list()) console.log(`${user.id}  ${user.role.padEnd(8)}  ${user.email}`);
      });
      return;
    case "key create": {
      const email = required(values, "email");
      await withServices(async (services) => {
        const user = await services.users.findByEmail(email);
        if (!user) throw new DomainError("NOT_FOUND", `no user has email '${email}'; create it with: hookd user create --email ${email} --role STANDARD`);
        const { secret } = await services.users.createApiKey(user.id, values.label ?? "cli", "cli");
        console.log(`new API key for ${user.email} (shown only this once):\n\n  ${secret}\n`);
      });
      return;
    }
    case "user set-role": {
      const email = required(values, "email");
      const role = required(values, "role").toUpperCase() as UserRole;
      await withServices(async (services) => {
        const user = await services.users.setRole(email, role, "cli");
        console.log(`${user.email} is now ${user.role}`);
      });
      return;
    }
    case "user disable":
    case "user enable": {
      const email = required(values, "email");
      const disabled = command === "user disable";
      await withServices(async (services) => {
        const user = await services.users.setDisabled(email, disabled, "cli");
        console.log(disabled ? `${user.email} is disabled: its API keys are refused from now on` : `${user.email} is enabled again`);
      });
      return;
    }
    case "key list": {
      const email = required(values, "email");
      await withServices(async (services) => {
        const user = await services.users.findByEmail(email);
        if (!user) throw new DomainError("NOT_FOUND", `no user has email '${email}'`);
        for (const key of await services.users.keysOf(user.id)) {
          const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : "active";
          console.log(`${key.id}  ${key.prefix}…  ${state.padEnd(32)}  ${key.label ?? ""}`);
        }
      });
      return;
    }
    case "key revoke": {
      const key = oneArgument("the key's id or prefix (hookd key list --email E shows them)");
      await withServices(async (services) => {
        const revoked = await services.users.revokeApiKeyByAdmin(key, "cli");
        console.log(`revoked API key ${revoked.prefix}… (id ${revoked.id}) of ${revoked.user.email}`);
      });
      return;
    }
    case "agent-token create": {
      const kind = required(values, "kind").toUpperCase();
      const name = required(values, "name");
      const seconds = values["expires-in"] === undefined ? undefined : Number(values["expires-in"]);
      await withServices(async (services) => {
        let user: string | null = null;
        if (typeof values.user === "string") {
          const found = await services.users.findByEmail(values.user);
          if (!found) throw new DomainError("NOT_FOUND", `no user has email '${values.user}'`);
          user = found.id;
        }
        const { token, agentToken } = await services.agentEnrolment.createToken({ kind: kind as ExecutionServerKind, name, user, expiresInSeconds: seconds }, "cli");
        console.log(
          `enrolment token for ${agentToken.kind} agent '${agentToken.name}', single use, until ${agentToken.expiresAt.toISOString()} (id ${agentToken.id}; the token is shown only this once):\n\n  ${token}\n\nOn the agent's machine: HOOKD_AGENT_TOKEN=${token} hookd agent --url <hookd's address> (or --token-file FILE)`,
        );
      });
      return;
    }
    case "agent-token list":
      await withServices(async (services) => {
        const tokens = await services.agentEnrolment.pendingTokens();
        if (tokens.length === 0) console.log("no enrolment token waits to be used");
        for (const t of tokens) console.log(`${t.id}  ${t.kind.padEnd(6)}  ${t.name}  until ${t.expiresAt.toISOString()}`);
      });
      return;
    case "agent-token revoke": {
      const id = oneArgument("the token's id (hookd agent-token list shows them)");
      await withServices(async (services) => {
        const t = await services.agentEnrolment.revokeToken(id, "cli");
        console.log(`revoked enrolment token ${t.id} (${t.kind} agent '${t.name}'): no agent can enrol with it`);
      });
      return;
    }
    case "agent list":
      await withServices(async (services) => {
        const rows = await services.agentEnrolment.listAgents();
        if (rows.length === 0) console.log("no agent is enrolled");
        for (const { agent, server } of rows) {
          const state = agent.revokedAt
            ? `revoked ${agent.revokedAt.toISOString()}`
            : server?.online
              ? "online"
              : `offline${server?.lastSeenAt ? ` (last seen ${server.lastSeenAt.toISOString()})` : ""}`;
          console.log(`${agent.id}  ${agent.kind.padEnd(6)}  ${agent.name}  ${agent.prefix}…  ${agent.hostname ?? "-"} ${agent.os ?? "-"} ${agent.version ?? "-"}  ${state}`);
        }
      });
      return;
    case "agent revoke": {
      const key = oneArgument("the agent's id or name (hookd agent list shows them)");
      await withServices(async (services) => {
        for (const a of await services.agentEnrolment.revokeByIdOrName(key, "cli"))
          console.log(`revoked agent ${a.name} (${a.prefix}…, id ${a.id}): a running hookd disconnects it within a second, and refuses its credential`);
      });
      return;
    }
    case "agent":
      return runAgentCommand(values);
    case "prune": {
      const config = loadConfig();
      const dryRun = values["dry-run"] === true;
      if (config.operations.retentionDays === 0) {
        console.log("HOOKD_RETENTION_DAYS=0 keeps all history: nothing to prune");
        return;
      }
      await withServices(async (services) => {
        const retention = new RetentionService(services.store, silentLogger, { days: config.operations.retentionDays });
        const counts = dryRun ? await retention.dryRun() : await retention.prune();
        const what = `${counts.executions} finished execution(s), ${counts.logLines} log line(s) and ${counts.auditEvents} audit event(s) older than ${counts.cutoff.toISOString()} (${config.operations.retentionDays} days)`;
        console.log(dryRun ? `would delete ${what}; nothing was deleted (run without --dry-run to delete)` : `deleted ${what}`);
      });
      return;
    }
    case "backup": {
      const file = oneArgument("the file to write");
      const config = loadConfig();
      if (config.database.type === "postgres") {
        throw new DomainError(
          "BAD_USER_INPUT",
          'hookd backup copies the embedded SQLite file; on PostgreSQL (HOOKD_DB_TYPE=postgres) back up with PostgreSQL\'s own tools, e.g. pg_dump --format=custom --file=hookd.dump "$HOOKD_DATABASE_URL"',
        );
      }
      if (!existsSync(config.databasePath)) throw new DomainError("NOT_FOUND", `there is no database at ${config.databasePath} (set HOOKD_DATA_DIR or HOOKD_DATABASE)`);
      // Opened without running migrations: a backup taken before an upgrade is of the old schema.
      const dataSource = new DataSource(dataSourceOptions(config));
      await dataSource.initialize();
      try {
        const result = await backupDatabase(dataSource, file);
        console.log(`backed up ${config.databasePath} to ${result.file} (${result.bytes} bytes; integrity check ok)`);
      } catch (err) {
        throw err instanceof Error && !(err instanceof DomainError) ? new DomainError("BAD_USER_INPUT", `backup failed: ${err.message}`) : err;
      } finally {
        await dataSource.destroy();
      }
      return;
    }
    case "config export": {
      const document = await withServices((services) => services.configuration.export());
      const text = `${JSON.stringify(document, null, 2)}\n`;
      if (typeof values.out === "string") {
        writeFileSync(values.out, text);
        console.log(`wrote the configuration to ${values.out}`);
      } else process.stdout.write(text);
      return;
    }
    case "config apply": {
      const file = oneArgument("the configuration document (JSON) to apply");
      let document: unknown;
      try {
        document = JSON.parse(readFileSync(file, "utf8"));
      } catch (err) {
        throw new DomainError("BAD_USER_INPUT", `${file}: not a JSON document: ${(err as Error).message}`);
      }
      const dryRun = values["dry-run"] === true;
      const outcome = await withServices((services) => services.configuration.apply(document, dryRun, "cli"));
      console.log(formatChanges(outcome.changes));
      if (dryRun && outcome.changes.length > 0) console.log(`dry run: nothing was changed (${outcome.changes.length} change(s); run without --dry-run to apply)`);
      else if (outcome.version !== null) console.log(`applied ${outcome.changes.length} change(s) as configuration version ${outcome.version}`);
      return;
    }
    case "demo":
      await runDemo(console.log, values.keep === true);
      return;
    case "print-schema":
      process.stdout.write(await printHookdSchema());
      return;
    default:
      throw new DomainError("BAD_USER_INPUT", `unknown command '${command}'\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof ConfigError || err instanceof DomainError) {
    console.error(`hookd: ${err.message}`);
    process.exit(2);
  }
  if (err instanceof Error && "code" in err && err.code === "EADDRINUSE") {
    console.error(`hookd: ${err.message}: another process is listening there; set PORT (or HOST) to a free address`);
    process.exit(2);
  }
  if (err instanceof TypeError && "code" in err && typeof err.code === "string" && err.code.startsWith("ERR_PARSE_ARGS")) {
    console.error(`hookd: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error("hookd: fatal:", err);
  process.exit(1);
});
