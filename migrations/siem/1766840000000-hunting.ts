import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

const TABLES = ["watchlists", "watchlist_items", "hunting_queries", "bookmarks", "incident_bookmarks"];

/**
 * Hunting: saved hunting queries, bookmarks (hunt result rows kept as evidence, attachable to incidents) and
 * watchlists (CSV lists of indicators, accounts, hosts… that hunts and analytics rules match against).
 *
 * - A watchlist's alias is its name in queries (`_GetWatchlist('vip')`, a rule's `inWatchlist`), unique per
 *   tenant regardless of case (`alias_key`); `version` moves on every change of its items, so the near-real-time
 *   rules' in-memory copies know when to reload.
 * - An item's `search_key` is its value in the watchlist's search key column, unique per watchlist; `key_folded`
 *   is the form rules and `in~` compare (ASCII lower case; IP addresses in canonical form), indexed for both.
 * - `incident_bookmarks` links bookmarks and incidents (a bookmark may serve several incidents).
 */
export class Hunting1766840000000 implements MigrationInterface {
  name = "SiemHunting1766840000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE watchlists (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      alias text NOT NULL,
      alias_key text NOT NULL,
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      search_key text NOT NULL,
      columns text[] NOT NULL,
      item_count int NOT NULL DEFAULT 0,
      version int NOT NULL DEFAULT 1,
      created_by text NOT NULL,
      updated_by text NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, alias_key)
    )`);
    await q.query(`CREATE TABLE watchlist_items (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      watchlist_id uuid NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
      search_key text NOT NULL,
      key_folded text NOT NULL,
      data jsonb NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, watchlist_id, search_key)
    )`);
    await q.query(
      `CREATE INDEX watchlist_items_folded ON watchlist_items (tenant_id, watchlist_id, key_folded)`,
    );
    await q.query(`CREATE TABLE hunting_queries (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      query text NOT NULL,
      tactics text[] NOT NULL DEFAULT '{}',
      techniques text[] NOT NULL DEFAULT '{}',
      created_by text NOT NULL,
      updated_by text NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      last_run_at timestamptz(3),
      last_run_by text,
      last_result_count int
    )`);
    await q.query(`CREATE INDEX hunting_queries_tenant ON hunting_queries (tenant_id, id)`);
    await q.query(`CREATE TABLE bookmarks (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      name text NOT NULL,
      query text NOT NULL,
      query_from timestamptz(3) NOT NULL,
      query_to timestamptz(3) NOT NULL,
      hunting_query_id uuid REFERENCES hunting_queries (id) ON DELETE SET NULL,
      columns jsonb NOT NULL DEFAULT '[]',
      rows jsonb NOT NULL DEFAULT '[]',
      event_ids uuid[] NOT NULL DEFAULT '{}',
      event_time timestamptz(3),
      notes text NOT NULL DEFAULT '',
      labels text[] NOT NULL DEFAULT '{}',
      entities jsonb NOT NULL DEFAULT '[]',
      tactics text[] NOT NULL DEFAULT '{}',
      techniques text[] NOT NULL DEFAULT '{}',
      created_by text NOT NULL,
      updated_by text NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX bookmarks_tenant ON bookmarks (tenant_id, id)`);
    await q.query(`CREATE TABLE incident_bookmarks (
      tenant_id text NOT NULL,
      incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
      bookmark_id uuid NOT NULL REFERENCES bookmarks (id) ON DELETE CASCADE,
      attached_by text NOT NULL,
      attached_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (incident_id, bookmark_id)
    )`);
    await q.query(`CREATE INDEX incident_bookmarks_bookmark ON incident_bookmarks (bookmark_id)`);
    for (const table of TABLES) for (const sql of tenantRlsSql(table)) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [...TABLES].reverse()) await q.query(`DROP TABLE ${table}`);
  }
}
