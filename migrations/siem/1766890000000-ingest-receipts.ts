import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Receipts of NDJSON bodies queued on the event-ingest queue (EVENT_INGEST_QUEUE=nats): one per accepted POST,
 * answering what became of it once the ingest workers have stored it.
 *
 * - `attempt` moves when a body whose queueing failed is sent again with the same Idempotency-Key: messages of
 *   an earlier attempt still in the stream are dropped by the workers, the new attempt's are stored.
 * - `enqueued` turns true once JetStream has persisted every chunk of the attempt; workers wait for it, so a
 *   body the queue took only in part (answered 503) is never partly stored.
 * - `chunks_done` lists the chunks stored, in the same transaction as their events: a chunk delivered again
 *   after its transaction committed is acknowledged without being stored twice.
 * - `rejected` holds `{ line, reason }` per rejected record, lines of the body as sent.
 */
export class IngestReceipts1766890000000 implements MigrationInterface {
  name = "SiemIngestReceipts1766890000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE ingest_receipts (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      connector text NOT NULL,
      principal text NOT NULL,
      idempotency_key text,
      status text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'PROCESSING', 'DONE', 'FAILED')),
      attempt int NOT NULL DEFAULT 1,
      enqueued boolean NOT NULL DEFAULT false,
      lines int NOT NULL,
      chunks int NOT NULL,
      chunks_done int[] NOT NULL DEFAULT '{}',
      accepted int NOT NULL DEFAULT 0,
      duplicates int NOT NULL DEFAULT 0,
      rejected_count int NOT NULL DEFAULT 0,
      rejected jsonb NOT NULL DEFAULT '[]',
      failure text,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, idempotency_key)
    )`);
    await q.query(`CREATE INDEX ingest_receipts_created ON ingest_receipts (created_at)`);
    for (const sql of tenantRlsSql("ingest_receipts", { allowSystem: true })) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ingest_receipts`);
  }
}
