import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `data_connectors.last_kept_at`: when a record of the connector was last kept (stored, or found already stored).
 * `last_ingest_at` moves on every ingest, so a connector whose records were all refused (a wrong format, the
 * wrong connector kind) looked CONNECTED; with the two times, `dataConnectors` reports it as ERROR instead.
 */
export class ConnectorKeptTime1766200000000 implements MigrationInterface {
  name = "SiemConnectorKeptTime1766200000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE data_connectors ADD COLUMN last_kept_at timestamptz`);
    // Before this column the best known answer: a connector that ever kept a record kept one at its last ingest.
    await q.query(
      `UPDATE data_connectors SET last_kept_at = last_ingest_at WHERE events_total + duplicates_total > 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE data_connectors DROP COLUMN last_kept_at`);
  }
}
