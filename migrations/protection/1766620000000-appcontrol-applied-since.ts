import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Since when each machine's allow list applies: `app_control_groups.applied_since` (when the group last left
 * mode NONE) and `app_control_members.member_since` (when the machine joined the group). Agents upload process
 * records up to 30 days late; a record from before the later of the two was not run under that allow list and is
 * not judged by it (before, a late upload raised violations for executions that happened before the group was
 * even audited). Existing rows: groups in AUDIT/ENFORCE since their last update, members since their group's
 * creation.
 */
export class AppControlAppliedSince1766620000000 implements MigrationInterface {
  name = "ProtectionAppControlAppliedSince1766620000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE app_control_groups ADD COLUMN applied_since timestamptz`);
    await q.query(`UPDATE app_control_groups SET applied_since = updated_at WHERE mode <> 'NONE'`);
    await q.query(
      `ALTER TABLE app_control_members ADD COLUMN member_since timestamptz NOT NULL DEFAULT now()`,
    );
    await q.query(
      `UPDATE app_control_members mem SET member_since = g.created_at FROM app_control_groups g WHERE g.id = mem.group_id`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE app_control_members DROP COLUMN member_since`);
    await q.query(`ALTER TABLE app_control_groups DROP COLUMN applied_since`);
  }
}
