import { isIP } from "node:net";
import DataLoader from "dataloader";
import {
  likeLiteral,
  BadUserInputError,
  checkCursor,
  isUuid,
  textProblem,
  toKeysetPage,
  type Identity,
  type Page,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { alertFromRow, type Severity } from "../alerts/alert.entity";
import { AlertConnection } from "../alerts/alerts.connections";
import { entityKey, ENTITY_TYPES } from "../alerts/alert-store";
import { eventFromRow } from "../events/events.service";
import { SecurityEventConnection } from "../events/events.connections";
import { incidentFromRow } from "../incidents/incident.entity";
import { IncidentConnection } from "../incidents/incidents.connections";
import {
  EntityProfile,
  GraphEdge,
  GraphEdgeKind,
  GraphNode,
  GraphNodeKind,
  IncidentGraph,
} from "./investigation.types";

/**
 * How an entity kind shows up in events: a column (account, host, IP, resource), or attribute paths. The
 * column matches are plain `=` on the stored lower-case keys and on the addresses, which the tenant policy
 * lets Postgres answer from the entity indexes (migration 1765900000000-events-entity-keys).
 */
export const EVENT_MATCH: Record<(typeof ENTITY_TYPES)[number], string> = {
  ACCOUNT: "e.actor_key = lower($V::text)",
  HOST: "e.device_key = lower($V::text)",
  IP: "(e.src_ip = $V::inet OR e.dst_ip = $V::inet)",
  RESOURCE: "e.resource_key = lower($V::text)",
  URL: "lower(e.attributes ->> 'url') = $V",
  DOMAIN: "(lower(e.attributes ->> 'domain') = $V OR lower(e.attributes #>> '{query,hostname}') = $V)",
  FILE_HASH: "(e.attributes::text ILIKE '%' || $L || '%')",
  PROCESS:
    "(lower(e.attributes #>> '{process,name}') = $V OR lower(e.attributes #>> '{process,cmd_line}') LIKE '%' || $L || '%')",
};
const RELATED_LIMIT = 50;
const DAY = 86_400_000;

/**
 * A page of events of each of many resources: `$1` the tenant, `$2`/`$3` the resources' ids and keys
 * (lower-case provider ids), `$4`/`$5` the window, `$6`/`$7` the cursor (or nulls), `$8` the page size + 1.
 * Per resource, a lateral scan of `events_tenant_resource_key (tenant_id, resource_key, time)` backwards,
 * stopping after the page (test/siem-federation.test.ts checks the plan as the SIEM's role).
 */
export const RESOURCE_EVENTS_PAGE = `SELECT k.parent_id, e.* FROM unnest($2::text[], $3::text[]) AS k(parent_id, key)
  CROSS JOIN LATERAL (
    SELECT e.* FROM events e
    WHERE e.tenant_id = $1 AND e.resource_key = k.key AND e.time >= $4 AND e.time < $5
      AND ($6::timestamptz IS NULL OR (e.time, e.id) < ($6::timestamptz, $7::uuid))
    ORDER BY e.time DESC, e.id DESC LIMIT $8
  ) e`;

/** How many events each resource has in the window (parameters `$1`–`$5` as RESOURCE_EVENTS_PAGE). */
export const RESOURCE_EVENTS_COUNT = `SELECT k.parent_id,
    (SELECT count(*) FROM events e
      WHERE e.tenant_id = $1 AND e.resource_key = k.key AND e.time >= $4 AND e.time < $5)::int AS n
  FROM unnest($2::text[], $3::text[]) AS k(parent_id, key)`;

/** What `Resource.recentEvents` receives: the resource's id and (through `@requires`) its provider id. */
export interface ResourceEventsKey {
  id: string;
  externalId?: string | null;
}

/** One `Resource.recentEvents` request: the resource, the page and the window (shared by a batch). */
interface RecentEventsRequest {
  parentId: string;
  key: string;
  page: Page;
  start: Date;
  end: Date;
}

/** One page of recent events of a resource. */
interface RecentEventsPage {
  rows: Array<Record<string, unknown>>;
}

/** Investigation: entity pages and incident graphs. */
export class InvestigationService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  entity(type: string, value: string): EntityProfile {
    if (!(ENTITY_TYPES as readonly string[]).includes(type))
      throw new BadUserInputError("Unknown entity type.", [{ field: "type", message: type }]);
    if (!value?.trim() || value.length > 2048)
      throw new BadUserInputError("Invalid entity value.", [
        { field: "value", message: "must be 1 to 2,048 characters" },
      ]);
    if (type === "IP" && isIP(value.trim()) === 0)
      throw new BadUserInputError("Invalid entity value.", [
        { field: "value", message: "not an IP address" },
      ]);
    const problem = textProblem(value);
    if (problem) throw new BadUserInputError("Invalid entity value.", [{ field: "value", message: problem }]);
    return Object.assign(new EntityProfile(), {
      type,
      value: value.trim(),
      key: entityKey(type, value.trim()),
    });
  }

  /** The entity's alerts, newest first. */
  async alerts(entity: EntityProfile, args: PageArgs): Promise<AlertConnection> {
    const page = toKeysetPage(args, "time");
    const params: unknown[] = [this.identity.tenantId, entity.type, entity.key];
    const after = page.after ? `AND (a.created_at, a.id) < ($4::timestamptz, $5::uuid)` : "";
    if (page.after) params.push(page.after[0], page.after[1]);
    params.push(page.first + 1);
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT a.* FROM alert_entities ae JOIN alerts a ON a.id = ae.alert_id
         WHERE ae.tenant_id = $1 AND ae.entity_type = $2 AND ae.value = $3 ${after}
         ORDER BY a.created_at DESC, a.id DESC LIMIT $${params.length}`,
        params,
      ),
    );
    return AlertConnection.from({
      rows: rows.map(alertFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(
                `SELECT count(*) AS n FROM alert_entities WHERE tenant_id = $1 AND entity_type = $2 AND value = $3`,
                params.slice(0, 3),
              ),
            )
          )[0].n,
        ),
      cursorOf: (a) => [a.createdAt.toISOString(), a.id],
    });
  }

  /** Incidents holding an alert that involves the entity, newest first. */
  async incidents(entity: EntityProfile, args: PageArgs): Promise<IncidentConnection> {
    const page = toKeysetPage(args, "time");
    // The incidents holding an alert on the entity, each once however many such alerts it holds.
    const holding = `SELECT DISTINCT ia.incident_id FROM alert_entities ae
         JOIN incident_alerts ia ON ia.tenant_id = ae.tenant_id AND ia.alert_id = ae.alert_id
         WHERE ae.tenant_id = $1 AND ae.entity_type = $2 AND ae.value = $3`;
    const params: unknown[] = [this.identity.tenantId, entity.type, entity.key];
    const after = page.after ? `AND (i.created_at, i.id) < ($4::timestamptz, $5::uuid)` : "";
    if (page.after) params.push(page.after[0], page.after[1]);
    params.push(page.first + 1);
    const { rows, n } = await this.db.read(async (m) => {
      const found: Array<Record<string, unknown>> = await m.query(
        `SELECT i.* FROM incidents i WHERE i.tenant_id = $1 AND i.merged_into IS NULL
           AND i.id IN (${holding}) ${after}
         ORDER BY i.created_at DESC, i.id DESC LIMIT $${params.length}`,
        params,
      );
      const [counted]: Array<{ n: number }> = await m.query(
        `SELECT count(*)::int AS n FROM incidents i WHERE i.tenant_id = $1 AND i.merged_into IS NULL
           AND i.id IN (${holding})`,
        params.slice(0, 3),
      );
      return { rows: found, n: counted.n };
    });
    return IncidentConnection.from({
      rows: rows.map(incidentFromRow),
      page,
      total: n,
      cursorOf: (i) => [i.createdAt.toISOString(), i.id],
    });
  }

  /**
   * Events in which the entity appears, newest first, in a window (default the last 7 days); read on the replica
   * when there is one.
   */
  async timeline(
    entity: EntityProfile,
    args: PageArgs,
    from?: Date | null,
    to?: Date | null,
  ): Promise<SecurityEventConnection> {
    const page = toKeysetPage(args, "time");
    const end = to ?? new Date();
    const start = from ?? new Date(end.getTime() - 7 * DAY);
    // $V is the value; $L the value with LIKE wildcards escaped (hashes and command lines match inside text).
    const value = entity.key;
    const params: unknown[] = [this.identity.tenantId, start, end];
    let match = EVENT_MATCH[entity.type as keyof typeof EVENT_MATCH];
    if (match.includes("$V")) match = match.replaceAll("$V", `$${params.push(value)}`);
    if (match.includes("$L")) match = match.replaceAll("$L", `$${params.push(likeLiteral(value))}`);
    const base = params.length;
    const after = page.after ? `AND (e.time, e.id) < ($${base + 1}::timestamptz, $${base + 2}::uuid)` : "";
    if (page.after) params.push(page.after[0], page.after[1]);
    params.push(page.first + 1);
    const rows: Array<Record<string, unknown>> = await this.db.readReplica((m) =>
      m.query(
        `SELECT e.* FROM events e WHERE e.tenant_id = $1 AND e.time >= $2 AND e.time < $3 AND ${match} ${after}
         ORDER BY e.time DESC, e.id DESC LIMIT $${params.length}`,
        params,
      ),
    );
    return SecurityEventConnection.from({
      rows: rows.map(eventFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.readReplica((m) =>
              m.query(
                `SELECT count(*) AS n FROM events e WHERE e.tenant_id = $1 AND e.time >= $2 AND e.time < $3 AND ${match}`,
                params.slice(0, base),
              ),
            )
          )[0].n,
        ),
      cursorOf: (e) => [e.time.toISOString(), e.id],
    });
  }

  /** When this request started: the default end of `Resource.recentEvents` windows, the same for every resource. */
  private readonly now = new Date();

  /**
   * A page of events of each of many resources in one statement: per resource, a lateral index scan of
   * `events_tenant_resource_key` `(tenant_id, resource_key, time)` newest first, stopping after the page
   * (`resource_key = $key` is plain text `=`, which the tenant policy lets Postgres use as an index condition).
   * Requests are grouped by page and window, so a list of resources asking the same page costs one statement.
   */
  private readonly recentEventsLoader = new DataLoader<RecentEventsRequest, RecentEventsPage, string>(
    async (requests) => {
      const groups = new Map<string, RecentEventsRequest[]>();
      for (const r of requests) {
        const k = windowKey(r);
        groups.set(k, [...(groups.get(k) ?? []), r]);
      }
      const results = new Map<string, RecentEventsPage>();
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const { page, start, end } = group[0];
          const [afterAt, afterId] = page.after ? checkCursor(page.after, "time") : [null, null];
          const withKey = group.filter((r) => r.key);
          const rows: Array<Record<string, unknown>> = withKey.length
            ? await this.db.read((m) =>
                m.query(RESOURCE_EVENTS_PAGE, [
                  this.identity.tenantId,
                  withKey.map((r) => r.parentId),
                  withKey.map((r) => r.key),
                  start,
                  end,
                  afterAt,
                  afterId,
                  page.first + 1,
                ]),
              )
            : [];
          for (const r of group) results.set(`${windowKey(r)}|${r.parentId}`, { rows: [] });
          for (const row of rows)
            results.get(`${windowKey(group[0])}|${row.parent_id as string}`)!.rows.push(row);
        }),
      );
      return requests.map((r) => results.get(`${windowKey(r)}|${r.parentId}`)!);
    },
    { cacheKeyFn: (r) => `${windowKey(r)}|${r.parentId}` },
  );

  /** How many events of each of many resources fall in a window: one statement, only when `totalCount` is asked. */
  private readonly recentEventsCount = new DataLoader<RecentEventsRequest, number, string>(
    async (requests) => {
      const groups = new Map<string, RecentEventsRequest[]>();
      for (const r of requests) {
        const k = `${r.start.toISOString()}|${r.end.toISOString()}`;
        groups.set(k, [...(groups.get(k) ?? []), r]);
      }
      const counts = new Map<string, number>();
      await Promise.all(
        [...groups.entries()].map(async ([k, group]) => {
          const withKey = group.filter((r) => r.key);
          if (!withKey.length) return;
          const rows: Array<{ parent_id: string; n: number }> = await this.db.read((m) =>
            m.query(RESOURCE_EVENTS_COUNT, [
              this.identity.tenantId,
              withKey.map((r) => r.parentId),
              withKey.map((r) => r.key),
              group[0].start,
              group[0].end,
            ]),
          );
          for (const row of rows) counts.set(`${k}|${row.parent_id}`, row.n);
        }),
      );
      return requests.map(
        (r) => counts.get(`${r.start.toISOString()}|${r.end.toISOString()}|${r.parentId}`) ?? 0,
      );
    },
    { cacheKeyFn: (r) => `${r.start.toISOString()}|${r.end.toISOString()}|${r.parentId}` },
  );

  /**
   * Events about a resource, newest first, in a window (default the 7 days before the request): those whose
   * resource (`resource_id`, an ARM id / ARN / GCP name, compared without letter case) is the resource's
   * provider id. Host names are not matched: a VM's name in the inventory need not be the host name its
   * logs carry, and two accounts may hold VMs of the same name.
   */
  async resourceEvents(
    resource: ResourceEventsKey,
    args: PageArgs,
    from?: Date | null,
    to?: Date | null,
  ): Promise<SecurityEventConnection> {
    const page = toKeysetPage(args, "time");
    const end = to ?? this.now;
    const start = from ?? new Date(end.getTime() - 7 * DAY);
    const request: RecentEventsRequest = {
      parentId: resource.id,
      key: (resource.externalId ?? "").toLowerCase(),
      page,
      start,
      end,
    };
    const { rows } = await this.recentEventsLoader.load(request);
    return SecurityEventConnection.from({
      rows: rows.map(eventFromRow),
      page,
      total: () => this.recentEventsCount.load(request),
      cursorOf: (e) => [e.time.toISOString(), e.id],
    });
  }

  /** An incident's graph: its alerts, their entities, and the newest 50 related alerts of other incidents. */
  async graph(incidentId: string): Promise<IncidentGraph> {
    if (!isUuid(incidentId)) return Object.assign(new IncidentGraph(), { nodes: [], edges: [] });
    const [incidents, alerts, related]: [
      Array<Record<string, unknown>>,
      Array<Record<string, unknown>>,
      Array<Record<string, unknown>>,
    ] = await this.db.read(async (m) => [
      await m.query(`SELECT id, number, title, severity FROM incidents WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        incidentId,
      ]),
      await m.query(
        `SELECT a.id, a.title, a.severity, ae.entity_type, ae.value FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id
         LEFT JOIN alert_entities ae ON ae.alert_id = a.id WHERE ia.tenant_id = $1 AND ia.incident_id = $2`,
        [this.identity.tenantId, incidentId],
      ),
      // The newest related alerts (ids are UUIDv7, in creation order): the oldest 50 would stay the same forever
      // once an entity has that many, hiding every later alert on it from the graph.
      await m.query(
        `SELECT DISTINCT ON (a.id) a.id, a.title, a.severity, ae.entity_type, ae.value, ia.incident_id
         FROM alert_entities mine
         JOIN incident_alerts mia ON mia.alert_id = mine.alert_id AND mia.incident_id = $2
         JOIN alert_entities ae ON ae.tenant_id = mine.tenant_id AND ae.entity_type = mine.entity_type AND ae.value = mine.value AND ae.alert_id <> mine.alert_id
         JOIN alerts a ON a.id = ae.alert_id
         JOIN incident_alerts ia ON ia.alert_id = a.id AND ia.incident_id <> $2
         WHERE mine.tenant_id = $1 ORDER BY a.id DESC LIMIT ${RELATED_LIMIT}`,
        [this.identity.tenantId, incidentId],
      ),
    ]);
    if (!incidents.length) return Object.assign(new IncidentGraph(), { nodes: [], edges: [] });
    const nodes = new Map<string, GraphNode>();
    const edges = new Map<string, GraphEdge>();
    /** Adds a node once; what it does not give is null. */
    const node = (given: Pick<GraphNode, "id" | "kind" | "label"> & Partial<GraphNode>) => {
      if (!nodes.has(given.id))
        nodes.set(
          given.id,
          Object.assign(new GraphNode(), {
            severity: null,
            incidentId: null,
            entityType: null,
            entityValue: null,
            alertId: null,
            ...given,
          }),
        );
    };
    const edge = (from: string, to: string, kind: GraphEdgeKind) =>
      edges.set(`${from}>${to}`, Object.assign(new GraphEdge(), { from, to, kind }));
    const incident = incidents[0];
    const root = `incident:${incident.id}`;
    node({
      id: root,
      kind: GraphNodeKind.INCIDENT,
      label: `#${incident.number} ${incident.title}`,
      severity: incident.severity as Severity,
    });
    const alertNode = (a: Record<string, unknown>, incidentId: string) =>
      node({
        id: `alert:${a.id}`,
        kind: GraphNodeKind.ALERT,
        label: a.title as string,
        severity: a.severity as Severity,
        incidentId,
        alertId: a.id as string,
      });
    for (const a of alerts) {
      const id = `alert:${a.id}`;
      alertNode(a, incident.id as string);
      edge(root, id, GraphEdgeKind.CONTAINS);
      if (a.entity_type) {
        const e = `entity:${a.entity_type}:${a.value}`;
        node({
          id: e,
          kind: GraphNodeKind.ENTITY,
          label: `${a.entity_type} ${a.value}`,
          entityType: a.entity_type as string,
          entityValue: a.value as string,
        });
        edge(id, e, GraphEdgeKind.INVOLVES);
      }
    }
    for (const r of related) {
      alertNode(r, r.incident_id as string);
      edge(`entity:${r.entity_type}:${r.value}`, `alert:${r.id}`, GraphEdgeKind.RELATED);
    }
    return Object.assign(new IncidentGraph(), { nodes: [...nodes.values()], edges: [...edges.values()] });
  }
}

/** The batch of a `Resource.recentEvents` request: its page and window. */
function windowKey(r: RecentEventsRequest): string {
  return JSON.stringify([r.page.first, r.page.after ?? null, r.start.toISOString(), r.end.toISOString()]);
}
