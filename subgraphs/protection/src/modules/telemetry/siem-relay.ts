/*
 * The relay of agent telemetry to the SIEM's event store. The ingest writes the new activity records of a batch
 * (process, file, flow, logon — not package snapshots) to protection's outbox in its own transaction, as one
 * `telemetry.recorded` row whose text `body` holds them as NDJSON (one statement, whatever the batch's size).
 * This relay reads those rows in outbox order and POSTs their lines, as they are, to the SIEM's ingest API
 * (`/ingest/events?connector=RAMPART_AGENT`), per tenant in calls below the body limit, signed as
 * `service:protection` with the INGESTOR role in the tenant.
 *
 * Why a text body and not a jsonb payload: the copy is made in the ingest's transaction, for every record. As
 * jsonb (rows of 500 records, as first built) it cost more than the rest of the ingest: pg escaped every quote
 * of a `jsonb[]` parameter (~18 µs a record), Postgres parsed the structure and compressed it with pglz
 * (~20 µs), and the relay parsed it back to serialise it again. Text is serialised once, stored without
 * parsing (lz4 or uncompressed, see migration 1767390000000) and posted unchanged.
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
  type BackgroundWork,
  type Config,
  type Logger,
  type OutboxRecord,
  type RelayDelivery,
} from "../../../../common/src";
import { Counter, register } from "prom-client";
import type { EntityManager } from "typeorm";
import type { IngestActivity } from "./ingest-activity";
import type { TelemetryRecord } from "./telemetry.model";

/** The relay's offset in `relay_offsets`. */
export const SIEM_TELEMETRY_CONSUMER = "siem-telemetry";
/** The outbox topic of relayed telemetry. */
export const TELEMETRY_RECORDED = "telemetry.recorded";
/** The SIEM connector kind the records are ingested as. */
export const AGENT_CONNECTOR = "RAMPART_AGENT";
/** Who the relay is to the SIEM. */
const RELAY_SUBJECT = "service:protection";
/**
 * Outbox rows per relay round. A row holds a whole ingest batch (up to the ingest's body limit) and its body is
 * read when its turn comes, so a round holds one body and what waits to be posted.
 */
const ROWS_PER_ROUND = 20;
/** Room kept in a call's body below the SIEM's limit. */
const BODY_OVERHEAD = 4096;
/** Most lines in one call: calls are also the steps in which the relay gives way to the ingest. */
const LINES_PER_CALL = 10_000;
/**
 * While the process ingests telemetry (a batch in flight, or one ended less than QUIET_MS ago), the relay waits
 * after each call until the ingest is quiet, for at most as long as keeps its share of the time
 * (`TELEMETRY_RELAY_BUSY_SHARE`, default a quarter: three times as long as the call took). Its lag stays bounded by
 * the burst, and it runs at full speed as soon as the ingest pauses.
 */
const QUIET_MS = 500;

const gaveWay =
  (register.getSingleMetric("rampart_telemetry_relay_gave_way_seconds_total") as Counter | undefined) ??
  new Counter({
    name: "rampart_telemetry_relay_gave_way_seconds_total",
    help: "Seconds the telemetry relay to the SIEM waited after its calls because the process was ingesting telemetry (it gives way to the agents' batches and catches up after).",
  });

/**
 * The jsonb payload of a `telemetry.recorded` row: `lines`, how many NDJSON lines its `body` holds. Rows written
 * before migration 1767390000000 carry up to 500 `records` in the payload itself (and no body); the relay
 * still delivers those.
 */
export type TelemetryRecordedPayload = { lines: number } | { records: TelemetryRecord[] };

/**
 * Writes the new activity records of an ingest batch to the outbox, in the ingest's transaction: one row, its
 * body the records as NDJSON (one statement). Package snapshots are not relayed: they are inventory, which
 * protection keeps for vulnerability assessment.
 */
