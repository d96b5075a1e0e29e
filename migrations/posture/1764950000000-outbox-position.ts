import type { MigrationInterface, QueryRunner } from "typeorm";
import { outboxPositionSql } from "../../subgraphs/common/src";

/** Outbox rows get a gap-free reading position (transaction id, sequence) and tenant-aware NOTIFYs. */
export class OutboxPosition1764950000000 implements MigrationInterface {
  name = "PostureOutboxPosition1764950000000";

  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxPositionSql("posture").up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of outboxPositionSql("posture").down) await q.query(sql);
  }
}
