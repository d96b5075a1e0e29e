import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Rules imported from Sigma keep the rule's Sigma `id` and its YAML: importing the same rule again updates the
 * rule of that id instead of adding a second one (one per tenant and Sigma id, which the index enforces, also
 * for two imports running at once), and a reviewer can read what the rule was translated from.
 */
export class AnalyticsRuleSigma1766850000000 implements MigrationInterface {
  name = "SiemAnalyticsRuleSigma1766850000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE analytics_rules ADD COLUMN sigma_id text, ADD COLUMN sigma_yaml text`);
    await q.query(`ALTER TABLE analytics_rules ADD CONSTRAINT analytics_rules_sigma_yaml
      CHECK ((sigma_id IS NULL) = (sigma_yaml IS NULL))`);
    await q.query(
      `CREATE UNIQUE INDEX analytics_rules_sigma ON analytics_rules (tenant_id, sigma_id) WHERE sigma_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX analytics_rules_sigma`);
    await q.query(`ALTER TABLE analytics_rules DROP CONSTRAINT analytics_rules_sigma_yaml`);
    await q.query(`ALTER TABLE analytics_rules DROP COLUMN sigma_yaml, DROP COLUMN sigma_id`);
  }
}
