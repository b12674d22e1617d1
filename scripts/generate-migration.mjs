// Prints the SQL a new migration needs: the schema builder's log of what the entities describe
// and the migrations so far do not build. Run after `npm run build`:
//   node scripts/generate-migration.mjs sqlite
//   node scripts/generate-migration.mjs postgres postgres://postgres@127.0.0.1:5432/postgres
// For PostgreSQL it works in a throwaway database it creates beside the URL's and drops after.
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { DataSource } from "typeorm";
import { dataSourceOptions } from "../dist/src/store/data-source-options.js";
import { fitEntitiesToPostgres } from "../dist/src/store/postgres-store.js";

const [dialect, url] = process.argv.slice(2);
if (dialect !== "sqlite" && !(dialect === "postgres" && url)) {
  console.error("usage: node scripts/generate-migration.mjs sqlite | postgres <postgres://... URL of a server where a database may be created>");
  process.exit(2);
}

async function pending(options, fit) {
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  if (fit) fit(dataSource);
  await dataSource.runMigrations({ transaction: "all" });
  const log = await dataSource.driver.createSchemaBuilder().log();
  await dataSource.destroy();
  return { up: log.upQueries.map((q) => q.query), down: log.downQueries.map((q) => q.query).reverse() };
}

let result;
if (dialect === "sqlite") {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-generate-"));
  try {
    result = await pending(dataSourceOptions({ databasePath: path.join(dir, "db.sqlite"), logSql: false }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  const name = `hookd_generate_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  try {
    const target = new URL(url);
    target.pathname = `/${name}`;
    result = await pending(dataSourceOptions({ databasePath: "", logSql: false, database: { type: "postgres", url: target.toString(), poolSize: 2 } }), fitEntitiesToPostgres);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}
console.log("-- up");
for (const q of result.up) console.log(`${q};`);
console.log("-- down");
for (const q of result.down) console.log(`${q};`);
