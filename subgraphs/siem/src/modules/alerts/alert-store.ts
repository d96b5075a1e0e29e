import type { EntityManager } from "typeorm";
import { ENTITY_TYPES, newId, writeOutbox, type EntityType } from "../../../../common/src";
import { normalizeIp } from "../connectors/normalizers/common";
import { correlateAlerts, type GroupingSettings } from "../incidents/correlation";
import { recordAlertChanges, type AlertChange, type MutableAlertField } from "./alert-changes";

/** Entity kinds of alerts (Sentinel's entity mappings; shared with protection's detections). */
export { ENTITY_TYPES, type EntityType };

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
  /** What the provider observed (`SecurityAlert.evidence`); none when empty. */
  evidence?: Record<string, unknown>;
  resourceId?: string | null;
  startTime: Date | string;
  endTime: Date | string;
  ruleId?: string | null;
  grouping?: GroupingSettings | null;
  /**
   * Set by providers whose repeats update the alert (`ingestAlerts`): the mutable values the record states
   * (undefined: not stated, so kept). Without it a repeat of (provider, source id) changes nothing.
   */
  repeat?: AlertRepeat;
}

/** What a provider's repeat of a known alert states about its mutable fields. */
export interface AlertRepeat {
  title: string;
  severity: string;
  description?: string;
  status?: string;
  endTime?: Date;
  tactics?: string[];
  techniques?: string[];
  remediation?: string[];
  evidence?: Record<string, unknown>;
}

/** What became of one record of a batch. */
export type StoreOutcome = "CREATED" | "UPDATED" | "UNCHANGED";

/** An alert's mutable state, as repeats are compared with and applied to it. */
interface MutableState {
  title: string;
  description: string;
  severity: string;
  status: string;
  endTime: Date;
  tactics: string[];
  techniques: string[];
  remediation: string[];
  evidence: Record<string, unknown>;
}

const sameValue = (a: unknown, b: unknown) =>
  a instanceof Date && b instanceof Date
    ? a.getTime() === b.getTime()
    : JSON.stringify(sortedKeys(a)) === JSON.stringify(sortedKeys(b));

/**
 * `value` with every object's keys in order: jsonb keeps an object's keys in its own order (shortest first), so
 * stored evidence read back compares equal to the same evidence as a provider sends it again.
 */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object" || value instanceof Date) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]),
  );
}

/** The changed fields of `after` against `before`, as `[before, after]` (times in ISO form). */
function diffState(before: MutableState, after: MutableState): AlertChange["changes"] {
  const changes: AlertChange["changes"] = {};
  for (const field of Object.keys(before) as MutableAlertField[]) {
    if (sameValue(before[field], after[field])) continue;
    const show = (v: unknown) => (v instanceof Date ? v.toISOString() : v);
    changes[field] = [show(before[field]), show(after[field])];
  }
  return changes;
}

/** What storing a batch did. */
export interface StoredAlerts {
  /** Id per input, in order (existing id for a duplicate). */
  ids: string[];
  created: string[];
  /** Known alerts that repeats changed. */
  updated: string[];
  /** Per input, in order. */
  outcomes: StoreOutcome[];
  incidents: string[];
}

/**
 * Stores alerts idempotently on (provider, source id), indexes their entities, writes
 * `alert.created` events and places the new ones into incidents — one write path for every
 * provider, in the caller's transaction. A record with `repeat` of a known alert updates its mutable fields
 * (`applyRepeats`), recorded as `actor`'s change.
 */
