import {
  childConnectionLoader,
  childPageSql,
  groupChildRows,
  isUuid,
  jsonProblem,
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
import { AlertProvider, alertFromRow, type SecurityAlert } from "./alert.entity";
import { AlertConnection } from "./alerts.connections";
import { IngestAlertsPayload, type AlertInput } from "./alerts.inputs";
import { storeAlerts } from "./alert-store";
import {
  RESOURCE_ALERT_HITS,
  resourceAlertHitsParams,
  resourceLoaderKey,
  type ResourceKey,
} from "./resource-alerts";

const MAX_ALERTS_PER_CALL = 10_000;
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
  // Stored as text and jsonb, which hold no NUL and no unpaired surrogate.
  const fault = jsonProblem(input);
  if (fault) problems.push({ index, field: fault.path, message: fault.message });
  return problems;
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

  /** Alerts of many resources (keys of `resourceLoaderKey`), paged per resource in one statement. */
  readonly byResource = childConnectionLoader<SecurityAlert>(async (keys, page) => {
    const { sql, params } = childPageSql(
      `${RESOURCE_ALERT_HITS} SELECT a.*, h.parent_id FROM hits h JOIN alerts a ON a.tenant_id = $1 AND a.id = h.alert_id`,
      resourceAlertHitsParams(this.identity.tenantId, keys),
      page,
    );
    return groupChildRows(await this.db.read((m) => m.query(sql, params)), alertFromRow);
  });

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

  /** The tenant's alerts, newest first. */
  async list(args: PageArgs) {
    const page = toKeysetPage(args, "time");
    const { sql, params } = childPageSql(
      `SELECT a.*, a.tenant_id AS parent_id FROM alerts a WHERE a.tenant_id = $1`,
      [this.identity.tenantId],
      page,
    );
    const grouped = groupChildRows(await this.db.read((m) => m.query(sql, params)), alertFromRow);
    const { rows, total } = grouped.get(this.identity.tenantId) ?? { rows: [], total: 0 };
    return AlertConnection.from({ rows, page, total, cursorOf: (a) => [a.createdAt.toISOString(), a.id] });
  }

  /** Stores alerts, ignoring repeats of (provider, sourceId); invalid records are reported, not stored. */
  async ingest(inputs: AlertInput[]): Promise<IngestAlertsPayload> {
    if (inputs.length > MAX_ALERTS_PER_CALL) {
      return this.payload(
        0,
        0,
        inputs.map(() => null),
        [{ field: "input", message: `at most ${MAX_ALERTS_PER_CALL} alerts per call` }],
      );
    }
    const received = Date.now();
    const problems = inputs.flatMap((input, index) => problemsOf(input, index, received));
    const bad = new Set(problems.map((p) => p.index));
    const good = inputs.map((input, index) => ({ input, index })).filter(({ index }) => !bad.has(index));
    const ids: Array<string | null> = inputs.map(() => null);
    if (good.length === 0) return this.payload(0, 0, ids, problems);
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
          status: input.status,
          tactics: input.tactics ?? [],
          techniques: input.techniques ?? [],
          entities: [
            ...(input.entities ?? []).map((e) => ({ type: e.type, value: e.value })),
            ...(input.resourceId ? [{ type: "RESOURCE" as const, value: input.resourceId }] : []),
          ],
          remediation: input.remediation ?? [],
          resourceId: input.resourceId ?? null,
          startTime: input.startTime ?? now,
          endTime: input.endTime ?? input.startTime ?? now,
        })),
      );
      good.forEach(({ index }, i) => (ids[index] = stored.ids[i]));
      return this.payload(stored.created.length, good.length - stored.created.length, ids, problems);
    });
  }

  private payload(
    createdCount: number,
    duplicateCount: number,
    ids: Array<string | null>,
    problems: InputProblem[],
  ) {
    return Object.assign(new IngestAlertsPayload(), {
      createdCount,
      duplicateCount,
      ids,
      rejected: problems.map(RecordRejection.from),
    });
  }
}
