import DataLoader from "dataloader";
import {
  canonicalId,
  BadUserInputError,
  byIdLoader,
  childConnectionLoader,
  childPageSql,
  groupChildRows,
  isUuid,
  textProblem,
  newId,
  toKeysetPage,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import {
  RESOURCE_ALERT_HITS,
  resourceAlertHitsParams,
  resourceLoaderKey,
  type ResourceKey,
} from "../alerts/resource-alerts";
import { AccountIncidentSummary, emptySummary } from "./account-incidents";
import { MAX_ALERTS_PER_INCIDENT } from "./correlation";
import { incidentFromRow, type Incident, IncidentStatus } from "./incident.entity";
import { recordIncidentChange, refreshIncidentRollups } from "./incident-workflow.service";
import { IncidentConnection } from "./incidents.connections";
import type { CreateIncidentInput } from "./incidents.inputs";

const cursorOf = (i: Incident): [string, string] => [i.createdAt.toISOString(), i.id];

/**
 * The open-incident summaries of accounts `$2` (uuid[]) of tenant `$1`, from the incidents' side: open incidents
 * are few where an account may hold 100,000 resources. An alert is on an account's resource, as `Resource.alerts`
 * finds it (RESOURCE_ALERT_HITS), when it is stored with the resource's id, when it has a RESOURCE entity whose
 * value is the resource's provider id (canonical) or Rampart's id, or one beneath the resource's ARM id
 * (`<arm_scope>/…`): each value's ancestors (every prefix followed by a "/") are looked up as `arm_scope`s.
 * The materialised CTEs hand the mirror plain columns, so each lookup is an index condition under the tenant
 * policy (which admits only leakproof operators there, and no function of the other side's columns).
 */
export const ACCOUNT_INCIDENT_SUMMARIES = `WITH open AS MATERIALIZED (
    SELECT i.id, i.severity, i.created_at FROM incidents i
    WHERE i.tenant_id = $1 AND i.status IN ('NEW', 'ACTIVE') AND i.merged_into IS NULL
  ),
  held AS MATERIALIZED (
    SELECT ia.incident_id, ia.alert_id FROM open o
    JOIN incident_alerts ia ON ia.tenant_id = $1 AND ia.incident_id = o.id
  ),
  named AS MATERIALIZED (
    SELECT DISTINCT h.incident_id, ae.value,
      CASE WHEN ae.value ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN ae.value::uuid END AS as_id
    FROM held h
    JOIN alert_entities ae ON ae.tenant_id = $1 AND ae.alert_id = h.alert_id AND ae.entity_type = 'RESOURCE'
  ),
  beneath AS MATERIALIZED (
    SELECT DISTINCT n.incident_id, array_to_string(p.parts[1:u.k], '/') AS scope
    FROM named n CROSS JOIN LATERAL (SELECT string_to_array(n.value, '/') AS parts) p
    CROSS JOIN LATERAL unnest(p.parts[2:]) WITH ORDINALITY AS u(part, k)
  ),
  owners AS (
    SELECT h.incident_id, ra.account_id FROM held h
      JOIN alerts a ON a.tenant_id = $1 AND a.id = h.alert_id
      JOIN resource_accounts ra ON ra.tenant_id = $1 AND ra.resource_id = a.resource_id
    UNION
    SELECT n.incident_id, ra.account_id FROM named n
      JOIN resource_accounts ra ON ra.tenant_id = $1 AND ra.external_key = n.value
    UNION
    SELECT n.incident_id, ra.account_id FROM named n
      JOIN resource_accounts ra ON ra.tenant_id = $1 AND ra.resource_id = n.as_id
    UNION
    SELECT b.incident_id, ra.account_id FROM beneath b
      JOIN resource_accounts ra ON ra.tenant_id = $1 AND ra.arm_scope = b.scope
  )
  SELECT ow.account_id::text AS account_id, count(*)::int AS total,
    count(*) FILTER (WHERE o.severity = 'HIGH')::int AS high,
    count(*) FILTER (WHERE o.severity = 'MEDIUM')::int AS medium,
    count(*) FILTER (WHERE o.severity = 'LOW')::int AS low,
    count(*) FILTER (WHERE o.severity = 'INFORMATIONAL')::int AS informational,
    max(o.created_at) AS newest
  FROM owners ow JOIN open o ON o.id = ow.incident_id
  WHERE ow.account_id = ANY($2::uuid[])
  GROUP BY ow.account_id`;

/** Incidents: correlated alerts worked as one case. */
export class IncidentsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  readonly byId = byIdLoader<Incident>((ids) =>
    this.db.read(async (m) =>
      (
        await m.query(`SELECT * FROM incidents WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
          this.identity.tenantId,
          ids.filter(isUuid),
        ])
      ).map(incidentFromRow),
    ),
  );

  /**
   * Incidents that hold an alert on each of many resources (keys of `resourceLoaderKey`; the alerts as
   * `Resource.alerts` finds them), paged per resource in one statement.
   */
  readonly byResource = childConnectionLoader<Incident>(async (keys, page) => {
    const { sql, params } = childPageSql(
      `${RESOURCE_ALERT_HITS} SELECT DISTINCT ON (h.parent_id, i.id) i.*, h.parent_id
       FROM hits h JOIN incident_alerts ia ON ia.alert_id = h.alert_id JOIN incidents i ON i.id = ia.incident_id
       WHERE ia.tenant_id = $1`,
      resourceAlertHitsParams(this.identity.tenantId, keys),
      page,
    );
    return groupChildRows(await this.db.read((m) => m.query(sql, params)), incidentFromRow);
  });

  /**
   * The open-incident summary of each of many accounts, in one statement (ACCOUNT_INCIDENT_SUMMARIES): the
   * tenant's NEW / ACTIVE incidents, their alerts, and the accounts of the resources those alerts are on as the
   * SIEM's mirror of posture's inventory has them (`resource_accounts`), each incident counted once per account.
   */
  readonly summaryByAccount = new DataLoader<string, AccountIncidentSummary, string>(
    async (accountIds) => {
      const ids = [...new Set(accountIds.filter(isUuid).map(canonicalId))];
      const byAccount = new Map<string, AccountIncidentSummary>();
      if (ids.length) {
        const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
          m.query(ACCOUNT_INCIDENT_SUMMARIES, [this.identity.tenantId, ids]),
        );
        for (const r of rows)
          byAccount.set(
            r.account_id as string,
            Object.assign(new AccountIncidentSummary(), {
              total: r.total,
              high: r.high,
              medium: r.medium,
              low: r.low,
              informational: r.informational,
              newestIncidentAt: r.newest ?? null,
            }),
          );
      }
      return accountIds.map((id) => byAccount.get(canonicalId(id)) ?? emptySummary());
    },
    { cacheKeyFn: canonicalId },
  );

  /** A page of a resource's incidents as a connection. */
  async forResource(resource: ResourceKey, args: PageArgs) {
    const page = toKeysetPage(args, "time");
    const { rows, total } = await this.byResource.load({ parentId: resourceLoaderKey(resource), page });
    return IncidentConnection.from({ rows, page, total, cursorOf });
  }

  /** The tenant's incidents, newest first. */
  async list(args: PageArgs) {
    const page = toKeysetPage(args, "time");
    const { sql, params } = childPageSql(
      `SELECT i.*, i.tenant_id AS parent_id FROM incidents i WHERE i.tenant_id = $1`,
      [this.identity.tenantId],
      page,
    );
    const grouped = groupChildRows(await this.db.read((m) => m.query(sql, params)), incidentFromRow);
    const { rows, total } = grouped.get(this.identity.tenantId) ?? { rows: [], total: 0 };
    return IncidentConnection.from({ rows, page, total, cursorOf });
  }

  /** Creates an incident from alerts, with the next per-tenant number. */
  async create(given: CreateIncidentInput): Promise<Incident> {
    // Stored and compared in lower case: an alert named in upper-case hex is the same alert.
    const input = { ...given, alertIds: given.alertIds.map(canonicalId) };
    const problems: InputProblem[] = [];
    if (!input.title?.trim() || input.title.length > 512)
      problems.push({ field: "title", message: "must be 1 to 512 characters" });
    for (const field of ["title", "description"] as const) {
      const problem = textProblem(input[field] ?? "");
      if (problem) problems.push({ field, message: problem });
    }
    input.alertIds.forEach((id, index) => {
      if (!isUuid(id)) problems.push({ index, field: "alertIds", message: "must be an alert id (UUID)" });
    });
    if (new Set(input.alertIds).size > MAX_ALERTS_PER_INCIDENT)
      problems.push({ field: "alertIds", message: `at most ${MAX_ALERTS_PER_INCIDENT} alerts per incident` });
    if (problems.length) throw new BadUserInputError("Invalid incident.", problems);
    return this.db.write(async (m) => {
      const found: Array<{ id: string }> = await m.query(
        `SELECT id FROM alerts WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
        [this.identity.tenantId, input.alertIds],
      );
      const known = new Set(found.map((r) => r.id));
      const missing = input.alertIds.flatMap((id, index) =>
        known.has(id) ? [] : [{ index, field: "alertIds", message: "no such alert in this tenant" }],
      );
      if (missing.length) throw new BadUserInputError("Invalid incident.", missing);
      const [{ number }]: Array<{ number: number }> = await m.query(
        `INSERT INTO incident_counters (tenant_id, last_number) VALUES ($1, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET last_number = incident_counters.last_number + 1
         RETURNING last_number AS number`,
        [this.identity.tenantId],
      );
      // The analyst chose the severity: pinned, so the alerts' rollup keeps it. created_at is timestamptz(3)
      // (whole milliseconds, as list cursors carry it; see storeAlerts).
      const [row] = await m.query(
        `INSERT INTO incidents (id, tenant_id, number, title, description, severity, severity_pinned, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, true, $7, now(), now()) RETURNING *`,
        [
          newId(),
          this.identity.tenantId,
          number,
          input.title.trim(),
          input.description ?? "",
          input.severity,
          IncidentStatus.NEW,
        ],
      );
      const incident = incidentFromRow(row);
      if (input.alertIds.length) {
        await m.query(
          `INSERT INTO incident_alerts (tenant_id, incident_id, alert_id) SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING`,
          [this.identity.tenantId, incident.id, [...known]],
        );
        await refreshIncidentRollups(m, this.identity.tenantId, incident.id);
      }
      // Like a correlated incident: activity log, audit trail and the `incident.created` event (with its actor).
      await recordIncidentChange(m, this.identity, incident, "incident.created", { alertIds: [...known] });
      return incidentFromRow(
        (
          await m.query(`SELECT * FROM incidents WHERE tenant_id = $1 AND id = $2`, [
            this.identity.tenantId,
            incident.id,
          ])
        )[0],
      );
    });
  }
}
