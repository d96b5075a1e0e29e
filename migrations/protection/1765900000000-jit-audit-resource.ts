import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A resource's JIT audit trail straight from an index under the tenant policy.
 *
 * Under forced row-level security Postgres makes a condition an index condition only when every function
 * applied to a column in it is leakproof. `details->>'resourceId'` is not, so `audit_log_jit` answered
 * `details->>'resourceId' = $2` by reading every JIT entry of the tenant (index condition on the tenant
 * alone). The resource id of a `jit.*` entry is now a stored generated column, compared with `=`.
 */
export class JitAuditResource1765900000000 implements MigrationInterface {
  name = "JitAuditResource1765900000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_log ADD COLUMN jit_resource_id text
      GENERATED ALWAYS AS (CASE WHEN action LIKE 'jit.%' THEN details->>'resourceId' END) STORED`);
    await q.query(`DROP INDEX audit_log_jit`);
    await q.query(
      `CREATE INDEX audit_log_jit_resource ON audit_log (tenant_id, jit_resource_id, id DESC)
         WHERE jit_resource_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_log_jit_resource`);
    await q.query(`ALTER TABLE audit_log DROP COLUMN jit_resource_id`);
    await q.query(
      `CREATE INDEX audit_log_jit ON audit_log (tenant_id, (details->>'resourceId'), id DESC) WHERE action LIKE 'jit.%'`,
    );
  }
}
