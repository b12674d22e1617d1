import "reflect-metadata";
import { DataSource } from "typeorm";
import { loadConfig } from "./src/config.js";
import { dataSourceOptions } from "./src/store/data-source-options.js";

// For the TypeORM CLI only (`npx typeorm -d dist/ormconfig.js migration:show`): the server builds its
// own DataSource in createApp from the same options, so nothing in src imports this file.
export default new DataSource(dataSourceOptions(loadConfig()));
