import type { MigrationInterface, QueryRunner } from "typeorm";
import { outboxIdentitySql } from "../../subgraphs/common/src";

/**
 * `outbox_rebases` records the identity of the outbox (server, database, table) and why each epoch started
 * (`outboxIdentitySql`), so migrate starts a new cursor epoch after a restore into a server that is ahead.
 */
export class OutboxIdentity1767000000000 implements MigrationInterface {
  name = "PostureOutboxIdentity1767000000000";

  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxIdentitySql().up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of outboxIdentitySql().down) await q.query(sql);
  }
}
