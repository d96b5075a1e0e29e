import { createHash } from "node:crypto";
import type { EntityManager } from "typeorm";
import { MAX_INDEXED_TEXT_BYTES, textProblem, utf8LongerThan } from "../../../../common/src";
import { normalizeIp } from "../connectors/normalizers/common";
import { EVENT_COLUMNS } from "../events/event.model";
import type { StoredEvent } from "../events/event-ingest";
import { storeAlerts, type EntityType, type NewAlert } from "../alerts/alert-store";
import type { GroupingSettings } from "../incidents/correlation";
import { parseIsoDuration } from "./durations";
import { compileCorrelationSql, isCorrelationAggregate } from "./rule-correlation";
import { compileSlidingCountSql } from "./rule-sliding";
import { refreshWatchlistKeys, watchlistKeys } from "../hunting/watchlist-cache";
import { HUNT_LIMITS, HuntQueryError, runHunt, type HuntOutcome } from "../hunting/hunt-runner";
import {
  compileFilterToPredicate,
  compileFilterToSql,
  readEventField,
  watchlistAliasesOfFilter,
  type EventLike,
} from "./rule-filter";
import type { RuleSpec, TriggerOperator } from "./rule-spec";

/** A rule as stored. */
export interface StoredRule {
  id: string;
  version: number;
  spec: RuleSpec;
  suppressedUntil: Date | null;
}

/**
 * Most alerts one scheduled run raises (alert per result), as in Sentinel: with more results, the first 149 get
 * an alert each and the last alert sums up the rest ("… and N more results", with their first evidence and
 * entities), so nothing a run found goes unreported.
 */
export const MAX_ALERTS_PER_RUN = 150;
/** Results (events or groups) a run's summary alert reads for its evidence and entities. */
const SUMMARY_SAMPLE = 50;
/** Evidence event ids kept per alert. */
export const MAX_EVIDENCE = 50;

const ms = (duration: string | undefined, fallback: number) => {
  if (!duration) return fallback;
  const parsed = parseIsoDuration(duration);
  return "ms" in parsed ? parsed.ms : fallback;
};

/** The rule's incident grouping as the correlator takes it. */
export function groupingOf(spec: RuleSpec): GroupingSettings {
  const g = spec.incidentGrouping;
  return {
    enabled: g.enabled,
    matchingMethod: g.matchingMethod,
    selectedEntityTypes: g.selectedEntityTypes,
    lookbackMs: ms(g.lookbackDuration, 5 * 3600 * 1000),
    reopenClosedIncident: g.reopenClosedIncident,
  };
}

/**
 * The value an entity of `type` takes from a field's value, or null when the value cannot be one (as Sentinel
 * drops entities it cannot identify): only text, numbers and booleans (an object is no entity); an IP address
 * in its canonical form, only when it is one; nothing an alert could not store and index (NUL, unpaired
 * surrogates, over MAX_INDEXED_TEXT_BYTES). A mapping may read any attribute of any event, so these are
 * checked here: an unstorable value used to fail the whole ingest (or the rule's run) instead.
 */
function entityValue(type: EntityType, value: unknown): string | null {
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") return null;
  const text = String(value).trim();
  if (text === "") return null;
  if (type === "IP") return normalizeIp(text);
  if (utf8LongerThan(text, MAX_INDEXED_TEXT_BYTES) || textProblem(text) !== null) return null;
  return text;
}

/** Entities of one result: each mapping's field read from the event (or the summarised row). */
export function entitiesOf(
  spec: RuleSpec,
  read: (field: string) => unknown,
): Array<{ type: EntityType; value: string }> {
  const out: Array<{ type: EntityType; value: string }> = [];
  for (const mapping of spec.entityMappings) {
    const value = read(mapping.field);
    for (const v of Array.isArray(value) ? value : [value]) {
      const entity = entityValue(mapping.entityType, v);
      if (entity !== null) out.push({ type: mapping.entityType, value: entity });
    }
  }
  return out;
}

const compare = (op: TriggerOperator, a: number, b: number) =>
  op === "GT"
    ? a > b
    : op === "GTE"
      ? a >= b
      : op === "LT"
        ? a < b
        : op === "LTE"
          ? a <= b
          : op === "NE"
            ? a !== b
            : a === b;
