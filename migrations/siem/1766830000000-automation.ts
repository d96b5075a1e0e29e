import type { MigrationInterface, QueryRunner } from "typeorm";
import { relayOffsetsSql, tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Automation (SOAR): automation rules, the record of what they did per outbox event, and playbooks (signed
 * webhooks) with their signing secrets and run history.
 *
 * - `relay_offsets`: where the automation consumer stands in the SIEM's outbox (the outbox retention keeps
 *   every row it has not read yet, so no event is lost while it is behind).
 * - `automation_rules` is readable in system scope too: the consumer looks up, for a batch of events of many
 *   tenants, which tenants have rules for which triggers (and the daily clean-up prunes the bookkeeping tables).
 * - `automation_events` marks an outbox event (by its `seq`) as handled, in the transaction that applied its
 *   rules' actions: a job run again after a crash finds it and does nothing twice. `automation_runs` records,
 *   per (event, rule) whose conditions held, what each action did.
 * - `playbook_secrets` holds each playbook's signing secret sealed (AES-256-GCM), apart from `playbooks`, so
 *   no read of a playbook touches it; only the webhook sender opens it.
 */
export class Automation1766830000000 implements MigrationInterface {
  name = "SiemAutomation1766830000000";

  async up(q: QueryRunner): Promise<void> {
    for (const sql of relayOffsetsSql().up) await q.query(sql);
    await q.query(`CREATE TABLE playbooks (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      url text NOT NULL,
      body_template jsonb NOT NULL,
      enabled boolean NOT NULL DEFAULT true,
      max_attempts int NOT NULL CHECK (max_attempts BETWEEN 1 AND 10),
      retry_interval text NOT NULL,
      timeout text NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_by text NOT NULL,
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, name)
    )`);
    await q.query(`CREATE TABLE playbook_secrets (
      tenant_id text NOT NULL,
      playbook_id uuid PRIMARY KEY REFERENCES playbooks (id) ON DELETE CASCADE,
      sealed text NOT NULL,
      key_id text NOT NULL,
      set_at timestamptz(3) NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE automation_rules (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      name text NOT NULL,
      run_order int NOT NULL,
      trigger text NOT NULL CHECK (trigger IN ('INCIDENT_CREATED', 'INCIDENT_UPDATED', 'ALERT_CREATED')),
      analytics_rule_ids uuid[] NOT NULL DEFAULT '{}',
      conditions jsonb NOT NULL DEFAULT '[]',
      actions jsonb NOT NULL,
      enabled boolean NOT NULL DEFAULT true,
      expires_at timestamptz(3),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL,
      updated_at timestamptz(3) NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX automation_rules_order ON automation_rules (tenant_id, run_order, id)`);
    await q.query(`CREATE TABLE automation_events (
      tenant_id text NOT NULL,
      event_seq bigint NOT NULL,
      handled_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, event_seq)
    )`);
    await q.query(`CREATE TABLE automation_runs (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      rule_id uuid NOT NULL REFERENCES automation_rules (id) ON DELETE CASCADE,
      rule_name text NOT NULL,
      event_seq bigint NOT NULL,
      trigger text NOT NULL,
      incident_id uuid,
      alert_id uuid,
      status text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
      actions jsonb NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, event_seq, rule_id)
    )`);
    await q.query(
      `CREATE INDEX automation_runs_recent ON automation_runs (tenant_id, created_at DESC, id DESC)`,
    );
    await q.query(
      `CREATE INDEX automation_runs_rule ON automation_runs (tenant_id, rule_id, created_at DESC)`,
    );
    await q.query(`CREATE TABLE playbook_runs (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      playbook_id uuid NOT NULL REFERENCES playbooks (id) ON DELETE CASCADE,
      incident_id uuid,
      alert_id uuid,
      automation_rule_id uuid,
      triggered_by text NOT NULL,
      status text NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'RETRYING', 'SUCCEEDED', 'FAILED')),
      body text NOT NULL,
      attempts int NOT NULL DEFAULT 0,
      max_attempts int NOT NULL,
      last_response_code int,
      last_error text,
      attempt_log jsonb NOT NULL DEFAULT '[]',
      next_attempt_at timestamptz(3),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      completed_at timestamptz(3)
    )`);
    await q.query(`CREATE INDEX playbook_runs_recent ON playbook_runs (tenant_id, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX playbook_runs_playbook ON playbook_runs (tenant_id, playbook_id, created_at DESC)`,
    );
    await q.query(
      `CREATE INDEX playbook_runs_incident ON playbook_runs (tenant_id, incident_id, created_at DESC)`,
    );
    // System scope: the consumer reads which tenants have rules; the daily clean-up prunes the bookkeeping.
    for (const table of ["automation_rules", "automation_events", "automation_runs", "playbook_runs"])
      for (const sql of tenantRlsSql(table, { allowSystem: true })) await q.query(sql);
    for (const table of ["playbooks", "playbook_secrets"])
      for (const sql of tenantRlsSql(table)) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      "playbook_runs",
      "automation_runs",
      "automation_events",
      "automation_rules",
      "playbook_secrets",
      "playbooks",
    ])
      await q.query(`DROP TABLE ${table}`);
    for (const sql of relayOffsetsSql().down) await q.query(sql);
  }
}
