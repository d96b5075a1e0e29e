import type { MigrationInterface, QueryRunner } from "typeorm";
import { relayOffsetsSql } from "../../subgraphs/common/src";

/**
 * `relay_offsets` in posture: where posture's relays stand in its outbox. The first is
 * `protection-resource-removals`, which hands `inventory.resource.removed` events to protection so a removed
 * resource's JIT policy, grants, findings and memberships end there (the outbox retention keeps every row it
 * has not read yet, so no removal is lost while protection is down).
 */
export class PostureRelayOffsets1767100000000 implements MigrationInterface {
  name = "PostureRelayOffsets1767100000000";

  async up(q: QueryRunner): Promise<void> {
    for (const sql of relayOffsetsSql().up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of relayOffsetsSql().down) await q.query(sql);
  }
}
