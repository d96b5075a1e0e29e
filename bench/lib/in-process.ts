import { startEmbeddedPostgres, type Database } from "../../scripts/lib/database";
import { startTestPlatform, type TestPlatform } from "../../test/utils/platform";
import { NO_RATE_LIMITS } from "./lifecycle";

/**
 * Runs a benchmark against the whole platform in this process, on a database of its own (on
 * DATABASE_URL, else on an embedded Postgres started for the run), and exits: 0 when `work`
 * finished, 1 with the error otherwise. Everything is stopped and dropped either way.
 */
export function runInProcessBench(
  name: string,
  env: Record<string, string>,
  work: (platform: TestPlatform, database: { embedded: boolean }) => Promise<void>,
): void {
  const main = async () => {
    let embedded: Database | undefined;
    if (!process.env.DATABASE_URL) {
      embedded = await startEmbeddedPostgres({
        dir: `.data/bench-${name}-${process.pid}`,
        persistent: false,
      });
      process.env.DATABASE_URL = embedded.url;
    }
    let platform: TestPlatform | undefined;
    try {
      platform = await startTestPlatform({
        JOBS_ENABLED: "false",
        LOG_LEVEL: "warn",
        ...NO_RATE_LIMITS,
        ...env,
      });
      await work(platform, { embedded: embedded !== undefined });
    } finally {
      await platform?.stop();
      await embedded?.stop();
    }
  };
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
