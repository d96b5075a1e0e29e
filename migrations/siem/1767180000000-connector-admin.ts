import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Data connectors an ADMIN manages: `data_connectors.enabled` (false: both ingest paths refuse the kind's records)
 * and `stale_after` (an ISO 8601 duration as the admin gave it: no record kept for that long makes the connector
 * STALE). `data_connector_days` counts per UTC day of arrival what the counters of `data_connectors` count in
 * total, moved by the same statement of the ingest; the daily maintenance (system scope) deletes days past 400.
 */
export class ConnectorAdmin1767180000000 implements MigrationInterface {
  name = "SiemConnectorAdmin1767180000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE data_connectors
      ADD COLUMN enabled boolean NOT NULL DEFAULT true,
      ADD COLUMN stale_after text`);
    await q.query(`CREATE TABLE data_connector_days (
      tenant_id text NOT NULL,
      kind text NOT NULL,
      day date NOT NULL,
      events bigint NOT NULL DEFAULT 0,
      duplicates bigint NOT NULL DEFAULT 0,
      rejected bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, kind, day)
    )`);
    await q.query(`CREATE INDEX data_connector_days_day ON data_connector_days (day)`);
    for (const sql of tenantRlsSql("data_connector_days", { allowSystem: true })) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE data_connector_days`);
    await q.query(`ALTER TABLE data_connectors DROP COLUMN stale_after, DROP COLUMN enabled`);
  }
}
