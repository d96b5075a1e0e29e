import { createHash } from "node:crypto";
import type { EntityManager } from "typeorm";
import { newId } from "../../../../common/src";
import { incidentFromRow } from "./incident.entity";
import {
  recordIncidentChange,
  refreshIncidentRollups,
  reopenedChanges,
  reopenIncident,
} from "./incident-workflow.service";

/** Most alerts one incident holds; further alerts of the same group open a new incident (as Sentinel does). */
export const MAX_ALERTS_PER_INCIDENT = 150;
const DEFAULT_LOOKBACK_MS = 5 * 3600 * 1000;
const SYSTEM = { subject: "system", roles: [] as never[] };

/** How a rule groups its alerts into incidents (Sentinel's incident grouping settings). */
export interface GroupingSettings {
  enabled: boolean;
  matchingMethod: "ALL_ENTITIES" | "ANY_ALERT" | "SELECTED";
  selectedEntityTypes?: string[];
  lookbackMs: number;
  reopenClosedIncident: boolean;
}

/** An alert to place into an incident. */
export interface CorrelatedAlert {
  id: string;
  title: string;
  description: string;
  severity: string;
  entities: Array<{ type: string; value: string }>;
  ruleId: string | null;
  grouping: GroupingSettings | null;
}

const keyOf = (entities: Array<{ type: string; value: string }>) =>
  createHash("sha256")
    .update(JSON.stringify([...new Set(entities.map((e) => `${e.type}:${e.value.toLowerCase()}`))].sort()))
    .digest("hex")
    .slice(0, 32);

/**
 * Places new alerts into incidents in the caller's transaction. Rule alerts follow the rule's
 * grouping (ANY_ALERT: one incident per rule within the lookback; ALL_ENTITIES / SELECTED: one per
 * identical entity set); alerts from other providers join an open incident that shares an entity
 * within five hours. A full incident (150 alerts) or a closed one that must not be reopened gets
 * a new incident. Every step writes the incident's activity and outbox events.
 */
export async function correlateAlerts(
  m: EntityManager,
  tenantId: string,
  alerts: readonly CorrelatedAlert[],
): Promise<string[]> {
  const touched = new Set<string>();
  const identity = { tenantId, ...SYSTEM };
  if (alerts.length === 0) return [];
  // Concurrent ingests of one tenant would otherwise update the same incidents (and the incident
  // counter) in different orders and deadlock; correlation is short, so it runs one at a time per
  // tenant (the lock is held until the ingest's transaction ends).
  await lockCorrelation(m, tenantId);
  for (const alert of alerts) {
    let groupingKey: string | null = null;
    let candidate: Record<string, unknown> | undefined;
    const g = alert.grouping;
    if (alert.ruleId && g?.enabled) {
      groupingKey =
        g.matchingMethod === "ANY_ALERT"
          ? "any"
          : keyOf(
              g.matchingMethod === "SELECTED"
                ? alert.entities.filter((e) => g.selectedEntityTypes?.includes(e.type))
                : alert.entities,
            );
      // The group's newest incident by number, not by creation time: every incident one ingest opens shares
      // its transaction's now(), so the overflow incident of a full one would tie with it, and the next alert
      // (finding the full one) would open yet another incident instead of joining the overflow.
      // FOR UPDATE (in both candidate queries): an analyst may be closing or reopening the incident right now
      // (the correlation lock does not cover triage). Read unlocked, it would look open, and the alert would
      // land in the incident just closed, unseen and without the reopening the rule asks for.
      [candidate] = await m.query(
        `SELECT * FROM incidents WHERE tenant_id = $1 AND rule_id = $2 AND grouping_key = $3 AND merged_into IS NULL
           AND created_at >= now() - make_interval(secs => $4) ORDER BY number DESC LIMIT 1 FOR UPDATE`,
        [tenantId, alert.ruleId, groupingKey, g.lookbackMs / 1000],
      );
      if (candidate?.status === "CLOSED" && !g.reopenClosedIncident) candidate = undefined;
    } else if (!alert.ruleId && alert.entities.length) {
      [candidate] = await m.query(
        `SELECT i.* FROM incidents i
         WHERE i.tenant_id = $1 AND i.status <> 'CLOSED' AND i.merged_into IS NULL AND i.created_at >= now() - make_interval(secs => $4)
           AND EXISTS (SELECT 1 FROM incident_alerts ia JOIN alert_entities ae ON ae.alert_id = ia.alert_id
                       WHERE ia.incident_id = i.id AND ae.tenant_id = $1 AND (ae.entity_type, ae.value) IN (SELECT * FROM unnest($2::text[], $3::text[])))
         ORDER BY i.number DESC LIMIT 1 FOR UPDATE OF i`,
        [
          tenantId,
          alert.entities.map((e) => e.type),
          alert.entities.map((e) => e.value.toLowerCase()),
          DEFAULT_LOOKBACK_MS / 1000,
        ],
      );
    }
    if (candidate && Number(candidate.alert_count) >= MAX_ALERTS_PER_INCIDENT) candidate = undefined;

    let incident: { id: string; number: number };
    if (candidate) {
      incident = { id: candidate.id as string, number: Number(candidate.number) };
      if (candidate.status === "CLOSED") {
        await reopenIncident(m, tenantId, incident.id);
        await recordIncidentChange(m, identity, incident, "incident.reopened", {
          ...reopenedChanges(incidentFromRow(candidate)),
          alertId: alert.id,
        });
      }
    } else {
      const [{ number }]: Array<{ number: number }> = await m.query(
        `INSERT INTO incident_counters (tenant_id, last_number) VALUES ($1, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET last_number = incident_counters.last_number + 1 RETURNING last_number AS number`,
        [tenantId],
      );
      const id = newId();
      await m.query(
        `INSERT INTO incidents (id, tenant_id, number, title, description, severity, status, rule_id, grouping_key, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'NEW', $7, $8, now(), now())`,
        [id, tenantId, number, alert.title, alert.description, alert.severity, alert.ruleId, groupingKey],
      );
      incident = { id, number };
      await recordIncidentChange(m, identity, incident, "incident.created", { alertId: alert.id });
    }
    await m.query(
      `INSERT INTO incident_alerts (tenant_id, incident_id, alert_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [tenantId, incident.id, alert.id],
    );
    await refreshIncidentRollups(m, tenantId, incident.id);
    await m.query(`UPDATE incidents SET etag = etag + 1 WHERE tenant_id = $1 AND id = $2`, [
      tenantId,
      incident.id,
    ]);
    if (candidate)
      await recordIncidentChange(m, identity, incident, "incident.alert_added", { alertId: alert.id });
    touched.add(incident.id);
  }
  return [...touched];
}

/**
 * Serialises incident correlation, merges, alert changes logged to incidents (recordAlertChanges) and bookmark
 * deletes of one tenant until the transaction ends: the work that locks several incidents.
 */
export async function lockCorrelation(m: EntityManager, tenantId: string): Promise<void> {
  await m.query(`SELECT pg_advisory_xact_lock(hashtext('siem.incidents'), hashtext($1))`, [tenantId]);
}
