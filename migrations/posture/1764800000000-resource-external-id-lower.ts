import type { MigrationInterface, QueryRunner } from "typeorm";

/** Case-insensitive lookup of resources by provider id (alerts from logs name resources by ARM id / ARN). */
export class ResourceExternalIdLower1764800000000 implements MigrationInterface {
  name = "ResourceExternalIdLower1764800000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX resources_tenant_external_lower ON resources (tenant_id, lower(external_id))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX resources_tenant_external_lower`);
  }
}
