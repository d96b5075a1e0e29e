import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** Analytics rules (scheduled and near-real-time) and threat-intelligence indicators. */
export class RulesIntel1764700000000 implements MigrationInterface {
  name = "RulesIntel1764700000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE analytics_rules (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      template_id text,
      kind text NOT NULL CHECK (kind IN ('SCHEDULED', 'NRT')),
      enabled boolean NOT NULL,
      version int NOT NULL DEFAULT 1,
      spec jsonb NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      last_run_at timestamptz,
      last_fired_at timestamptz,
      suppressed_until timestamptz
    )`);
    await q.query(`CREATE INDEX analytics_rules_tenant ON analytics_rules (tenant_id, kind) WHERE enabled`);
    await q.query(`CREATE TABLE threat_indicators (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      stix_id text NOT NULL,
      name text,
      description text,
      pattern text NOT NULL,
      groups jsonb NOT NULL,
      partial boolean NOT NULL DEFAULT false,
      confidence int,
      labels text[] NOT NULL DEFAULT '{}',
      indicator_types text[] NOT NULL DEFAULT '{}',
      valid_from timestamptz NOT NULL,
      valid_until timestamptz,
      revoked boolean NOT NULL DEFAULT false,
      created timestamptz NOT NULL,
      modified timestamptz NOT NULL,
      imported_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, stix_id)
    )`);
    await q.query(`CREATE INDEX threat_indicators_tenant ON threat_indicators (tenant_id, imported_at DESC)`);
    for (const table of ["analytics_rules", "threat_indicators"]) {
      for (const sql of tenantRlsSql(table, { allowSystem: table === "analytics_rules" })) await q.query(sql);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE threat_indicators`);
    await q.query(`DROP TABLE analytics_rules`);
  }
}
