import { createHash } from "node:crypto";
import type { EntityManager } from "typeorm";
import { storeAlerts, type EntityType, type NewAlert } from "../alerts/alert-store";
import type { StoredEvent } from "../events/event-ingest";
import { refreshWatchlistKeys, watchlistKeys } from "../hunting/watchlist-cache";
import {
  compileFilterToPredicate,
  readEventField,
  watchlistAliasesOfFilter,
  type EventLike,
} from "../rules/rule-filter";
import { claimFiring, entitiesOf, groupingOf, type StoredRule } from "../rules/rule-runner";
import type { RuleSeverity } from "../rules/rule-spec";
import { loadRuleTemplates } from "../rules/templates";
import {
  IndicatorIndex,
  normalizeEventIp,
  observablesOf,
  type EventObservables,
  type IndexedIndicator,
} from "./indicator-index";
import type { Observable } from "./stix";

/** What matching needs of the indicators: the index and, per indicator id, its name and confidence. */
export interface IndicatorSet {
  index: IndicatorIndex;
  names: Map<string, { name: string | null; confidence: number | null }>;
}

/**
 * A threat-intelligence rule as matching applies it: a stored rule (`threatIntelligence: true`), or the built-in
 * one (`id` null) that a tenant without any threat-intelligence rule is matched by.
 */
export type TiRule = Omit<StoredRule, "id"> & { id: string | null };

/** The template a tenant without any threat-intelligence rule is matched by (as if it had created it). */
export const BUILT_IN_TI_TEMPLATE = "threat-intelligence-match";

let builtIn: TiRule | null = null;

/**
 * The built-in threat-intelligence rule: the `threat-intelligence-match` template, enabled, without a rule id.
 * Its alerts keep the keys TI_MATCH alerts had before rules governed matching, and, having no rule to group by,
 * join incidents by shared entities like other providers' alerts.
 */
export function builtInTiRule(): TiRule {
  if (!builtIn) {
    const template = loadRuleTemplates().find((t) => t.id === BUILT_IN_TI_TEMPLATE);
    if (!template) throw new Error(`the ${BUILT_IN_TI_TEMPLATE} rule template is missing`);
    const { id: _id, version: _version, ...spec } = template;
    builtIn = { id: null, version: 0, spec, suppressedUntil: null };
  }
  return builtIn;
}

/**
 * The threat-intelligence rules that apply to a tenant, from its rules: the enabled NRT ones with
 * `threatIntelligence: true`; none when it has such rules but all are disabled; the built-in rule when it has
 * none at all.
 */
export function applicableTiRules(rules: ReadonlyArray<StoredRule & { enabled: boolean }>): TiRule[] {
  const ti = rules.filter((r) => r.spec.threatIntelligence === true);
  if (ti.length === 0) return [builtInTiRule()];
  return ti.filter((r) => r.enabled && r.spec.kind === "NRT");
}

/**
 * Per-tenant in-memory indicator indexes of the indicators that may alert (not revoked, not typed only `benign`:
 * STIX's known-good activity), rebuilt only when the tenant's indicators change (the
 * version is the tenant's `threat_indicator_versions` counter, one primary-key lookup per ingest
 * batch, read in the ingest's transaction), so matching costs hash lookups per event and never a
 * query per event. An import committed in any process is seen by the next batch in every process.
 */
const indexes = new Map<string, IndicatorSet & { version: string }>();

/** SQL condition of the indicators that may alert (alias `t`). */
export const ALERTING_INDICATORS_SQL = `NOT t.revoked AND NOT (t.indicator_types <> '{}' AND t.indicator_types <@ '{benign}')`;

/** An indicator set from `threat_indicators` rows (id, name, groups, confidence, valid_from, valid_until). */
export function indicatorSetOf(rows: ReadonlyArray<Record<string, unknown>>): IndicatorSet {
  const indicators: IndexedIndicator[] = rows.map((r) => ({
    id: r.id as string,
    groups: r.groups as Observable[][],
    confidence: (r.confidence as number | null) ?? null,
    validFrom: r.valid_from as Date,
    validUntil: (r.valid_until as Date | null) ?? null,
    revoked: false,
  }));
  return {
    index: new IndicatorIndex(indicators),
    names: new Map(
      rows.map((r) => [
        r.id as string,
        { name: (r.name as string | null) ?? null, confidence: (r.confidence as number | null) ?? null },
      ]),
    ),
  };
}

