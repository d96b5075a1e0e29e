import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Which version of each built-in definition a tenant's assessments reflect (`versions`: definition id →
 * version), so that an upgrade that adds definitions to the shipped benchmark (or gives one a new version)
 * evaluates them over resources already in inventory: incremental evaluation only sees resources that change,
 * and a GCP project onboarded before its definitions shipped would otherwise stay unassessed. The
 * `built_in_definitions_changed` job compares these with the shipped benchmark at every start.
 *
 * Tenants onboarded before this table get an empty record (every built-in is evaluated for them once). Their
 * rows are read with the forced tenant policy lifted for this one statement, as the owner runs migrations.
 */
export class BuiltInEvaluations1767210000000 implements MigrationInterface {
  name = "BuiltInEvaluations1767210000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE built_in_evaluations (
      tenant_id text PRIMARY KEY,
      versions jsonb NOT NULL,
      evaluated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`ALTER TABLE cloud_accounts NO FORCE ROW LEVEL SECURITY`);
    await q.query(
      `INSERT INTO built_in_evaluations (tenant_id, versions) SELECT DISTINCT tenant_id, '{}'::jsonb FROM cloud_accounts`,
    );
    await q.query(`ALTER TABLE cloud_accounts FORCE ROW LEVEL SECURITY`);
    // The job reads every tenant's record in the system scope, then works in each tenant's.
    for (const sql of tenantRlsSql("built_in_evaluations", { allowSystem: true })) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE built_in_evaluations`);
  }
}
