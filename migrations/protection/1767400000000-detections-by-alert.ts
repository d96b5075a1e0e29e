import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `SecurityAlert.detection`: the detection behind a SIEM alert, found by the alert id the relay records once the
 * SIEM has accepted it (a page of alerts asks for all of theirs in one statement).
 */
export class DetectionsByAlert1767400000000 implements MigrationInterface {
  name = "ProtectionDetectionsByAlert1767400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX detections_tenant_alert ON detections (tenant_id, alert_id) WHERE alert_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX detections_tenant_alert`);
  }
}
