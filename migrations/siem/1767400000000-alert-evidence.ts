import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * The evidence a provider sends with an alert (`SecurityAlert.evidence`): a workload-protection detection's
 * process and command line, file path and hashes, host, addresses and counts; whatever an external tool states.
 * A table beside `alerts`, one row per alert that has any: lists, correlation and the incident graph read
 * `alerts` rows whole, and would otherwise carry up to 32 KiB of JSON an alert they never show.
 */
export class AlertEvidence1767400000000 implements MigrationInterface {
  name = "SiemAlertEvidence1767400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE alert_evidence (
      tenant_id text NOT NULL,
      alert_id uuid PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
      evidence jsonb NOT NULL
    )`);
    for (const sql of tenantRlsSql("alert_evidence")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE alert_evidence`);
  }
}
