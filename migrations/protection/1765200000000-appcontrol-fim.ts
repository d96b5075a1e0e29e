import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Adaptive application control, file integrity monitoring and the reports to posture.
 *
 * - `app_control_groups` / `app_control_members` / `app_control_rules`: groups of similar machines learned
 *   from process executions (a machine is in at most one group), each with its allow-list rules
 *   (RECOMMENDED until an admin approves them) and its mode (NONE, AUDIT, ENFORCE). Ids are derived from
 *   the content (members; group + rule identity), so learning the same executions again gives the same ids.
 * - `fim_watch_lists`: watched paths of the tenant (group_id NULL) or of one app-control group; without
 *   a row the built-in defaults apply. `fim_baselines`: the first hash seen per watched path per machine.
 * - `management_port_exposure`: internet traffic seen reaching a machine's SSH/RDP ports (the evidence
 *   behind the "Secure management ports" report).
 * - `posture_reports`: what protection last reported to posture per (resource, definition key), with a
 *   version; the relay sends the current row whenever a `posture.assessment` outbox event names it.
 *   System scope may read it (the relay runs across tenants).
 */
export class AppControlFim1765200000000 implements MigrationInterface {
  name = "AppControlFim1765200000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE app_control_groups (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      name text NOT NULL,
      mode text NOT NULL DEFAULT 'NONE' CHECK (mode IN ('NONE', 'AUDIT', 'ENFORCE')),
      window_start timestamptz NOT NULL,
      window_end timestamptz NOT NULL,
      learned_at timestamptz NOT NULL DEFAULT now(),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX app_control_groups_tenant ON app_control_groups (tenant_id, name, id)`);
    await q.query(`CREATE TABLE app_control_members (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      group_id uuid NOT NULL REFERENCES app_control_groups (id) ON DELETE CASCADE,
      host text NOT NULL,
      PRIMARY KEY (tenant_id, resource_id)
    )`);
    await q.query(`CREATE INDEX app_control_members_group ON app_control_members (group_id)`);
    await q.query(`CREATE TABLE app_control_rules (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      group_id uuid NOT NULL REFERENCES app_control_groups (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('PUBLISHER', 'PATH', 'HASH')),
      path text NOT NULL,
      path_key text NOT NULL,
      publisher text,
      sha256 text,
      machine_count int NOT NULL,
      prevalence numeric(5, 4) NOT NULL CHECK (prevalence BETWEEN 0 AND 1),
      execution_count bigint NOT NULL,
      first_seen timestamptz NOT NULL,
      last_seen timestamptz NOT NULL,
      status text NOT NULL DEFAULT 'RECOMMENDED' CHECK (status IN ('RECOMMENDED', 'APPROVED')),
      approved_by text,
      approved_at timestamptz
    )`);
    await q.query(
      `CREATE INDEX app_control_rules_group ON app_control_rules (group_id, status, prevalence DESC, id)`,
    );
    await q.query(`CREATE TABLE fim_watch_lists (
      tenant_id text NOT NULL,
      group_id uuid REFERENCES app_control_groups (id) ON DELETE CASCADE,
      paths jsonb NOT NULL CHECK (jsonb_typeof(paths) = 'array'),
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE NULLS NOT DISTINCT (tenant_id, group_id)
    )`);
    await q.query(`CREATE TABLE fim_baselines (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      path_key text NOT NULL,
      path text NOT NULL,
      sha256 text,
      first_seen timestamptz NOT NULL,
      record_id text NOT NULL,
      PRIMARY KEY (tenant_id, resource_id, path_key)
    )`);
    await q.query(`CREATE TABLE management_port_exposure (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      port int NOT NULL,
      connections bigint NOT NULL,
      first_seen timestamptz NOT NULL,
      last_seen timestamptz NOT NULL,
      last_source inet NOT NULL,
      PRIMARY KEY (tenant_id, resource_id, port)
    )`);
    await q.query(`CREATE TABLE posture_reports (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      definition_key text NOT NULL,
      status text NOT NULL CHECK (status IN ('HEALTHY', 'UNHEALTHY', 'NOT_APPLICABLE')),
      cause text,
      version bigint NOT NULL DEFAULT 1,
      updated_at timestamptz NOT NULL DEFAULT now(),
      delivered_version bigint,
      delivered_at timestamptz,
      delivery_error text,
      PRIMARY KEY (tenant_id, resource_id, definition_key)
    )`);
    for (const table of [
      "app_control_groups",
      "app_control_members",
      "app_control_rules",
      "fim_watch_lists",
      "fim_baselines",
      "management_port_exposure",
    ])
      for (const sql of tenantRlsSql(table)) await q.query(sql);
    // System scope: the relay reads the reports it delivers and records their delivery, across tenants.
    for (const sql of tenantRlsSql("posture_reports", { allowSystem: true })) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      "posture_reports",
      "management_port_exposure",
      "fim_baselines",
      "fim_watch_lists",
      "app_control_rules",
      "app_control_members",
      "app_control_groups",
    ])
      await q.query(`DROP TABLE ${table}`);
  }
}