export async function storeAlerts(
  m: EntityManager,
  tenantId: string,
  alerts: readonly NewAlert[],
  actor = "system",
): Promise<StoredAlerts> {
  if (alerts.length === 0) return { ids: [], created: [], updated: [], outcomes: [], incidents: [] };
  const candidateIds = alerts.map(() => newId());
  // created_at is timestamptz(3): Postgres keeps now() in whole milliseconds, as list cursors carry it, so
  // a cursor never falls before its own row (which would skip the rest of the batch on the next page).
  // Inserted in (provider, source id) order, whatever the batch's: a concurrent batch sharing records waits at
  // the first one the other is inserting, never holding one the other waits for (batches in different orders
  // would each hold what the other needs next: a deadlock).
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
       FROM input ORDER BY provider, source_id
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
  // A concurrent call that stored the same (provider, source id) and committed while this INSERT waited on it
  // makes the INSERT do nothing, and the statement's snapshot (taken before that commit) cannot see the row
  // either: a new statement can.
  const missing = alerts.filter((a) => !byKey.has(`${a.provider}|${a.sourceId}`));
  if (missing.length > 0) {
    const raced: typeof rows = await m.query(
      `SELECT a.id, a.provider, a.source_id, false AS created
         FROM alerts a JOIN unnest($2::text[], $3::text[]) AS i(provider, source_id) USING (provider, source_id)
        WHERE a.tenant_id = $1`,
      [tenantId, missing.map((a) => a.provider), missing.map((a) => a.sourceId)],
    );
    for (const r of raced) byKey.set(`${r.provider}|${r.source_id}`, r);
  }
  const ids = alerts.map((a) => byKey.get(`${a.provider}|${a.sourceId}`)!.id);
  const createdRows = rows.filter((r) => r.created);
  const created = new Set(createdRows.map((r) => r.id));
  // A repeat of (provider, source id) inside the batch maps to the same new row: only its first occurrence
  // (the one stored) is new, so it is indexed, announced and correlated once.
  const pending = new Set(created);
  const fresh = alerts.map((a, i) => ({ a, id: ids[i] })).filter(({ id }) => pending.delete(id));
  const outcomes: StoreOutcome[] = alerts.map(() => "UNCHANGED");
  const firsts = new Set(fresh.map((f) => f.a));
  alerts.forEach((a, i) => firsts.has(a) && (outcomes[i] = "CREATED"));
  const updated = await applyRepeats(
    m,
    tenantId,
    actor,
    alerts.flatMap((a, index) =>
      a.repeat && !created.has(ids[index]) ? [{ index, id: ids[index], repeat: a.repeat }] : [],
    ),
    outcomes,
  );
  const withEvidence = fresh.filter(({ a }) => a.evidence && Object.keys(a.evidence).length > 0);
  if (withEvidence.length) {
    await m.query(
      `INSERT INTO alert_evidence (tenant_id, alert_id, evidence) SELECT $1, a, e FROM unnest($2::uuid[], $3::jsonb[]) AS x(a, e)`,
      [tenantId, withEvidence.map(({ id }) => id), withEvidence.map(({ a }) => JSON.stringify(a.evidence))],
    );
  }
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
  return { ids, created: [...created], updated, outcomes, incidents };
}

/**
 * Applies providers' repeats of known alerts, in input order (so within one call the last record wins), each
 * only when it is not older than what is stored: a repeat whose `endTime` is before the alert's is a late
 * delivery of an earlier state and changes nothing. One UPDATE for the batch and one `alert.updated` event per
 * alert that changed; `outcomes` marks the records that changed something UPDATED. Returns the changed ids.
 */
