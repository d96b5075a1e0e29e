import type { MigrationInterface, QueryRunner } from "typeorm";

/** The times alert and incident lists page by: table → columns. */
const COLUMNS = [
  ["alerts", ["created_at"]],
  ["incidents", ["created_at", "last_activity"]],
] as const;

/**
 * Alert and incident list times in whole milliseconds (`timestamptz(3)`), as list cursors carry them.
 *
 * A cursor holds the time of its row as a GraphQL DateTime, in milliseconds, but `now()` has microseconds:
 * every alert (and correlated incident) of one ingest shares one `created_at`, and
 * `(created_at, id) < (cursor, cursor id)` put the cursor before its own row, so the next page skipped the
 * rest of the batch. `last_activity` (the `LAST_ACTIVITY` order) is an alert's end time, whatever its
 * source wrote. With the column type, Postgres rounds every stored value (existing rows now, every later
 * write, whatever code writes it). Rewrites `alerts` and `incidents` and their indexes once.
 */
export class SiemMillisecondSortTimes1766000000000 implements MigrationInterface {
  name = "SiemMillisecondSortTimes1766000000000";

  async up(q: QueryRunner): Promise<void> {
    for (const [table, columns] of COLUMNS)
      await q.query(
        `ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} TYPE timestamptz(3)`).join(", ")}`,
      );
  }

  async down(q: QueryRunner): Promise<void> {
    // Back to full precision (no rewrite); the rounded values stay as they are.
    for (const [table, columns] of COLUMNS)
      await q.query(
        `ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} TYPE timestamptz`).join(", ")}`,
      );
  }
}
