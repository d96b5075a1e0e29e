import type { MigrationInterface, QueryRunner } from "typeorm";
import { relayOffsetsSql, tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Workload telemetry and detections.
 *
 * `telemetry` holds every record kind in one table partitioned by day (partitions are created ahead by
 * the ingest path and the maintenance job, and dropped whole by retention): the columns the analyses
 * filter on are typed (process image and hash, file path, flow direction, addresses and ports, logon
 * outcome), the rest of a record is in `details`. One table because every consumer asks the same
 * question — one machine's records of one kind over a time window — which one index answers
 * (tenant, resource, kind, time), and because one partition set and one duplicate key serve all kinds.
 *
 * `detections` are the alerts raised from telemetry, unique per tenant by their stable source id;
 * `relay_offsets` is where the relay to the SIEM stands in the outbox.
 */
export class Telemetry1765000000000 implements MigrationInterface {
  name = "Telemetry1765000000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE telemetry (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      record_id text NOT NULL,
      time timestamptz NOT NULL,
      kind text NOT NULL CHECK (kind IN ('process', 'file', 'packages', 'flow', 'logon')),
      host text NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      user_name text,
      path text,
      sha256 text,
      publisher text,
      action text,
      direction text,
      protocol text,
      src_ip inet,
      src_port int,
      dst_ip inet,
      dst_port int,
      success boolean,
      details jsonb NOT NULL DEFAULT '{}',
      UNIQUE (tenant_id, resource_id, record_id, time)
    ) PARTITION BY RANGE (time)`);
    await q.query(
      `CREATE INDEX telemetry_machine_kind_time ON telemetry (tenant_id, resource_id, kind, time)`,
    );
    await q.query(`CREATE TABLE detections (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      kind text NOT NULL,
      source_id text NOT NULL,
      resource_id uuid NOT NULL,
      severity text NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH')),
      title text NOT NULL,
      start_time timestamptz NOT NULL,
      end_time timestamptz NOT NULL,
      payload jsonb NOT NULL,
      raised_at timestamptz(3) NOT NULL DEFAULT now(),
      delivered_at timestamptz,
      alert_id uuid,
      delivery_error text,
      UNIQUE (tenant_id, source_id)
    )`);
    await q.query(`CREATE INDEX detections_tenant_raised ON detections (tenant_id, raised_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX detections_resource_raised ON detections (tenant_id, resource_id, raised_at DESC, id DESC)`,
    );
    for (const sql of tenantRlsSql("telemetry")) await q.query(sql);
    // System scope: the relay marks detections delivered across tenants.
    for (const sql of tenantRlsSql("detections", { allowSystem: true })) await q.query(sql);
    for (const sql of relayOffsetsSql().up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of relayOffsetsSql().down) await q.query(sql);
    await q.query(`DROP TABLE detections`);
    await q.query(`DROP TABLE telemetry`);
  }
}