/**
 * The ids of the indicators an event holding this one entity would match now, as ingest-time matching finds them
 * (the same index: an IP within an indicator's CIDR, …); at most `limit`. Empty for kinds threat intelligence does
 * not describe (hosts, processes, resources), and for an account that is no e-mail address.
 */
export async function indicatorsMatchingEntity(
  m: EntityManager,
  tenantId: string,
  type: EntityType,
  value: string,
  limit: number,
  now: Date = new Date(),
): Promise<string[]> {
  const ip = type === "IP" ? normalizeEventIp(value) : null;
  const observables: EventObservables = {
    ips: ip ? [ip] : [],
    domains: type === "DOMAIN" ? [value] : [],
    urls: type === "URL" ? [value] : [],
    hashes: type === "FILE_HASH" ? [value] : [],
    emails: type === "ACCOUNT" && value.includes("@") ? [value] : [],
  };
  if (Object.values(observables).every((values: string[]) => values.length === 0)) return [];
  const { index } = await indexFor(m, tenantId);
  return index
    .match(observables, now)
    .map((match) => match.indicatorId)
    .sort()
    .slice(0, limit);
}

async function indexFor(m: EntityManager, tenantId: string): Promise<IndicatorSet> {
  const [row]: Array<{ version: string }> = await m.query(
    `SELECT version::text AS version FROM threat_indicator_versions WHERE tenant_id = $1`,
    [tenantId],
  );
  const version = row?.version ?? "0";
  const cached = indexes.get(tenantId);
  if (cached && cached.version === version) return cached;
  const rows: Array<Record<string, unknown>> = await m.query(
    `SELECT id, name, groups, confidence, valid_from, valid_until FROM threat_indicators t
     WHERE tenant_id = $1 AND ${ALERTING_INDICATORS_SQL}`,
    [tenantId],
  );
  const entry = { version, ...indicatorSetOf(rows) };
  if (indexes.size > 1000) indexes.clear();
  indexes.set(tenantId, entry);
  return entry;
}

const ENTITY_OF: Record<Observable["type"], EntityType> = {
  "ipv4-addr": "IP",
  "ipv6-addr": "IP",
  "domain-name": "DOMAIN",
  url: "URL",
  "file-hash": "FILE_HASH",
  "email-addr": "ACCOUNT",
};

/** Most evidence events one TI_MATCH alert lists (as analytics rules' alerts). */
export const MAX_TI_EVIDENCE = 50;
/** Most entities one TI_MATCH alert lists. */
const MAX_TI_ENTITIES = 100;
/** One TI_MATCH alert per indicator, matched values, host and account per this much event time. */
export const TI_ALERT_PERIOD_MS = 3_600_000;

/** The alert severity of a match: the rule's, or (severityFromConfidence) the indicator's confidence's. */
export function tiSeverity(rule: Pick<TiRule, "spec">, confidence: number | null): RuleSeverity {
  if (!rule.spec.severityFromConfidence || confidence === null) return rule.spec.severity;
  return confidence >= 80 ? "HIGH" : confidence >= 50 ? "MEDIUM" : "LOW";
}

/** An event as matching reads it: what ingest stored, or a row of `events` (time a Date, IPs as text). */
export type MatchableEvent = Omit<StoredEvent, "time" | "raw" | "source_event_id"> & { time: string | Date };

const timeOf = (event: MatchableEvent) =>
  event.time instanceof Date ? event.time.getTime() : Date.parse(event.time);
const isoOf = (event: MatchableEvent) => (event.time instanceof Date ? event.time.toISOString() : event.time);

