import {
  childConnectionLoader,
  childPageSql,
  groupChildRows,
  isUuid,
  newId,
  RecordRejection,
  toPage,
  writeOutbox,
  byIdLoader,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { alertFromRow, type SecurityAlert } from "./alert.entity";
import { AlertConnection } from "./alerts.connections";
import { IngestAlertsPayload, type AlertInput } from "./alerts.inputs";

const MAX_ALERTS_PER_CALL = 10_000;

function problemsOf(input: AlertInput, index: number): InputProblem[] {
  const problems: InputProblem[] = [];
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

  /** Alerts of many resources, paged per resource in one statement. */
  readonly byResource = childConnectionLoader<SecurityAlert>(async (resourceIds, page) => {
    const { sql, params } = childPageSql(
      `SELECT a.*, a.resource_id AS parent_id FROM alerts a WHERE a.tenant_id = $1 AND a.resource_id = ANY($2::uuid[])`,
      [this.identity.tenantId, resourceIds.filter(isUuid)],
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
  async forResource(resourceId: string, args: PageArgs) {
    const page = toPage(args);
    const { rows, total } = await this.byResource.load({ parentId: resourceId, page });
    return AlertConnection.from({ rows, page, total, cursorOf: (a) => [a.createdAt.toISOString(), a.id] });
  }

  /** A page of an incident's alerts as a connection. */
  async forIncident(incidentId: string, args: PageArgs) {
    const page = toPage(args);
    const { rows, total } = await this.byIncident.load({ parentId: incidentId, page });
    return AlertConnection.from({ rows, page, total, cursorOf: (a) => [a.createdAt.toISOString(), a.id] });
  }

  /** The tenant's alerts, newest first. */
  async list(args: PageArgs) {
    const page = toPage(args);
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
    const problems = inputs.flatMap(problemsOf);
    const bad = new Set(problems.map((p) => p.index));
    const good = inputs.map((input, index) => ({ input, index })).filter(({ index }) => !bad.has(index));
    const ids: Array<string | null> = inputs.map(() => null);
    if (good.length === 0) return this.payload(0, 0, ids, problems);
    return this.db.write(async (m) => {
      const now = new Date();
      const rows: Array<{ id: string; provider: string; source_id: string; created: boolean }> =
        await m.query(
          `WITH input AS (
           SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                $9::jsonb[], $10::jsonb[], $11::uuid[], $12::timestamptz[], $13::timestamptz[])
             AS i(id, provider, source_id, title, description, severity, status, tactics, techniques, resource_id, start_time, end_time)
         ),
         inserted AS (
           INSERT INTO alerts (id, tenant_id, provider, source_id, title, description, severity, status, tactics,
                               techniques, resource_id, start_time, end_time, created_at)
           SELECT id, $1, provider, source_id, title, description, severity, status,
                  ARRAY(SELECT jsonb_array_elements_text(tactics)), ARRAY(SELECT jsonb_array_elements_text(techniques)),
                  resource_id, start_time, end_time, now()
           FROM input
           ON CONFLICT (tenant_id, provider, source_id) DO NOTHING
           RETURNING id, provider, source_id
         )
         SELECT id, provider, source_id, true AS created FROM inserted
         UNION ALL
         SELECT a.id, a.provider, a.source_id, false FROM alerts a JOIN input i USING (provider, source_id)
         WHERE a.tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM inserted x WHERE x.provider = a.provider AND x.source_id = a.source_id)`,
          [
            this.identity.tenantId,
            good.map(() => newId()),
            good.map(({ input }) => input.provider),
            good.map(({ input }) => input.sourceId),
            good.map(({ input }) => input.title),
            good.map(({ input }) => input.description ?? ""),
            good.map(({ input }) => input.severity),
            good.map(({ input }) => input.status),
            good.map(({ input }) => JSON.stringify(input.tactics ?? [])),
            good.map(({ input }) => JSON.stringify(input.techniques ?? [])),
            good.map(({ input }) => input.resourceId ?? null),
            good.map(({ input }) => input.startTime ?? now),
            good.map(({ input }) => input.endTime ?? input.startTime ?? now),
          ],
        );
      const byKey = new Map(rows.map((r) => [`${r.provider}|${r.source_id}`, r]));
      for (const { input, index } of good)
        ids[index] = byKey.get(`${input.provider}|${input.sourceId}`)?.id ?? null;
      const created = rows.filter((r) => r.created);
      await writeOutbox(
        m,
        created.map((r) => ({
          tenantId: this.identity.tenantId,
          topic: "alerts.alert.created",
          key: r.id,
          payload: { id: r.id, provider: r.provider, sourceId: r.source_id },
        })),
      );
      return this.payload(created.length, good.length - created.length, ids, problems);
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
