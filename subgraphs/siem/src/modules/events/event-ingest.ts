import type { DataSource, EntityManager } from "typeorm";
import {
  BadUserInputError,
  ConflictError,
  copyInsertNew,
  inTenant,
  newId,
  plainJsonText,
  rowsOf,
  timeWindowProblem,
  writeAudit,
  type CopyColumn,
  type Identity,
} from "../../../../common/src";
import { attributesProblem, fewBrackets, NORMALIZERS, recordDepthProblem } from "../connectors/normalizers";
import { CONNECTOR_KINDS, type ConnectorKind, type NormalizedEvent } from "./event.model";
import { dayOf, ensurePartitions } from "./partitions";

/** A normalised event as stored, with the ids the store gave it. */
export interface StoredEvent extends NormalizedEvent {
  id: string;
  connector: ConnectorKind;
  /** The record's JSON as received, when available: stored as `raw` without serialising it again. */
  rawText?: string;
}

/** A record the ingest could not keep, by its 1-based line (or index + 1 for GraphQL batches). */
export interface EventRejection {
  line: number;
  reason: string;
}

/** What an ingest did. */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: EventRejection[];
}

/** Work that runs on the newly stored (not duplicate) events in the ingest's transaction: NRT rules, TI matching. */
export type InsertedEventsHook = (m: EntityManager, tenantId: string, events: StoredEvent[]) => Promise<void>;

/**
 * Work that must commit or roll back with an ingest (the queue's receipt of the chunk): it runs last in the
 * ingest's transaction, with the outcome (its rejections not yet in line order); throwing rolls it all back.
 */
export type IngestTransactionHook = (m: EntityManager, outcome: IngestResult) => Promise<void>;

/** Options of one `EventIngest.ingest` call. */
export interface IngestOptions {
  within?: IngestTransactionHook;
}

/** The stored columns of `events` with their Postgres types, in the order the ingest COPYs them. */
export const STORED_EVENT_SCHEMA = [
  { name: "tenant_id", type: "text" },
  { name: "id", type: "uuid" },
  { name: "connector", type: "text" },
  { name: "source_event_id", type: "text" },
  { name: "time", type: "timestamptz" },
  { name: "class_uid", type: "int4" },
  { name: "activity_id", type: "int4" },
  { name: "severity_id", type: "int2" },
  { name: "status", type: "text" },
  { name: "message", type: "text" },
  { name: "actor_user", type: "text" },
  { name: "src_ip", type: "inet" },
  { name: "src_port", type: "int4" },
  { name: "dst_ip", type: "inet" },
  { name: "dst_port", type: "int4" },
  { name: "device", type: "text" },
  { name: "resource_id", type: "text" },
  { name: "operation", type: "text" },
  { name: "src_country", type: "text" },
  { name: "attributes", type: "jsonb" },
  { name: "raw", type: "text" },
] as const satisfies readonly CopyColumn[];

/** The stored columns of `events`, in the order the ingest COPYs them. */
export const STORED_EVENT_COLUMNS = STORED_EVENT_SCHEMA.map((c) => c.name);

/** Parses a connector kind or throws BAD_USER_INPUT naming the known ones. */
export function connectorKind(value: unknown): ConnectorKind {
  if (typeof value === "string" && (CONNECTOR_KINDS as readonly string[]).includes(value))
    return value as ConnectorKind;
  throw new BadUserInputError(`Unknown connector "${String(value)}".`, [
    { field: "connector", message: `must be one of ${CONNECTOR_KINDS.join(", ")}` },
  ]);
}

/** An ingest of a connector an ADMIN disabled: refused whole, nothing stored or counted (409 / CONFLICT). */
export class ConnectorDisabledError extends ConflictError {
  constructor(kind: ConnectorKind) {
    super(
      `The ${kind} connector is disabled: an ADMIN disabled it, so its records are refused and nothing was stored. An ADMIN can enable it again (setDataConnector).`,
    );
  }
}

/**
 * What an ingest needs of the tenant's settings, read in its transaction by one primary-key statement: its own
 * retention in days (null: the platform's), and whether the connector is enabled (a kind never seen is).
 */