async function applyRepeats(
  m: EntityManager,
  tenantId: string,
  actor: string,
  repeats: Array<{ index: number; id: string; repeat: AlertRepeat }>,
  outcomes: StoreOutcome[],
): Promise<string[]> {
  if (repeats.length === 0) return [];
  // NO KEY UPDATE, the lock the UPDATE below takes anyway: FOR UPDATE would also block the key-share locks that
  // linking the alert to an incident takes (a merge moving it, an analyst's createIncident naming it), which may
  // hold the incident or the incident counter this transaction waits for next.
  const rows: Array<Record<string, unknown>> = await m.query(
    `SELECT a.id, a.provider, a.source_id, a.title, a.description, a.severity, a.status, a.end_time, a.tactics,
            a.techniques, a.remediation, coalesce(e.evidence, '{}') AS evidence
     FROM alerts a LEFT JOIN alert_evidence e ON e.tenant_id = $1 AND e.alert_id = a.id
     WHERE a.tenant_id = $1 AND a.id = ANY($2::uuid[]) ORDER BY a.id FOR NO KEY UPDATE OF a`,
    [tenantId, [...new Set(repeats.map((r) => r.id))]],
  );
  const stored = new Map(
    rows.map((r) => [
      r.id as string,
      {
        row: r,
        state: {
          title: r.title,
          description: r.description,
          severity: r.severity,
          status: r.status,
          endTime: r.end_time,
          tactics: r.tactics ?? [],
          techniques: r.techniques ?? [],
          remediation: r.remediation ?? [],
          evidence: r.evidence as Record<string, unknown>,
        } as MutableState,
      },
    ]),
  );
  const current = new Map([...stored].map(([id, { state }]) => [id, state]));
  for (const { index, id, repeat } of repeats) {
    const state = current.get(id);
    if (!state || (repeat.endTime && repeat.endTime.getTime() < state.endTime.getTime())) continue;
    const next: MutableState = {
      title: repeat.title,
      description: repeat.description ?? state.description,
      severity: repeat.severity,
      status: repeat.status ?? state.status,
      endTime: repeat.endTime ?? state.endTime,
      tactics: repeat.tactics ?? state.tactics,
      techniques: repeat.techniques ?? state.techniques,
      remediation: repeat.remediation ?? state.remediation,
      evidence: repeat.evidence ?? state.evidence,
    };
    if (Object.keys(diffState(state, next)).length === 0) continue;
    current.set(id, next);
    outcomes[index] = "UPDATED";
  }
  const changes = [...stored].flatMap(([id, { row, state }]) => {
    const after = current.get(id)!;
    const diff = diffState(state, after);
    return Object.keys(diff).length ? [{ id, row, after, diff }] : [];
  });
  if (changes.length === 0) return [];
  await m.query(
    `UPDATE alerts a SET title = c.title, description = c.description, severity = c.severity, status = c.status,
       end_time = c.end_time, tactics = ARRAY(SELECT jsonb_array_elements_text(c.tactics)),
       techniques = ARRAY(SELECT jsonb_array_elements_text(c.techniques)),
       remediation = ARRAY(SELECT jsonb_array_elements_text(c.remediation))
     FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::jsonb[], $9::jsonb[], $10::jsonb[])
       AS c(id, title, description, severity, status, end_time, tactics, techniques, remediation)
     WHERE a.tenant_id = $1 AND a.id = c.id`,
    [
      tenantId,
      changes.map((c) => c.id),
      changes.map((c) => c.after.title),
      changes.map((c) => c.after.description),
      changes.map((c) => c.after.severity),
      changes.map((c) => c.after.status),
      changes.map((c) => c.after.endTime),
      changes.map((c) => JSON.stringify(c.after.tactics)),
      changes.map((c) => JSON.stringify(c.after.techniques)),
      changes.map((c) => JSON.stringify(c.after.remediation)),
    ],
  );
  const newEvidence = changes.filter((c) => c.diff.evidence);
  if (newEvidence.length) {
    // An alert stored without evidence has no row yet; evidence emptied by a repeat (`{}`) keeps an empty one.
    await m.query(
      `INSERT INTO alert_evidence (tenant_id, alert_id, evidence) SELECT $1, a, e FROM unnest($2::uuid[], $3::jsonb[]) AS x(a, e)
       ON CONFLICT (alert_id) DO UPDATE SET evidence = excluded.evidence`,
      [tenantId, newEvidence.map((c) => c.id), newEvidence.map((c) => JSON.stringify(c.after.evidence))],
    );
  }
  await recordAlertChanges(
    m,
    tenantId,
    actor,
    changes.map((c) => ({
      alert: {
        id: c.id,
        provider: c.row.provider as string,
        sourceId: c.row.source_id as string,
        severity: c.after.severity,
        status: c.after.status,
      },
      changes: c.diff,
    })),
  );
  return changes.map((c) => c.id);
}
