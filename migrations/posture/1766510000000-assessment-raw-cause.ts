import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The cause an assessment was evaluated or reported with, before any exemption (`raw_cause`), beside the
 * status it had then (`raw_status`).
 *
 * An exempted assessment shows the exemption as its cause, so the scanner's own cause of an external
 * assessment was lost with it: revoking the exemption restored the status with no cause. Rows not exempted
 * today get their cause; exempted ones have none to recover (built-in and custom ones get theirs back at
 * their next evaluation).
 */
export class AssessmentRawCause1766510000000 implements MigrationInterface {
  name = "AssessmentRawCause1766510000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE assessments ADD COLUMN raw_cause text`);
    // Every tenant's rows: the owner runs migrations and is bound by the forced tenant policy, so it is lifted
    // for this one statement (inside the migration's transaction).
    await q.query(`ALTER TABLE assessments NO FORCE ROW LEVEL SECURITY`);
    await q.query(`UPDATE assessments SET raw_cause = cause WHERE exemption_id IS NULL`);
    await q.query(`ALTER TABLE assessments FORCE ROW LEVEL SECURITY`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE assessments DROP COLUMN raw_cause`);
  }
}