async function ingestSettings(
  m: EntityManager,
  tenantId: string,
  kind: ConnectorKind,
): Promise<{ retentionDays: number | null; enabled: boolean }> {
  const [row]: Array<{ days: number | null; enabled: boolean | null }> = await m.query(
    `SELECT (SELECT event_retention_days FROM tenant_settings WHERE tenant_id = $1) AS days,
            (SELECT enabled FROM data_connectors WHERE tenant_id = $1 AND kind = $2) AS enabled`,
    [tenantId, kind],
  );
  return { retentionDays: row.days ?? null, enabled: row.enabled ?? true };
}

/**
 * Throws ConnectorDisabledError when an ADMIN disabled the connector (read in the caller's tenant transaction):
 * the queued ingest checks it before it queues a body.
 */
export async function assertConnectorEnabled(m: EntityManager, tenantId: string, kind: ConnectorKind) {
  if (!(await ingestSettings(m, tenantId, kind)).enabled) throw new ConnectorDisabledError(kind);
}

/**
 * The event store's write path: normalise, check the time window, COPY into a staging table and
 * insert what is new (duplicates of tenant + connector + source event id are ignored), run the
 * near-real-time work on the new events, and count per connector — all in one transaction, so a
 * batch is stored with its alerts or not at all. Bad records are reported by line and skipped; a batch of a
 * connector an ADMIN disabled is refused whole (ConnectorDisabledError).
 */
export class EventIngest {
  constructor(
    private readonly ds: DataSource,
    private readonly options: { retentionDays: number; onInserted?: InsertedEventsHook; now?: () => number },
  ) {}

  async ingest(
    identity: Identity,
    kind: ConnectorKind,
    records: Array<{ line: number; value: unknown; text?: string } | { line: number; error: string }>,
    options: IngestOptions = {},
  ): Promise<IngestResult> {
    const tenantId = identity.tenantId;
    const now = this.options.now?.() ?? Date.now();
    const rejected: EventRejection[] = [];
    const good: StoredEvent[] = [];
    /** The line of each good event (same index). */
    const lines: number[] = [];
    const normalize = NORMALIZERS[kind];
    for (const record of records) {
      if ("error" in record) {
        rejected.push({ line: record.line, reason: record.error });
        continue;
      }
      // A record's own text settles the depth and string checks of almost every record without a walk.
      const shallow = record.text !== undefined && fewBrackets(record.text);
      const deep = shallow ? null : recordDepthProblem(record.value);
      if (deep) {
        rejected.push({ line: record.line, reason: deep });
        continue;
      }
      const event = normalize(record.value);
      if ("reason" in event) {
        rejected.push({ line: record.line, reason: event.reason });
        continue;
      }
      const late = timeWindowProblem(event.time, now, this.options.retentionDays);
      if (late) {
        rejected.push({ line: record.line, reason: late });
        continue;
      }
      const unstorable = shallow && plainJsonText(record.text!) ? null : attributesProblem(event);
      if (unstorable) {
        rejected.push({ line: record.line, reason: unstorable });
        continue;
      }
      // The normaliser's object is this record's alone: it becomes the stored event (no copy).
      const stored = event as StoredEvent;
      stored.id = newId();
      stored.connector = kind;
      stored.rawText = record.text;
      good.push(stored);
      lines.push(record.line);
    }
    if (good.length === 0) {
      await inTenant(this.ds, tenantId, async (m) => {
        if (!(await ingestSettings(m, tenantId, kind)).enabled) throw new ConnectorDisabledError(kind);
        if (rejected.length) await countIngest(m, identity, kind, { rejected: rejected.length });
        await options.within?.(m, { accepted: 0, duplicates: 0, rejected });
      });
      return { accepted: 0, duplicates: 0, rejected };
    }
    await ensurePartitions(
      this.ds,
      good.map((e) => dayOf(e.time)),
    );
    const { stored, kept } = await inTenant(this.ds, tenantId, async (m) => {
      // A tenant that keeps its events fewer days than the platform: what its purge would delete at once is
      // rejected as past the retention, like a record past the platform's. The same primary-key read per batch
      // tells whether an ADMIN disabled the connector.
      const settings = await ingestSettings(m, tenantId, kind);
      if (!settings.enabled) throw new ConnectorDisabledError(kind);
      const own = settings.retentionDays;
      let batch = good;
      if (own !== null && own < this.options.retentionDays) {
        batch = [];
        good.forEach((e, i) => {
          const late = timeWindowProblem(e.time, now, own);
          if (late) rejected.push({ line: lines[i], reason: late });
          else batch.push(e);
        });
      }
      if (batch.length === 0) {
        await countIngest(m, identity, kind, { rejected: rejected.length });
        await options.within?.(m, { accepted: 0, duplicates: 0, rejected });
        return { stored: 0, kept: 0 };
      }
      const rows = await copyInsertNew<{ id: string }>(m, {
        table: "events",
        columns: STORED_EVENT_SCHEMA,
        rows: rowsOf(batch, (e) => eventRow(tenantId, e)),
        conflict: "(tenant_id, connector, source_event_id, time)",
        returning: "id",
      });
      const ids = rows.allNew ? null : new Set(rows.rows.map((r) => r.id));
      const fresh = ids ? batch.filter((e) => ids.has(e.id)) : batch;
      if (fresh.length && this.options.onInserted) await this.options.onInserted(m, tenantId, fresh);
      const lastTime = fresh.reduce<string | null>((max, e) => (!max || e.time > max ? e.time : max), null);
      await countIngest(m, identity, kind, {
        stored: fresh.length,
        duplicates: batch.length - fresh.length,
        rejected: rejected.length,
        lastTime,
      });
      await options.within?.(m, {
        accepted: fresh.length,
        duplicates: batch.length - fresh.length,
        rejected,
      });
      return { stored: fresh.length, kept: batch.length };
    });
    rejected.sort((a, b) => a.line - b.line);
    return { accepted: stored, duplicates: kept - stored, rejected };
  }
}

