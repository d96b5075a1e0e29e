import { isIP } from "node:net";
import {
  BadUserInputError,
  toKeysetPage,
  type Identity,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { CONNECTOR_KINDS } from "./event.model";
import { connectorKind, type EventIngest, type IngestResult } from "./event-ingest";
import { SecurityEventConnection } from "./events.connections";
import {
  ConnectorStatus,
  DataConnector,
  EventRejection,
  IngestEventsPayload,
  SecurityEvent,
  type EventFilter,
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

/** Converts an ingest result to its GraphQL payload. */
export function ingestPayload(result: IngestResult): IngestEventsPayload {
  return Object.assign(new IngestEventsPayload(), {
    acceptedCount: result.accepted,
    duplicateCount: result.duplicates,
    rejected: result.rejected.map((r) => Object.assign(new EventRejection(), r)),
  });
}

/** Data connectors, event search and small-batch ingest. */
export class EventsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly ingestor: EventIngest,
  ) {}

  /** Every connector kind with its counters and status. */
  async connectors(): Promise<DataConnector[]> {
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM data_connectors WHERE tenant_id = $1`, [this.identity.tenantId]),
    );
    return CONNECTOR_KINDS.map((kind) => {
      const row = rows.find((r) => r.kind === kind);
      const last = row?.last_ingest_at ? new Date(row.last_ingest_at as string) : null;
      const kept = row?.last_kept_at ? new Date(row.last_kept_at as string).getTime() : null;
      const now = Date.now();
      const status = !last
        ? ConnectorStatus.NEVER_CONNECTED
        : kept !== null && now - kept < DAY
          ? ConnectorStatus.CONNECTED
          : now - last.getTime() < DAY
            ? ConnectorStatus.ERROR
            : ConnectorStatus.IDLE;
      return Object.assign(new DataConnector(), {
        kind,
        status,
        lastEventTime: row?.last_event_at ?? null,
        lastIngestTime: last,
        eventsTotal: Number(row?.events_total ?? 0),
        duplicatesTotal: Number(row?.duplicates_total ?? 0),
        rejectedTotal: Number(row?.rejected_total ?? 0),
      });
    });
  }

  /** Events in a time window (default the last 24 hours), newest first. */
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
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
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
          (await this.db.read((m) => m.query(`SELECT count(*) AS n FROM events e WHERE ${where}`, base)))[0]
            .n,
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
