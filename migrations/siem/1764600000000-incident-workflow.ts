import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Alerts with entities and evidence; incidents with owner, labels, classification, etag,
 * comments, tasks and an activity log; the entity index used for correlation and investigation.
 */
export class IncidentWorkflow1764600000000 implements MigrationInterface {
  name = "IncidentWorkflow1764600000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE alerts
      ADD COLUMN entities jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN evidence_event_ids uuid[] NOT NULL DEFAULT '{}',
      ADD COLUMN rule_id uuid,
      ADD COLUMN remediation text[] NOT NULL DEFAULT '{}'`);
    await q.query(`CREATE TABLE alert_entities (
      tenant_id text NOT NULL,
      alert_id uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
      entity_type text NOT NULL,
      value text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (alert_id, entity_type, value)
    )`);
    await q.query(
      `CREATE INDEX alert_entities_lookup ON alert_entities (tenant_id, entity_type, value, created_at DESC)`,
    );
    await q.query(`ALTER TABLE incidents
      ADD COLUMN owner text,
      ADD COLUMN labels text[] NOT NULL DEFAULT '{}',
      ADD COLUMN classification text CHECK (classification IN ('TRUE_POSITIVE', 'BENIGN_POSITIVE', 'FALSE_POSITIVE', 'UNDETERMINED')),
      ADD COLUMN classification_reason text,
      ADD COLUMN closed_at timestamptz,
      ADD COLUMN etag int NOT NULL DEFAULT 1,
      ADD COLUMN severity_pinned boolean NOT NULL DEFAULT false,
      ADD COLUMN first_activity timestamptz,
      ADD COLUMN last_activity timestamptz,
      ADD COLUMN merged_into uuid REFERENCES incidents (id),
      ADD COLUMN rule_id uuid,
      ADD COLUMN grouping_key text,
      ADD COLUMN alert_count int NOT NULL DEFAULT 0`);
    await q.query(
      `CREATE INDEX incidents_grouping ON incidents (tenant_id, rule_id, grouping_key, created_at DESC)`,
    );
    await q.query(`CREATE TABLE incident_comments (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
      author text NOT NULL,
      message text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX incident_comments_incident ON incident_comments (incident_id, created_at)`);
    await q.query(`CREATE TABLE incident_tasks (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
      title text NOT NULL,
      status text NOT NULL CHECK (status IN ('NEW', 'COMPLETED')),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    )`);
    await q.query(`CREATE INDEX incident_tasks_incident ON incident_tasks (incident_id, created_at)`);
    await q.query(`CREATE TABLE incident_activity (
      tenant_id text NOT NULL,
      id bigserial PRIMARY KEY,
      incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
      actor text NOT NULL,
      action text NOT NULL,
      changes jsonb NOT NULL DEFAULT '{}',
      at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX incident_activity_incident ON incident_activity (incident_id, id)`);
    for (const table of ["alert_entities", "incident_comments", "incident_tasks", "incident_activity"]) {
      for (const sql of tenantRlsSql(table)) await q.query(sql);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["incident_activity", "incident_tasks", "incident_comments", "alert_entities"])
      await q.query(`DROP TABLE ${table}`);
    await q.query(`ALTER TABLE incidents DROP COLUMN owner, DROP COLUMN labels, DROP COLUMN classification,
      DROP COLUMN classification_reason, DROP COLUMN closed_at, DROP COLUMN etag, DROP COLUMN severity_pinned,
      DROP COLUMN first_activity, DROP COLUMN last_activity, DROP COLUMN merged_into, DROP COLUMN rule_id,
      DROP COLUMN grouping_key, DROP COLUMN alert_count`);
    await q.query(
      `ALTER TABLE alerts DROP COLUMN entities, DROP COLUMN evidence_event_ids, DROP COLUMN rule_id, DROP COLUMN remediation`,
    );
  }
}
