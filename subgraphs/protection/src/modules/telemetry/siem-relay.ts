/*
 * The relay of agent telemetry to the SIEM's event store. The ingest writes the new activity records of a batch
 * (process, file, flow, logon — not package snapshots) to protection's outbox in its own transaction, as
 * `telemetry.recorded` rows of up to RECORDS_PER_ROW records each: one INSERT per ingest batch whatever its size,
 * so bulk ingest stays one transaction with a constant number of statements. This relay reads those rows in
 * outbox order and POSTs the records as NDJSON to the SIEM's ingest API (`/ingest/events?connector=RAMPART_AGENT`),
 * one call per tenant and body limit, signed as `service:protection` with the INGESTOR role in the tenant.
 *
 * Why the outbox and not a cursor over `telemetry`: the table is day-partitioned and keyed by machine, kind, time
 * and record id, with no order in which rows become visible (agents send late and out-of-order records), so a
 * cursor on it could pass over a record committed behind it; outbox positions are assigned so that none can.
 *
 * The SIEM de-duplicates events on (tenant, connector, source event id), and the RAMPART_AGENT source event id is
 * protection's own key of a record: a batch sent again (a crash, a lost answer, an offset reset) stores nothing
 * new. Delivery is at least once, exactly once in effect.
 */
import {
  IDENTITY_HEADER,
  InternalTokens,
  Role,
  startOutboxRelay,
  subgraphDatabaseUrl,
  writeOutbox,
  type BackgroundWork,
  type Config,
  type Logger,
  type OutboxRecord,
  type RelayDelivery,
} from "../../../../common/src";
import type { EntityManager } from "typeorm";
import type { TelemetryRecord } from "./telemetry.model";
import { splitByBytes } from "../detections/relay";

/** The relay's offset in `relay_offsets`. */
export const SIEM_TELEMETRY_CONSUMER = "siem-telemetry";
/** The outbox topic of relayed telemetry. */
export const TELEMETRY_RECORDED = "telemetry.recorded";
/** The SIEM connector kind the records are ingested as. */
export const AGENT_CONNECTOR = "RAMPART_AGENT";
/** Who the relay is to the SIEM. */
const RELAY_SUBJECT = "service:protection";
/** Most records in one outbox row. */
export const RECORDS_PER_ROW = 500;
/** Outbox rows per relay round (at most RECORDS_PER_ROW records each). */
const ROWS_PER_ROUND = 100;
/** Room kept in a call's body below the SIEM's limit. */
const BODY_OVERHEAD = 4096;

/** The payload of a `telemetry.recorded` row. */
export interface TelemetryRecordedPayload {
  records: TelemetryRecord[];
}

/**
 * Writes the new activity records of an ingest batch to the outbox, in the ingest's transaction (one statement).
 * Package snapshots are not relayed: they are inventory, which protection keeps for vulnerability assessment.
 */
export async function writeTelemetryOutbox(
  m: EntityManager,
  tenantId: string,
  records: readonly TelemetryRecord[],
): Promise<void> {
  const activity = records.filter((r) => r.kind !== "packages");
  const events = [];
  for (let i = 0; i < activity.length; i += RECORDS_PER_ROW) {
    const chunk = activity.slice(i, i + RECORDS_PER_ROW);
    events.push({
      tenantId,
      topic: TELEMETRY_RECORDED,
      key: chunk[0].resourceId,
      payload: { records: chunk } as unknown as Record<string, unknown>,
    });
  }
  await writeOutbox(m, events);
}

/** The SIEM did not take a call (down, overloaded, or refusing the relay's identity): retry later. */
export class SiemIngestUnavailableError extends Error {}

interface TelemetryDeliveryOptions {
  /** The SIEM's GraphQL URL (`config.subgraphUrls.siem`): the ingest API is `/ingest/events` beside it. */
  siemUrl: string;
  /** The SIEM's request body limit (`MAX_BODY_BYTES`): calls stay below it. */
  maxBodyBytes: number;
  tokens: InternalTokens;
  log: Logger;
  /** Per call (default 60 s). */
  timeoutMs?: number;
}