const OP_SQL: Record<TriggerOperator, string> = {
  GT: ">",
  GTE: ">=",
  LT: "<",
  LTE: "<=",
  EQ: "=",
  NE: "<>",
};

function alertBase(
  rule: StoredRule,
  title: string,
  entities: NewAlert["entities"],
  evidence: string[],
  start: Date | string,
  end: Date | string,
  sourceId: string,
): NewAlert {
  return {
    provider: "ANALYTICS_RULE",
    sourceId,
    title,
    description: rule.spec.description,
    severity: rule.spec.severity,
    tactics: rule.spec.tactics,
    techniques: rule.spec.techniques,
    entities,
    evidenceEventIds: evidence.slice(0, MAX_EVIDENCE),
    startTime: start,
    endTime: end,
    ruleId: rule.id,
    grouping: groupingOf(rule.spec),
  };
}

/** SQL of a `by`/distinct field: an event column, or a text path into attributes (parameterised). */
function fieldSql(field: string, params: unknown[]): string {
  if (field === "src_ip" || field === "dst_ip") return `host(e.${field})`; // inet::text would add "/32"
  if ((EVENT_COLUMNS as readonly string[]).includes(field)) return `e.${field}::text`;
  const path = field.replace(/^attributes\./, "").split(".");
  params.push(path);
  return `(e.attributes #>> $${params.length}::text[])`;
}

/**
 * SQL of a `by`/distinct field of a summarised rule: an alias (`summarize.aliases`) is the field of the first case
 * whose filter the event matches (null when none does), so the events of several log sources group by one value
 * kept in a different column by each; any other name is fieldSql's.
 */
function summarizedFieldSql(spec: RuleSpec, field: string, params: unknown[]): string {
  const alias = spec.summarize?.aliases?.find((a) => a.name === field);
  if (!alias) return fieldSql(field, params);
  const cases = alias.cases.map((k) => {
    const when = compileFilterToSql(k.when, params.length + 1);
    params.push(...when.params);
    return `WHEN coalesce((${when.sql}), false) THEN ${fieldSql(k.field, params)}`;
  });
  return `(CASE ${cases.join(" ")} END)`;
}

/**
 * Runs a scheduled rule over its query period ending at `now` (the end of the run's window: the time the run
 * was scheduled for, not when a worker got to it), in the caller's transaction: one SQL statement over the
 * events (filter compiled to parameterised SQL, optional group-by with COUNT, DISTINCT_COUNT or a correlation of
 * named filters — rule-correlation.ts — and the trigger as HAVING), then alerts — one per result or one for the
 * run — and suppression after it fires.
 *
 * Alerts are keyed by the events they are about, not by the window: a result (a group, or the run's whole
 * result set) is keyed by its newest event (event ids are UUIDv7, so in the order the store received them),
 * an alert per event by the event. When queryPeriod is longer than queryFrequency, consecutive windows
 * overlap; a result whose events were all in an alert of an earlier run has the same key, so the same events
 * never raise the same alert twice, while a result that gained an event raises a new one. A trigger met by no
 * event at all (LT, LTE, EQ or NE with a count of 0: "fewer than N events") raises one alert per run.
 *
 * With `summarize.window` the count slides (rule-sliding.ts): windows are anchored at the events of the period
 * and the scan reaches `window` before it, and a group is keyed by the newest event completing a window that
 * meets the trigger, so overlapping runs that see the same burst raise it once.
 *
 * A rule defined by a KQL `query` runs it over the same window instead (runKqlRule).
 */
