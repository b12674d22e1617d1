import { printSchema } from "graphql";
import { DataSource } from "typeorm";
import { loadConfig } from "../config.js";
import { silentLogger } from "../logger.js";
import { createServices } from "../services/services.js";
import { dataSourceOptions } from "../store/data-source-options.js";
import { SqliteStore } from "../store/sqlite-store.js";
import { buildHookdSchema } from "./build-schema.js";

/** The SDL of hookd's schema, as committed in schema.graphql. */
export async function printHookdSchema(): Promise<string> {
  // The schema does not depend on the data: build it over a store that is never opened.
  const config = loadConfig({});
  const services = createServices(new SqliteStore(new DataSource(dataSourceOptions({ databasePath: ":memory:", logSql: false }))), { executor: config.executor, logger: silentLogger });
  return printSchema(await buildHookdSchema(services)) + "\n";
}
