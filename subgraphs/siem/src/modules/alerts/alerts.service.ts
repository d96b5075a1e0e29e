import DataLoader from "dataloader";
import {
  containsPattern,
  BadUserInputError,
  canonicalId,
  childConnectionLoader,
  NotFoundError,
  OrderDirection,
  textProblem,
  writeAudit,
  childPageSql,
  groupChildRows,
  isUuid,
  jsonProblem,
  parameterTextProblems,
  MAX_ALERT_EVIDENCE_BYTES,
  MAX_INDEXED_TEXT_BYTES,
  utf8LongerThan,
  MAX_FUTURE_MS,
  RecordRejection,
  byIdLoader,
  toKeysetPage,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { AlertProvider, AlertStatus, alertFromRow, type SecurityAlert } from "./alert.entity";
import { AlertConnection } from "./alerts.connections";
import { eventFromRow } from "../events/events.service";
import type { SecurityEvent } from "../events/events.types";
import {
  AlertIngestOutcome,
  AlertOrderField,
  IngestAlertsPayload,
  UpdateAlertsPayload,
  type AlertInput,
  type AlertListFilter,
  type AlertOrder,
  type UpdateAlertsInput,
} from "./alerts.inputs";
import { alertConditionProblems } from "./alert-conditions";
import { storeAlerts } from "./alert-store";
import { recordAlertChanges } from "./alert-changes";
import { incidentFromRow, type Incident } from "../incidents/incident.entity";
import {
  RESOURCE_ALERT_HITS,
  resourceAlertHitsParams,
  resourceLoaderKey,
  type ResourceKey,
} from "./resource-alerts";

const MAX_ALERTS_PER_CALL = 10_000;
/** Most alerts one `updateAlerts` call changes. */
const MAX_ALERTS_PER_UPDATE = 1000;
const SEVERITY_RANK_SQL = `CASE a.severity WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 ELSE 1 END`;
const SEVERITY_RANK: Record<string, number> = { INFORMATIONAL: 1, LOW: 2, MEDIUM: 3, HIGH: 4 };
/** Each ordering's SQL expression and cursor kind. */
const ORDER_SQL: Record<AlertOrderField, { expr: string; kind: "time" | "int" }> = {
  [AlertOrderField.CREATED_AT]: { expr: "a.created_at", kind: "time" },
  [AlertOrderField.START_TIME]: { expr: "a.start_time", kind: "time" },
  [AlertOrderField.END_TIME]: { expr: "a.end_time", kind: "time" },
  [AlertOrderField.SEVERITY]: { expr: SEVERITY_RANK_SQL, kind: "int" },
};
/**
 * Most entities one pushed alert may name, as many as a rule's alert keeps: each becomes an index row, a
 * correlation key and a node of its incident's graph (150 alerts), which would otherwise have no bound.
 */
const MAX_ENTITIES_PER_ALERT = 100;
/** How far back an alert's start or end may lie: the longest event retention that can be configured. */
const MAX_ALERT_AGE_YEARS = 10;
const MAX_ALERT_AGE_MS = 3650 * 24 * 3600 * 1000;
/** The providers whose alerts come in through `ingestAlerts` (external tools and workload protection's relay). */
const PUSHED_PROVIDERS: ReadonlySet<string> = new Set([
  AlertProvider.EXTERNAL,
  AlertProvider.WORKLOAD_PROTECTION,
]);

function problemsOf(input: AlertInput, index: number, now: number): InputProblem[] {
  const problems: InputProblem[] = [];
  // Rule and TI alerts are the SIEM's own, keyed by ids a caller can predict: pushed, they could pre-empt (as
  // "duplicates") or impersonate the SIEM's detections.
  if (!PUSHED_PROVIDERS.has(input.provider))
    problems.push({
      index,
      field: "provider",
      message: `${input.provider} alerts are raised by the SIEM itself; push EXTERNAL or WORKLOAD_PROTECTION`,
    });
  if (!input.sourceId?.trim()) problems.push({ index, field: "sourceId", message: "is required" });
  else if (input.sourceId.length > 512)
    problems.push({ index, field: "sourceId", message: "at most 512 characters" });
  if (!input.title?.trim()) problems.push({ index, field: "title", message: "is required" });
  else if (input.title.length > 512)
    problems.push({ index, field: "title", message: "at most 512 characters" });
  if (input.resourceId != null && !isUuid(input.resourceId))
    problems.push({ index, field: "resourceId", message: "must be a resource id (UUID)" });
  if (input.startTime && input.endTime && input.endTime < input.startTime)
    problems.push({ index, field: "endTime", message: "is before startTime" });
  for (const t of input.techniques ?? []) {
    if (!/^T\d{4}(\.\d{3})?$/.test(t))
      problems.push({ index, field: "techniques", message: `"${t}" is not an ATT&CK technique id` });
  }
  // Clock skew is tolerated as for events; further ahead, the incident's last activity would lie in the future.
  // Far back is a tool's "no date" (0001-01-01 is .NET's and Go's zero time), not when anything happened.
  for (const field of ["startTime", "endTime"] as const) {
    const at = input[field]?.getTime();
    if (at === undefined) continue;
    if (at > now + MAX_FUTURE_MS)
      problems.push({ index, field, message: "is more than a day in the future" });
    else if (at < now - MAX_ALERT_AGE_MS)
      problems.push({ index, field, message: `is more than ${MAX_ALERT_AGE_YEARS} years in the past` });
  }
  if ((input.entities?.length ?? 0) > MAX_ENTITIES_PER_ALERT)
    problems.push({ index, field: "entities", message: `at most ${MAX_ENTITIES_PER_ALERT} entities` });
  (input.entities ?? []).forEach((e, i) => {
    // A blank value names nothing, yet correlation would join every alert carrying one into one incident.
    if (!e.value.trim()) problems.push({ index, field: `entities[${i}].value`, message: "is required" });
    else if (utf8LongerThan(e.value, MAX_INDEXED_TEXT_BYTES))
      problems.push({
        index,
        field: `entities[${i}].value`,
        message: `at most ${MAX_INDEXED_TEXT_BYTES} bytes`,
      });
  });
  if (input.evidence != null && utf8LongerThan(JSON.stringify(input.evidence), MAX_ALERT_EVIDENCE_BYTES))
    problems.push({
      index,
      field: "evidence",
      message: `at most ${MAX_ALERT_EVIDENCE_BYTES / 1024} KiB of JSON`,
    });
  // Stored as text and jsonb, which hold no NUL and no unpaired surrogate.
  const fault = jsonProblem(input);
  if (fault) problems.push({ index, field: fault.path, message: fault.message });
  return problems;
}

/** BAD_USER_INPUT naming every field of an alert filter that cannot be applied as given. */
function checkListFilter(filter: AlertListFilter): void {
  const problems = [
    ...alertConditionProblems(filter),
    ...parameterTextProblems({ search: filter.search, tactics: filter.tactics }),
  ];
  if (problems.length) throw new BadUserInputError("Invalid alert filter.", problems);
}

/** Alerts from every provider. Bulk ingest keeps good records and reports the bad ones. */
export class AlertsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  readonly byId = byIdLoader<SecurityAlert>((ids) =>
    this.db.read(async (m) =>
      (
        await m.query(`SELECT * FROM alerts WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
          this.identity.tenantId,
          ids.filter(isUuid),
        ])
      ).map(alertFromRow),
    ),
  );

  /** The evidence of many alerts, in one statement (`{}` for an alert that has none). */
  readonly evidenceOf = new DataLoader<string, Record<string, unknown>>(
    async (alertIds) => {
      const rows: Array<{ alert_id: string; evidence: Record<string, unknown> }> = await this.db.read((m) =>
        m.query(
          `SELECT alert_id, evidence FROM alert_evidence WHERE tenant_id = $1 AND alert_id = ANY($2::uuid[])`,
          [this.identity.tenantId, alertIds.filter(isUuid)],
        ),
      );
      const byAlert = new Map(rows.map((r) => [canonicalId(r.alert_id), r.evidence]));
      return alertIds.map((id) => byAlert.get(canonicalId(id)) ?? {});
    },
    { cacheKeyFn: canonicalId },
  );

  /** Alerts of many resources (keys of `resourceLoaderKey`), paged per resource in one statement. */
  readonly byResource = childConnectionLoader<SecurityAlert>(async (keys, page) => {
    const { sql, params } = childPageSql(
      `${RESOURCE_ALERT_HITS} SELECT a.*, h.parent_id FROM hits h JOIN alerts a ON a.tenant_id = $1 AND a.id = h.alert_id`,
      resourceAlertHitsParams(this.identity.tenantId, keys),
      page,
    );
    return groupChildRows(await this.db.read((m) => m.query(sql, params)), alertFromRow);
  });

  /**
   * The stored events among each alert's `evidenceEventIds`, oldest first, for a page of alerts in one statement.
   * `events` has no index by id (it went for ingest speed, migration 1765700000000), so an alert's events are
   * found by id within its span (`startTime` to `endTime`, give or take a millisecond, as rules and TI matching
   * set it from their evidence's times) on the (tenant, time) index of the day partitions that span covers.
   * Events past retention are gone and not listed; ids that name no event (external alerts) are ignored.
   */
  readonly evidenceEventsOf = new DataLoader<SecurityAlert, SecurityEvent[], string>(
    async (alerts) => {
      const wanted = alerts
        .map((a) => ({
          alert: canonicalId(a.id),
          lo: a.startTime,
          hi: a.endTime,
          ids: [...new Set(a.evidenceEventIds.filter(isUuid).map(canonicalId))],
        }))
        .filter((w) => w.ids.length > 0);
      const rows: Array<Record<string, unknown>> = wanted.length
        ? await this.db.read((m) =>
            m.query(
              `SELECT w.alert AS evidence_of, e.*
               FROM jsonb_to_recordset($2::jsonb) AS w(alert text, lo timestamptz, hi timestamptz, ids uuid[])
               CROSS JOIN LATERAL (
                 SELECT * FROM events e
                 WHERE e.tenant_id = $1 AND e.time >= w.lo - interval '1 millisecond'
                   AND e.time <= w.hi + interval '1 millisecond' AND e.id = ANY(w.ids)
               ) e
               ORDER BY e.time, e.id`,
              [this.identity.tenantId, JSON.stringify(wanted)],
            ),
          )
        : [];
      const byAlert = new Map<string, SecurityEvent[]>();
      for (const row of rows) {
        const list = byAlert.get(row.evidence_of as string) ?? [];
        list.push(eventFromRow(row));
        byAlert.set(row.evidence_of as string, list);
      }
      return alerts.map((a) => byAlert.get(canonicalId(a.id)) ?? []);
    },
    { cacheKeyFn: (a) => canonicalId(a.id) },
  );

  /** Alerts of many incidents, paged per incident in one statement. */
  readonly byIncident = childConnectionLoader<SecurityAlert>(async (incidentIds, page) => {
    const { sql, params } = childPageSql(
      `SELECT a.*, ia.incident_id AS parent_id FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id
       WHERE ia.tenant_id = $1 AND ia.incident_id = ANY($2::uuid[])`,
      [this.identity.tenantId, incidentIds.filter(isUuid)],
      page,
    );
    return groupChildRows(await this.db.read((m) => m.query(sql, params)), alertFromRow);
  });

  /** A page of a resource's alerts as a connection. */
  async forResource(resource: ResourceKey, args: PageArgs) {
    const page = toKeysetPage(args, "time");
    const { rows, total } = await this.byResource.load({ parentId: resourceLoaderKey(resource), page });
    return AlertConnection.from({ rows, page, total, cursorOf: (a) => [a.createdAt.toISOString(), a.id] });
  }

  /** A page of an incident's alerts as a connection. */
  async forIncident(incidentId: string, args: PageArgs) {
    const page = toKeysetPage(args, "time");
    const { rows, total } = await this.byIncident.load({ parentId: incidentId, page });
    return AlertConnection.from({ rows, page, total, cursorOf: (a) => [a.createdAt.toISOString(), a.id] });
  }

  /**
   * The incident holding each of many alerts, in one statement: the one it joined last (an alert can be in more
   * than one: correlated, then put into a new incident by hand), merged incidents left out (their alerts moved).
   */
  readonly incidentOf = new DataLoader<string, Incident | null>(
    async (alertIds) => {
      const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
        m.query(
          `SELECT DISTINCT ON (ia.alert_id) ia.alert_id AS alert_key, i.*
           FROM incident_alerts ia JOIN incidents i ON i.tenant_id = $1 AND i.id = ia.incident_id AND i.merged_into IS NULL
           WHERE ia.tenant_id = $1 AND ia.alert_id = ANY($2::uuid[])
           ORDER BY ia.alert_id, ia.added_at DESC, ia.incident_id DESC`,
          [this.identity.tenantId, alertIds.filter(isUuid)],
        ),
      );
      const byAlert = new Map(rows.map((r) => [canonicalId(r.alert_key as string), incidentFromRow(r)]));
      return alertIds.map((id) => byAlert.get(canonicalId(id)) ?? null);
    },
    { cacheKeyFn: canonicalId },
  );

  /**
   * A filtered, ordered page of the tenant's alerts in one statement (keyset on the order's value and the id,
   * with the filtered total; a page past the end counts it apart, when `totalCount` is asked for).
   */
  async list(
    filter: AlertListFilter | null | undefined,
    order: AlertOrder | null | undefined,
    args: PageArgs,
  ): Promise<AlertConnection> {
    const field = order?.field ?? AlertOrderField.CREATED_AT;
    const { expr, kind } = ORDER_SQL[field];
    const page = toKeysetPage(args, kind);
    const desc = (order?.direction ?? OrderDirection.DESC) === OrderDirection.DESC;
    const where = ["a.tenant_id = $1"];
    const params: unknown[] = [this.identity.tenantId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replaceAll("?", `$${params.length}`));
    };
    if (filter?.statuses?.length) add("a.status = ANY(?::text[])", filter.statuses);
    if (filter?.severities?.length) add("a.severity = ANY(?::text[])", filter.severities);
    if (filter?.minSeverity) add(`${SEVERITY_RANK_SQL} >= ?::int`, SEVERITY_RANK[filter.minSeverity]);
    if (filter?.providers?.length) add("a.provider = ANY(?::text[])", filter.providers);
    if (filter?.from) add("a.end_time >= ?::timestamptz", filter.from);
    if (filter?.to) add("a.start_time < ?::timestamptz", filter.to);
    if (filter) checkListFilter(filter);
    if (filter?.ruleIds?.length) add("a.rule_id = ANY(?::uuid[])", filter.ruleIds.map(canonicalId));
    if (filter?.tactics?.length) add("a.tactics && ?::text[]", filter.tactics);
    if (filter?.search) add("a.title ILIKE ?", containsPattern(filter.search));
    if (filter?.hasIncident != null) {
      where.push(
        `${filter.hasIncident ? "" : "NOT "}EXISTS (SELECT 1 FROM incident_alerts ia JOIN incidents i ON i.tenant_id = a.tenant_id AND i.id = ia.incident_id AND i.merged_into IS NULL
           WHERE ia.tenant_id = a.tenant_id AND ia.alert_id = a.id)`,
      );
    }
    const filtered = where.join(" AND ");
    const filterParams = [...params];
    const keyset = [...where];
    if (page.after) {
      params.push(page.after[0], page.after[1]);
      keyset.push(
        `(${expr}, a.id) ${desc ? "<" : ">"} ($${params.length - 1}::${kind === "time" ? "timestamptz" : "int"}, $${params.length}::uuid)`,
      );
    }
    params.push(page.first + 1);
    const dir = desc ? "DESC" : "ASC";
    // The total comes with the page (one statement): a window over the filtered rows would count only those
    // after the cursor, so it is a scalar subquery, which Postgres runs once.
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT a.*, ${expr} AS sort_value, (SELECT count(*)::int FROM alerts a WHERE ${filtered}) AS total
         FROM alerts a WHERE ${keyset.join(" AND ")}
         ORDER BY ${expr} ${dir}, a.id ${dir} LIMIT $${params.length}`,
        params,
      ),
    );
    const sortOf = new Map(rows.map((r) => [r.id as string, r.sort_value]));
    const total = rows.length
      ? Number(rows[0].total)
      : async () =>
          Number(
            (
              await this.db.read((m) =>
                m.query(`SELECT count(*)::int AS n FROM alerts a WHERE ${filtered}`, filterParams),
              )
            )[0].n,
          );
    return AlertConnection.from({
      rows: rows.map(alertFromRow),
      page,
      total,
      cursorOf: (a) => {
        const v = sortOf.get(a.id);
        return [v instanceof Date ? v.toISOString() : Number(v), a.id];
      },
    });
  }

  /**
   * Sets the status of alerts (an analyst's triage): all of them or none. Another tenant's id, or none, is
   * NOT_FOUND; alerts already in the status are left alone. Each changed alert gets an `alert.updated` event, an
   * entry in its incidents' activity logs and an audit entry, in one transaction.
   */
  async update(input: UpdateAlertsInput): Promise<UpdateAlertsPayload> {
    const problems: InputProblem[] = [];
    const ids = [...new Map((input.ids ?? []).map((id) => [canonicalId(id), id])).values()];
    if (ids.length === 0) problems.push({ field: "ids", message: "name at least one alert" });
    if (ids.length > MAX_ALERTS_PER_UPDATE)
      problems.push({ field: "ids", message: `at most ${MAX_ALERTS_PER_UPDATE} alerts per call` });
    input.ids.forEach((id, index) => {
      if (!isUuid(id)) problems.push({ index, field: "ids", message: "must be an alert id (UUID)" });
    });
    const comment = input.comment?.trim() || null;
    if (comment && comment.length > 4000)
      problems.push({ field: "comment", message: "at most 4,000 characters" });
    const fault = comment ? textProblem(comment) : null;
    if (fault) problems.push({ field: "comment", message: fault });
    if (!Object.values(AlertStatus).includes(input.status))
      problems.push({ field: "status", message: "not an alert status" });
    if (problems.length) throw new BadUserInputError("Invalid alert change; nothing was changed.", problems);
    return this.db.write(async (m) => {
      // NO KEY UPDATE (as the UPDATE takes): a merge moving these alerts into its target links them under a
      // key-share lock while holding the incidents this change logs to; FOR UPDATE would deadlock with it.
      const rows: Array<Record<string, unknown>> = await m.query(
        `SELECT * FROM alerts WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
        [this.identity.tenantId, ids],
      );
      const found = new Map(rows.map((r) => [canonicalId(r.id as string), alertFromRow(r)]));
      const missing = ids.find((id) => !found.has(canonicalId(id)));
      if (missing !== undefined) throw new NotFoundError("Alert", missing);
      const changing = [...found.values()].filter((a) => a.status !== input.status);
      if (changing.length) {
        await m.query(`UPDATE alerts SET status = $3 WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
          this.identity.tenantId,
          changing.map((a) => a.id),
          input.status,
        ]);
        await recordAlertChanges(
          m,
          this.identity.tenantId,
          this.identity.subject,
          changing.map((a) => ({
            alert: {
              id: a.id,
              provider: a.provider,
              sourceId: a.sourceId,
              severity: a.severity,
              status: input.status,
            },
            changes: { status: [a.status, input.status] },
          })),
          comment,
        );
        await writeAudit(
          m,
          this.identity,
          changing.map((a) => ({
            action: "alert.updated",
            target: `alert:${a.id}`,
            details: { status: [a.status, input.status], ...(comment ? { comment } : {}) },
          })),
        );
      }
      for (const a of changing) a.status = input.status;
      return Object.assign(new UpdateAlertsPayload(), {
        alerts: ids.map((id) => found.get(canonicalId(id))!),
        updatedCount: changing.length,
      });
    });
  }

  /**
   * Stores alerts; a repeat of (provider, sourceId) updates the known alert's mutable fields when it changes them
   * and is not older (endTime) than what is stored. Invalid records are reported, not stored. Audited as one
   * `alerts.ingest` entry with the counts.
   */
  async ingest(inputs: AlertInput[]): Promise<IngestAlertsPayload> {
    if (inputs.length > MAX_ALERTS_PER_CALL) {
      return this.payload(
        0,
        0,
        0,
        inputs.map(() => null),
        [{ field: "input", message: `at most ${MAX_ALERTS_PER_CALL} alerts per call` }],
        inputs.map(() => AlertIngestOutcome.REJECTED),
      );
    }
    const received = Date.now();
    const problems = inputs.flatMap((input, index) => problemsOf(input, index, received));
    const bad = new Set(problems.map((p) => p.index));
    const good = inputs.map((input, index) => ({ input, index })).filter(({ index }) => !bad.has(index));
    const ids: Array<string | null> = inputs.map(() => null);
    const outcomes = inputs.map(() => AlertIngestOutcome.REJECTED);
    if (good.length === 0) {
      // Nothing stored, but the attempt is still an ingest on the record (who pushed what that was refused).
      if (inputs.length)
        await this.db.write((m) =>
          writeAudit(m, this.identity, [
            {
              action: "alerts.ingest",
              target: "alerts",
              details: {
                created: 0,
                updated: 0,
                duplicates: 0,
                rejected: bad.size,
                createdIds: [],
                updatedIds: [],
              },
            },
          ]),
        );
      return this.payload(0, 0, 0, ids, problems, outcomes);
    }
    return this.db.write(async (m) => {
      const now = new Date();
      const stored = await storeAlerts(
        m,
        this.identity.tenantId,
        good.map(({ input }) => ({
          provider: input.provider,
          sourceId: input.sourceId,
          title: input.title,
          description: input.description ?? "",
          severity: input.severity,
          status: input.status ?? undefined,
          tactics: input.tactics ?? [],
          techniques: input.techniques ?? [],
          entities: [
            ...(input.entities ?? []).map((e) => ({ type: e.type, value: e.value })),
            ...(input.resourceId ? [{ type: "RESOURCE" as const, value: input.resourceId }] : []),
          ],
          remediation: input.remediation ?? [],
          evidence: input.evidence ?? {},
          resourceId: input.resourceId ?? null,
          // Left out, it is now, or the end when that is earlier: an alert never ends before it starts.
          startTime: input.startTime ?? (input.endTime && input.endTime < now ? input.endTime : now),
          endTime: input.endTime ?? input.startTime ?? now,
          repeat: {
            title: input.title,
            severity: input.severity,
            description: input.description ?? undefined,
            status: input.status ?? undefined,
            endTime: input.endTime ?? undefined,
            tactics: input.tactics ?? undefined,
            techniques: input.techniques ?? undefined,
            remediation: input.remediation ?? undefined,
            evidence: input.evidence ?? undefined,
          },
        })),
        this.identity.subject,
      );
      good.forEach(({ index }, i) => {
        ids[index] = stored.ids[i];
        outcomes[index] = AlertIngestOutcome[stored.outcomes[i]];
      });
      const createdCount = stored.outcomes.filter((o) => o === "CREATED").length;
      const updatedCount = stored.outcomes.filter((o) => o === "UPDATED").length;
      const duplicateCount = good.length - createdCount - updatedCount;
      await writeAudit(m, this.identity, [
        {
          action: "alerts.ingest",
          target: "alerts",
          details: {
            created: createdCount,
            updated: updatedCount,
            duplicates: duplicateCount,
            rejected: bad.size,
            createdIds: stored.created,
            updatedIds: stored.updated,
          },
        },
      ]);
      return this.payload(createdCount, updatedCount, duplicateCount, ids, problems, outcomes);
    });
  }

  private payload(
    createdCount: number,
    updatedCount: number,
    duplicateCount: number,
    ids: Array<string | null>,
    problems: InputProblem[],
    outcomes: AlertIngestOutcome[],
  ) {
    return Object.assign(new IngestAlertsPayload(), {
      createdCount,
      updatedCount,
      duplicateCount,
      ids,
      outcomes,
      rejected: problems.map(RecordRejection.from),
    });
  }
}
