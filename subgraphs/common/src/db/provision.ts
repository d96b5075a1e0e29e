import { Client } from "pg";
import type { DataSource } from "typeorm";
import type { Logger } from "../logger";
import { jobsSchema, migrateJobQueue } from "../jobs";

/** The three subgraphs, each with its schema and login role. */
export const SUBGRAPHS = ["posture", "protection", "siem"] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];

/** Login role of a subgraph, e.g. `rampart_posture`. */
export const roleName = (prefix: string, subgraph: SubgraphName) => `${prefix}_${subgraph}`;

/** The admin URL with the subgraph role's credentials in place of the admin's. */
export function roleUrl(adminUrl: string, role: string, password: string): string {
  const url = new URL(adminUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * Creates (when the connecting user may) each subgraph's login role, with its own password, and schemas. A role owns its
 * own schema and its job queue schema and gets nothing on the others; it is never a superuser and
 * never BYPASSRLS, so row-level security binds it.
 */
export async function provisionDatabase(
  adminUrl: string,
  options: { rolePrefix: string; rolePasswords: Record<SubgraphName, string>; log: Logger },
): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ can: boolean }>(
      "SELECT rolsuper OR rolcreaterole AS can FROM pg_roles WHERE rolname = current_user",
    );
    if (!rows[0]?.can) {
      options.log.warn("connecting user may not create roles: assuming the subgraph roles and schemas exist");
      return;
    }
    const database = (await admin.query<{ db: string }>("SELECT current_database() AS db")).rows[0].db;
    for (const subgraph of SUBGRAPHS) {
      const role = roleName(options.rolePrefix, subgraph);
      const exists = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
      const verb = exists.rowCount ? "ALTER" : "CREATE";
      await admin.query(
        `${verb} ROLE ${ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD ${literal(options.rolePasswords[subgraph])}`,
      );
      await admin.query(`GRANT CONNECT ON DATABASE ${ident(database)} TO ${ident(role)}`);
      for (const schema of [subgraph, jobsSchema(subgraph)]) {
        await admin.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)} AUTHORIZATION ${ident(role)}`);
      }
    }
    // Nobody but the owner may use a subgraph's schemas, and no subgraph may create objects in `public`.
    await admin.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
  } finally {
    await admin.end();
  }
}

/** Grants a role CREATE on the database for the duration of `work` (graphile-worker's installer needs it). */
async function withCreateOnDatabase<T>(adminUrl: string, role: string, work: () => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  const database = (await admin.query<{ db: string }>("SELECT current_database() AS db")).rows[0].db;
  await admin.query(`GRANT CREATE ON DATABASE ${ident(database)} TO ${ident(role)}`);
  try {
    return await work();
  } finally {
    await admin.query(`REVOKE CREATE ON DATABASE ${ident(database)} FROM ${ident(role)}`);
    await admin.end();
  }
}

/** One subgraph's migration target: its DataSource (connected as its role) and schema. */
export interface MigrationTarget {
  subgraph: SubgraphName;
  role: string;
  url: string;
  dataSource: DataSource;
}

/** Runs a subgraph's migrations as its own role, then its job-queue migrations. */
export async function migrateUp(adminUrl: string, target: MigrationTarget, log: Logger): Promise<void> {
  const ds = target.dataSource;
  if (!ds.isInitialized) await ds.initialize();
  try {
    const ran = await ds.runMigrations({ transaction: "each" });
    for (const m of ran) log.info({ subgraph: target.subgraph, migration: m.name }, "migrated");
  } finally {
    await ds.destroy();
  }
  await withCreateOnDatabase(adminUrl, target.role, () => migrateJobQueue(target.url, target.subgraph, log));
}

/** Undoes every migration of a subgraph, newest first (the job queue schema is dropped with it). */
export async function migrateDown(target: MigrationTarget, log: Logger): Promise<void> {
  const ds = target.dataSource;
  if (!ds.isInitialized) await ds.initialize();
  try {
    while ((await ds.query(`SELECT count(*)::int AS n FROM migrations`))[0].n > 0) {
      await ds.undoLastMigration({ transaction: "each" });
    }
    await ds.query(`DROP SCHEMA IF EXISTS ${ident(jobsSchema(target.subgraph))} CASCADE`);
    log.info({ subgraph: target.subgraph }, "migrations undone");
  } finally {
    await ds.destroy();
  }
}
