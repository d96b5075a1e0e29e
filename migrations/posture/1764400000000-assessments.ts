import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Policy engine state: custom definitions, per-account enablement, assessments with history,
 * exemptions, per-resource control states and the score counters kept incrementally from them,
 * daily score snapshots and the metadata of externally reported assessments.
 */
export class Assessments1764400000000 implements MigrationInterface {
  name = "Assessments1764400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE custom_definitions (
      tenant_id text NOT NULL,
      id text NOT NULL,
      version int NOT NULL DEFAULT 1,
      spec jsonb NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, id)
    )`);
    await q.query(`CREATE TABLE external_definitions (
      tenant_id text NOT NULL,
      id text NOT NULL,
      spec jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, id)
    )`);
    await q.query(`CREATE TABLE definition_settings (
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      definition_id text NOT NULL,
      enabled boolean NOT NULL,
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, account_id, definition_id)
    )`);
    await q.query(`CREATE TABLE exemptions (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      definition_id text NOT NULL,
      account_id uuid,
      resource_id uuid,
      category text NOT NULL CHECK (category IN ('WAIVER', 'MITIGATED')),
      reason text NOT NULL,
      expires_at timestamptz,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX exemptions_tenant_definition ON exemptions (tenant_id, definition_id)`);
    await q.query(`CREATE TABLE assessments (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      definition_id text NOT NULL,
      account_id uuid NOT NULL,
      control_id text NOT NULL,
      source text NOT NULL CHECK (source IN ('BUILT_IN', 'CUSTOM_POLICY', 'EXTERNAL')),
      status text NOT NULL CHECK (status IN ('HEALTHY', 'UNHEALTHY', 'NOT_APPLICABLE')),
      raw_status text NOT NULL CHECK (raw_status IN ('HEALTHY', 'UNHEALTHY', 'NOT_APPLICABLE')),
      cause text,
      exemption_id uuid,
      evaluated_at timestamptz NOT NULL DEFAULT now(),
      status_changed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, resource_id, definition_id)
    )`);
    await q.query(`CREATE INDEX assessments_definition ON assessments (tenant_id, definition_id, status)`);
    await q.query(`CREATE INDEX assessments_account ON assessments (tenant_id, account_id, definition_id)`);
    await q.query(`CREATE TABLE assessment_history (
      id bigserial PRIMARY KEY,
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      definition_id text NOT NULL,
      from_status text,
      to_status text NOT NULL,
      cause text,
      at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(
      `CREATE INDEX assessment_history_key ON assessment_history (tenant_id, resource_id, definition_id, id DESC)`,
    );
    await q.query(`CREATE TABLE control_states (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      control_id text NOT NULL,
      account_id uuid NOT NULL,
      healthy_count int NOT NULL,
      unhealthy_count int NOT NULL,
      na_count int NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, resource_id, control_id)
    )`);
    await q.query(`CREATE TABLE score_counters (
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      control_id text NOT NULL,
      healthy int NOT NULL DEFAULT 0,
      unhealthy int NOT NULL DEFAULT 0,
      not_applicable int NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, account_id, control_id)
    )`);
    await q.query(`CREATE TABLE score_snapshots (
      tenant_id text NOT NULL,
      scope text NOT NULL,
      day date NOT NULL,
      current numeric NOT NULL,
      max numeric NOT NULL,
      percentage numeric NOT NULL,
      controls jsonb NOT NULL,
      taken_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, scope, day)
    )`);
    for (const table of [
      "custom_definitions",
      "external_definitions",
      "definition_settings",
      "exemptions",
      "assessments",
      "assessment_history",
      "control_states",
    ]) {
      for (const sql of tenantRlsSql(table)) await q.query(sql);
    }
    // Daily snapshots run across tenants (system scope) from the job queue.
    for (const table of ["score_counters", "score_snapshots"]) {
      for (const sql of tenantRlsSql(table, { allowSystem: true })) await q.query(sql);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      "score_snapshots",
      "score_counters",
      "control_states",
      "assessment_history",
      "assessments",
      "exemptions",
      "definition_settings",
      "external_definitions",
      "custom_definitions",
    ]) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
