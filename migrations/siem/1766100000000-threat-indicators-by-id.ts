import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `threatIndicators` pages a tenant's indicators by id in SQL (it read up to 50,000 of them into memory,
 * and a feed holds more): `(tenant_id, id)` serves each page. The primary key alone (`id`) would walk
 * every tenant's indicators in id order, keeping the caller's.
 */
export class ThreatIndicatorsById1766100000000 implements MigrationInterface {
  name = "SiemThreatIndicatorsById1766100000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX threat_indicators_tenant_id ON threat_indicators (tenant_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX threat_indicators_tenant_id`);
  }
}
