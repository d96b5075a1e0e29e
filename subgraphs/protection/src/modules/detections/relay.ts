/*
 * The relay of detections to the SIEM: `detection.raised` outbox rows, in outbox order, become alerts
 * through the SIEM's `ingestAlerts` mutation (provider WORKLOAD_PROTECTION). The detection's `sourceId`
 * is the idempotency key: the SIEM ignores an alert it already has, so a batch sent again after a crash
 * or a lost answer changes nothing there. Delivery is at least once, exactly once in effect.
 */
import type { EntityManager } from "typeorm";
import {
  callRelayDestination,
  InternalTokens,
  Role,
  startOutboxRelay,
  subgraphDatabaseUrl,
  type BackgroundWork,
  type Config,
  type Logger,
  type OutboxRecord,
  type RelayDelivery,
} from "../../../../common/src";
import { DETECTION_RAISED, type DetectionRaisedPayload } from "./detections.store";

/** The relay's offset in `relay_offsets`. */
export const SIEM_ALERTS_CONSUMER = "siem-alerts";
/** Who the relay is to the SIEM (audit trails name it). */
export const RELAY_SUBJECT = "service:protection";
/** Most alerts per `ingestAlerts` call. */
const ALERTS_PER_CALL = 500;
/** Room kept in a call's body for the query and the JSON around the alerts. */
const BODY_OVERHEAD = 4096;

const INGEST_ALERTS = `mutation RelayDetections($input: [AlertInput!]!) {
  ingestAlerts(input: $input) { createdCount duplicateCount ids rejected { index field message } }
}`;

interface IngestAlertsResult {
  createdCount: number;
  duplicateCount: number;
  ids: Array<string | null>;
  rejected: Array<{ index: number | null; field: string; message: string }>;
}

/** What the SIEM said about each alert of a call: its alert id, or why it refused the alert for good. */
type Verdict = { alertId: string } | { error: string };

interface SiemDeliveryOptions {
  /** The SIEM's GraphQL URL (`config.subgraphUrls.siem`). */
  siemUrl: string;
  /** The SIEM's request body limit (`MAX_BODY_BYTES`, the same for every service): calls stay below it. */
  maxBodyBytes: number;
  tokens: InternalTokens;
  log: Logger;
  /** Per call (default 30 s). */
  timeoutMs?: number;
}

/** POSTs one tenant's alerts to the SIEM and returns one verdict per alert; throws when it should be retried. */
async function postAlerts(
  options: SiemDeliveryOptions,
  tenantId: string,
  records: OutboxRecord[],
  signal: AbortSignal,
): Promise<Verdict[]> {
  const answer = await callRelayDestination<IngestAlertsResult>({
    destination: "the SIEM",
    url: options.siemUrl,
    tokens: options.tokens,
    tenantId,
    subject: RELAY_SUBJECT,
    roles: [Role.INGESTOR],
    query: INGEST_ALERTS,
    field: "ingestAlerts",
    variables: { input: records.map((r) => (r.payload as unknown as DetectionRaisedPayload).alert) },
    signal,
    timeoutMs: options.timeoutMs,
  });
  const result = answer.data;
  if (!result) return records.map(() => ({ error: answer.refused }));
  return records.map((_, i) => {
    const id = result.ids[i];
    if (id) return { alertId: id };
    const why = result.rejected.filter((r) => r.index === i || r.index === null);
    return { error: why.map((r) => `${r.field}: ${r.message}`).join("; ") || "rejected by the SIEM" };
  });
}

/** Records what the SIEM did with each detection (delivery time and alert id, or the refusal). */
async function markDelivery(
  m: EntityManager,
  tenantId: string,
  records: OutboxRecord[],
  verdicts: Verdict[],
): Promise<void> {
  const ids = records.map((r) => (r.payload as unknown as DetectionRaisedPayload).detectionId);
  await m.query(
    `UPDATE detections d SET
       delivered_at = CASE WHEN v.alert_id IS NULL THEN d.delivered_at ELSE coalesce(d.delivered_at, now()) END,
       alert_id = coalesce(d.alert_id, v.alert_id),
       delivery_error = CASE WHEN v.alert_id IS NULL THEN v.error ELSE NULL END
     FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS v(id, alert_id, error)
     WHERE d.tenant_id = $1 AND d.id = v.id`,
    [
      tenantId,
      ids,
      verdicts.map((v) => ("alertId" in v ? v.alertId : null)),
      verdicts.map((v) => ("error" in v ? v.error : null)),
    ],
  );
}

