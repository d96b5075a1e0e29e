import { isIP } from "node:net";
import type { DataSource } from "typeorm";
import {
  BadUserInputError,
  inSystemScope,
  parameterTextProblems,
  toKeysetPage,
  writeAudit,
  type Identity,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { MINUTE_MS, parseBoundedDuration, parseIsoDuration, type DurationBounds } from "../rules/durations";
import { CONNECTOR_KINDS } from "./event.model";
import { connectorKind, type EventIngest, type IngestResult } from "./event-ingest";
import { SecurityEventConnection } from "./events.connections";
import {
  ConnectorDay,
  ConnectorStatus,
  DataConnector,
  EventRejection,
  IngestEventsPayload,
  SecurityEvent,
  type EventFilter,
  type SetDataConnectorInput,
} from "./events.types";

/** Most records one `ingestEvents` mutation takes (bulk goes through POST /ingest/events). */
export const MAX_GRAPHQL_EVENTS = 1000;
const DAY = 86_400_000;

/** Maps an `events` row to the GraphQL object. */
export function eventFromRow(row: Record<string, unknown>): SecurityEvent {
  return Object.assign(new SecurityEvent(), {
    id: row.id,
    connector: row.connector,
    sourceEventId: row.source_event_id,
    time: row.time,
    classUid: row.class_uid,
    activityId: row.activity_id,
    severityId: row.severity_id,
    status: row.status,
    message: row.message ?? null,
    actorUser: row.actor_user ?? null,
    srcIp: row.src_ip ?? null,
    srcPort: row.src_port ?? null,
    dstIp: row.dst_ip ?? null,
    dstPort: row.dst_port ?? null,
    device: row.device ?? null,
    resourceExternalId: row.resource_id ?? null,
    operation: row.operation ?? null,
    srcCountry: row.src_country ?? null,
    attributes: row.attributes ?? {},
    // The record's JSON as received, stored as text.
    raw: row.raw == null ? null : (JSON.parse(row.raw as string) as unknown),
  });
}

/** Bounds of a connector's `staleAfter`: 5 minutes to 30 days. */
export const STALE_AFTER_BOUNDS: DurationBounds = { min: 5 * MINUTE_MS, max: 30 * DAY };

/** Most UTC days `DataConnector.volume` reports. */
export const MAX_VOLUME_DAYS = 90;

/** UTC days a connector's daily counters are kept (beyond `volume`'s 90, for a year-on-year look in SQL). */
export const CONNECTOR_DAYS_KEPT = 400;

/** Deletes every tenant's daily connector counters older than `days` (system scope); how many rows went. */
export async function pruneConnectorDays(ds: DataSource, days = CONNECTOR_DAYS_KEPT): Promise<number> {
  return inSystemScope(ds, async (m) => {
    const rows: unknown[] = await m.query(
      `WITH gone AS (DELETE FROM data_connector_days WHERE day < (now() AT TIME ZONE 'UTC')::date - $1::int
                     RETURNING 1)
       SELECT 1 FROM gone`,
      [days],
    );
    return rows.length;
  });
}

function staleOf(row: Record<string, unknown> | undefined): string | null {
  return (row?.stale_after as string | null | undefined) ?? null;
}

/**
 * Maps a `data_connectors` row (none: nothing ever arrived nor was set) to the GraphQL object. The status is the
 * first that applies: DISABLED, NEVER_CONNECTED, STALE (no record kept for `staleAfter`), CONNECTED (one kept in
 * the last 24 hours), ERROR (records arrived in the last 24 hours, none kept), IDLE.
 */
export function connectorFromRow(kind: string, row: Record<string, unknown> | undefined): DataConnector {
  const now = Date.now();
  const enabled = (row?.enabled as boolean | undefined) ?? true;
  const staleAfter = staleOf(row);
  const last = row?.last_ingest_at ? new Date(row.last_ingest_at as string) : null;
  const kept = row?.last_kept_at ? new Date(row.last_kept_at as string).getTime() : null;
  const staleMs = staleAfter === null ? null : parseIsoDuration(staleAfter);
  const stale = staleMs !== null && "ms" in staleMs && (kept === null || now - kept > staleMs.ms);
  const status = !enabled
    ? ConnectorStatus.DISABLED
    : !last
      ? ConnectorStatus.NEVER_CONNECTED
      : stale
        ? ConnectorStatus.STALE
        : kept !== null && now - kept < DAY
          ? ConnectorStatus.CONNECTED
          : now - last.getTime() < DAY
            ? ConnectorStatus.ERROR
            : ConnectorStatus.IDLE;
  return Object.assign(new DataConnector(), {
    kind,
    status,
    enabled,
    staleAfter,
    lastEventTime: row?.last_event_at ?? null,
    lastIngestTime: last,
    eventsTotal: Number(row?.events_total ?? 0),
    duplicatesTotal: Number(row?.duplicates_total ?? 0),
    rejectedTotal: Number(row?.rejected_total ?? 0),
  });
}

/** Converts an ingest result to its GraphQL payload. */
export function ingestPayload(result: IngestResult): IngestEventsPayload {
  return Object.assign(new IngestEventsPayload(), {
    acceptedCount: result.accepted,
    duplicateCount: result.duplicates,
    rejected: result.rejected.map((r) => Object.assign(new EventRejection(), r)),
  });
}

/** Data connectors (read by anyone in the tenant, set by its ADMINs), event search and small-batch ingest. */
export class EventsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly ingestor: EventIngest,
  ) {}

  /** This request's daily volumes by window length: one statement answers every connector's `volume`. */
  private readonly volumes = new Map<
    number,
    Promise<{ dates: string[]; counts: Map<string, ConnectorDay> }>
  >();

  /** Every connector kind with its counters, settings and status. */
  async connectors(): Promise<DataConnector[]> {
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM data_connectors WHERE tenant_id = $1`, [this.identity.tenantId]),
    );
    return CONNECTOR_KINDS.map((kind) =>
      connectorFromRow(
        kind,
        rows.find((r) => r.kind === kind),
      ),
    );
  }

  /**
   * An ADMIN's settings of one connector, in one transaction with its audit record: `enabled` (false refuses the
   * kind's records on both ingest paths) and `staleAfter` (PT5M to P30D; null clears it). Omitted fields stay as
   * they are; a change to nothing writes nothing. Bad input: BAD_USER_INPUT, nothing changed.
   */
  async setConnector(input: SetDataConnectorInput): Promise<DataConnector> {
    const kind = connectorKind(input.kind);
    if (typeof input.staleAfter === "string") {
      const parsed = parseBoundedDuration(input.staleAfter, STALE_AFTER_BOUNDS);
      if ("error" in parsed)
        throw new BadUserInputError("Invalid staleAfter; nothing was changed.", [
          { field: "input.staleAfter", message: parsed.error },
        ]);
    }
    const tenantId = this.identity.tenantId;
    return this.db.write(async (m) => {
      const [current]: Array<Record<string, unknown>> = await m.query(
        `SELECT * FROM data_connectors WHERE tenant_id = $1 AND kind = $2 FOR UPDATE`,
        [tenantId, kind],
      );
      const before = {
        enabled: (current?.enabled as boolean | undefined) ?? true,
        staleAfter: staleOf(current),
      };
      const after = {
        enabled: input.enabled ?? before.enabled,
        staleAfter: input.staleAfter === undefined ? before.staleAfter : input.staleAfter,
      };
      const changes: Record<string, unknown[]> = {};
      if (after.enabled !== before.enabled) changes.enabled = [before.enabled, after.enabled];
      if (after.staleAfter !== before.staleAfter) changes.staleAfter = [before.staleAfter, after.staleAfter];
      if (Object.keys(changes).length === 0) return connectorFromRow(kind, current);
      const [row]: Array<Record<string, unknown>> = await m.query(
        `INSERT INTO data_connectors AS c (tenant_id, kind, enabled, stale_after) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, kind) DO UPDATE SET enabled = excluded.enabled, stale_after = excluded.stale_after
         RETURNING *`,
        [tenantId, kind, after.enabled, after.staleAfter],
      );
      await writeAudit(m, this.identity, [
        { action: "events.connector_set", target: `connector:${kind}`, details: changes },
      ]);
      return connectorFromRow(kind, row);
    });
  }

  /**
   * What the connector received per UTC day of the last `days` (today included), oldest first, days with nothing
   * as zeros. Every connector of a request is answered by one statement (the first asks for all kinds).
   */
  async volume(kind: string, days: number): Promise<ConnectorDay[]> {
    if (!Number.isInteger(days) || days < 1 || days > MAX_VOLUME_DAYS)
      throw new BadUserInputError("Invalid volume window.", [
        { field: "days", message: `must be 1 to ${MAX_VOLUME_DAYS}` },
      ]);
    let loading = this.volumes.get(days);
    if (!loading) {
      loading = this.loadVolumes(days);
      this.volumes.set(days, loading);
    }
    const { dates, counts } = await loading;
    return dates.map((day) =>
      Object.assign(
        new ConnectorDay(),
        counts.get(`${kind} ${day}`) ?? { day, events: 0, duplicates: 0, rejected: 0 },
      ),
    );
  }

  private async loadVolumes(days: number): Promise<{ dates: string[]; counts: Map<string, ConnectorDay> }> {
    const rows: Array<{
      day: string;
      kind: string | null;
      events: string;
      duplicates: string;
      rejected: string;
    }> = await this.db.read((m) =>
      m.query(
        `SELECT g.day::date::text AS day, d.kind, d.events, d.duplicates, d.rejected
             FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($2::int - 1),
                                  (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS g(day)
             LEFT JOIN data_connector_days d ON d.tenant_id = $1 AND d.day = g.day::date
            ORDER BY g.day`,
        [this.identity.tenantId, days],
      ),
    );
    const dates = [...new Set(rows.map((r) => r.day))];
    const counts = new Map<string, ConnectorDay>();
    for (const r of rows)
      if (r.kind)
        counts.set(`${r.kind} ${r.day}`, {
          day: r.day,
          events: Number(r.events),
          duplicates: Number(r.duplicates),
          rejected: Number(r.rejected),
        });
    return { dates, counts };
  }

  /** Events in a time window (default the last 24 hours), newest first; read on the replica when there is one. */
  async events(filter: EventFilter | undefined, args: PageArgs): Promise<SecurityEventConnection> {
    const page = toKeysetPage(args, "time");
    const to = filter?.to ?? new Date();
    const from = filter?.from ?? new Date(to.getTime() - DAY);
    if (from >= to)
      throw new BadUserInputError("Invalid time window.", [
        { field: "filter.from", message: "must be before `filter.to`" },
      ]);
    const conditions = ["e.tenant_id = $1", "e.time >= $2", "e.time < $3"];
    const params: unknown[] = [this.identity.tenantId, from, to];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace("?", `$${params.length}`));
    };
    const textFaults = parameterTextProblems({
      "filter.actorUser": filter?.actorUser,
      "filter.device": filter?.device,
    });
    if (textFaults.length) throw new BadUserInputError("Invalid filter.", textFaults);
    if (filter?.connector) add("e.connector = ?", filter.connector);
    if (filter?.classUid != null) add("e.class_uid = ?", filter.classUid);
    // `=` on the stored lower-case keys: answered by the entity indexes under the tenant policy.
    if (filter?.actorUser) add("e.actor_key = lower(?::text)", filter.actorUser);
    if (filter?.device) add("e.device_key = lower(?::text)", filter.device);
    if (filter?.ip) {
      if (isIP(filter.ip) === 0)
        throw new BadUserInputError("Invalid filter.", [
          { field: "filter.ip", message: "not an IP address" },
        ]);
      params.push(filter.ip);
      conditions.push(`(e.src_ip = $${params.length}::inet OR e.dst_ip = $${params.length}::inet)`);
    }
    const where = conditions.join(" AND ");
    const base = [...params];
    if (page.after) {
      params.push(page.after[0], page.after[1]);
      conditions.push(`(e.time, e.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(page.first + 1);
    const rows: Array<Record<string, unknown>> = await this.db.readReplica((m) =>
      m.query(
        `SELECT e.* FROM events e WHERE ${conditions.join(" AND ")} ORDER BY e.time DESC, e.id DESC LIMIT $${params.length}`,
        params,
      ),
    );
    return SecurityEventConnection.from({
      rows: rows.map(eventFromRow),
      page,
      // Counting a busy window is costly: only when `totalCount` is selected.
      total: async () =>
        Number(
          (
            await this.db.readReplica((m) =>
              m.query(`SELECT count(*) AS n FROM events e WHERE ${where}`, base),
            )
          )[0].n,
        ),
      cursorOf: (e) => [e.time.toISOString(), e.id],
    });
  }

  /** Small batches through GraphQL; the same path as the HTTP endpoint. */
  async ingest(connector: string, records: unknown[]): Promise<IngestEventsPayload> {
    const kind = connectorKind(connector);
    if (records.length > MAX_GRAPHQL_EVENTS) {
      throw new BadUserInputError(
        `At most ${MAX_GRAPHQL_EVENTS} records per call; use POST /ingest/events for bulk.`,
        [{ field: "records", message: `got ${records.length}` }],
      );
    }
    const result = await this.ingestor.ingest(
      this.identity,
      kind,
      records.map((value, i) => ({ line: i + 1, value })),
    );
    return ingestPayload(result);
  }
}
