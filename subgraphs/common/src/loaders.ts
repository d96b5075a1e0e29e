import DataLoader from "dataloader";
import { checkCursor, type Page } from "./pagination";
import { canonicalId } from "./validation";

/** One page of a per-parent list plus the parent's total. */
export interface ChildPage<T> {
  rows: T[];
  total: number;
}

/**
 * A DataLoader for connections hanging off a list of parents (`Resource.alerts(first: 1)` on 100
 * resources): keys with the same page arguments are fetched together in one statement, so the
 * cost is one query per distinct page request, never one per parent.
 */
export function childConnectionLoader<T>(
  fetch: (parentIds: readonly string[], page: Page) => Promise<Map<string, ChildPage<T>>>,
): DataLoader<{ parentId: string; page: Page }, ChildPage<T>, string> {
  const pageKey = (page: Page) => JSON.stringify([page.first, page.after ?? null]);
  return new DataLoader(
    async (keys) => {
      const groups = new Map<string, { page: Page; ids: string[] }>();
      for (const key of keys) {
        const k = pageKey(key.page);
        const group = groups.get(k) ?? { page: key.page, ids: [] };
        group.ids.push(key.parentId);
        groups.set(k, group);
      }
      const results = new Map<string, ChildPage<T>>();
      await Promise.all(
        [...groups.entries()].map(async ([k, group]) => {
          const byParent = await fetch([...new Set(group.ids)], group.page);
          for (const id of group.ids) results.set(`${k}|${id}`, byParent.get(id) ?? { rows: [], total: 0 });
        }),
      );
      return keys.map((key) => results.get(`${pageKey(key.page)}|${key.parentId}`)!);
    },
    { cacheKeyFn: (key) => `${pageKey(key.page)}|${key.parentId}` },
  );
}

/**
 * A by-id DataLoader: one `WHERE id = ANY($1)` statement per batch, results in key order (null when absent).
 * A UUID is the same in upper and lower case (Postgres answers either with the lower-case form), so UUID
 * keys are matched and cached by their lower-case form: `resource(id: "0190…ABC")` finds the resource too.
 */
export function byIdLoader<T extends { id: string }>(
  fetch: (ids: readonly string[]) => Promise<T[]>,
): DataLoader<string, T | null> {
  return new DataLoader(
    async (ids) => {
      const rows = await fetch(ids);
      const byId = new Map(rows.map((r) => [canonicalId(r.id), r]));
      return ids.map((id) => byId.get(canonicalId(id)) ?? null);
    },
    { cacheKeyFn: canonicalId },
  );
}

/**
 * The SQL that pages the children of many parents at once with each parent's whole count: `source` selects
 * every child of the asked parents its filter keeps (no cursor), `parent` is its column naming the parent,
 * `after` the condition (on `source`'s columns) that keeps what lies after the cursor, `order` a page's
 * order, `limit` the parameter holding the page size plus one. Every parent with children gets rows: its page's
 * children, or one row with no child (`page_rn` null) when the page is empty — a page past the end still
 * carries the count (`page_parent`, `total`). Group them with {@link groupChildRows}.
 */
export function childPagesSql(parts: {
  source: string;
  parent: string;
  after: string;
  order: string;
  limit: string;
}): string {
  const { source, parent, after, order, limit } = parts;
  return `WITH src AS (${source}),
      totals AS (SELECT ${parent} AS page_parent, count(*)::int AS total FROM src GROUP BY ${parent}),
      paged AS (
        SELECT src.*, row_number() OVER (PARTITION BY ${parent} ORDER BY ${order}) AS page_rn
        FROM src WHERE ${after}
      )
      SELECT paged.*, totals.page_parent, totals.total
        FROM totals LEFT JOIN paged ON paged.${parent} = totals.page_parent AND paged.page_rn <= ${limit}
       ORDER BY totals.page_parent, paged.page_rn`;
}

/**
 * One statement that pages children of many parents at once, newest first ({@link childPagesSql}). `source` is
 * a SELECT yielding `parent_id`, `created_at`, `id` (a UUID) and the child's columns; its parameters come first.
 * Callers build the page with `toKeysetPage(args, "time")`; the cursor is checked again here (BAD_USER_INPUT),
 * because its parts go into `::timestamptz` and `::uuid` casts. `created_at` must hold whole
 * milliseconds (`timestamptz(3)`), as cursors carry it: a finer stored time would place a cursor before
 * its own row and the next page would skip the rest of the rows created in the same transaction.
 */
export function childPageSql(
  source: string,
  sourceParams: unknown[],
  page: Page,
): { sql: string; params: unknown[] } {
  const n = sourceParams.length;
  const [afterAt, afterId] = page.after ? checkCursor(page.after, "time") : [null, null];
  return {
    sql: childPagesSql({
      source,
      parent: "parent_id",
      after: `$${n + 1}::timestamptz IS NULL OR (created_at, id) < ($${n + 1}::timestamptz, $${n + 2}::uuid)`,
      order: "created_at DESC, id DESC",
      limit: `$${n + 3}`,
    }),
    params: [...sourceParams, afterAt, afterId, page.first + 1],
  };
}

/** Groups `childPagesSql` rows by parent, with each parent's total (an empty page keeps it too). */
export function groupChildRows<R extends { page_parent: string; page_rn: unknown; total: number }, T>(
  rows: R[],
  map: (row: R) => T,
): Map<string, ChildPage<T>> {
  const result = new Map<string, ChildPage<T>>();
  for (const row of rows) {
    const entry = result.get(row.page_parent) ?? { rows: [], total: row.total };
    if (row.page_rn !== null) entry.rows.push(map(row));
    result.set(row.page_parent, entry);
  }
  return result;
}
