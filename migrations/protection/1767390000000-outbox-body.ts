import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `outbox.body`: a payload kept as text, for rows too large to be worth a jsonb structure. `telemetry.recorded`
 * rows hold a whole ingest batch's activity records there, as the NDJSON the relay posts to the SIEM unchanged
 * (their jsonb `payload` says only how many lines). Postgres parses no JSON to store it, and it is compressed
 * with lz4 where the server has it (Debian's and most packaged builds) and otherwise stored uncompressed
 * out of line: pglz, the default, cost more than the rest of a record's copy (bench/README.md).
 */
export class OutboxBody1767390000000 implements MigrationInterface {
  name = "ProtectionOutboxBody1767390000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox ADD COLUMN body text`);
    await q.query(`DO $$
      BEGIN
        ALTER TABLE outbox ALTER COLUMN body SET COMPRESSION lz4;
      EXCEPTION WHEN feature_not_supported THEN
        ALTER TABLE outbox ALTER COLUMN body SET STORAGE EXTERNAL;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox DROP COLUMN body`);
  }
}