export async function writeTelemetryOutbox(
  m: EntityManager,
  tenantId: string,
  records: readonly TelemetryRecord[],
): Promise<void> {
  const activity = records.filter((r) => r.kind !== "packages");
  if (activity.length === 0) return;
  const payload: TelemetryRecordedPayload = { lines: activity.length };
  await m.query(`INSERT INTO outbox (tenant_id, topic, key, payload, body) VALUES ($1, $2, $3, $4, $5)`, [
    tenantId,
    TELEMETRY_RECORDED,
    activity[0].resourceId,
    JSON.stringify(payload),
    activity.map((r) => JSON.stringify(r)).join("\n"),
  ]);
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
  /** The process's telemetry ingest, which the relay gives way to (none: it never waits). */
  activity?: IngestActivity;
  /** Most lines in one call (default LINES_PER_CALL). */
  linesPerCall?: number;
  /** The least share of the time the relay keeps while the ingest is busy (default 0.25; 1: never waits). */
  busyShare?: number;
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

/** A row's NDJSON lines: its body's, or (rows from before the body column) its payload's records. */
async function rowLines(m: EntityManager, row: OutboxRecord): Promise<string[]> {
  const payload = row.payload as unknown as TelemetryRecordedPayload;
  if ("records" in payload) return (payload.records ?? []).map((r) => JSON.stringify(r));
  const [stored] = (await m.query(`SELECT body FROM outbox WHERE seq = $1`, [row.position.seq])) as Array<{
    body: string | null;
  }>;
  return stored?.body ? stored.body.split("\n") : [];
}

/**
 * Delivers `telemetry.recorded` rows to the SIEM: per tenant, the rows' lines as NDJSON in calls below the body
 * limit, posted as soon as one is full (a round holds at most one row's body besides what waits to be posted).
 * Any failure to get an answer throws (the relay retries the whole round; what the SIEM already stored comes
 * back as duplicates); records the SIEM refuses for good are logged and skipped.
 */
export function siemTelemetryDelivery(options: TelemetryDeliveryOptions): RelayDelivery {
  const budget = options.maxBodyBytes - BODY_OVERHEAD;
  const linesPerCall = options.linesPerCall ?? LINES_PER_CALL;
  const share = options.busyShare ?? 0.25;
  const waitFactor = (1 - share) / share;
  return async (rows: OutboxRecord[], m, signal) => {
    let delivered = 0;
    let rejected = 0;
    const post = async (tenantId: string, lines: string[], tooLarge: boolean) => {
      const started = performance.now();
      const refused = tooLarge
        ? [{ line: 1, reason: "larger than the SIEM's request body limit (MAX_BODY_BYTES)" }]
        : (await postEvents(options, tenantId, lines, signal)).rejected;
      const took = performance.now() - started;
      if (options.activity)
        gaveWay.inc((await options.activity.giveWay(waitFactor * took, QUIET_MS, signal)) / 1000);
      rejected += refused.length;
      delivered += lines.length - refused.length;
      for (const r of refused.slice(0, 10))
        options.log.error(
          { tenantId, line: lines[r.line - 1]?.slice(0, 200), reason: r.reason },
          "the SIEM refused a telemetry record; it will not be retried",
        );
    };
    const pending = new Map<string, { lines: string[]; bytes: number }>();
    for (const row of rows) {
      let call = pending.get(row.tenantId);
      if (!call) pending.set(row.tenantId, (call = { lines: [], bytes: 0 }));
      for (const line of await rowLines(m, row)) {
        const size = Buffer.byteLength(line) + 1;
        if (call.lines.length && (call.bytes + size > budget || call.lines.length >= linesPerCall)) {
          await post(row.tenantId, call.lines, false);
          call.lines = [];
          call.bytes = 0;
        }
        if (size > budget) await post(row.tenantId, [line], true);
        else {
          call.lines.push(line);
          call.bytes += size;
        }
      }
    }
    for (const [tenantId, call] of pending) if (call.lines.length) await post(tenantId, call.lines, false);
    return { delivered, rejected };
  };
}

/**
 * Starts the telemetry relay of a protection process (its own small DataSource and outbox listener), giving way to
 * that process's telemetry ingest (`activity`).
 */
export function startTelemetryRelay(
  config: Config,
  log: Logger,
  activity?: IngestActivity,
): Promise<BackgroundWork> {
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
      activity,
      busyShare: config.telemetryRelayBusyShare,
    }),
    log: relayLog,
  });
}
