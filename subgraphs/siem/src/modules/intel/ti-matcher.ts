import type { EntityManager } from "typeorm";
import { storeAlerts, type EntityType, type NewAlert } from "../alerts/alert-store";
import type { StoredEvent } from "../events/event-ingest";
import { IndicatorIndex, observablesOf, type IndexedIndicator } from "./indicator-index";
import type { Observable } from "./stix";

/**
 * Per-tenant in-memory indicator indexes, rebuilt only when the tenant's indicators change (the
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
    `SELECT id, name, groups, confidence, valid_from, valid_until, revoked FROM threat_indicators WHERE tenant_id = $1 AND NOT revoked`,
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

/** Matches fresh events against the tenant's active indicators and raises TI_MATCH alerts (one per indicator and event). */
export async function matchThreatIntel(
  m: EntityManager,
  tenantId: string,
  events: readonly StoredEvent[],
): Promise<number> {
  const { index, names } = await indexFor(m, tenantId);
  if (index.size === 0) return 0;
  const alerts: NewAlert[] = [];
  for (const event of events) {
    const matches = index.match(observablesOf(event), new Date(event.time));
    for (const match of matches) {
      const info = names.get(match.indicatorId);
      const confidence = info?.confidence ?? 50;
      const what = match.matched.map((o) => o.value).join(", ");
      alerts.push({
        provider: "TI_MATCH",
        sourceId: `${match.indicatorId}:${event.id}`,
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
  const stored = await storeAlerts(m, tenantId, alerts);
  return stored.created.length;
}