export async function runScheduledRule(
  m: EntityManager,
  tenantId: string,
  rule: StoredRule,
  now: Date,
  options: KqlRunOptions = {},
): Promise<ScheduledRunResult> {
  const spec = rule.spec;
  await m.query(`UPDATE analytics_rules SET last_run_at = $3 WHERE tenant_id = $1 AND id = $2`, [
    tenantId,
    rule.id,
    now,
  ]);
  if (rule.suppressedUntil && rule.suppressedUntil > now) return { alerts: 0, results: 0 };
  const from = new Date(now.getTime() - ms(spec.queryPeriod, 3600_000));
  if (spec.query !== undefined) return runKqlRule(m, tenantId, rule, { from, to: now }, options);
  // A sliding window anchored at the period's first events reaches `window` further back (rule-sliding.ts).
  const windowMs = spec.summarize?.window ? ms(spec.summarize.window, 0) : 0;
  const params: unknown[] = [tenantId, new Date(from.getTime() - windowMs), now];
  const filter = compileFilterToSql(spec.filter, params.length + 1);
  params.push(...filter.params);
  const where = `e.tenant_id = $1 AND e.time >= $2 AND e.time < $3 AND (${filter.sql})`;
  const emptyKey = `${rule.id}:none:${now.toISOString()}`;
  const alerts: NewAlert[] = [];
  let results = 0;
  if (spec.summarize) {
    const by = spec.summarize.by.map((f) => summarizedFieldSql(spec, f, params));
    const limit = MAX_ALERTS_PER_RUN - 1 + SUMMARY_SAMPLE;
    let sql: string;
    if (spec.summarize.window) {
      sql = compileSlidingCountSql(
        {
          groupBy: by,
          distinct:
            spec.summarize.aggregate === "DISTINCT_COUNT"
              ? summarizedFieldSql(spec, spec.summarize.field!, params)
              : null,
          where,
          params,
          anchorsFrom: from,
          windowMs,
          // Validation allows only GT and GTE with a window.
          operator: spec.trigger.operator === "GT" ? ">" : ">=",
          threshold: spec.trigger.threshold,
          limit,
        },
        MAX_EVIDENCE,
      );
    } else if (isCorrelationAggregate(spec.summarize.aggregate)) {
      sql = compileCorrelationSql(
        {
          groupBy: by,
          filters: spec.summarize.filters ?? [],
          ordered: spec.summarize.aggregate === "FILTERS_MATCHED_IN_ORDER",
          where,
          params,
          operator: OP_SQL[spec.trigger.operator],
          threshold: spec.trigger.threshold,
          limit,
        },
        MAX_EVIDENCE,
      );
    } else {
      const aggregate =
        spec.summarize.aggregate === "DISTINCT_COUNT"
          ? `count(DISTINCT ${summarizedFieldSql(spec, spec.summarize.field!, params)})`
          : "count(*)";
      params.push(spec.trigger.threshold);
      sql = `SELECT ${by.map((b, i) => `${b} AS g${i}`).join(", ")}${by.length ? "," : ""} ${aggregate}::int AS agg,
              (array_agg(e.id ORDER BY e.time))[1:${MAX_EVIDENCE}] AS evidence, min(e.time) AS first, max(e.time) AS last,
              max(e.id::text) AS newest, count(*) OVER ()::int AS groups
       FROM events e WHERE ${where}
       ${by.length ? `GROUP BY ${by.map((_, i) => `g${i}`).join(", ")}` : ""}
       HAVING ${aggregate} ${OP_SQL[spec.trigger.operator]} $${params.length}
       ORDER BY agg DESC LIMIT ${limit}`;
    }
    // Without `by`, the aggregate over no event at all is still one row (count 0), which LT/EQ/NE may trigger on.
    const rows: Array<Record<string, unknown>> = await m.query(sql, params);
    results = rows.length ? (rows[0].groups as number) : 0;
    const groupValues = (row: Record<string, unknown>) => spec.summarize!.by.map((_, i) => row[`g${i}`]);
    const read = (row: Record<string, unknown>) => (field: string) => {
      const i = spec.summarize!.by.indexOf(field);
      return i >= 0 ? row[`g${i}`] : undefined;
    };
    // A correlation's evidence lists each filter's events, and one event may match several filters.
    const evidenceOf = (row: Record<string, unknown>) => [
      ...new Set((row.evidence as string[] | null) ?? []),
    ];
    // A sliding result's `newest` is the newest event completing a window that meets the trigger, not the group's.
    const keyKind = spec.summarize.window ? "sliding" : "group";
    const keyOf = (row: Record<string, unknown>, values: string[]) =>
      row.newest ? `${rule.id}:${keyKind}:${row.newest as string}:${values.join("|")}` : emptyKey;
    if (spec.alertPerResult) {
      const [each, rest] = overflow(rows);
      for (const row of each) {
        const values = groupValues(row).map((v) => String(v ?? "∅"));
        alerts.push(
          alertBase(
            rule,
            `${spec.displayName}${values.length ? ` — ${values.join(", ")}` : ""}`,
            entitiesOf(spec, read(row)),
            evidenceOf(row),
            (row.first as Date | null) ?? from,
            (row.last as Date | null) ?? now,
            keyOf(row, values),
          ),
        );
      }
      if (rest.length)
        alerts.push(
          summaryAlert(
            rule,
            results - each.length,
            rest.flatMap((row) => entitiesOf(spec, read(row))),
            rest.flatMap(evidenceOf),
            groupSpan(rest),
          ),
        );
    } else if (rows.length) {
      const { start, end, newest } = groupSpan(rows);
      alerts.push(
        alertBase(
          rule,
          spec.displayName,
          rows.flatMap((row) => entitiesOf(spec, read(row))),
          rows.flatMap(evidenceOf),
          start ?? from,
          end ?? now,
          newest ? `${rule.id}:run:${newest}` : emptyKey,
        ),
      );
    }
  } else {
    // The span comes with the count: the rows read below are the oldest few only.
    const [{ n, newest, last }]: Array<{ n: number; newest: string | null; last: Date | null }> =
      await m.query(
        `SELECT count(*)::int AS n, max(e.id::text) AS newest, max(e.time) AS last FROM events e WHERE ${where}`,
        params,
      );
    results = n;
    if (compare(spec.trigger.operator, n, spec.trigger.threshold)) {
      const rows: Array<Record<string, unknown>> = n
        ? await m.query(
            `SELECT e.* FROM events e WHERE ${where} ORDER BY e.time, e.id LIMIT ${spec.alertPerResult ? MAX_ALERTS_PER_RUN - 1 + SUMMARY_SAMPLE : MAX_EVIDENCE}`,
            params,
          )
        : [];
      if (spec.alertPerResult && rows.length) {
        const [each, rest] = overflow(rows);
        for (const row of each) {
          alerts.push(
            alertBase(
              rule,
              spec.displayName,
              entitiesOf(spec, (f) => readEventField(row as EventLike, f)),
              [row.id as string],
              row.time as Date,
              row.time as Date,
              `${rule.id}:${row.id}`,
            ),
          );
        }
        if (rest.length)
          alerts.push(
            summaryAlert(
              rule,
              n - each.length,
              rest.flatMap((row) => entitiesOf(spec, (f) => readEventField(row as EventLike, f))),
              rest.map((r) => r.id as string),
              // The rest run from the oldest of them (rows come oldest first) to the run's last event; only a
              // sample of them was read, so the last time and the newest id are the whole result's.
              { start: rest[0].time as Date, end: last, newest },
            ),
          );
      } else {
        // One alert for the run; with no event at all ("fewer than N"), an alert about the window itself.
        alerts.push(
          alertBase(
            rule,
            spec.displayName,
            rows.flatMap((row) => entitiesOf(spec, (f) => readEventField(row as EventLike, f))),
            rows.map((r) => r.id as string),
            rows.length ? (rows[0].time as Date) : from,
            // The rows are the oldest MAX_EVIDENCE: the alert ends at the run's last event.
            last ?? now,
            newest ? `${rule.id}:run:${newest}` : emptyKey,
          ),
        );
      }
    }
  }
  const stored = await storeAlerts(m, tenantId, alerts.map(dedupeEntities));
  if (stored.created.length) await markFired(m, tenantId, rule, now);
  return { alerts: stored.created.length, results };
}

