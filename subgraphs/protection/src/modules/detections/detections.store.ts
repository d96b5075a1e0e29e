import type { EntityManager } from "typeorm";
import { MAX_ALERT_EVIDENCE_BYTES, newId, utf8LongerThan, writeOutbox } from "../../../../common/src";
import type { Detection } from "./detections";

/** Outbox topic of a newly raised detection; the SIEM relay delivers these. */
export const DETECTION_RAISED = "detection.raised";

/** A detection as the SIEM's `ingestAlerts` takes it (`AlertInput`). */
export interface SiemAlertInput {
  provider: "WORKLOAD_PROTECTION";
  sourceId: string;
  title: string;
  description: string;
  severity: Detection["severity"];
  tactics: string[];
  techniques: string[];
  entities: Detection["entities"];
  remediation: string[];
  /** The detection's evidence, within what the SIEM keeps (`alertEvidenceOf`). */
  evidence: Record<string, unknown>;
  resourceId: string;
  startTime: string;
  endTime: string;
}

/** The payload of a `detection.raised` outbox event: everything the relay sends, so it reads nothing else. */
export interface DetectionRaisedPayload {
  detectionId: string;
  kind: Detection["kind"];
  alert: SiemAlertInput;
}

/** The SIEM alert for a detection; its `sourceId` is the idempotency key the SIEM de-duplicates on. */
export function siemAlertOf(d: Detection): SiemAlertInput {
  return {
    provider: "WORKLOAD_PROTECTION",
    sourceId: d.sourceId,
    title: d.title,
    description: d.description,
    severity: d.severity,
    tactics: d.tactics,
    techniques: d.techniques,
    entities: d.entities,
    remediation: d.remediation,
    evidence: alertEvidenceOf(d.evidence),
    resourceId: d.resourceId,
    startTime: d.startTime,
    endTime: d.endTime,
  };
}

/** Longest string and list an alert's evidence keeps when the whole would be too long for the SIEM. */
const CLIPPED_TEXT = 256;
const CLIPPED_LIST = 10;

/** `value` with strings cut to CLIPPED_TEXT characters and lists to CLIPPED_LIST items, at every depth. */
function clipped(value: unknown): unknown {
  if (typeof value === "string")
    return value.length > CLIPPED_TEXT ? `${value.slice(0, CLIPPED_TEXT)}…` : value;
  if (Array.isArray(value)) return value.slice(0, CLIPPED_LIST).map(clipped);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clipped(v)]));
}

const fits = (evidence: Record<string, unknown>) =>
  !utf8LongerThan(JSON.stringify(evidence), MAX_ALERT_EVIDENCE_BYTES);

/**
 * A detection's evidence as its SIEM alert carries it: whole when it fits the SIEM's bound (MAX_ALERT_EVIDENCE_BYTES,
 * which would otherwise refuse the alert and stall its delivery), else with long strings and lists cut and
 * `truncated: true` (the detection keeps it whole: `SecurityAlert.detection`); past even that, only the flag.
 */
export function alertEvidenceOf(evidence: Record<string, unknown>): Record<string, unknown> {
  if (fits(evidence)) return evidence;
  const cut = { ...(clipped(evidence) as Record<string, unknown>), truncated: true };
  return fits(cut) ? cut : { truncated: true };
}

/**
 * Stores detections in the caller's transaction, ignoring those already raised (same tenant and source
 * id), and writes one `detection.raised` outbox event per new one in the same transaction: a detection is
 * stored with its delivery order or not at all. Returns the new ones with their ids. Rows are inserted in source
 * id order, whatever the order of `detections`: two batches raising the same detections (two agents' reports of
 * one attack) wait for each other instead of deadlocking (test/bulk-lock-order.test.ts).
 */
export async function storeDetections(
  m: EntityManager,
  tenantId: string,
  detections: readonly Detection[],
): Promise<Array<{ id: string; detection: Detection }>> {
  if (detections.length === 0) return [];
  const ids = detections.map(() => newId());
  const rows = (await m.query(
    `INSERT INTO detections (tenant_id, id, kind, source_id, resource_id, severity, title, start_time, end_time, payload)
     SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[],
                              $8::timestamptz[], $9::timestamptz[], $10::jsonb[])
                         AS d(id, kind, source_id, resource_id, severity, title, start_time, end_time, payload)
     ORDER BY d.source_id
     ON CONFLICT (tenant_id, source_id) DO NOTHING RETURNING id`,
    [
      tenantId,
      ids,
      detections.map((d) => d.kind),
      detections.map((d) => d.sourceId),
      detections.map((d) => d.resourceId),
      detections.map((d) => d.severity),
      detections.map((d) => d.title),
      detections.map((d) => d.startTime),
      detections.map((d) => d.endTime),
      detections.map((d) => JSON.stringify(d)),
    ],
  )) as Array<{ id: string }>;
  const inserted = new Set(rows.map((r) => r.id));
  const fresh = detections.flatMap((detection, i) =>
    inserted.has(ids[i]) ? [{ id: ids[i], detection }] : [],
  );
  await writeOutbox(
    m,
    fresh.map(({ id, detection }) => ({
      tenantId,
      topic: DETECTION_RAISED,
      key: detection.sourceId,
      payload: {
        detectionId: id,
        kind: detection.kind,
        alert: siemAlertOf(detection),
      } satisfies DetectionRaisedPayload,
    })),
  );
  return fresh;
}