/**
 * The de-duplication key of a match: the rule (none for the built-in rule, whose keys are those TI_MATCH alerts
 * always had), the indicator, the hour of the event's time, and a digest of the matched values, the host and the
 * account (only the values for a rule without `alertPerResult`: one alert per indicator and hour). A host
 * beaconing to a listed address every few seconds makes one alert an hour, not thousands; another host, account
 * or listed value is another finding and gets its own alert. Ingest-time and retro-matching compute the same key,
 * so whichever sees a match first raises it and the other adds nothing.
 */
export function tiAlertKey(
  rule: Pick<TiRule, "id" | "spec">,
  indicatorId: string,
  matched: readonly Observable[],
  event: Pick<MatchableEvent, "time" | "device" | "actor_user">,
): string {
  const time = timeOf(event as MatchableEvent);
  const period = Number.isNaN(time) ? "" : new Date(time - (time % TI_ALERT_PERIOD_MS)).toISOString();
  const perResult = rule.id === null || rule.spec.alertPerResult;
  const subject = [
    ...matched.map((o) => `${o.type}|${o.value}`).sort(),
    ...(perResult
      ? [`host|${(event.device ?? "").toLowerCase()}`, `account|${(event.actor_user ?? "").toLowerCase()}`]
      : []),
  ].join("\n");
  const key = `${indicatorId}:${period}:${createHash("sha256").update(subject).digest("hex").slice(0, 32)}`;
  return rule.id === null ? key : `${rule.id}:${key}`;
}

type PendingAlert = NewAlert & { evidenceEventIds: string[] };

const predicates = new Map<string, (e: EventLike) => boolean>();

function predicateOf(tenantId: string, rule: TiRule): (e: EventLike) => boolean {
  const key = `${rule.id ?? "built-in"}:${rule.version}:${rule.id ? "" : tenantId}`;
  let test = predicates.get(key);
  if (!test) {
    test = compileFilterToPredicate(rule.spec.filter, { watchlists: watchlistKeys(tenantId) });
    if (predicates.size > 10_000) predicates.clear();
    predicates.set(key, test);
  }
  return test;
}

/**
 * The TI_MATCH alerts `rules` raise for `events` (pure, given the rules' filter predicates): every event is
 * matched against the indicators once; each rule whose filter selects a matching event (and that is not
 * suppressed at `now`) raises an alert per `tiAlertKey`, listing up to 50 of the events that share it, with
 * the matched values and the rule's entity mappings as entities, the indicator and those values as evidence,
 * the rule's tactics, techniques and grouping, and its severity (or the indicator's confidence's, with
 * `severityFromConfidence`).
 */
export function tiAlertsOf(
  set: IndicatorSet,
  rules: ReadonlyArray<TiRule & { test: (e: EventLike) => boolean }>,
  events: readonly MatchableEvent[],
  now: Date,
): PendingAlert[] {
  const active = rules.filter((r) => !(r.suppressedUntil && r.suppressedUntil > now));
  if (set.index.size === 0 || active.length === 0) return [];
  const alerts = new Map<string, PendingAlert>();
  for (const event of events) {
    const matches = set.index.match(observablesOf(event), new Date(timeOf(event)));
    if (matches.length === 0) continue;
    const selecting = active.filter((rule) => rule.test(event as unknown as EventLike));
    for (const rule of selecting) {
      const mapped = entitiesOf(rule.spec, (f) => readEventField(event as unknown as EventLike, f));
      for (const match of matches) {
        const key = tiAlertKey(rule, match.indicatorId, match.matched, event);
        const existing = alerts.get(key);
        if (existing) {
          if (existing.evidenceEventIds.length < MAX_TI_EVIDENCE) existing.evidenceEventIds.push(event.id);
          if (timeOf(event) < Date.parse(existing.startTime as string)) existing.startTime = isoOf(event);
          if (timeOf(event) > Date.parse(existing.endTime as string)) existing.endTime = isoOf(event);
          if (!rule.spec.alertPerResult)
            existing.entities = uniqueEntities([...existing.entities, ...mapped]);
          continue;
        }
        const info = set.names.get(match.indicatorId);
        const confidence = info?.confidence ?? null;
        const what = match.matched.map((o) => o.value).join(", ");
        alerts.set(key, {
          provider: "TI_MATCH",
          sourceId: key,
          title: `Threat intelligence match: ${what}`,
          description:
            `An event from ${event.connector} matched the indicator ${info?.name ?? match.indicatorId}` +
            ` (confidence ${confidence ?? "not given"})` +
            (rule.id ? ` of the rule "${rule.spec.displayName}".` : "."),
          severity: tiSeverity(rule, confidence),
          tactics: rule.spec.tactics,
          techniques: rule.spec.techniques,
          entities: uniqueEntities([
            ...match.matched.map((o) => ({ type: ENTITY_OF[o.type], value: o.value })),
            ...mapped,
          ]),
          evidenceEventIds: [event.id],
          evidence: {
            indicatorId: match.indicatorId,
            indicatorName: info?.name ?? null,
            confidence,
            matched: match.matched.map((o) => ({
              type: o.type,
              value: o.value,
              ...(o.hashAlgorithm ? { hashAlgorithm: o.hashAlgorithm } : {}),
            })),
          },
          startTime: isoOf(event),
          endTime: isoOf(event),
          ruleId: rule.id,
          grouping: rule.id ? groupingOf(rule.spec) : null,
        });
      }
    }
  }
  return [...alerts.values()];
}

