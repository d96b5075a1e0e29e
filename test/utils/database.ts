import { randomBytes } from "node:crypto";
import { Client } from "pg";

/** The server tests run against (set by global-setup when DATABASE_URL was not given). */
export function adminUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: jest's global setup should have started a database");
  return url;
}

/** A database (and role prefix) that belongs to one test file, dropped with its roles afterwards. */
export interface TestDatabase {
  url: string;
  rolePrefix: string;
  drop(): Promise<void>;
}

/** Creates a fresh database with a unique name and role prefix. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const suffix = randomBytes(5).toString("hex");
  const name = `rampart_test_${suffix}`;
  const rolePrefix = `rt_${suffix}`;
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    rolePrefix,
    drop: async () => {
      const c = new Client({ connectionString: adminUrl() });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        for (const sub of ["posture", "protection", "siem"])
          await c.query(`DROP ROLE IF EXISTS ${rolePrefix}_${sub}`);
      } finally {
        await c.end();
      }
    },
  };
}
