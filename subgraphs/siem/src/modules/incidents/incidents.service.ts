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
import type { CloudAccountRef } from "../../references";
import { AccountIncidentSummary, emptySummary } from "./account-incidents";
import { MAX_ALERTS_PER_INCIDENT } from "./correlation";
import { incidentFromRow, type Incident, IncidentStatus } from "./incident.entity";
import { recordIncidentChange, refreshIncidentRollups } from "./incident-workflow.service";
import { IncidentConnection } from "./incidents.connections";
import type { CreateIncidentInput } from "./incidents.inputs";

const cursorOf = (i: Incident): [string, string] => [i.createdAt.toISOString(), i.id];

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
   * The open-incident summary of each of many accounts, in one statement: the account's resources (ids and
   * provider ids, from posture through `@requires`) are matched to alerts as `Resource.alerts` matches
   * them (RESOURCE_ALERT_HITS with the account as the parent), then to the NEW / ACTIVE incidents holding
   * those alerts, each incident counted once per account.
   */
  readonly summaryByAccount = new DataLoader<CloudAccountRef, AccountIncidentSummary, string>(
    async (accounts) => {
      const keys: string[] = [];
      const parentOf: string[] = [];
      for (const account of accounts) {
        const ids = account.resourceIds ?? [];
        const externalIds = account.resourceExternalIds ?? [];
        const n = Math.max(ids.length, externalIds.length);
        for (let i = 0; i < n; i++) {
          keys.push(resourceLoaderKey({ id: ids[i] ?? "", externalId: externalIds[i] ?? null }));
          parentOf.push(account.id.toLowerCase());
        }
      }
      const byAccount = new Map<string, AccountIncidentSummary>();
      if (keys.length) {
        // RESOURCE_ALERT_HITS names each hit by its loader key; the keys map to accounts through `$9`/`$10`.
        const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
          m.query(
            `${RESOURCE_ALERT_HITS},
             owners AS (SELECT DISTINCT * FROM unnest($9::text[], $10::text[]) AS o(parent_id, account_id)),
             open AS (
               SELECT DISTINCT o.account_id, i.id, i.severity, i.created_at
               FROM hits h JOIN owners o ON o.parent_id = h.parent_id
               JOIN incident_alerts ia ON ia.tenant_id = $1 AND ia.alert_id = h.alert_id
               JOIN incidents i ON i.tenant_id = $1 AND i.id = ia.incident_id
               WHERE i.status IN ('NEW', 'ACTIVE') AND i.merged_into IS NULL
             )
             SELECT account_id, count(*)::int AS total,
               count(*) FILTER (WHERE severity = 'HIGH')::int AS high,
               count(*) FILTER (WHERE severity = 'MEDIUM')::int AS medium,
               count(*) FILTER (WHERE severity = 'LOW')::int AS low,
               count(*) FILTER (WHERE severity = 'INFORMATIONAL')::int AS informational,
               max(created_at) AS newest
             FROM open GROUP BY account_id`,
            [...resourceAlertHitsParams(this.identity.tenantId, keys), keys, parentOf],
          ),
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
      return accounts.map((a) => byAccount.get(a.id.toLowerCase()) ?? emptySummary());
    },
    { cacheKeyFn: (a) => a.id.toLowerCase() },
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
