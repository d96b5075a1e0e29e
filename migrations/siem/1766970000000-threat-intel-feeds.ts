import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * TAXII 2.1 threat-intelligence feeds, polled by the `intel_feed_poll` job.
 *
 * - `threat_intel_feeds`: one row per feed, with its status. `added_after` is the TAXII cursor as the server
 *   gave it (text: servers may use more than millisecond precision, which a timestamptz(3) would cut, making
 *   the next poll fetch the last object again). `config_version` moves when the server, collection or
 *   credentials change, so a poll that started before that change stores nothing more.
 * - `threat_intel_feed_secrets`: the password or API key, sealed like playbook secrets (AES-256-GCM, key ring
 *   PLAYBOOK_SECRET_KEYS), apart from the feed so no read of a feed touches it. System scope is allowed for the
 *   key ring's re-encryption job, which works across tenants.
 * - `threat_indicators.feed_id` / `source`: the feed that stored an indicator's current version (null for
 *   `importStixBundle`), and that feed's name, kept when the feed is deleted (its indicators are kept).
 */
export class ThreatIntelFeeds1766970000000 implements MigrationInterface {
  name = "SiemThreatIntelFeeds1766970000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE threat_intel_feeds (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      name text NOT NULL,
      api_root text NOT NULL,
      collection_id text NOT NULL,
      auth_kind text NOT NULL CHECK (auth_kind IN ('NONE', 'BASIC', 'API_KEY')),
      auth_username text,
      auth_header text,
      poll_interval text NOT NULL,
      enabled boolean NOT NULL DEFAULT true,
      config_version int NOT NULL DEFAULT 1,
      added_after text,
      next_poll_at timestamptz(3),
      last_poll_at timestamptz(3),
      last_success_at timestamptz(3),
      last_error text,
      last_object_count int NOT NULL DEFAULT 0,
      last_indicator_count int NOT NULL DEFAULT 0,
      last_rejected_count int NOT NULL DEFAULT 0,
      total_object_count bigint NOT NULL DEFAULT 0,
      total_indicator_count bigint NOT NULL DEFAULT 0,
      created_by text NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_by text NOT NULL,
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, name)
    )`);
    await q.query(`CREATE TABLE threat_intel_feed_secrets (
      tenant_id text NOT NULL,
      feed_id uuid PRIMARY KEY REFERENCES threat_intel_feeds (id) ON DELETE CASCADE,
      sealed text NOT NULL,
      key_id text NOT NULL,
      set_at timestamptz(3) NOT NULL DEFAULT now()
    )`);
    await q.query(
      `ALTER TABLE threat_indicators ADD COLUMN feed_id uuid REFERENCES threat_intel_feeds (id) ON DELETE SET NULL,
                                     ADD COLUMN source text`,
    );
    // Serves the foreign key's ON DELETE and a feed's revocation of its indicators.
    await q.query(
      `CREATE INDEX threat_indicators_feed ON threat_indicators (tenant_id, feed_id) WHERE feed_id IS NOT NULL`,
    );
    for (const sql of tenantRlsSql("threat_intel_feeds")) await q.query(sql);
    for (const sql of tenantRlsSql("threat_intel_feed_secrets", { allowSystem: true })) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX threat_indicators_feed`);
    await q.query(`ALTER TABLE threat_indicators DROP COLUMN source, DROP COLUMN feed_id`);
    await q.query(`DROP TABLE threat_intel_feed_secrets`);
    await q.query(`DROP TABLE threat_intel_feeds`);
  }
}
