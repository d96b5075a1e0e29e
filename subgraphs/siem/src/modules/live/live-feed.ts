import { Counter, Gauge, register } from "prom-client";
import type { DataSource, EntityManager } from "typeorm";
import {
  BadUserInputError,
  CursorExpiredError,
  decodeOutboxCursor,
  inTenant,
  OUTBOX_RETENTION_DAYS,
  outboxEpoch,
  outboxPositionReached,
  outboxPrunedAfter,
  OutboxListener,
  subgraphDatabaseUrl,
  type BackgroundWork,
  type Config,
  type Identity,
  type Logger,
  type OutboxCursor,
  type OutboxPosition,
  type OutboxRecord,
  type StreamPosition,
} from "../../../../common/src";
import { alertFromRow, type SecurityAlert } from "../alerts/alert.entity";
import { ALERT_UPDATED_TOPIC } from "../alerts/alert-changes";
import { incidentFromRow, type Incident } from "../incidents/incident.entity";
import {
  ALERT_CREATED_TOPIC,
  AlertEvent,
  alertMatches,
  AlertUpdate,
  INCIDENT_TOPICS,
  IncidentChange,
  type IncidentChangeKind,
  incidentMatches,
  type AlertFilter,
  type IncidentChangeFilter,
} from "./live.types";
import { OutboxStream } from "./outbox-stream";

function metric<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

const active = metric(
  "rampart_siem_subscriptions_active",
  () =>
    new Gauge({
      name: "rampart_siem_subscriptions_active",
      help: "Open SIEM subscriptions (from gateways: one per distinct operation, variables, tenant and roles).",
      labelNames: ["field"],
    }),
);
const started = metric(
  "rampart_siem_subscriptions_started_total",
  () =>
    new Counter({
      name: "rampart_siem_subscriptions_started_total",
      help: "SIEM subscriptions opened since start.",
      labelNames: ["field"],
    }),
);

const TOPIC_KIND = new Map(
  Object.entries(INCIDENT_TOPICS).map(([kind, topic]) => [topic, kind as IncidentChangeKind]),
);

/** What a client whose cursor cannot be resumed from does instead. */
const RESUBSCRIBE = "read the current state with queries, then subscribe without `after`";

/** Reads `after`: absent means "from now on"; anything not one of our cursors is BAD_USER_INPUT. */
function startPosition(after: string | null | undefined): OutboxCursor | null {
  if (after == null) return null;
  const position = decodeOutboxCursor(after);
  if (!position) throw notACursor();
  return position;
}

function notACursor(): BadUserInputError {
  return new BadUserInputError(`\`after\` is not a cursor of this stream: ${RESUBSCRIBE}.`, [
    { field: "after", message: "must be a `cursor` value received from this subscription" },
  ]);
}

/**
 * The incident as the change's transaction left it, for filtering: the filterable state the outbox event carries
 * (`payload.state`, migration 1766720000000) over the incident as it is now (events written before that
 * migration carry none).
 */
function asOfChange(incident: Incident, payload: unknown): Incident {
  const state = (payload as { state?: Record<string, unknown> } | null)?.state;
  if (!state || typeof state !== "object") return incident;
  return {
    ...incident,
    severity: (state.severity as Incident["severity"]) ?? incident.severity,
    status: (state.status as Incident["status"]) ?? incident.status,
    labels: Array.isArray(state.labels) ? state.labels.map(String) : incident.labels,
    owner: typeof state.owner === "string" ? state.owner : null,
  };
}

/**
 * The SIEM's live streams over its outbox, one per process: one LISTEN connection for all
 * subscriptions, each subscription reading its tenant's rows (row-level security applies).
 */
export class LiveFeed implements BackgroundWork {
  private epoch?: Promise<string | null>;

  constructor(
    private readonly ds: DataSource,
    private readonly listener: OutboxListener,
  ) {}