/** What a scheduled run did; `warning` says why it saw less than its query asked for, when it did. */
export interface ScheduledRunResult {
  alerts: number;
  results: number;
  warning?: string;
}

/** How a KQL rule's query runs; tests lower the limits, the job passes the platform's retention. */
export interface KqlRunOptions {
  /**
   * Days of events the platform keeps (EVENT_RETENTION_DAYS): the query reads no earlier. Default its largest
   * value, leaving the tenant's own retention the only bound (older day partitions are gone anyway).
   */
  retentionDays?: number;
  /** Most result rows a run reads (default the hunts' 10,000): the trigger counts no more. */
  maxRows?: number;
}

/** Result columns a KQL rule's evidence and time range come from, when the query keeps one. */
const EVIDENCE_COLUMNS = ["id", "event_id", "EventId"];
const TIME_COLUMNS = ["time", "TimeGenerated"];

const firstOf = (row: Record<string, unknown>, columns: readonly string[]) =>
  columns.map((c) => row[c]).find((v) => v !== null && v !== undefined);

/**
 * Runs a KQL rule's query through the hunts' execution path (hunting/hunt-runner.ts: compiled to one
 * parameterised statement in a READ ONLY tenant transaction of its own, statement_timeout, row limit) with the
 * hunt's range set to the run's window [now − queryPeriod, now): the compiler puts that range in the SQL of every
 * events table the query reads, so no `where time > ago(30d)` reaches past it. It runs on the primary, not the
 * read replica hunts prefer: a window read on a lagging replica would miss its newest events for good.
 *
 * The result rows are the results: the trigger compares their number with the threshold; an alert per row, or
 * one for the run. Entity mappings read result columns (one the result lacks maps nothing); evidence is the
 * rows' `id` (or `event_id`) column, the time range their `time` (or `TimeGenerated`) span, else the window.
 * Alerts are keyed by the rows they are about, so overlapping windows with the same rows raise them once. A
 * query the data refuses (a timeout, a bad cast) raises nothing and returns the reason as a warning, as does a
 * result cut at maxRows.
 */
