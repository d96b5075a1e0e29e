import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Exemptions at resource-group scope, as Azure Policy grants them: `resource_group` is the group's name as the
 * admin gave it (within the exemption's account, an Azure subscription), `resource_group_key` the group's ARM id
 * (`/subscriptions/<sub>/resourcegroups/<rg>`) lower-cased by Postgres, as `resources.external_id_key` is, so
 * the two compare exactly: a resource is in the group when its key is the group's or starts with it and `/`.
 * A group exemption names its account and no resource.
 */
export class ExemptionResourceGroup1766800000000 implements MigrationInterface {
  name = "ExemptionResourceGroup1766800000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE exemptions ADD COLUMN resource_group text, ADD COLUMN resource_group_key text`,
    );
    await q.query(
      `ALTER TABLE exemptions ADD CONSTRAINT exemptions_resource_group_scope CHECK (
         (resource_group IS NULL AND resource_group_key IS NULL)
         OR (resource_group IS NOT NULL AND resource_group_key IS NOT NULL AND resource_id IS NULL AND account_id IS NOT NULL)
       )`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // Group exemptions have no narrower meaning without their group: they go, rather than widen to the account.
    await q.query(`ALTER TABLE exemptions NO FORCE ROW LEVEL SECURITY`);
    await q.query(`DELETE FROM exemptions WHERE resource_group IS NOT NULL`);
    await q.query(`ALTER TABLE exemptions FORCE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE exemptions DROP CONSTRAINT exemptions_resource_group_scope`);
    await q.query(`ALTER TABLE exemptions DROP COLUMN resource_group_key, DROP COLUMN resource_group`);
  }
}
