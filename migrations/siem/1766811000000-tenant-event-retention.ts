import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * A tenant's own settings, starting with how many days of its events are kept (null: the platform's
 * `EVENT_RETENTION_DAYS`). The daily maintenance reads every tenant's row (system scope) to find those that
 * keep fewer days than the platform, whose older events it deletes from the partitions kept for the others.
 */
export class TenantEventRetention1766811000000 implements MigrationInterface {
  name = "SiemTenantEventRetention1766811000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE tenant_settings (
      tenant_id text PRIMARY KEY,
      event_retention_days int CHECK (event_retention_days >= 1),
      updated_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL
    )`);
    for (const sql of tenantRlsSql("tenant_settings", { allowSystem: true })) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tenant_settings`);
  }
}
