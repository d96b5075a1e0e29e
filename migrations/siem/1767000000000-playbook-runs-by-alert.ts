import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `playbook_runs_alert`: `SecurityAlert.playbookRuns` pages an alert's runs (ALERT_CREATED automation) newest
 * first, for every alert of a page at once; without the index each page would scan the tenant's run history.
 */
export class PlaybookRunsByAlert1767000000000 implements MigrationInterface {
  name = "SiemPlaybookRunsByAlert1767000000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX playbook_runs_alert ON playbook_runs (tenant_id, alert_id, created_at DESC) WHERE alert_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX playbook_runs_alert`);
  }
}
