import type { DataSource, EntityManager } from "typeorm";
import {
  canonicalId,
  copyInsertNew,
  dayOf,
  inTenant,
  Role,
  rowsOf,
  timeWindowProblem,
  writeAudit,
  type Identity,
} from "../../../../common/src";
import { checkAgentCredential, otherMachineMessage, unboundAgent } from "../agentpolicy/credentials.service";
import { BRUTE_FORCE, detect, type DetectionContext } from "../detections/detections";
import { loadDetectionContext } from "../detections/detections.context";
import { storeDetections } from "../detections/detections.store";
import { recordWorkloadState } from "../reports/workload-state";
import { storePackageSnapshots } from "../vulnerabilities/vulnerabilities.service";
import { IngestActivity } from "./ingest-activity";
import { writeTelemetryOutbox } from "./siem-relay";
import {
  TELEMETRY_KINDS,
  type PackagesRecord,
  type TelemetryKind,
  type TelemetryLine,
  type TelemetryRecord,
} from "./telemetry.model";
import {
  recordFromRow,
  TELEMETRY_SCHEMA,
  telemetryPartitions,
  telemetryRow,
  type TelemetryRow,
} from "./telemetry.store";

/** A record the ingest could not keep: its 1-based line (or position + 1 in a GraphQL batch) and why. */
export interface TelemetryRejection {
  line: number;
  reason: string;
}

/** What one telemetry ingest did. */
export interface TelemetryIngestResult {
  /** New records stored. */
  accepted: number;
  /** Records already stored (same machine, kind, record id and time), ignored. */
  duplicates: number;
  rejected: TelemetryRejection[];
  /** New records by kind. */
  kinds: Record<TelemetryKind, number>;
  /** Detections the new records raised (new to the tenant; repeats of raised ones are not counted). */
  detections: number;
}

/** Loads what detections know about a batch's machines (replaceable for tests and benchmarks). */
export type DetectionContextLoader = (
  m: EntityManager,
  tenantId: string,
  records: readonly TelemetryRecord[],
) => Promise<DetectionContext>;

const DAY_MS = 86_400_000;

const zeroKinds = (): Record<TelemetryKind, number> =>
  Object.fromEntries(TELEMETRY_KINDS.map((k) => [k, 0])) as Record<TelemetryKind, number>;

/** Whether a record is an attempt the brute-force detector counts (a failed logon, a management-port flow). */
function bruteForceInput(r: TelemetryRecord): boolean {
  if (r.kind === "logon") return !r.success && !!r.srcIp && BRUTE_FORCE.logonTypes.includes(r.logonType);
  return (
    r.kind === "flow" &&
    r.direction === "inbound" &&
    r.protocol !== "ICMP" &&
    r.dstPort !== undefined &&
    BRUTE_FORCE.ports.includes(r.dstPort)
  );
}

/**
 * The earlier part of attacks the batch continues: stored logons and inbound management-port flows of
 * the same machines and source addresses as the batch's attempts, from one brute-force window before
 * its first attempt to one window after its last. Read before the batch is inserted, so it holds only
 * older rows. A batch without attempts reads nothing (a lone successful logon cannot start an attack).
 */
async function bruteForceLookback(
  m: EntityManager,
  tenantId: string,
  records: readonly TelemetryRecord[],
): Promise<TelemetryRecord[]> {
  const relevant = records.filter(bruteForceInput);
  if (relevant.length === 0) return [];
  let first = Infinity;
  let last = -Infinity;
  for (const r of relevant) {
    const t = Date.parse(r.time);
    if (t < first) first = t;
    if (t > last) last = t;
  }
  const sourceIp = (r: TelemetryRecord) => (r.kind === "logon" || r.kind === "flow" ? r.srcIp : undefined);
  const rows = (await m.query(
    `SELECT * FROM telemetry
     WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND kind IN ('logon', 'flow')
       AND time >= $3 AND time <= $4 AND src_ip = ANY($5::inet[])
       AND (kind = 'logon' OR (direction = 'inbound' AND dst_port = ANY($6::int[])))`,
    [
      tenantId,
      [...new Set(relevant.map((r) => r.resourceId))],
      new Date(first - BRUTE_FORCE.windowMs).toISOString(),
      new Date(last + BRUTE_FORCE.windowMs).toISOString(),
      [...new Set(relevant.map(sourceIp))],
      BRUTE_FORCE.ports,
    ],
  )) as TelemetryRow[];
  return rows.map(recordFromRow);
}

/**
 * Which records of a batch were stored, from the keys the insert returned: each returned key marks one
 * record, so a record sent twice in one batch counts once.
 */
function newRecords(
  good: readonly TelemetryRecord[],
  inserted: ReadonlyArray<{ resource_id: string; record_id: string }>,
): TelemetryRecord[] {
  const pending = new Map<string, number>();
  for (const r of inserted) {
    const key = `${r.resource_id}|${r.record_id}`;
    pending.set(key, (pending.get(key) ?? 0) + 1);
  }
  return good.filter((r) => {
    const key = `${r.resourceId}|${r.id}`;
    const n = pending.get(key) ?? 0;
    if (n > 0) pending.set(key, n - 1);
    return n > 0;
  });
}

