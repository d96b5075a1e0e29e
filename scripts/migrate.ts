import "reflect-metadata";
import { createLogger, loadConfig } from "../subgraphs/common/src";
import { ensureDatabase } from "./lib/database";
import { migrateAll, migrateAllDown } from "./lib/platform";

/** `npm run migrate [-- --down]`: provisions roles and schemas and runs the migrations (or undoes them). */
async function main(): Promise<void> {
  const config = loadConfig(process.env, "migrate");
  const log = createLogger("migrate", config.logLevel);
  const db = await ensureDatabase(config.databaseUrl, log);
  try {
    const withDb = { ...config, databaseUrl: db.url };
    if (process.argv.includes("--down")) await migrateAllDown(withDb, log);
    else await migrateAll(withDb, log);
  } finally {
    await db.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
