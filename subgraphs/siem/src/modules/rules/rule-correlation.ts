/**
 * Correlations of named filters in a scheduled rule (Sigma's `temporal` and `temporal_ordered`): per group of the
 * `summarize.by` fields, within the run's window, how many of the filters matched an event (FILTERS_MATCHED), or
 * how far the filters matched one after another in the order listed (FILTERS_MATCHED_IN_ORDER). One summarised
 * rule counts the events of one filter, so it cannot tell which of several filters an event matched; this module
 * builds the one SQL statement that can.
 *
 * "In order" is Sigma's "the events appear in the order provided in the rules attribute", made exact: filters
 * F1…Fn matched in order when there are events e1…en, ei matching Fi, with time(e1) < time(e2) < … < time(en).
 * Events at the same instant are not in order, so one event never stands for two consecutive filters (an event
 * matching F1 and F2 alone is not "F1 then F2"). FILTERS_MATCHED_IN_ORDER is the longest prefix F1…Fk so
 * matched: t1 is the first time of an F1 event, tk the first time of an Fk event after t(k−1), and the count is
 * the number of steps that exist. Taking each step as early as possible never loses a chain that exists (a
 * later choice only leaves fewer events after it), so the greedy prefix is the longest one.
 */
import { compileFilterToSql } from "./rule-filter";

/** Aggregates of a summarised rule that correlate its named filters (`summarize.filters`). */
export const CORRELATION_AGGREGATES = ["FILTERS_MATCHED", "FILTERS_MATCHED_IN_ORDER"] as const;
/** An aggregate over named filters. */
export type CorrelationAggregate = (typeof CORRELATION_AGGREGATES)[number];

/** How many named filters a correlation takes, and how long a name may be. */
export const CORRELATION_LIMITS = {
  /** One filter is no correlation: a COUNT over it says the same. */
  minFilters: 2,
  /**
   * Each filter is evaluated twice per event (to select the events and to flag which filter they matched), and
   * an ordered correlation adds one window pass per filter: ten keeps the statement a statement.
   */
  maxFilters: 10,
  name: 128,
} as const;

/** One filter of a correlation, and the name it goes by (a Sigma rule's `name`, say). */
export interface NamedFilter {
  name: string;
  /** An EventFilter (see rule-filter.ts). */
  filter: unknown;
}

/** Whether an aggregate correlates named filters. */
export function isCorrelationAggregate(aggregate: unknown): aggregate is CorrelationAggregate {
  return (CORRELATION_AGGREGATES as readonly unknown[]).includes(aggregate);
}

/** What compileCorrelationSql needs of the rule and the run. */
export interface CorrelationQuery {
  /** The group-by expressions, as SQL over `e` (an `events` row), in the order of summarize.by. */
  groupBy: readonly string[];
  filters: readonly NamedFilter[];
  ordered: boolean;
  /** The rows the statement reads, as SQL over `e`: tenant, the run's window, the rule's own filter. */
  where: string;
  /** The statement's parameters so far: the named filters' and the threshold's are appended. */
  params: unknown[];
  /** The comparison of the trigger (`>=`, `<>`…) and its threshold. */
  operator: string;
  threshold: number;
  limit: number;
}

/**
 * One SQL statement over `events` (aliased `e`) with the columns of a summarised run: `g0…` (the group values),
 * `agg` (how many filters matched, or matched in order), `evidence` (event ids: the first events of each filter,
 * as many per filter as MAX_EVIDENCE allows when shared out, in filter order; for an ordered correlation, each
 * filter's from its step on, so the chain's own events come first), `first`/`last` (the group's event times),
 * `newest` (its newest event id) and `groups` (how many groups met the trigger); only groups that meet it, most
 * matched first.
 *
 * The events are read once, with `where` and the OR of the filters (the tenant and time range lead, as in every
 * scheduled run, so the (tenant_id, time) index bounds the scan); each row flags the filters it matches. An
 * ordered correlation then takes one window pass per filter over the rows partitioned by group (one sort), each
 * step's time being the first time of its filter after the step before; a step that does not exist is null, and
 * so is every step after it, so the number of steps that exist is the prefix that matched in order.
 */
export function compileCorrelationSql(query: CorrelationQuery, maxEvidence: number): string {
  const { groupBy, filters, ordered, where, params } = query;
  const compiled = filters.map((f) => {
    const sql = compileFilterToSql(f.filter, params.length + 1);
    params.push(...sql.params);
    return sql.sql;
  });
  params.push(query.threshold);
  const threshold = `$${params.length}`;
  const groups = groupBy.map((_, i) => `g${i}`);
  const partition = `PARTITION BY ${groups.join(", ")}`;
  const window = `WINDOW w AS (${groups.length ? partition : ""})`;

  // The events of the window that match any filter, each with its group and a flag per filter.
  let rows = `SELECT ${groupBy.map((g, i) => `${g} AS g${i}, `).join("")}e.id AS id, e.time AS time,
         ${compiled.map((sql, k) => `coalesce((${sql}), false) AS m${k}`).join(", ")}
       FROM events e WHERE ${where} AND (${compiled.map((sql) => `(${sql})`).join(" OR ")})`;
  if (ordered) {
    compiled.forEach((_, k) => {
      const after = k === 0 ? "" : ` AND s.time > s.t${k - 1}`;
      rows = `SELECT s.*, min(s.time) FILTER (WHERE s.m${k}${after}) OVER w AS t${k}
       FROM (${rows}) s ${window}`;
    });
  }
  const step = (k: number) =>
    ordered ? `(max(t${k}) IS NOT NULL)::int` : `(count(*) FILTER (WHERE m${k}) > 0)::int`;
  const aggregate = `(${compiled.map((_, k) => step(k)).join(" + ")})`;
  const perFilter = Math.max(1, Math.floor(maxEvidence / filters.length));
  const evidence = compiled
    .map((_, k) => {
      const from = ordered ? ` AND (t${k} IS NULL OR time >= t${k})` : "";
      return `coalesce((array_agg(id ORDER BY time, id) FILTER (WHERE m${k}${from}))[1:${perFilter}], '{}')`;
    })
    .join(" || ");
  return `SELECT ${groups.map((g) => `${g}, `).join("")}${aggregate}::int AS agg, ${evidence} AS evidence,
         min(time) AS first, max(time) AS last, max(id::text) AS newest, count(*) OVER ()::int AS groups
       FROM (${rows}) c
       ${groups.length ? `GROUP BY ${groups.join(", ")}` : ""}
       HAVING ${aggregate} ${query.operator} ${threshold}
       ORDER BY agg DESC LIMIT ${query.limit}`;
}
