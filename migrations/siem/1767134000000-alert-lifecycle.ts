import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Alert lifecycle:
 * - automation rules may trigger on ALERT_UPDATED (an analyst's triage or a provider's repeat with new values);
 * - `Query.alerts` orders by start time or end time besides arrival: an index per time ordering, so a page of a
 *   large tenant reads its rows in order instead of sorting them all; `alerts_tenant_status` serves the status
 *   filter (the triage queue: NEW alerts, newest first).
 */
export class AlertLifecycle1767134000000 implements MigrationInterface {
  name = "SiemAlertLifecycle1767134000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE automation_rules DROP CONSTRAINT automation_rules_trigger_check`);
    await q.query(
      `ALTER TABLE automation_rules ADD CONSTRAINT automation_rules_trigger_check
         CHECK (trigger IN ('INCIDENT_CREATED', 'INCIDENT_UPDATED', 'ALERT_CREATED', 'ALERT_UPDATED'))`,
    );
    await q.query(`CREATE INDEX alerts_tenant_start ON alerts (tenant_id, start_time DESC, id DESC)`);
    await q.query(`CREATE INDEX alerts_tenant_end ON alerts (tenant_id, end_time DESC, id DESC)`);
    await q.query(
      `CREATE INDEX alerts_tenant_status ON alerts (tenant_id, status, created_at DESC, id DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX alerts_tenant_status`);
    await q.query(`DROP INDEX alerts_tenant_end`);
    await q.query(`DROP INDEX alerts_tenant_start`);
    await q.query(`DELETE FROM automation_rules WHERE trigger = 'ALERT_UPDATED'`);
    await q.query(`ALTER TABLE automation_rules DROP CONSTRAINT automation_rules_trigger_check`);
    await q.query(
      `ALTER TABLE automation_rules ADD CONSTRAINT automation_rules_trigger_check
         CHECK (trigger IN ('INCIDENT_CREATED', 'INCIDENT_UPDATED', 'ALERT_CREATED'))`,
    );
  }
}