async function runKqlRule(
  m: EntityManager,
  tenantId: string,
  rule: StoredRule,
  window: { from: Date; to: Date },
  options: KqlRunOptions,
): Promise<ScheduledRunResult> {
  const spec = rule.spec;
  const primary = {
    heavyRunner: async () => {
      const runner = m.connection.createQueryRunner("master");
      await runner.connect();
      return runner;
    },
  };
  let outcome: HuntOutcome;
  try {
    outcome = await runHunt(primary, { tenantId }, spec.query!, window, {
      retentionDays: options.retentionDays ?? 3650,
      maxRows: options.maxRows ?? HUNT_LIMITS.maxRows,
      now: () => window.to,
    });
  } catch (err) {
    if (err instanceof HuntQueryError) return { alerts: 0, results: 0, warning: err.message };
    throw err;
  }
  const rows = outcome.rows;
  const warning = outcome.truncated
    ? `the query returned more than ${rows.length} rows: the run counted and alerted on the first ${rows.length}`
    : undefined;
  const results = rows.length;
  if (!compare(spec.trigger.operator, results, spec.trigger.threshold))
    return { alerts: 0, results, warning };
  const read = (row: Record<string, unknown>) => (field: string) => row[field];
  const evidenceOf = (row: Record<string, unknown>) => {
    const id = firstOf(row, EVIDENCE_COLUMNS);
    return typeof id === "string" ? [id] : [];
  };
  const spanOf = (list: ReadonlyArray<Record<string, unknown>>) => {
    const times = list
      .map((row) => firstOf(row, TIME_COLUMNS))
      .filter((t): t is string => typeof t === "string")
      .sort();
    return times.length
      ? { start: times[0], end: times[times.length - 1] }
      : { start: window.from, end: window.to };
  };
  const keyOf = (list: ReadonlyArray<Record<string, unknown>>) =>
    createHash("sha256").update(JSON.stringify(list)).digest("hex").slice(0, 32);
  const alerts: NewAlert[] = [];
  if (spec.alertPerResult && rows.length) {
    const [each, rest] = overflow(rows);
    for (const row of each) {
      const { start, end } = spanOf([row]);
      alerts.push(
        alertBase(
          rule,
          spec.displayName,
          entitiesOf(spec, read(row)),
          evidenceOf(row),
          start,
          end,
          `${rule.id}:kql:${keyOf([row])}`,
        ),
      );
    }
    if (rest.length) {
      const { start, end } = spanOf(rest);
      alerts.push(
        alertBase(
          rule,
          `${spec.displayName} — and ${results - each.length} more result${results - each.length === 1 ? "" : "s"}`,
          rest.slice(0, SUMMARY_SAMPLE).flatMap((row) => entitiesOf(spec, read(row))),
          rest.flatMap(evidenceOf),
          start,
          end,
          `${rule.id}:kql-rest:${keyOf(rest)}`,
        ),
      );
    }
  } else {
    // One alert for the run; with no row at all ("fewer than N"), an alert about the window itself.
    const { start, end } = spanOf(rows);
    alerts.push(
      alertBase(
        rule,
        spec.displayName,
        rows.slice(0, SUMMARY_SAMPLE).flatMap((row) => entitiesOf(spec, read(row))),
        rows.flatMap(evidenceOf),
        start,
        end,
        rows.length ? `${rule.id}:kql-run:${keyOf(rows)}` : `${rule.id}:none:${window.to.toISOString()}`,
      ),
    );
  }
  const stored = await storeAlerts(m, tenantId, alerts.map(dedupeEntities));
  if (stored.created.length) await markFired(m, tenantId, rule, window.to);
  return { alerts: stored.created.length, results, warning };
}

