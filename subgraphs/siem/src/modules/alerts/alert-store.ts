import type { EntityManager } from "typeorm";
import { newId, writeOutbox } from "../../../../common/src";
import { normalizeIp } from "../connectors/normalizers/common";
import { correlateAlerts, type GroupingSettings } from "../incidents/correlation";

/** Entity kinds of alerts (Sentinel's entity mappings). */
export const ENTITY_TYPES = [
  "ACCOUNT",
  "HOST",
  "IP",
  "RESOURCE",
  "FILE_HASH",
  "PROCESS",
  "URL",
  "DOMAIN",
] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/**
 * An entity's value as alerts are indexed, correlated and looked up by: lower case, and an IP in the canonical
 * form the event normalisers give (`2001:DB8:0::1` → `2001:db8::1`, `::ffff:10.0.0.1` → `10.0.0.1`, zone and
 * port dropped), so an entity page finds the alerts and the events of an address however it was written.
 */
export function entityKey(type: string, value: string): string {
  return (type === "IP" ? normalizeIp(value) : null) ?? value.toLowerCase();
}

/** An alert about to be stored, from any provider. */
export interface NewAlert {
  provider: "ANALYTICS_RULE" | "TI_MATCH" | "WORKLOAD_PROTECTION" | "EXTERNAL";
  sourceId: string;
  title: string;
  description: string;
  severity: string;
  status?: string;
  tactics: string[];
  techniques: string[];
  entities: Array<{ type: EntityType; value: string }>;
  evidenceEventIds?: string[];
  remediation?: string[];
  resourceId?: string | null;
  startTime: Date | string;
  endTime: Date | string;
  ruleId?: string | null;
  grouping?: GroupingSettings | null;
}

/** What storing a batch did. */
export interface StoredAlerts {
  /** Id per input, in order (existing id for a duplicate). */
  ids: string[];
  created: string[];
  incidents: string[];
}

/**
 * Stores alerts idempotently on (provider, source id), indexes their entities, writes
 * `alert.created` events and places the new ones into incidents — one write path for every
 * provider, in the caller's transaction.
 */
export async function storeAlerts(
  m: EntityManager,
  tenantId: string,
  alerts: readonly NewAlert[],
): Promise<StoredAlerts> {
  if (alerts.length === 0) return { ids: [], created: [], incidents: [] };
  const candidateIds = alerts.map(() => newId());
  // created_at is timestamptz(3): Postgres keeps now() in whole milliseconds, as list cursors carry it, so
  // a cursor never falls before its own row (which would skip the rest of the batch on the next page).
  const rows: Array<{ id: string; provider: string; source_id: string; created: boolean }> = await m.query(
    `WITH input AS (
       SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::jsonb[],
                            $11::uuid[], $12::timestamptz[], $13::timestamptz[], $14::jsonb[], $15::jsonb[], $16::jsonb[], $17::uuid[])
         AS i(id, provider, source_id, title, description, severity, status, tactics, techniques, resource_id, start_time, end_time,
              entities, evidence, remediation, rule_id)
     ),
     inserted AS (
       INSERT INTO alerts (id, tenant_id, provider, source_id, title, description, severity, status, tactics, techniques, resource_id,
                           start_time, end_time, created_at, entities, evidence_event_ids, remediation, rule_id)
       SELECT id, $1, provider, source_id, title, description, severity, status,
              ARRAY(SELECT jsonb_array_elements_text(tactics)), ARRAY(SELECT jsonb_array_elements_text(techniques)),
              resource_id, start_time, end_time, now(), entities,
              ARRAY(SELECT jsonb_array_elements_text(evidence))::uuid[], ARRAY(SELECT jsonb_array_elements_text(remediation)), rule_id
       FROM input
       ON CONFLICT (tenant_id, provider, source_id) DO NOTHING
       RETURNING id, provider, source_id
     )
     SELECT id, provider, source_id, true AS created FROM inserted
     UNION ALL
     SELECT a.id, a.provider, a.source_id, false FROM alerts a JOIN input i USING (provider, source_id)
     WHERE a.tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM inserted x WHERE x.provider = a.provider AND x.source_id = a.source_id)`,
    [
      tenantId,
      candidateIds,
      alerts.map((a) => a.provider),
      alerts.map((a) => a.sourceId),
      alerts.map((a) => a.title),
      alerts.map((a) => a.description),
      alerts.map((a) => a.severity),
      alerts.map((a) => a.status ?? "NEW"),
      alerts.map((a) => JSON.stringify(a.tactics)),
      alerts.map((a) => JSON.stringify(a.techniques)),
      alerts.map((a) => a.resourceId ?? null),
      alerts.map((a) => a.startTime),
      alerts.map((a) => a.endTime),
      alerts.map((a) => JSON.stringify(a.entities)),
      alerts.map((a) => JSON.stringify(a.evidenceEventIds ?? [])),
      alerts.map((a) => JSON.stringify(a.remediation ?? [])),
      alerts.map((a) => a.ruleId ?? null),
    ],
  );
  const byKey = new Map(rows.map((r) => [`${r.provider}|${r.source_id}`, r]));
  const ids = alerts.map((a) => byKey.get(`${a.provider}|${a.sourceId}`)!.id);
  const createdRows = rows.filter((r) => r.created);
  const created = new Set(createdRows.map((r) => r.id));
  // A repeat of (provider, source id) inside the batch maps to the same new row: only its first occurrence
  // (the one stored) is new, so it is indexed, announced and correlated once.
  const pending = new Set(created);
  const fresh = alerts.map((a, i) => ({ a, id: ids[i] })).filter(({ id }) => pending.delete(id));
  const keysOf = (a: NewAlert) =>
    a.entities.map((e) => ({ type: e.type, value: entityKey(e.type, e.value) }));
  const entityRows = fresh.flatMap(({ a, id }) =>
    [...new Map(keysOf(a).map((e) => [`${e.type}|${e.value}`, e])).values()].map((e) => ({ id, e })),
  );
  if (entityRows.length) {
    await m.query(
      `INSERT INTO alert_entities (tenant_id, alert_id, entity_type, value) SELECT $1, a, t, v FROM unnest($2::uuid[], $3::text[], $4::text[]) AS x(a, t, v)
       ON CONFLICT DO NOTHING`,
      [
        tenantId,
        entityRows.map((r) => r.id),
        entityRows.map((r) => r.e.type),
        entityRows.map((r) => r.e.value),
      ],
    );
  }
  await writeOutbox(
    m,
    fresh.map(({ a, id }) => ({
      tenantId,
      topic: "alert.created",
      key: id,
      payload: { id, provider: a.provider, sourceId: a.sourceId, severity: a.severity },
    })),
  );
  const incidents = await correlateAlerts(
    m,
    tenantId,
    fresh.map(({ a, id }) => ({
      id,
      title: a.title,
      description: a.description,
      severity: a.severity,
      entities: keysOf(a),
      ruleId: a.ruleId ?? null,
      grouping: a.grouping ?? null,
    })),
  );
  return { ids, created: [...created], incidents };
}
