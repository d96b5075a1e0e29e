/**
 * Sliding-window counts of a summarised scheduled rule (`summarize.window`): per group, whether some set of events
 * no more than `window` apart meets the trigger — Sigma's "N events within timeframe". A fixed window counts the
 * events of `[run − queryPeriod, run)`, so a burst split by a run boundary may fire in neither window; a sliding
 * count anchors a window at every event instead: the events of the group in `[time(e) − window, time(e)]`.
 *
 * Each run anchors windows at the events of its own period, `[run − queryPeriod, run)`, and reads the `window`
 * before it too, so every anchor's window is complete. Runs follow each other every queryFrequency ≤ queryPeriod,
 * so every event is the anchor of some run, and a burst that crosses a run boundary is counted whole by the run
 * whose period holds its newest event. Only GT and GTE are meaningful: "fewer than N within any window" holds for
 * any group (a window of its one newest event) and never for a group with no event, which no scan sees.
 */

/** What compileSlidingCountSql needs of the rule and the run. */
export interface SlidingCountQuery {
  /** The group-by expressions, as SQL over `e` (an `events` row), in the order of summarize.by. */
  groupBy: readonly string[];
  /** The field DISTINCT_COUNT counts, as SQL over `e`; null for COUNT. */
  distinct: string | null;
  /**
   * The rows the statement reads, as SQL over `e`: tenant, the run's period widened by `window` before it, the
   * rule's filter (the tenant and time range lead, so the (tenant_id, time) index bounds the scan).
   */
  where: string;
  /** The statement's parameters so far: the anchors' start, the window and the threshold are appended. */
  params: unknown[];
  /** The start of the run's period: windows are anchored at events from here on. */
  anchorsFrom: Date;
  windowMs: number;
  /** `>` or `>=`: the comparison of the trigger, and its threshold. */
  operator: ">" | ">=";
  threshold: number;
  limit: number;
}

/**
 * One SQL statement over `events` (aliased `e`) with the columns of a summarised run: `g0…` (the group values),
 * `agg` (the count of the group's densest window), `evidence` (the ids of that window's events, oldest first, at
 * most `maxEvidence`), `first`/`last` (its first and last event times), `newest` (the id of the newest event
 * that completes a window meeting the trigger: the alert key, so a run that sees the same events again finds the
 * same event, and one that sees a new burst a new one) and `groups` (how many groups met the trigger); only
 * groups that meet it, densest first.
 *
 * COUNT is a window aggregate over `RANGE BETWEEN window PRECEDING AND CURRENT ROW` per group ordered by time
 * (the frame holds the anchor's peers at the same instant, so "no more than window apart" is inclusive).
 * Postgres has no DISTINCT in window aggregates, so DISTINCT_COUNT collects the frame's values with array_agg
 * and counts the distinct ones of each anchor's array; a distinct count is never above the count, so only
 * anchors whose count already meets the trigger are unnested. That costs the events of a window per anchor.
 */
export function compileSlidingCountSql(query: SlidingCountQuery, maxEvidence: number): string {
  const { groupBy, distinct, params } = query;
  params.push(query.anchorsFrom);
  const anchorsFrom = `$${params.length}`;
  params.push(query.windowMs);
  const window = `($${params.length}::bigint * interval '1 millisecond')`;
  params.push(query.threshold);
  const threshold = `$${params.length}`;
  const groups = groupBy.map((_, i) => `g${i}`);
  const op = query.operator;
  const sameGroup = groups.map((g) => `s.${g} IS NOT DISTINCT FROM b.${g}`).join(" AND ") || "true";
  const count = `(SELECT count(DISTINCT x) FROM unnest(s.vals) x)`;
  return `WITH s AS (
         SELECT r.*, count(*) OVER w AS n${distinct ? ", array_agg(r.v) OVER w AS vals" : ""}
         FROM (SELECT ${groupBy.map((g, i) => `${g} AS g${i}, `).join("")}e.id AS id, e.time AS time${distinct ? `, ${distinct} AS v` : ""}
               FROM events e WHERE ${query.where}) r
         WINDOW w AS (${groups.length ? `PARTITION BY ${groups.join(", ")} ` : ""}ORDER BY r.time
                      RANGE BETWEEN ${window} PRECEDING AND CURRENT ROW)
       ), q AS (
         SELECT * FROM (SELECT s.*, ${distinct ? `CASE WHEN s.n ${op} ${threshold} THEN ${count} ELSE 0 END` : "s.n"} AS agg
                        FROM s WHERE s.time >= ${anchorsFrom} AND s.n ${op} ${threshold}) a
         WHERE a.agg ${op} ${threshold}
       ), b AS (
         SELECT ${groups.map((g) => `${g}, `).join("")}max(agg)::int AS agg,
                (array_agg(time ORDER BY agg DESC, time DESC, id DESC))[1] AS anchor,
                (array_agg(id::text ORDER BY time DESC, id DESC))[1] AS newest
         FROM q ${groups.length ? `GROUP BY ${groups.join(", ")}` : "HAVING count(*) > 0"}
       )
       SELECT ${groups.map((g) => `b.${g}, `).join("")}b.agg, d.evidence, d.first, b.anchor AS last, b.newest,
              count(*) OVER ()::int AS groups
       FROM b CROSS JOIN LATERAL (
         SELECT (array_agg(s.id ORDER BY s.time, s.id))[1:${maxEvidence}] AS evidence, min(s.time) AS first
         FROM s WHERE ${sameGroup} AND s.time >= b.anchor - ${window} AND s.time <= b.anchor
       ) d
       ORDER BY b.agg DESC LIMIT ${query.limit}`;
}
