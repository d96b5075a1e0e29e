import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * The SIEM's mirror of which account each inventoried resource belongs to, kept by posture's relay
 * `siem-resource-accounts` (`syncResourceAccounts`), so that `CloudAccount.incidentSummary` needs only the
 * account's id instead of every resource id of the account from posture. `external_key` is the provider id as
 * RESOURCE entities store it (`entityKey`); `arm_scope` is that key without trailing slashes for an ARM id (null
 * otherwise): an entity `<arm_scope>/…` names something beneath the resource, as `Resource.alerts` counts it.
 * Both are looked up by plain `=`, which the tenant policy admits as an index condition.
 */
export class ResourceAccounts1767230000000 implements MigrationInterface {
  name = "SiemResourceAccounts1767230000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE resource_accounts (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      external_key text NOT NULL,
      arm_scope text,
      account_id uuid NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, resource_id)
    )`);
    await q.query(
      `CREATE INDEX resource_accounts_external_key ON resource_accounts (tenant_id, external_key)`,
    );
    await q.query(`CREATE INDEX resource_accounts_arm_scope ON resource_accounts (tenant_id, arm_scope)`);
    for (const sql of tenantRlsSql("resource_accounts")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE resource_accounts`);
  }
}
