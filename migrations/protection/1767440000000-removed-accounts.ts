import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Accounts off-boarded from posture's inventory (`removeCloudAccount`, relayed as `forgetRemovedAccounts`): their
 * plans are deleted, and `setPlan` refuses them from then on, even when posture said the account existed a moment
 * before the removal arrived (account ids are never reused).
 */
export class RemovedAccounts1767440000000 implements MigrationInterface {
  name = "ProtectionRemovedAccounts1767440000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE removed_accounts (
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      removed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, account_id)
    )`);
    for (const sql of tenantRlsSql("removed_accounts")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE removed_accounts`);
  }
}