  /** Incident changes of the caller's tenant after `after` (or from now), filtered, with positions between. */
  async incidentChanges(
    identity: Identity,
    filter: IncidentChangeFilter | null | undefined,
    after: string | null | undefined,
  ): Promise<AsyncIterableIterator<IncidentChange | StreamPosition>> {
    const from = startPosition(after);
    const topics = filter?.kinds?.length
      ? filter.kinds.map((k) => INCIDENT_TOPICS[k])
      : Object.values(INCIDENT_TOPICS);
    const epoch = await this.assertResumable(identity, from, topics);
    return this.open("incidentChanges", identity, topics, from, epoch, async (m, rows) => {
      const incidents = await loadByIds(m, "incidents", identity.tenantId, rows, incidentFromRow);
      const changes: IncidentChange[] = [];
      for (const row of rows) {
        const incident = incidents.get(row.key);
        const kind = TOPIC_KIND.get(row.topic);
        if (!incident || !kind || !incidentMatches(asOfChange(incident, row.payload), kind, filter)) continue;
        const payload = row.payload as { changedFields?: unknown; actor?: unknown };
        changes.push(
          Object.assign(new IncidentChange(), {
            cursor: row.cursor,
            kind,
            changedFields: Array.isArray(payload.changedFields) ? payload.changedFields.map(String) : [],
            occurredAt: row.at,
            actor: typeof payload.actor === "string" ? payload.actor : null,
            incident,
          }),
        );
      }
      return changes;
    });
  }

  /** New alerts of the caller's tenant after `after` (or from now), filtered, with positions between. */
  async alertCreated(
    identity: Identity,
    filter: AlertFilter | null | undefined,
    after: string | null | undefined,
  ): Promise<AsyncIterableIterator<AlertEvent | StreamPosition>> {
    const from = startPosition(after);
    const epoch = await this.assertResumable(identity, from, [ALERT_CREATED_TOPIC]);
    return this.open("alertCreated", identity, [ALERT_CREATED_TOPIC], from, epoch, async (m, rows) => {
      const alerts = await loadByIds(m, "alerts", identity.tenantId, rows, alertFromRow);
      const events: AlertEvent[] = [];
      for (const row of rows) {
        const alert = alerts.get(row.key);
        if (!alert || !alertMatches(alert, filter)) continue;
        events.push(Object.assign(new AlertEvent(), { cursor: row.cursor, occurredAt: row.at, alert }));
      }
      return events;
    });
  }

  /** Changes to alerts of the caller's tenant after `after` (or from now), filtered, with positions between. */
  async alertUpdated(
    identity: Identity,
    filter: AlertFilter | null | undefined,
    after: string | null | undefined,
  ): Promise<AsyncIterableIterator<AlertUpdate | StreamPosition>> {
    const from = startPosition(after);
    const epoch = await this.assertResumable(identity, from, [ALERT_UPDATED_TOPIC]);
    return this.open("alertUpdated", identity, [ALERT_UPDATED_TOPIC], from, epoch, async (m, rows) => {
      const alerts = await loadByIds(m, "alerts", identity.tenantId, rows, alertFromRow);
      const events: AlertUpdate[] = [];
      for (const row of rows) {
        const alert = alerts.get(row.key);
        const payload = (row.payload ?? {}) as {
          severity?: unknown;
          status?: unknown;
          changedFields?: unknown;
          actor?: unknown;
          comment?: unknown;
        };
        // Filtered on the state the change left (a later change may have moved it on), as incident changes are.
        const asOf: SecurityAlert | undefined = alert && {
          ...alert,
          severity: (payload.severity as SecurityAlert["severity"]) ?? alert.severity,
          status: (payload.status as SecurityAlert["status"]) ?? alert.status,
        };
        if (!alert || !alertMatches(asOf!, filter)) continue;
        events.push(
          Object.assign(new AlertUpdate(), {
            cursor: row.cursor,
            occurredAt: row.at,
            changedFields: Array.isArray(payload.changedFields) ? payload.changedFields.map(String) : [],
            actor: typeof payload.actor === "string" ? payload.actor : null,
            comment: typeof payload.comment === "string" ? payload.comment : null,
            alert,
          }),
        );
      }
      return events;
    });
  }

