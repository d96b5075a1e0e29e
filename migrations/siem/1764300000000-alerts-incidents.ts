import type { MigrationInterface, QueryRunner } from "typeorm";
import { createCommonTables, dropCommonTables, tenantRlsSql } from "../../subgraphs/common/src";

/** Minimal alerts and incidents, plus the outbox and audit log every schema has. */
export class AlertsIncidents1764300000000 implements MigrationInterface {
  name = "AlertsIncidents1764300000000";

  async up(q: QueryRunner): Promise<void> {
    await createCommonTables(q, "siem");
    await q.query(`CREATE TABLE alerts (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      provider text NOT NULL CHECK (provider IN ('ANALYTICS_RULE', 'TI_MATCH', 'WORKLOAD_PROTECTION', 'EXTERNAL')),
      source_id text NOT NULL,
      title text NOT NULL,
      description text NOT NULL DEFAULT '',
      severity text NOT NULL CHECK (severity IN ('INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH')),
      status text NOT NULL CHECK (status IN ('NEW', 'ACTIVE', 'RESOLVED', 'DISMISSED')),
      tactics text[] NOT NULL DEFAULT '{}',
      techniques text[] NOT NULL DEFAULT '{}',
      resource_id uuid,
      start_time timestamptz NOT NULL,
      end_time timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, provider, source_id)
    )`);
    await q.query(`CREATE INDEX alerts_tenant_created ON alerts (tenant_id, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX alerts_tenant_resource ON alerts (tenant_id, resource_id, created_at DESC, id DESC) WHERE resource_id IS NOT NULL`,
    );
    await q.query(`CREATE TABLE incident_counters (tenant_id text PRIMARY KEY, last_number int NOT NULL)`);
    await q.query(`CREATE TABLE incidents (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      number int NOT NULL,
      title text NOT NULL,
      description text NOT NULL DEFAULT '',
      severity text NOT NULL CHECK (severity IN ('INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH')),
      status text NOT NULL CHECK (status IN ('NEW', 'ACTIVE', 'CLOSED')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, number)
    )`);
    await q.query(`CREATE INDEX incidents_tenant_created ON incidents (tenant_id, created_at DESC, id DESC)`);
    await q.query(`CREATE TABLE incident_alerts (
      tenant_id text NOT NULL,
      incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
      alert_id uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
      added_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (incident_id, alert_id)
    )`);
    await q.query(`CREATE INDEX incident_alerts_alert ON incident_alerts (alert_id)`);
    for (const table of ["alerts", "incident_counters", "incidents", "incident_alerts"]) {
      for (const sql of tenantRlsSql(table)) await q.query(sql);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["incident_alerts", "incidents", "incident_counters", "alerts"])
      await q.query(`DROP TABLE ${table}`);
    await dropCommonTables(q, "siem");
  }
}