/** Results that get an alert each, and the rest the summary alert stands for (empty when all fit). */
function overflow<T>(rows: readonly T[]): [T[], T[]] {
  return rows.length <= MAX_ALERTS_PER_RUN
    ? [[...rows], []]
    : [rows.slice(0, MAX_ALERTS_PER_RUN - 1), rows.slice(MAX_ALERTS_PER_RUN - 1)];
}

/** When some results happened, and the newest event among them (null where they have none). */
interface Span {
  start: Date | null;
  end: Date | null;
  newest: string | null;
}

/** The span of summarised groups: their earliest first and latest last event, and their newest event id. */
function groupSpan(rows: ReadonlyArray<Record<string, unknown>>): Span {
  let start: Date | null = null;
  let end: Date | null = null;
  let newest: string | null = null;
  for (const r of rows) {
    const first = r.first as Date | null;
    const last = r.last as Date | null;
    const id = r.newest as string | null;
    if (first && (!start || first < start)) start = first;
    if (last && (!end || last > end)) end = last;
    if (id && (!newest || id > newest)) newest = id;
  }
  return { start, end, newest };
}

/** The span of events in any order: their earliest and latest time, and the newest (greatest) id. */
function eventSpan(events: ReadonlyArray<{ id: string; time: string | Date }>): Span {
  let start: Date | null = null;
  let end: Date | null = null;
  let newest: string | null = null;
  for (const e of events) {
    const time = e.time instanceof Date ? e.time : new Date(e.time);
    if (!start || time < start) start = time;
    if (!end || time > end) end = time;
    if (!newest || e.id > newest) newest = e.id;
  }
  return { start, end, newest };
}

/**
 * The last alert of a run with more results than MAX_ALERTS_PER_RUN: it stands for the `count` results left,
 * with the evidence and entities of the first of them and the span of their times. Its key is the newest of
 * those results, so an overlapping run over the same events raises it once.
 */
function summaryAlert(
  rule: StoredRule,
  count: number,
  entities: NewAlert["entities"],
  evidence: string[],
  span: Span,
): NewAlert {
  return alertBase(
    rule,
    `${rule.spec.displayName} — and ${count} more result${count === 1 ? "" : "s"}`,
    entities,
    evidence,
    span.start!,
    span.end!,
    `${rule.id}:rest:${span.newest}`,
  );
}

/** An alert's entities once each (the first spelling of values equal but for case), at most 100. */
function dedupeEntities(alert: NewAlert): NewAlert {
  const seen = new Map<string, NewAlert["entities"][number]>();
  for (const e of alert.entities) {
    const key = `${e.type}|${e.value.toLowerCase()}`;
    if (!seen.has(key)) seen.set(key, e);
  }
  return { ...alert, entities: [...seen.values()].slice(0, 100) };
}

const suppressionEnd = (rule: StoredRule, now: Date) =>
  rule.spec.suppression?.enabled
    ? new Date(now.getTime() + ms(rule.spec.suppression.duration, 5 * 3600_000))
    : null;

/** Records that a scheduled rule fired (its row is already locked by the run) and starts its suppression. */
async function markFired(m: EntityManager, tenantId: string, rule: StoredRule, now: Date): Promise<void> {
  await m.query(
    `UPDATE analytics_rules SET last_fired_at = $3, suppressed_until = coalesce($4, suppressed_until) WHERE tenant_id = $1 AND id = $2`,
    [tenantId, rule.id, now, suppressionEnd(rule, now)],
  );
}

