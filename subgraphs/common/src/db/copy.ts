import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { EntityManager } from "typeorm";

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** Escapes one value for COPY's text format (NULL is `\N`). */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  const text =
    typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}

/**
 * Streams rows into `table` with COPY … FROM STDIN (text format), in chunks so a large batch never
 * builds one giant string. Runs on the caller's connection, inside its transaction.
 */
export async function copyRows(
  client: PoolClient,
  table: string,
  columns: readonly string[],
  rows: Iterable<readonly unknown[]>,
): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`));
  async function* lines() {
    let chunk = "";
    for (const row of rows) {
      chunk += row.map(copyText).join("\t") + "\n";
      if (chunk.length > 256 * 1024) {
        yield chunk;
        chunk = "";
      }
    }
    if (chunk) yield chunk;
  }
  await pipeline(Readable.from(lines()), stream);
}

/** The pg connection under a TypeORM transaction's EntityManager (COPY needs the raw client). */
export function connectionOf(m: EntityManager): PoolClient {
  const runner = m.queryRunner as unknown as { databaseConnection?: PoolClient } | undefined;
  if (!runner?.databaseConnection) throw new Error("COPY needs an EntityManager inside a transaction");
  return runner.databaseConnection;
}

/** What `copyInsertNew` writes. */
export interface CopyInsert {
  /** Target table (unqualified: the subgraph's schema). */
  table: string;
  columns: readonly string[];
  rows: Iterable<readonly unknown[]>;
  /** The unique key whose duplicates are ignored, e.g. `(tenant_id, connector, source_event_id, time)`. */
  conflict: string;
  /** Columns of the inserted rows to return (the caller learns which rows were new). */
  returning: string;
}

/**
 * Bulk insert that ignores rows already stored: COPY fills a temporary staging table shaped like the
 * target (COPY cannot write into a table with row-level security, and cannot skip conflicts), then one
 * `INSERT … SELECT … ON CONFLICT DO NOTHING` moves the rows in under the caller's tenant policy and
 * returns the new ones. Runs in the caller's transaction (the staging table is dropped at commit), once
 * per table and transaction.
 */
export async function copyInsertNew<R>(m: EntityManager, insert: CopyInsert): Promise<R[]> {
  const stage = `${insert.table}_stage`;
  const columns = insert.columns.join(", ");
  await m.query(`CREATE TEMP TABLE ${stage} (LIKE ${insert.table} INCLUDING DEFAULTS) ON COMMIT DROP`);
  await copyRows(connectionOf(m), stage, insert.columns, insert.rows);
  return (await m.query(
    `INSERT INTO ${insert.table} (${columns}) SELECT ${columns} FROM ${stage}
     ON CONFLICT ${insert.conflict} DO NOTHING RETURNING ${insert.returning}`,
  )) as R[];
}