/** POSTs one tenant's NDJSON body to the SIEM's ingest API; returns how many lines it refused for good. */
async function postEvents(
  options: TelemetryDeliveryOptions,
  tenantId: string,
  lines: string[],
  signal: AbortSignal,
): Promise<{ rejected: Array<{ line: number; reason: string }> }> {
  const token = await options.tokens.sign({ tenantId, subject: RELAY_SUBJECT, roles: [Role.INGESTOR] });
  const url = new URL(`/ingest/events?connector=${AGENT_CONNECTOR}`, options.siemUrl);
  let res: Response;
  let body: { rejected?: Array<{ line: number; reason: string }>; errors?: Array<{ message: string }> };
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson", [IDENTITY_HEADER]: token },
      body: lines.join("\n") + "\n",
      signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs ?? 60_000)]),
    });
    body = (await res.json()) as typeof body;
  } catch (err) {
    throw new SiemIngestUnavailableError(`the SIEM did not answer: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // 200: stored (new or duplicates); 202: queued durably by the SIEM's ingest queue.
  if (res.status === 200 || res.status === 202) return { rejected: body.rejected ?? [] };
  // 409: the tenant's ADMIN disabled the RAMPART_AGENT connector; retrying would hold up every tenant's relay.
  if (res.status === 400 || res.status === 409 || res.status === 413) {
    const reason = (body.errors ?? []).map((e) => e.message).join("; ") || `HTTP ${res.status}`;
    return { rejected: lines.map((_, i) => ({ line: i + 1, reason })) };
  }
  throw new SiemIngestUnavailableError(
    `the SIEM answered HTTP ${res.status}: ${(body.errors ?? []).map((e) => e.message).join("; ") || "no data"}`,
  );
}

/**
 * Delivers `telemetry.recorded` rows to the SIEM: per tenant, the rows' records as NDJSON in calls below the body
 * limit. Any failure to get an answer throws (the relay retries the whole round; what the SIEM already stored
 * comes back as duplicates); records the SIEM refuses for good are logged and skipped.
 */
export function siemTelemetryDelivery(options: TelemetryDeliveryOptions): RelayDelivery {
  return async (rows: OutboxRecord[], _m, signal) => {
    const byTenant = new Map<string, string[]>();
    for (const row of rows) {
      const records = (row.payload as unknown as TelemetryRecordedPayload).records ?? [];
      let lines = byTenant.get(row.tenantId);
      if (!lines) byTenant.set(row.tenantId, (lines = []));
      for (const r of records) lines.push(JSON.stringify(r));
    }
    let delivered = 0;
    let rejected = 0;
    for (const [tenantId, lines] of byTenant) {
      const sizeOf = (line: string) => Buffer.byteLength(line) + 1;
      for (const call of splitByBytes(lines, sizeOf, options.maxBodyBytes - BODY_OVERHEAD)) {
        const refused = call.tooLarge
          ? [{ line: 1, reason: "larger than the SIEM's request body limit (MAX_BODY_BYTES)" }]
          : (await postEvents(options, tenantId, call.chunk, signal)).rejected;
        rejected += refused.length;
        delivered += call.chunk.length - refused.length;
        for (const r of refused.slice(0, 10))
          options.log.error(
            { tenantId, line: call.chunk[r.line - 1]?.slice(0, 200), reason: r.reason },
            "the SIEM refused a telemetry record; it will not be retried",
          );
      }
    }
    return { delivered, rejected };
  };
}

/** Starts the telemetry relay of a protection process (its own small DataSource and outbox listener). */
export function startTelemetryRelay(config: Config, log: Logger): Promise<BackgroundWork> {
  const relayLog = log.child({ component: "telemetry-relay" });
  return startOutboxRelay({
    url: subgraphDatabaseUrl(config, "protection"),
    subgraph: "protection",
    consumer: SIEM_TELEMETRY_CONSUMER,
    topics: [TELEMETRY_RECORDED],
    batchSize: ROWS_PER_ROUND,
    deliver: siemTelemetryDelivery({
      siemUrl: config.subgraphUrls.siem,
      maxBodyBytes: config.maxBodyBytes,
      tokens: new InternalTokens(config.internalTokenSecret),
      log: relayLog,
    }),
    log: relayLog,
  });
}