/**
 * Moves the connector's counters and records the ingest in the audit log, in the ingest's transaction. The
 * ingest time always moves; the kept time only when a record was stored or already stored (see ConnectorStatus).
 * The day's counters (`data_connector_days`, the UTC day of arrival) move in the same statement, so a batch
 * costs no statement more for them. The queued ingest also calls it for the lines it rejects itself (too long
 * for a queue message).
 */
export async function countIngest(
  m: EntityManager,
  identity: Identity,
  kind: ConnectorKind,
  counts: { stored?: number; duplicates?: number; rejected: number; lastTime?: string | null },
): Promise<void> {
  const { stored = 0, duplicates = 0, rejected, lastTime = null } = counts;
  await m.query(
    `WITH day AS (
       INSERT INTO data_connector_days AS d (tenant_id, kind, day, events, duplicates, rejected)
       VALUES ($1, $2, (now() AT TIME ZONE 'UTC')::date, $3, $4, $5)
       ON CONFLICT (tenant_id, kind, day) DO UPDATE SET
         events = d.events + excluded.events,
         duplicates = d.duplicates + excluded.duplicates,
         rejected = d.rejected + excluded.rejected)
     INSERT INTO data_connectors AS c (tenant_id, kind, events_total, duplicates_total, rejected_total, last_event_at, last_ingest_at, last_kept_at)
     VALUES ($1, $2, $3, $4, $5, $6, now(), CASE WHEN $3::bigint + $4::bigint > 0 THEN now() END)
     ON CONFLICT (tenant_id, kind) DO UPDATE SET
       events_total = c.events_total + excluded.events_total,
       duplicates_total = c.duplicates_total + excluded.duplicates_total,
       rejected_total = c.rejected_total + excluded.rejected_total,
       last_event_at = GREATEST(c.last_event_at, excluded.last_event_at),
       last_ingest_at = now(),
       last_kept_at = COALESCE(excluded.last_kept_at, c.last_kept_at)`,
    [identity.tenantId, kind, stored, duplicates, rejected, lastTime],
  );
  await writeAudit(m, identity, [
    {
      action: "events.ingest",
      target: `connector:${kind}`,
      details: { accepted: stored, duplicates, rejected },
    },
  ]);
}

/** One stored event as its `events` row, in STORED_EVENT_COLUMNS order (benchmarks encode the same). */
export function eventRow(tenantId: string, e: StoredEvent): unknown[] {
  return [
    tenantId,
    e.id,
    e.connector,
    e.source_event_id,
    e.time,
    e.class_uid,
    e.activity_id,
    e.severity_id,
    e.status,
    e.message,
    e.actor_user,
    e.src_ip,
    e.src_port,
    e.dst_ip,
    e.dst_port,
    e.device,
    e.resource_id,
    e.operation,
    e.src_country,
    // JSON text, both: `attributes` is jsonb; `raw` is text that the API parses when read (a raw
    // syslog line is a JSON string, quoted).
    JSON.stringify(e.attributes ?? {}),
    e.rawText ?? (e.raw === undefined ? null : JSON.stringify(e.raw)),
  ];
}
