import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * A tenant's own protection settings, starting with its agent credential policy: `require_machine_binding`
 * (default off, as before) refuses the tenant's unbound INGESTOR tokens at `agentPolicy` and at telemetry and
 * package-inventory ingest, so that only machine-bound agent credentials (`rampart:resource`) speak for a machine.
 * No row: the defaults.
 */
export class AgentCredentialPolicy1767260000000 implements MigrationInterface {
  name = "ProtectionAgentCredentialPolicy1767260000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE tenant_settings (
      tenant_id text PRIMARY KEY,
      require_machine_binding boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL
    )`);
    for (const sql of tenantRlsSql("tenant_settings")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tenant_settings`);
  }
}
