import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `analyticsRules` pages a tenant's rules by id, filtered in SQL: the primary key alone is by id across every
 * tenant, and the only other index holds enabled rules by kind, so a page walked other tenants' rules.
 */
export class AnalyticsRulesByTenant1767120000000 implements MigrationInterface {
  name = "SiemAnalyticsRulesByTenant1767120000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX analytics_rules_tenant_id ON analytics_rules (tenant_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX analytics_rules_tenant_id`);
  }
}
