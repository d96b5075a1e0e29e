import type { MigrationInterface, QueryRunner } from "typeorm";
import { outboxIdentitySql } from "../../subgraphs/common/src";

/**
 * `playbook_runs_alert`: `SecurityAlert.playbookRuns` pages an alert's runs (ALERT_CREATED automation) newest
 * first, for every alert of a page at once; without the index each page would scan the tenant's run history.
 *
 * `outbox_rebases` records the identity of the outbox (server, database, table) and why each epoch started
 * (`outboxIdentitySql`), so migrate starts a new cursor epoch after a restore into a server that is ahead.
 */
export class AlertRunsOutboxIdentity1767000000000 implements MigrationInterface {
  name = "SiemAlertRunsOutboxIdentity1767000000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX playbook_runs_alert ON playbook_runs (tenant_id, alert_id, created_at DESC) WHERE alert_id IS NOT NULL`,
    );
    for (const sql of outboxIdentitySql().up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of outboxIdentitySql().down) await q.query(sql);
    await q.query(`DROP INDEX playbook_runs_alert`);
  }
}
