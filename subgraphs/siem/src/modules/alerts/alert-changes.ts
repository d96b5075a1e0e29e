/*
 * Recording a change to existing alerts — an analyst's triage (`updateAlerts`) or a provider sending a known
 * alert again with new values (`ingestAlerts`) — in the change's transaction:
 *
 * - one `alert.updated` outbox event per alert (the live `alertUpdated` subscription and ALERT_UPDATED
 *   automation rules read it), naming the changed fields, their old and new values, and who changed them;
 * - an `alert_updated` entry in the activity log of each (unmerged) incident holding the alert;
 * - when the change moves what an incident rolls up from its alerts (severity, activity times), the incident's
 *   rollups are refreshed (its severity unless pinned, first and last activity).
 *
 * An alert change is not an incident change: it moves no incident etag and sends no `incident.*` event.
 *
 * The incidents are touched under the tenant's correlation lock, taken after the alerts' row locks (NO KEY UPDATE,
 * which linking an alert to an incident does not wait for) and before any incident row: correlation and merges
 * hold that lock while they lock incidents one after another, so a change logging to two of them in another
 * order, or to one of them before waiting for the lock (a provider's batch that correlates next), would deadlock.
 */
import type { EntityManager } from "typeorm";
import { writeOutbox } from "../../../../common/src";
import { lockCorrelation } from "../incidents/correlation";
import { refreshIncidentRollups } from "../incidents/incident-workflow.service";

/** The outbox topic of a change to an existing alert. */
export const ALERT_UPDATED_TOPIC = "alert.updated";

/** Fields of an alert that change after it is stored (by triage or a provider's repeat), as events name them. */
export const MUTABLE_ALERT_FIELDS = [
  "title",
  "description",
  "severity",
  "status",
  "endTime",
  "tactics",
  "techniques",
  "remediation",
  "evidence",
] as const;
export type MutableAlertField = (typeof MUTABLE_ALERT_FIELDS)[number];

/** The fields whose change moves an incident's rollups. */
const ROLLUP_FIELDS: ReadonlySet<string> = new Set(["severity", "endTime"]);

/** One alert's change: the alert as it is now and each changed field's `[before, after]`. */
export interface AlertChange {
  alert: { id: string; provider: string; sourceId: string; severity: string; status: string };
  changes: Partial<Record<MutableAlertField, [unknown, unknown]>>;
}

/** Writes the events, activity entries and rollups of `changes` made by `actor` (a subject). */
export async function recordAlertChanges(
  m: EntityManager,
  tenantId: string,
  actor: string,
  changes: readonly AlertChange[],
  comment: string | null = null,
): Promise<void> {
  if (changes.length === 0) return;
  await writeOutbox(
    m,
    changes.map(({ alert, changes: fields }) => ({
      tenantId,
      topic: ALERT_UPDATED_TOPIC,
      key: alert.id,
      payload: {
        id: alert.id,
        provider: alert.provider,
        sourceId: alert.sourceId,
        severity: alert.severity,
        status: alert.status,
        kind: "UPDATED",
        changedFields: Object.keys(fields),
        changes: fields,
        actor,
        ...(comment ? { comment } : {}),
      },
    })),
  );
  await lockCorrelation(m, tenantId);
  const touched: Array<{ incident_id: string; rollup: boolean }> = await m.query(
    `WITH changed AS (
       SELECT * FROM unnest($2::uuid[], $3::jsonb[], $4::boolean[]) AS c(alert_id, changes, rollup)
     ),
     logged AS (
       INSERT INTO incident_activity (tenant_id, incident_id, actor, action, changes)
       SELECT $1, ia.incident_id, $5, 'alert_updated', c.changes
       FROM changed c JOIN incident_alerts ia ON ia.tenant_id = $1 AND ia.alert_id = c.alert_id
       JOIN incidents i ON i.tenant_id = $1 AND i.id = ia.incident_id AND i.merged_into IS NULL
       ORDER BY ia.incident_id, c.alert_id
       RETURNING incident_id
     )
     SELECT ia.incident_id, bool_or(c.rollup) AS rollup
     FROM changed c JOIN incident_alerts ia ON ia.tenant_id = $1 AND ia.alert_id = c.alert_id
     JOIN incidents i ON i.tenant_id = $1 AND i.id = ia.incident_id AND i.merged_into IS NULL
     GROUP BY ia.incident_id ORDER BY ia.incident_id`,
    [
      tenantId,
      changes.map((c) => c.alert.id),
      changes.map((c) =>
        JSON.stringify({ alertId: c.alert.id, ...c.changes, ...(comment ? { comment } : {}) }),
      ),
      changes.map((c) => Object.keys(c.changes).some((f) => ROLLUP_FIELDS.has(f))),
      actor,
    ],
  );
  for (const { incident_id, rollup } of touched)
    if (rollup) await refreshIncidentRollups(m, tenantId, incident_id);
}
