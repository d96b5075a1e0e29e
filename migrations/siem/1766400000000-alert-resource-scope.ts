import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `Resource.alerts` also lists alerts that name something beneath a resource's ARM id (its diagnostic setting,
 * a secret of a key vault, a subnet of a network): a byte-wise range over the RESOURCE entities' values
 * (`~>=~` / `~<~`, which the tenant policy lets Postgres use, as they are leakproof), served by this index.
 */
export class AlertResourceScope1766400000000 implements MigrationInterface {
  name = "SiemAlertResourceScope1766400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX alert_entities_resource_scope ON alert_entities (tenant_id, value text_pattern_ops) WHERE entity_type = 'RESOURCE'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX alert_entities_resource_scope`);
  }
}
