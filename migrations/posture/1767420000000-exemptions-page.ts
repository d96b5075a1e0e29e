import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `exemptions` becomes a paged list (newest first, keyset on creation time and id) instead of the newest 1,000:
 * creation times are kept to the millisecond, as a cursor (an ISO time) carries them, so a page boundary
 * neither skips nor repeats an exemption; and an index answers the order per tenant.
 */
export class ExemptionsPage1767420000000 implements MigrationInterface {
  name = "ExemptionsPage1767420000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE exemptions ALTER COLUMN created_at TYPE timestamptz(3)`);
    await q.query(
      `CREATE INDEX exemptions_tenant_created ON exemptions (tenant_id, created_at DESC, id DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX exemptions_tenant_created`);
    await q.query(`ALTER TABLE exemptions ALTER COLUMN created_at TYPE timestamptz`);
  }
}
