import type { MigrationInterface, QueryRunner } from "typeorm";
import { createCommonTables, dropCommonTables, tenantRlsSql } from "../../subgraphs/common/src";

/** Plans per account, plus the outbox and audit log every schema has. */
export class Plans1764300000000 implements MigrationInterface {
  name = "Plans1764300000000";

  async up(q: QueryRunner): Promise<void> {
    await createCommonTables(q, "protection");
    await q.query(`CREATE TABLE plans (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      plan_type text NOT NULL CHECK (plan_type IN ('SERVERS', 'APP_SERVICE', 'STORAGE', 'SQL', 'KEY_VAULT',
        'RESOURCE_MANAGER', 'DNS', 'KUBERNETES', 'CONTAINER_REGISTRY')),
      tier text NOT NULL CHECK (tier IN ('FREE', 'STANDARD')),
      updated_by text,
      updated_at timestamptz,
      UNIQUE (tenant_id, account_id, plan_type)
    )`);
    for (const sql of tenantRlsSql("plans")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE plans`);
    await dropCommonTables(q, "protection");
  }
}
