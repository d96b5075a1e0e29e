import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `ingest_receipts.last_seq`: the JetStream stream sequence of the last message of a queued body, recorded when
 * the body is wholly queued. The receipt sweep (`ingest_receipts_sweep`) ends a receipt FAILED only once the
 * stream holds none of its messages any more (they all lie below the stream's first sequence), so a body that
 * merely waits in a backlog is never given up. Null for receipts queued before this column existed.
 */
export class IngestReceiptLastSeq1766960000000 implements MigrationInterface {
  name = "SiemIngestReceiptLastSeq1766960000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_receipts ADD COLUMN last_seq bigint`);
    // The sweep reads the open receipts only: a partial index keeps that cheap however many are DONE.
    await q.query(
      `CREATE INDEX ingest_receipts_open ON ingest_receipts (updated_at) WHERE status IN ('QUEUED', 'PROCESSING')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ingest_receipts_open`);
    await q.query(`ALTER TABLE ingest_receipts DROP COLUMN last_seq`);
  }
}
