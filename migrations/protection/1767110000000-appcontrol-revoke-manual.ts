import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Application-control rules can be revoked and added by hand: status REVOKED (with who, when and why) and an
 * `origin` (LEARNED, or MANUAL for `addAppControlRule`). Learning keeps both as they are.
 */
export class AppControlRevokeManual1767110000000 implements MigrationInterface {
  name = "AppControlRevokeManual1767110000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE app_control_rules DROP CONSTRAINT app_control_rules_status_check`);
    await q.query(
      `ALTER TABLE app_control_rules ADD CONSTRAINT app_control_rules_status_check
         CHECK (status IN ('RECOMMENDED', 'APPROVED', 'REVOKED'))`,
    );
    await q.query(
      `ALTER TABLE app_control_rules
         ADD COLUMN origin text NOT NULL DEFAULT 'LEARNED' CHECK (origin IN ('LEARNED', 'MANUAL')),
         ADD COLUMN revoked_by text,
         ADD COLUMN revoked_at timestamptz,
         ADD COLUMN revoke_reason text`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // Revoked rules become recommendations again (not allowed); manual ones go.
    await q.query(`DELETE FROM app_control_rules WHERE origin = 'MANUAL'`);
    await q.query(`UPDATE app_control_rules SET status = 'RECOMMENDED' WHERE status = 'REVOKED'`);
    await q.query(
      `ALTER TABLE app_control_rules DROP COLUMN origin, DROP COLUMN revoked_by, DROP COLUMN revoked_at, DROP COLUMN revoke_reason`,
    );
    await q.query(`ALTER TABLE app_control_rules DROP CONSTRAINT app_control_rules_status_check`);
    await q.query(
      `ALTER TABLE app_control_rules ADD CONSTRAINT app_control_rules_status_check CHECK (status IN ('RECOMMENDED', 'APPROVED'))`,
    );
  }
}