/**
 * The telemetry write path. Checks each record's time against the retention window, COPYs the batch into
 * the day-partitioned `telemetry` table (through a staging table: records already stored — same machine,
 * kind, record id and time — are ignored), hands new package snapshots to vulnerability assessment, runs the
 * detections over the new records (with the stored beginning of brute-force attacks they continue) and
 * stores the new detections with their `detection.raised` outbox events, and writes the new activity records to
 * the outbox for the SIEM (`telemetry.recorded`, see siem-relay.ts) — all in one transaction, so a
 * batch is stored with its findings and alerts or not at all. Bad records are reported by line and skipped, and so
 * are a machine-bound credential's records of other machines. An unbound INGESTOR token is refused (FORBIDDEN)
 * while its tenant requires machine-bound agent credentials, before any record is stored.
 */
export class TelemetryIngest {
  private readonly loadContext: DetectionContextLoader;

  constructor(
    private readonly ds: DataSource,
    private readonly options: {
      retentionDays: number;
      now?: () => number;
      loadContext?: DetectionContextLoader;
    },
  ) {
    this.loadContext = options.loadContext ?? loadDetectionContext;
  }

  /** This ingest's batches in flight, which the SIEM relay gives way to (ingest-activity.ts). */
  readonly activity = new IngestActivity();

  ingest(identity: Identity, lines: readonly TelemetryLine[]): Promise<TelemetryIngestResult> {
    return this.activity.track(() => this.ingestBatch(identity, lines));
  }

  private async ingestBatch(
    identity: Identity,
    lines: readonly TelemetryLine[],
  ): Promise<TelemetryIngestResult> {
    const tenantId = identity.tenantId;
    const bound = identity.resourceId;
    const now = this.options.now?.() ?? Date.now();
    const rejected: TelemetryRejection[] = [];
    const good: TelemetryRecord[] = [];
    const days = new Set<number>();
    for (const line of lines) {
      if ("reason" in line) {
        rejected.push({ line: line.line, reason: line.reason });
        continue;
      }
      if (bound !== undefined && canonicalId(line.record.resourceId) !== bound) {
        rejected.push({ line: line.line, reason: `resourceId: ${otherMachineMessage(bound)}` });
        continue;
      }
      const at = Date.parse(line.record.time);
      const late = timeWindowProblem(line.record.time, now, this.options.retentionDays, at);
      if (late) rejected.push({ line: line.line, reason: late });
      else {
        good.push(line.record);
        days.add(Math.floor(at / DAY_MS));
      }
    }
    const result: TelemetryIngestResult = {
      accepted: 0,
      duplicates: 0,
      rejected,
      kinds: zeroKinds(),
      detections: 0,
    };
    // The tenant's agent credential policy is read in the batch's own transaction; without one, on its own.
    const checkCredential = (m: EntityManager) => checkAgentCredential(m, identity, Role.ADMIN);
    if (good.length === 0) {
      if (unboundAgent(identity, Role.ADMIN)) await inTenant(this.ds, tenantId, checkCredential);
      return result;
    }
    await telemetryPartitions.ensure(
      this.ds,
      [...days].map((d) => dayOf(d * DAY_MS)),
    );
    return inTenant(this.ds, tenantId, async (m) => {
      await checkCredential(m);
      const lookback = await bruteForceLookback(m, tenantId, good);
      const inserted = await copyInsertNew<{ resource_id: string; record_id: string }>(m, {
        table: "telemetry",
        columns: TELEMETRY_SCHEMA,
        rows: rowsOf(good, (r) => telemetryRow(tenantId, r)),
        conflict: "(tenant_id, resource_id, kind, time, record_id)",
        returning: "resource_id, record_id",
      });
      const fresh = inserted.allNew ? good : newRecords(good, inserted.rows);
      for (const r of fresh) result.kinds[r.kind]++;
      result.accepted = fresh.length;
      result.duplicates = good.length - fresh.length;
      const snapshots = fresh.filter((r): r is PackagesRecord => r.kind === "packages");
      const packages = await storePackageSnapshots(m, tenantId, snapshots);
      const activity = fresh.filter((r) => r.kind !== "packages");
      if (activity.length) {
        const context = await this.loadContext(m, tenantId, activity);
        const raised = await storeDetections(m, tenantId, detect(activity, context, lookback));
        result.detections = raised.length;
        // FIM baselines and management-port exposure (the "Secure management ports" report to posture).
        await recordWorkloadState(m, tenantId, activity);
        // To the SIEM's event store (hunting, timelines, threat intelligence, analytics rules), by the relay.
        await writeTelemetryOutbox(m, tenantId, activity);
      }
      await writeAudit(m, identity, [
        {
          action: "telemetry.ingest",
          target: "telemetry",
          details: {
            accepted: result.accepted,
            duplicates: result.duplicates,
            rejected: rejected.length,
            detections: result.detections,
            packageSnapshots: packages.accepted,
          },
        },
      ]);
      return result;
    });
  }
}