/**
 * Splits one tenant's rows into calls of at most 500 alerts and `budget` bytes of alert JSON; an alert
 * larger than the budget alone is marked `tooLarge` (it can never be delivered).
 */
export function splitAlertCalls(
  rows: readonly OutboxRecord[],
  budget: number,
): Generator<{ chunk: OutboxRecord[]; tooLarge: boolean }> {
  return splitByBytes(
    rows,
    (row) => Buffer.byteLength(JSON.stringify((row.payload as unknown as DetectionRaisedPayload).alert)) + 1,
    budget,
    ALERTS_PER_CALL,
  );
}

/**
 * Splits `items` into calls of at most `budget` bytes (each item's `sizeOf`) and `maxItems` items, in order; an
 * item larger than the budget alone comes as a call of its own marked `tooLarge` (the destination would refuse it).
 */
export function* splitByBytes<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  budget: number,
  maxItems = Infinity,
): Generator<{ chunk: T[]; tooLarge: boolean }> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (chunk.length && (size > budget || chunk.length >= maxItems || bytes + size > budget)) {
      yield { chunk, tooLarge: false };
      chunk = [];
      bytes = 0;
    }
    if (size > budget) {
      yield { chunk: [item], tooLarge: true };
      continue;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length) yield { chunk, tooLarge: false };
}

/**
 * Delivers `detection.raised` rows to the SIEM, one `ingestAlerts` call per tenant (and per 500 alerts
 * or the body limit),
 * signed as `service:protection` with the INGESTOR role in that tenant. Any failure to get an answer
 * throws (the relay retries the whole batch; what the SIEM already stored comes back as duplicates);
 * alerts the SIEM refuses for good are recorded on the detection (`deliveryError`) and skipped.
 */
export function siemAlertDelivery(options: SiemDeliveryOptions): RelayDelivery {
  return async (records, m, signal) => {
    const byTenant = new Map<string, OutboxRecord[]>();
    for (const r of records) {
      const list = byTenant.get(r.tenantId);
      if (list) list.push(r);
      else byTenant.set(r.tenantId, [r]);
    }
    let delivered = 0;
    let rejected = 0;
    // Every SIEM call first, every write after: a write gives the transaction an id, and an open
    // transaction with an id holds back every outbox reader (they read only rows older than it).
    const answered: Array<{
      tenantId: string;
      chunk: OutboxRecord[];
      verdicts: Awaited<ReturnType<typeof postAlerts>>;
    }> = [];
    for (const [tenantId, rows] of byTenant) {
      for (const { chunk, tooLarge } of splitAlertCalls(rows, options.maxBodyBytes - BODY_OVERHEAD)) {
        const verdicts = tooLarge
          ? chunk.map(() => ({ error: "larger than the SIEM's request body limit (MAX_BODY_BYTES)" }))
          : await postAlerts(options, tenantId, chunk, signal);
        answered.push({ tenantId, chunk, verdicts });
      }
    }
    for (const { tenantId, chunk, verdicts } of answered) {
      await markDelivery(m, tenantId, chunk, verdicts);
      for (const [j, v] of verdicts.entries()) {
        if ("alertId" in v) delivered++;
        else {
          rejected++;
          options.log.error(
            { tenantId, sourceId: chunk[j].key, reason: v.error },
            "the SIEM refused a detection; it will not be retried",
          );
        }
      }
    }
    return { delivered, rejected };
  };
}

/**
 * Starts the detection relay of a protection process: its own small DataSource (its polling is not
 * counted as request statements, and waiting for the SIEM never holds a request connection), an outbox
 * listener that wakes it, and the relay loop. Stopped when the subgraph closes.
 */
export function startDetectionRelay(config: Config, log: Logger): Promise<BackgroundWork> {
  const relayLog = log.child({ component: "detection-relay" });
  return startOutboxRelay({
    url: subgraphDatabaseUrl(config, "protection"),
    subgraph: "protection",
    consumer: SIEM_ALERTS_CONSUMER,
    topics: [DETECTION_RAISED],
    deliver: siemAlertDelivery({
      siemUrl: config.subgraphUrls.siem,
      maxBodyBytes: config.maxBodyBytes,
      tokens: new InternalTokens(config.internalTokenSecret),
      log: relayLog,
    }),
    log: relayLog,
  });
}
