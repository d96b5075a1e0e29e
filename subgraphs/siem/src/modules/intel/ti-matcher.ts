import { createHash } from "node:crypto";
import type { EntityManager } from "typeorm";
import { storeAlerts, type EntityType, type NewAlert } from "../alerts/alert-store";
import type { StoredEvent } from "../events/event-ingest";
import { IndicatorIndex, observablesOf, type IndexedIndicator } from "./indicator-index";
import type { Observable } from "./stix";

/**
 * Per-tenant in-memory indicator indexes of the indicators that may alert (not revoked, not typed only `benign`:
 * STIX's known-good activity), rebuilt only when the tenant's indicators change (the
 * version is the tenant's `threat_indicator_versions` counter, one primary-key lookup per ingest
 * batch, read in the ingest's transaction), so matching costs hash lookups per event and never a
 * query per event. An import committed in any process is seen by the next batch in every process.
 */
const indexes = new Map<
  string,
  {
    version: string;
    index: IndicatorIndex;
    names: Map<string, { name: string | null; confidence: number | null }>;
  }
>();

async function indexFor(m: EntityManager, tenantId: string) {
  const [row]: Array<{ version: string }> = await m.query(
    `SELECT version::text AS version FROM threat_indicator_versions WHERE tenant_id = $1`,
    [tenantId],
  );
  const version = row?.version ?? "0";
  const cached = indexes.get(tenantId);
  if (cached && cached.version === version) return cached;
  const rows: Array<Record<string, unknown>> = await m.query(
    `SELECT id, name, groups, confidence, valid_from, valid_until, revoked FROM threat_indicators
     WHERE tenant_id = $1 AND NOT revoked AND NOT (indicator_types <> '{}' AND indicator_types <@ '{benign}')`,
    [tenantId],
  );
  const indicators: IndexedIndicator[] = rows.map((r) => ({
    id: r.id as string,
    groups: r.groups as Observable[][],
    confidence: (r.confidence as number | null) ?? null,
    validFrom: r.valid_from as Date,
    validUntil: (r.valid_until as Date | null) ?? null,
    revoked: false,
  }));
  const entry = {
    version,
    index: new IndicatorIndex(indicators),
    names: new Map(
      rows.map((r) => [
        r.id as string,
        { name: (r.name as string | null) ?? null, confidence: (r.confidence as number | null) ?? null },
      ]),
    ),
  };
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
/** One TI_MATCH alert per indicator, matched values, host and account per this much event time. */
export const TI_ALERT_PERIOD_MS = 3_600_000;

/**
 * The de-duplication key of a match: the indicator, the hour of the event's time, and a digest of the matched
 * values, the host and the account. A host beaconing to a listed address every few seconds makes one alert an
 * hour, not thousands (each would open incidents of its own once one holds 150 alerts); another host, account or
 * listed value is another finding and gets its own alert.
 */
function alertKey(indicatorId: string, matched: readonly Observable[], event: StoredEvent): string {
  const time = Date.parse(event.time);
  const period = Number.isNaN(time) ? "" : new Date(time - (time % TI_ALERT_PERIOD_MS)).toISOString();
  const subject = [
    ...matched.map((o) => `${o.type}|${o.value}`).sort(),
    `host|${(event.device ?? "").toLowerCase()}`,
    `account|${(event.actor_user ?? "").toLowerCase()}`,
  ].join("\n");
  return `${indicatorId}:${period}:${createHash("sha256").update(subject).digest("hex").slice(0, 32)}`;
}

/**
 * Matches fresh events against the tenant's active indicators and raises TI_MATCH alerts: one per indicator,
 * matched values, host and account per hour of event time (see `alertKey`), listing up to 50 of the batch's
 * matching events. A later batch's match in an hour that already has its alert adds nothing.
 */
export async function matchThreatIntel(
  m: EntityManager,
  tenantId: string,
  events: readonly StoredEvent[],
): Promise<number> {
  const { index, names } = await indexFor(m, tenantId);
  if (index.size === 0) return 0;
  const alerts = new Map<string, NewAlert & { evidenceEventIds: string[] }>();
  for (const event of events) {
    const matches = index.match(observablesOf(event), new Date(event.time));
    for (const match of matches) {
      const key = alertKey(match.indicatorId, match.matched, event);
      const existing = alerts.get(key);
      if (existing) {
        if (existing.evidenceEventIds.length < MAX_TI_EVIDENCE) existing.evidenceEventIds.push(event.id);
        if (event.time < existing.startTime) existing.startTime = event.time;
        if (event.time > existing.endTime) existing.endTime = event.time;
        continue;
      }
      const info = names.get(match.indicatorId);
      const confidence = info?.confidence ?? 50;
      const what = match.matched.map((o) => o.value).join(", ");
      alerts.set(key, {
        provider: "TI_MATCH",
        sourceId: key,
        title: `Threat intelligence match: ${what}`,
        description: `An event from ${event.connector} matched the indicator ${info?.name ?? match.indicatorId} (confidence ${confidence}).`,
        severity: confidence >= 80 ? "HIGH" : confidence >= 50 ? "MEDIUM" : "LOW",
        tactics: ["CommandAndControl"],
        techniques: [],
        entities: [
          ...match.matched.map((o) => ({ type: ENTITY_OF[o.type], value: o.value })),
          ...(event.actor_user ? [{ type: "ACCOUNT" as const, value: event.actor_user }] : []),
          ...(event.device ? [{ type: "HOST" as const, value: event.device }] : []),
        ],
        evidenceEventIds: [event.id],
        startTime: event.time,
        endTime: event.time,
      });
    }
  }
  const stored = await storeAlerts(m, tenantId, [...alerts.values()]);
  return stored.created.length;
}