/**
 * Claims the right of an NRT rule to fire in this transaction: true when the rule is still enabled and not
 * suppressed, its firing recorded and its suppression started. The rules were read without a lock, so two
 * ingests running at once could both see a rule unsuppressed; the conditional UPDATE waits for the other's
 * row lock and re-reads the row, so only the first fires and the second sees the suppression (or that an
 * admin disabled the rule meanwhile). Claims go in id order, so two ingests firing the same rules cannot deadlock.
 */
export async function claimFiring(
  m: EntityManager,
  tenantId: string,
  rule: StoredRule,
  now: Date,
): Promise<boolean> {
  const rows: unknown[] = await m.query(
    `WITH u AS (UPDATE analytics_rules SET last_fired_at = $3, suppressed_until = coalesce($4, suppressed_until)
                WHERE tenant_id = $1 AND id = $2 AND enabled AND kind = 'NRT'
                  AND (suppressed_until IS NULL OR suppressed_until <= $3)
                RETURNING id)
     SELECT id FROM u`,
    [tenantId, rule.id, now, suppressionEnd(rule, now)],
  );
  return rows.length > 0;
}

const predicates = new Map<string, (e: EventLike) => boolean>();

/** Near-real-time rules over freshly stored events (in the ingest transaction): alerts per matching event, or one per rule and batch. */
export async function runNrtRules(
  m: EntityManager,
  tenantId: string,
  rules: readonly StoredRule[],
  events: readonly StoredEvent[],
  now: Date,
): Promise<number> {
  const alerts: NewAlert[] = [];
  const fired: StoredRule[] = [];
  // Watchlists the rules name: this process's copies are brought up to date once per batch.
  const aliases = new Set(rules.flatMap((rule) => watchlistAliasesOfFilter(rule.spec.filter)));
  await refreshWatchlistKeys(m, tenantId, [...aliases]);
  for (const rule of rules) {
    if (rule.suppressedUntil && rule.suppressedUntil > now) continue;
    const key = `${rule.id}:${rule.version}`;
    let test = predicates.get(key);
    if (!test) {
      test = compileFilterToPredicate(rule.spec.filter, { watchlists: watchlistKeys(tenantId) });
      if (predicates.size > 10_000) predicates.clear();
      predicates.set(key, test);
    }
    const hits = events.filter((e) => test!(e as unknown as EventLike));
    if (!compare(rule.spec.trigger.operator, hits.length, rule.spec.trigger.threshold) || hits.length === 0)
      continue;
    fired.push(rule);
    const read = (e: StoredEvent) => (f: string) => readEventField(e as unknown as EventLike, f);
    if (rule.spec.alertPerResult) {
      // As a scheduled run: 149 alerts of their own, and the 150th stands for the rest (a batch holds thousands).
      const [each, rest] = overflow(hits);
      for (const e of each)
        alerts.push(
          alertBase(
            rule,
            rule.spec.displayName,
            entitiesOf(rule.spec, read(e)),
            [e.id],
            e.time,
            e.time,
            `${rule.id}:${e.id}`,
          ),
        );
      if (rest.length) {
        const sample = rest.slice(0, SUMMARY_SAMPLE);
        alerts.push(
          summaryAlert(
            rule,
            rest.length,
            sample.flatMap((e) => entitiesOf(rule.spec, read(e))),
            sample.map((e) => e.id),
            eventSpan(rest),
          ),
        );
      }
    } else {
      // A batch's events come in the order they were sent, not in time order.
      const { start, end } = eventSpan(hits);
      alerts.push(
        alertBase(
          rule,
          rule.spec.displayName,
          hits.flatMap((e) => entitiesOf(rule.spec, read(e))),
          hits.map((e) => e.id),
          start!,
          end!,
          `${rule.id}:${hits[0].id}`,
        ),
      );
    }
  }
  const claimed = new Set<string>();
  for (const rule of [...fired].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (await claimFiring(m, tenantId, rule, now)) claimed.add(rule.id);
  }
  const stored = await storeAlerts(
    m,
    tenantId,
    alerts.filter((a) => claimed.has(a.ruleId!)).map(dedupeEntities),
  );
  return stored.created.length;
}
