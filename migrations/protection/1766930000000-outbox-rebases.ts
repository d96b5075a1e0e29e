import type { MigrationInterface, QueryRunner } from "typeorm";
import { outboxRebasesSql } from "../../subgraphs/common/src";

/**
 * `outbox_rebases`: where `npm run migrate` records that it rebased the outbox positions after a logical
 * restore into another Postgres server, with the cursor epoch that refuses subscription cursors from before.
 */
export class OutboxRebases1766930000000 implements MigrationInterface {
  name = "ProtectionOutboxRebases1766930000000";

  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxRebasesSql().up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of outboxRebasesSql().down) await q.query(sql);
  }
}
