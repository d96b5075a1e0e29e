import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * The event store: normalised events in a table partitioned by day (partitions are created ahead
 * by the ingest path and the maintenance job, and dropped whole by retention), and the data
 * connectors' counters.
 */
export class Events1764500000000 implements MigrationInterface {
  name = "Events1764500000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE data_connectors (
      tenant_id text NOT NULL,
      kind text NOT NULL,
      events_total bigint NOT NULL DEFAULT 0,
      rejected_total bigint NOT NULL DEFAULT 0,
      duplicates_total bigint NOT NULL DEFAULT 0,
      last_event_at timestamptz,
      last_ingest_at timestamptz,
      PRIMARY KEY (tenant_id, kind)
    )`);
    await q.query(`CREATE TABLE events (
      tenant_id text NOT NULL,
      id uuid NOT NULL,
      connector text NOT NULL,
      source_event_id text NOT NULL,
      time timestamptz NOT NULL,
      ingested_at timestamptz NOT NULL DEFAULT now(),
      class_uid int NOT NULL,
      activity_id int NOT NULL,
      severity_id smallint NOT NULL,
      status text NOT NULL,
      message text,
      actor_user text,
      src_ip inet,
      src_port int,
      dst_ip inet,
      dst_port int,
      device text,
      resource_id text,
      operation text,
      src_country text,
      attributes jsonb NOT NULL DEFAULT '{}',
      raw jsonb,
      UNIQUE (tenant_id, connector, source_event_id, time)
    ) PARTITION BY RANGE (time)`);
    await q.query(`CREATE INDEX events_tenant_time ON events (tenant_id, time)`);
    await q.query(`CREATE INDEX events_tenant_class_time ON events (tenant_id, class_uid, time)`);
    await q.query(`CREATE INDEX events_tenant_src_ip ON events (tenant_id, src_ip, time)`);
    await q.query(`CREATE INDEX events_tenant_actor ON events (tenant_id, actor_user, time)`);
    await q.query(`CREATE INDEX events_tenant_device ON events (tenant_id, device, time)`);
    await q.query(`CREATE INDEX events_tenant_id ON events (tenant_id, id)`);
    for (const table of ["data_connectors", "events"]) {
      for (const sql of tenantRlsSql(table)) await q.query(sql);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE events`);
    await q.query(`DROP TABLE data_connectors`);
  }
}
