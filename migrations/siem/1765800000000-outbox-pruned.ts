import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * `outbox_pruned`: the last outbox position the retention job removed, per tenant and topic. A live
 * stream asked to resume from a cursor before it answers CURSOR_EXPIRED instead of replaying with a
 * silent gap; a quiet tenant's old cursor stays valid, since nothing of its was removed after it.
 */
export class OutboxPruned1765800000000 implements MigrationInterface {
  name = "SiemOutboxPruned1765800000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE outbox_pruned (
      tenant_id text NOT NULL,
      topic text NOT NULL,
      xid xid8 NOT NULL,
      seq bigint NOT NULL,
      pruned_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, topic)
    )`);
    for (const sql of tenantRlsSql("outbox_pruned", { allowSystem: true })) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE outbox_pruned`);
  }
}
