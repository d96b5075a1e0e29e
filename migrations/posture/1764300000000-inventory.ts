import type { MigrationInterface, QueryRunner } from "typeorm";
import { createCommonTables, dropCommonTables, tenantRlsSql } from "../../subgraphs/common/src";

/** Inventory: accounts and resources, plus the outbox and audit log every schema has. */
export class Inventory1764300000000 implements MigrationInterface {
  name = "Inventory1764300000000";

  async up(q: QueryRunner): Promise<void> {
    await createCommonTables(q, "posture");
    await q.query(`CREATE TABLE cloud_accounts (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      provider text NOT NULL CHECK (provider IN ('AZURE', 'AWS', 'GCP', 'ON_PREMISES')),
      external_id text NOT NULL,
      name text NOT NULL,
      onboarded_at timestamptz NOT NULL DEFAULT now(),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, provider, external_id),
      UNIQUE (tenant_id, id)
    )`);
    await q.query(`CREATE INDEX cloud_accounts_tenant_name ON cloud_accounts (tenant_id, name, id)`);
    await q.query(`CREATE TABLE resources (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      provider text NOT NULL,
      type text NOT NULL,
      kind text NOT NULL,
      external_id text NOT NULL,
      name text NOT NULL,
      region text,
      resource_group text,
      tags jsonb NOT NULL DEFAULT '{}',
      properties jsonb NOT NULL DEFAULT '{}',
      first_seen timestamptz NOT NULL DEFAULT now(),
      last_seen timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, external_id),
      FOREIGN KEY (tenant_id, account_id) REFERENCES cloud_accounts (tenant_id, id) ON DELETE CASCADE
    )`);
    await q.query(`CREATE INDEX resources_tenant_name ON resources (tenant_id, name, id)`);
    await q.query(`CREATE INDEX resources_tenant_type ON resources (tenant_id, type, id)`);
    await q.query(`CREATE INDEX resources_tenant_account ON resources (tenant_id, account_id)`);
    await q.query(`CREATE INDEX resources_tenant_last_seen ON resources (tenant_id, last_seen, id)`);
    await q.query(`CREATE INDEX resources_tenant_first_seen ON resources (tenant_id, first_seen, id)`);
    await q.query(`CREATE INDEX resources_tags ON resources USING gin (tags jsonb_path_ops)`);
    for (const table of ["cloud_accounts", "resources"]) {
      for (const sql of tenantRlsSql(table)) await q.query(sql);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE resources`);
    await q.query(`DROP TABLE cloud_accounts`);
    await dropCommonTables(q, "posture");
  }
}
