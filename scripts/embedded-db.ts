import { createLogger } from "../subgraphs/common/src";
import { startEmbeddedPostgres } from "./lib/database";

/**
 * The embedded database as a child of the supervisor, in its own process group: a Ctrl-C in the
 * terminal reaches the supervisor only, which stops the services first and the database last.
 * It answers `{ url }` over IPC, stops on the message "stop", and also when the supervisor goes.
 */
async function main(): Promise<void> {
  const log = createLogger("postgres", process.env.LOG_LEVEL ?? "info");
  const db = await startEmbeddedPostgres({
    dir: process.env.EMBEDDED_PG_DIR ?? ".data/postgres",
    persistent: true,
    log,
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await db.stop();
    process.exit(0);
  };
  process.on("message", (message) => {
    if (message === "stop") void stop();
  });
  process.on("disconnect", () => void stop());
  process.send!({ url: db.url });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
