import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Protection's mirror of posture's inventory, reduced to what coverage needs: each resource's account and the
 * plan that covers its kind (`plan_type`, null when none does). Posture's relay `protection-resource-accounts`
 * keeps it (`syncInventoryResources`), so protection can tell in SQL, joined with `plans`, whether workload
 * protection covers a machine: the application-control report, JIT policies that predate their recorded account,
 * and a plan change's re-reports read it. Looked up by resource, and by account when a plan changes.
 */
export class ResourceAccounts1767430000000 implements MigrationInterface {
  name = "ProtectionResourceAccounts1767430000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE resource_accounts (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      account_id uuid NOT NULL,
      plan_type text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, resource_id)
    )`);
    await q.query(`CREATE INDEX resource_accounts_account ON resource_accounts (tenant_id, account_id)`);
    for (const sql of tenantRlsSql("resource_accounts")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE resource_accounts`);
  }
}
