import DataLoader from "dataloader";
import {
  BadUserInputError,
  byIdLoader,
  canonicalId,
  childConnectionLoader,
  childPageSql,
  groupChildRows,
  isUuid,
  toKeysetPage,
  type Identity,
  type Page,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { ResourceRef, SecurityAlertRef } from "../../references";
import type { Detection } from "./detections";
import {
  DetectionEntity,
  WorkloadDetection,
  WorkloadDetectionConnection,
  type DetectionFilter,
} from "./detections.types";

/** Maps a `detections` row to the GraphQL object. */
function detectionFromRow(row: Record<string, unknown>): WorkloadDetection {
  const d = row.payload as Detection;
  return Object.assign(new WorkloadDetection(), {
    id: row.id,
    kind: row.kind,
    sourceId: row.source_id,
    title: row.title,
    description: d.description,
    severity: row.severity,
    tactics: d.tactics,
    techniques: d.techniques,
    entities: d.entities.map((e) => Object.assign(new DetectionEntity(), e)),
    remediation: d.remediation,
    resourceId: row.resource_id,
    resource: Object.assign(new ResourceRef(), { id: row.resource_id }),
    startTime: row.start_time,
    endTime: row.end_time,
    evidence: d.evidence,
    raisedAt: row.raised_at,
    deliveredAt: row.delivered_at ?? null,
    deliveryError: row.delivery_error ?? null,
    alert: row.alert_id ? Object.assign(new SecurityAlertRef(), { id: row.alert_id }) : null,
  });
}

const connection = (rows: WorkloadDetection[], total: number, page: Page) =>
  WorkloadDetectionConnection.from({
    rows,
    page,
    total,
    cursorOf: (d) => [d.raisedAt.toISOString(), d.id],
  });

/** Detections raised from telemetry, newest first. */
export class DetectionsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Detections of many machines, paged per machine in one statement. */
  private readonly byResource = childConnectionLoader<WorkloadDetection>(async (resourceIds, page) => {
    const { sql, params } = childPageSql(
      `SELECT d.*, d.raised_at AS created_at, d.resource_id AS parent_id FROM detections d
       WHERE d.tenant_id = $1 AND d.resource_id = ANY($2::uuid[])`,
      [this.identity.tenantId, resourceIds.filter(isUuid)],
      page,
    );
    return groupChildRows(await this.db.read((m) => m.query(sql, params)), detectionFromRow);
  });

  /** Per-request loader of the tenant's detections by id (null for an unknown id, another tenant's included). */
  readonly byId = byIdLoader<WorkloadDetection>(async (ids) => {
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM detections WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
        this.identity.tenantId,
        ids.filter(isUuid),
      ]),
    );
    return rows.map(detectionFromRow);
  });

  /** The detection each of many SIEM alerts was delivered as, in one statement (null for other alerts). */
  readonly byAlert = new DataLoader<string, WorkloadDetection | null>(
    async (alertIds) => {
      const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
        m.query(`SELECT * FROM detections WHERE tenant_id = $1 AND alert_id = ANY($2::uuid[])`, [
          this.identity.tenantId,
          alertIds.filter(isUuid),
        ]),
      );
      const byAlert = new Map(rows.map((r) => [canonicalId(r.alert_id as string), detectionFromRow(r)]));
      return alertIds.map((id) => byAlert.get(canonicalId(id)) ?? null);
    },
    { cacheKeyFn: canonicalId },
  );

  /** A page of one machine's detections. */
  async forResource(resourceId: string, args: PageArgs): Promise<WorkloadDetectionConnection> {
    const page = toKeysetPage(args, "time");
    const { rows, total } = await this.byResource.load({ parentId: resourceId, page });
    return connection(rows, total, page);
  }

  /** The tenant's detections matching `filter`, newest first. */
  async list(filter: DetectionFilter | undefined, args: PageArgs): Promise<WorkloadDetectionConnection> {
    const page = toKeysetPage(args, "time");
    if (filter?.resourceId && !isUuid(filter.resourceId))
      throw new BadUserInputError("Invalid detection filter.", [
        { field: "resourceId", message: "must be a resource id (UUID)" },
      ]);
    const conditions = ["d.tenant_id = $1"];
    const params: unknown[] = [this.identity.tenantId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace("?", `$${params.length}`));
    };
    if (filter?.kinds?.length) add("d.kind = ANY(?::text[])", filter.kinds);
    if (filter?.severities?.length) add("d.severity = ANY(?::text[])", filter.severities);
    if (filter?.resourceId) add("d.resource_id = ?::uuid", filter.resourceId);
    if (filter?.delivered === true) conditions.push("d.delivered_at IS NOT NULL");
    if (filter?.delivered === false) conditions.push("d.delivered_at IS NULL");
    const { sql, params: all } = childPageSql(
      `SELECT d.*, d.raised_at AS created_at, d.tenant_id AS parent_id FROM detections d WHERE ${conditions.join(" AND ")}`,
      params,
      page,
    );
    const grouped = groupChildRows(await this.db.read((m) => m.query(sql, all)), detectionFromRow);
    const { rows, total } = grouped.get(this.identity.tenantId) ?? { rows: [], total: 0 };
    return connection(rows, total, page);
  }
}
