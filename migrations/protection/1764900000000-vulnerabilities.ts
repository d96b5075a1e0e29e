import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** Vulnerability assessment: imported OSV advisories, package snapshots per machine, findings. */
export class Vulnerabilities1764900000000 implements MigrationInterface {
  name = "Vulnerabilities1764900000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE advisories (
      tenant_id text NOT NULL,
      id text NOT NULL,
      advisory jsonb NOT NULL,
      modified timestamptz NOT NULL,
      imported_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, id)
    )`);
    await q.query(`CREATE TABLE package_snapshots (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      taken_at timestamptz NOT NULL,
      os jsonb NOT NULL,
      packages jsonb NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, resource_id)
    )`);
    await q.query(`CREATE TABLE vulnerability_findings (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      resource_id uuid NOT NULL,
      advisory_id text NOT NULL,
      ecosystem text NOT NULL,
      package text NOT NULL,
      installed_version text NOT NULL,
      fixed_version text,
      cve text,
      aliases text[] NOT NULL DEFAULT '{}',
      summary text,
      cvss_score numeric,
      severity text NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN')),
      status text NOT NULL CHECK (status IN ('OPEN', 'FIXED')),
      first_seen timestamptz NOT NULL DEFAULT now(),
      last_seen timestamptz NOT NULL DEFAULT now(),
      fixed_at timestamptz,
      UNIQUE (tenant_id, resource_id, advisory_id, ecosystem, package)
    )`);
    await q.query(
      `CREATE INDEX vulnerability_findings_resource ON vulnerability_findings (tenant_id, resource_id, status)`,
    );
    for (const table of ["advisories", "package_snapshots", "vulnerability_findings"]) {
      for (const sql of tenantRlsSql(table)) await q.query(sql);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["vulnerability_findings", "package_snapshots", "advisories"])
      await q.query(`DROP TABLE ${table}`);
  }
}
