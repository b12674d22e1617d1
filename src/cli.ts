#!/usr/bin/env node
import "reflect-metadata";
import { parseArgs } from "node:util";
import { createApp, openStore } from "./app.js";
import { runDemo } from "./demo.js";
import { ConfigError, loadConfig } from "./config.js";
import { DomainError } from "./domain/errors.js";
import { storeMarker } from "./executor/process-group.js";
import { UserRole } from "./domain/roles.js";
import { silentLogger } from "./logger.js";
import { printHookdSchema } from "./schema/print-schema.js";
import { createServices } from "./services/services.js";

const USAGE = `usage: hookd <command>

  serve                                   start the server (default)
  user create --email E --role R [--label L]
                                          create a user (R: ADMIN, EMPLOYEE, STANDARD) and print an API key for it
  user list                               list users
  key create --email E [--label L]        print a new API key for an existing user
  print-schema                            print the GraphQL schema (SDL)
  demo [--keep]                           run the publish workflow end to end on a throwaway workspace

The server and these commands read HOOKD_DATA_DIR (default ./data), HOST, PORT and the other
variables listed in the README.`;

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
  console.log(`hookd listening on ${url}/graphql (dashboard: ${url}/; IDE: open /graphql in a browser; health: ${url}/healthz)`);
  console.log(`data: ${config.databasePath}; this server: ${app.bootstrap.self.hostname} (${app.bootstrap.self.os})`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    app.close().then(
      () => {
        console.log("stopped");
        process.exit(0);
      },
      (err) => {
        console.error("error while stopping", err);
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
  try {
    return await work(createServices(store, { executor: config.executor, logger: silentLogger, storeMarker: storeMarker(config.databasePath) }));
  } finally {
    await store.drain();
    await store.dataSource.destroy();
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
    options: { email: { type: "string" }, role: { type: "string" }, label: { type: "string" }, keep: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  const command = positionals.join(" ") || "serve";
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
