import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A JIT policy records its machine's account (as posture answered when the policy was set), so every reader can
 * tell in SQL whether the policy is enforced: only while that account's SERVERS plan is STANDARD does the agent
 * lock the ports. Policies stored before this migration have no account (null) and keep counting as enforced,
 * as they did, until their agent next polls `agentPolicy` (which records the account posture answers) or they
 * are next set; a plan change re-reports the policies of its account.
 */
export class JitPolicyAccount1767410000000 implements MigrationInterface {
  name = "JitPolicyAccount1767410000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jit_policies ADD COLUMN account_id uuid`);
    await q.query(
      `CREATE INDEX jit_policies_tenant_account ON jit_policies (tenant_id, account_id) WHERE account_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jit_policies_tenant_account`);
    await q.query(`ALTER TABLE jit_policies DROP COLUMN account_id`);
  }
}