/** Entities once each (values equal but for case are one), at most MAX_TI_ENTITIES. */
function uniqueEntities(entities: NewAlert["entities"]): NewAlert["entities"] {
  const seen = new Map<string, NewAlert["entities"][number]>();
  for (const e of entities) {
    const key = `${e.type}|${e.value.toLowerCase()}`;
    if (!seen.has(key)) seen.set(key, e);
  }
  return [...seen.values()].slice(0, MAX_TI_ENTITIES);
}

/**
 * Raises the TI_MATCH alerts of `rules` for `events` against `set`, in the caller's transaction: the rules' watchlists
 * are brought up to date, a stored rule that fires claims its firing (as NRT rules do: it may have been disabled
 * or suppressed meanwhile, and its suppression starts), and the alerts are stored (an alert key already stored
 * adds nothing). Returns how many alerts were new.
 */
export async function raiseTiAlerts(
  m: EntityManager,
  tenantId: string,
  set: IndicatorSet,
  rules: readonly TiRule[],
  events: readonly MatchableEvent[],
  now: Date,
): Promise<number> {
  if (rules.length === 0 || set.index.size === 0 || events.length === 0) return 0;
  const aliases = new Set(rules.flatMap((rule) => watchlistAliasesOfFilter(rule.spec.filter)));
  if (aliases.size) await refreshWatchlistKeys(m, tenantId, [...aliases]);
  const alerts = tiAlertsOf(
    set,
    rules.map((rule) => ({ ...rule, test: predicateOf(tenantId, rule) })),
    events,
    now,
  );
  if (alerts.length === 0) return 0;
  const fired = [...new Set(alerts.map((a) => a.ruleId).filter((id): id is string => !!id))].sort();
  const claimed = new Set<string | null>([null]);
  for (const id of fired) {
    const rule = rules.find((r) => r.id === id)!;
    if (await claimFiring(m, tenantId, { ...rule, id }, now)) claimed.add(id);
  }
  const stored = await storeAlerts(
    m,
    tenantId,
    alerts.filter((a) => claimed.has(a.ruleId ?? null)),
  );
  return stored.created.length;
}

/**
 * Matches fresh events against the tenant's active indicators (the in-memory index: no query per event) for each
 * of `rules` (see applicableTiRules) and raises their TI_MATCH alerts.
 */
export async function matchThreatIntel(
  m: EntityManager,
  tenantId: string,
  events: readonly StoredEvent[],
  rules: readonly TiRule[] = [builtInTiRule()],
  now: Date = new Date(),
): Promise<number> {
  if (rules.length === 0 || events.length === 0) return 0;
  const set = await indexFor(m, tenantId);
  return raiseTiAlerts(m, tenantId, set, rules, events, now);
}
