/*
 * What the telemetry ingest keeps besides the records themselves, in its transaction:
 * - FIM baselines of watched paths (`fim/baselines.ts`);
 * - internet traffic reaching management ports (allowed inbound TCP flows to 22 or 3389 from internet
 *   addresses), the evidence behind the "Secure management ports" report; a port seen for the first
 *   time on a machine re-evaluates the machine's report.
 */
import type { EntityManager } from "typeorm";
import { recordBaselines } from "../fim/baselines";
import { loadWatchLists } from "../fim/watch-lists";
import { isInternetAddress } from "../hardening/addresses";
import type { FileRecord, FlowRecord, TelemetryRecord } from "../telemetry/telemetry.model";
import { MANAGEMENT_PORTS } from "./evaluate";
import { syncPostureReports } from "./sync";

/** Whether a flow is internet traffic allowed into a management port. */
export function isManagementExposure(r: TelemetryRecord): r is FlowRecord {
  return (
    r.kind === "flow" &&
    r.direction === "inbound" &&
    r.action === "allowed" &&
    r.protocol === "TCP" &&
    r.dstPort !== undefined &&
    MANAGEMENT_PORTS[r.dstPort] !== undefined &&
    isInternetAddress(r.srcIp)
  );
}

/** Adds the batch's management-port exposure; returns the machines with a port seen for the first time. */
async function recordExposure(
  m: EntityManager,
  tenantId: string,
  flows: readonly FlowRecord[],
): Promise<string[]> {
  const byPort = new Map<
    string,
    { resourceId: string; port: number; n: number; first: FlowRecord; last: FlowRecord }
  >();
  for (const f of flows) {
    const key = `${f.resourceId}|${f.dstPort}`;
    const t = Date.parse(f.time);
    const entry = byPort.get(key);
    if (!entry) byPort.set(key, { resourceId: f.resourceId, port: f.dstPort!, n: 1, first: f, last: f });
    else {
      entry.n++;
      if (t < Date.parse(entry.first.time)) entry.first = f;
      if (t >= Date.parse(entry.last.time)) entry.last = f;
    }
  }
  if (byPort.size === 0) return [];
  // In (machine, port) order, so two batches of the same machines wait for each other instead of deadlocking.
  const rows = [...byPort].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  const result = (await m.query(
    `INSERT INTO management_port_exposure AS e (tenant_id, resource_id, port, connections, first_seen, last_seen, last_source)
     SELECT $1, * FROM unnest($2::uuid[], $3::int[], $4::bigint[], $5::timestamptz[], $6::timestamptz[], $7::inet[])
     ON CONFLICT (tenant_id, resource_id, port) DO UPDATE SET
       connections = e.connections + excluded.connections,
       first_seen = least(e.first_seen, excluded.first_seen),
       last_seen = greatest(e.last_seen, excluded.last_seen),
       last_source = CASE WHEN excluded.last_seen >= e.last_seen THEN excluded.last_source ELSE e.last_source END
     RETURNING resource_id, (xmax = 0) AS inserted`,
    [
      tenantId,
      rows.map((r) => r.resourceId),
      rows.map((r) => r.port),
      rows.map((r) => r.n),
      rows.map((r) => r.first.time),
      rows.map((r) => r.last.time),
      rows.map((r) => r.last.srcIp),
    ],
  )) as Array<{ resource_id: string; inserted: boolean }>;
  return [...new Set(result.filter((r) => r.inserted).map((r) => r.resource_id))];
}

/** Keeps FIM baselines and management-port exposure for a batch of new telemetry records (ingest transaction). */
export async function recordWorkloadState(
  m: EntityManager,
  tenantId: string,
  records: readonly TelemetryRecord[],
): Promise<void> {
  const files = records.filter((r): r is FileRecord => r.kind === "file");
  if (files.length) {
    const lists = await loadWatchLists(
      m,
      tenantId,
      files.map((f) => f.resourceId),
    );
    await recordBaselines(m, tenantId, files, lists);
  }
  const exposed = records.filter(isManagementExposure);
  if (exposed.length) {
    const newlyExposed = await recordExposure(m, tenantId, exposed);
    await syncPostureReports(m, tenantId, newlyExposed, ["management-ports"]);
  }
}
