import type { MigrationInterface, QueryRunner } from "typeorm";

/** The resource times lists page by (`resources(orderBy: FIRST_SEEN | LAST_SEEN)`). */
const COLUMNS = ["first_seen", "last_seen"] as const;

/**
 * Resource times in whole milliseconds (`timestamptz(3)`), as list cursors carry them.
 *
 * A cursor holds the time of its row as a GraphQL DateTime, in milliseconds, but `now()` has microseconds:
 * every resource of one upsert shares one `first_seen`, and `(first_seen, id) > (cursor, cursor id)` put the
 * cursor before its own row, so the next page repeated (or, descending, skipped) the rest of the batch. With
 * the column type, Postgres rounds every stored value (existing rows now, every later write, whatever code
 * writes it) and the stored time is the cursor's. Rewrites `resources` and its time indexes once.
 */
export class PostureMillisecondSortTimes1766000000000 implements MigrationInterface {
  name = "PostureMillisecondSortTimes1766000000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE resources ${COLUMNS.map((c) => `ALTER COLUMN ${c} TYPE timestamptz(3)`).join(", ")}`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // Back to full precision (no rewrite); the rounded values stay as they are.
    await q.query(
      `ALTER TABLE resources ${COLUMNS.map((c) => `ALTER COLUMN ${c} TYPE timestamptz`).join(", ")}`,
    );
  }
}
