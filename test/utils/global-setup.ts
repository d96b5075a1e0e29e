import { execFileSync } from "node:child_process";
import { startEmbeddedPostgres, type Database } from "../../scripts/lib/database";

/**
 * Jest global setup: tests use DATABASE_URL when it is set (CI uses the machine's Postgres);
 * otherwise one embedded server is started for the run and removed after it. Each test file then
 * creates and drops its own database and roles (test/utils/platform.ts).
 * It also compiles `dist/` once for the tests that run the command-line entry points.
 */
export default async function globalSetup(): Promise<void> {
  // Tests of the command-line entry points run the compiled `dist/`, built once here.
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  if (process.env.DATABASE_URL) return;
  const db: Database = await startEmbeddedPostgres({ dir: `.data/test-${process.pid}`, persistent: false });
  process.env.DATABASE_URL = db.url;
  (globalThis as { __rampartTestDb?: Database }).__rampartTestDb = db;
}
