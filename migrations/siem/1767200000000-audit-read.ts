import type { MigrationInterface, QueryRunner } from "typeorm";
import { auditReadIndexesSql } from "../../subgraphs/common/src";

/** The indexes the audit trail (`auditTrail { siem }`) reads by: one per filter, newest first within it. */
export class SiemAuditRead1767200000000 implements MigrationInterface {
  name = "SiemAuditRead1767200000000";

  async up(q: QueryRunner): Promise<void> {
    for (const sql of auditReadIndexesSql().up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of auditReadIndexesSql().down) await q.query(sql);
  }
}
