import type { QueryRunner } from "typeorm";
import { outboxSql, tenantRlsSql } from "./rls";

/**
 * The tables every subgraph schema has: the transactional outbox and the audit log. Each subgraph's
 * first migration calls these so the shapes stay identical across schemas.
 */
export async function createCommonTables(runner: QueryRunner, schema: string): Promise<void> {
  for (const sql of outboxSql(schema).up) await runner.query(sql);
  await runner.query(`CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      tenant_id text NOT NULL,
      actor text NOT NULL,
      action text NOT NULL,
      target text NOT NULL,
      details jsonb NOT NULL DEFAULT '{}',
      at timestamptz NOT NULL DEFAULT now()
    )`);
  await runner.query(`CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at DESC)`);
  for (const sql of tenantRlsSql("audit_log")) await runner.query(sql);
}

/** Reverses `createCommonTables`. */
export async function dropCommonTables(runner: QueryRunner, schema: string): Promise<void> {
  await runner.query(`DROP TABLE audit_log`);
  for (const sql of outboxSql(schema).down) await runner.query(sql);
}

/**
 * SQL for migrations: the `audit_log` indexes `auditTrail` filters by, in every subgraph alike. The table's
 * first index, by tenant and time, serves the unfiltered trail and the time window; a filter on who, what
 * or which object found its rows only by walking the tenant's whole history. `action` is indexed as
 * `COLLATE "C"`, the collation the trail compares it in, so an action prefix (`rules.*`) is a range.
 */
export function auditReadIndexesSql(): { up: string[]; down: string[] } {
  const columns = { actor: "actor", action: `action COLLATE "C"`, target: "target" };
  return {
    up: Object.entries(columns).map(
      ([name, column]) =>
        `CREATE INDEX audit_log_tenant_${name}_at ON audit_log (tenant_id, ${column}, at DESC, id DESC)`,
    ),
    down: Object.keys(columns).map((name) => `DROP INDEX audit_log_tenant_${name}_at`),
  };
}