  /**
   * The cursor epoch of the outbox numbering (`outboxEpoch`), read once per process: migrate starts a
   * new one only while no SIEM process is connected, so it cannot change under a running one.
   */
  private currentEpoch(): Promise<string | null> {
    return (this.epoch ??= outboxEpoch(this.ds).catch((err: unknown) => {
      this.epoch = undefined;
      throw err;
    }));
  }

  /**
   * Refuses a cursor issued before migrate started a new cursor epoch after a restore (its position
   * names another numbering, or changes this database never had: resuming there would skip changes, or
   * wait for transaction ids this server has not reached), one no stream can have given (a position no
   * transaction has reached), and one the outbox retention has passed (resuming there would skip
   * removed events). Returns the epoch the stream's cursors carry.
   */
  private async assertResumable(
    identity: Identity,
    from: OutboxCursor | null,
    topics: readonly string[],
  ): Promise<string | null> {
    const epoch = await this.currentEpoch();
    if (!from) return epoch;
    if (from.epoch !== epoch)
      throw new CursorExpiredError(
        `This cursor was issued before the database was restored (migrate started a new cursor epoch): ${RESUBSCRIBE}.`,
      );
    const { reached, pruned } = await inTenant(this.ds, identity.tenantId, async (m) => ({
      reached: await outboxPositionReached(m, from),
      pruned: await outboxPrunedAfter(m, from, topics),
    }));
    if (!reached) throw notACursor();
    if (pruned)
      throw new CursorExpiredError(
        `Changes after this cursor are older than the ${OUTBOX_RETENTION_DAYS}-day retention and some are gone: ${RESUBSCRIBE}.`,
      );
    return epoch;
  }

  async stop(): Promise<void> {
    await this.listener.close();
  }

  private open<T extends { cursor: string }>(
    field: string,
    identity: Identity,
    topics: string[],
    from: OutboxPosition | null,
    epoch: string | null,
    transform: (m: EntityManager, rows: OutboxRecord[]) => Promise<T[]>,
  ): AsyncIterableIterator<T | StreamPosition> {
    started.inc({ field });
    active.inc({ field });
    return new OutboxStream(
      this.ds,
      this.listener,
      identity.tenantId,
      topics,
      from,
      epoch,
      transform,
      undefined,
      () => active.dec({ field }),
    );
  }
}

/** The rows' aggregates (by outbox key) in one query. */
async function loadByIds<T>(
  m: EntityManager,
  table: "incidents" | "alerts",
  tenantId: string,
  rows: OutboxRecord[],
  fromRow: (row: Record<string, unknown>) => T,
): Promise<Map<string, T>> {
  const ids = [...new Set(rows.map((r) => r.key))];
  const found = (await m.query(`SELECT * FROM ${table} WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
    tenantId,
    ids,
  ])) as Array<Record<string, unknown>>;
  return new Map(found.map((row) => [row.id as string, fromRow(row)]));
}

const feeds = new WeakMap<DataSource, LiveFeed>();

/** Starts the process's feed (its LISTEN connection) with the subgraph. */
export function startLiveFeed(ds: DataSource, log: Logger, config: Config): LiveFeed {
  const feed = new LiveFeed(ds, new OutboxListener(subgraphDatabaseUrl(config, "siem"), "siem", log));
  feeds.set(ds, feed);
  return feed;
}

/** The feed of the process that owns `ds`. */
export function liveFeedOf(ds: DataSource): LiveFeed {
  const feed = feeds.get(ds);
  if (!feed) throw new Error("The SIEM's live feed is not started.");
  return feed;
}
