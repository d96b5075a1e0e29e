import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `telemetry` keeps one index instead of two. The record key becomes (tenant, machine, kind, time,
 * record id): it still makes a re-sent record a duplicate (a record does not change kind), and its prefix
 * (tenant, machine, kind, time) serves every telemetry query — the brute-force look-back, application-control
 * learning, file changes, network hardening — which used the separate `telemetry_machine_kind_time`. Each
 * stored record then updates one B-tree instead of two: about 40 % less Postgres work per inserted row
 * (bench/README.md, telemetry).
 */
export class TelemetryOneIndex1765400000000 implements MigrationInterface {
  name = "TelemetryOneIndex1765400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE telemetry ADD CONSTRAINT telemetry_record_key UNIQUE (tenant_id, resource_id, kind, time, record_id)`,
    );
    await q.query(`ALTER TABLE telemetry DROP CONSTRAINT telemetry_tenant_id_resource_id_record_id_time_key`);
    await q.query(`DROP INDEX telemetry_machine_kind_time`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX telemetry_machine_kind_time ON telemetry (tenant_id, resource_id, kind, time)`,
    );
    await q.query(
      `ALTER TABLE telemetry ADD CONSTRAINT telemetry_tenant_id_resource_id_record_id_time_key UNIQUE (tenant_id, resource_id, record_id, time)`,
    );
    await q.query(`ALTER TABLE telemetry DROP CONSTRAINT telemetry_record_key`);
  }
}
