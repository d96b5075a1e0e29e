import { startEmbeddedPostgres, type Database } from "../../scripts/lib/database";

/**
 * Jest global setup: tests use DATABASE_URL when it is set (CI uses the machine's Postgres);
 * otherwise one embedded server is started for the run and removed after it. Each test file then
 * creates and drops its own database and roles (test/utils/platform.ts).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) return;
  const db: Database = await startEmbeddedPostgres({ dir: `.data/test-${process.pid}`, persistent: false });
  process.env.DATABASE_URL = db.url;
  (globalThis as { __rampartTestDb?: Database }).__rampartTestDb = db;
}
