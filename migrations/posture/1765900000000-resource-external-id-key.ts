import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Case-insensitive lookup of resources by provider id that the tenant policy lets Postgres answer from
 * an index. Under forced row-level security a condition becomes an index condition only when every
 * function applied to a column in it is leakproof; `lower()` is not, so `lower(r.external_id) = ANY(…)`
 * never used `resources_tenant_external_lower` as the posture role and read every resource of the
 * tenant (the alert → resource and finding → resource lookups of the federated graph). Now the lower-case
 * id is a stored generated column, compared with `=`, and indexed.
 */
export class ResourceExternalIdKey1765900000000 implements MigrationInterface {
  name = "ResourceExternalIdKey1765900000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE resources ADD COLUMN external_id_key text GENERATED ALWAYS AS (lower(external_id)) STORED`,
    );
    await q.query(`DROP INDEX resources_tenant_external_lower`);
    await q.query(`CREATE INDEX resources_tenant_external_key ON resources (tenant_id, external_id_key)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX resources_tenant_external_key`);
    await q.query(`ALTER TABLE resources DROP COLUMN external_id_key`);
    await q.query(
      `CREATE INDEX resources_tenant_external_lower ON resources (tenant_id, lower(external_id))`,
    );
  }
}
