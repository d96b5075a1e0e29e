import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Incidents close with Sentinel's structured `classificationReason` beside the classification, and the free
 * text moves to `classification_comment` (Sentinel's `classificationComment`): the column that held it was
 * named `classification_reason`, the name the structured reason takes now. A reason is stored only with the
 * classification it belongs to, which the CHECK holds to whatever code writes the row.
 */
export class IncidentClassificationReason1766810000000 implements MigrationInterface {
  name = "SiemIncidentClassificationReason1766810000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE incidents RENAME COLUMN classification_reason TO classification_comment`);
    await q.query(`ALTER TABLE incidents ADD COLUMN classification_reason text,
      ADD CONSTRAINT incidents_classification_reason CHECK (classification_reason IS NULL OR
        (classification, classification_reason) IN (('TRUE_POSITIVE', 'SUSPICIOUS_ACTIVITY'),
          ('BENIGN_POSITIVE', 'SUSPICIOUS_BUT_EXPECTED'), ('FALSE_POSITIVE', 'INCORRECT_ALERT_LOGIC'),
          ('FALSE_POSITIVE', 'INACCURATE_DATA')))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE incidents DROP COLUMN classification_reason`);
    await q.query(`ALTER TABLE incidents RENAME COLUMN classification_comment TO classification_reason`);
  }
}
