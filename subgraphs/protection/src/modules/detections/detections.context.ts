/*
 * What the detections know about the machines of a batch, answered from protection's own tables and loaded
 * once per batch (the detector itself is pure and asks per record).
 *
 * - JIT: the ports a machine's just-in-time policy locks (`jit_policies`), and the grants approved
 *   requests opened (`jit_requests`), so JIT-granted access is not reported as a bypass.
 * - Application control: the approved rules of the machine's application-control group when the group is
 *   in AUDIT or ENFORCE mode (`appcontrol/policy.ts`); null (not judged) for machines in no group or in a
 *   group whose allow list is not applied.
 * - File integrity: the critical entries of the watch list in force on the machine (`fim/watch-lists.ts`:
 *   its group's list, else the tenant's, else the built-in Linux and Windows list).
 */
import type { EntityManager } from "typeorm";
import { loadAppControlPolicies } from "../appcontrol/policy";
import { jitEnforcedSql } from "../jit/enforcement";
import { defaultWatchMatcher } from "../fim/paths";
import { loadWatchLists } from "../fim/watch-lists";
import type { TelemetryRecord } from "../telemetry/telemetry.model";
import { classifyCriticalFile, type DetectionContext } from "./detections";

type Port = { port: number; protocol: "TCP" | "UDP"; lockedSince: number };
type Grant = { ports: number[]; sourceIp: string; from: number; until: number };

/**
 * Locked ports per machine, from the machines' enforced JIT policies (`ANY` locks both TCP and UDP; a policy
 * not enforced locks nothing, so traffic through it is no bypass), each with when it was locked (its
 * `lockedSince`; policies stored before ports carried it: the policy's creation).
 */
async function lockedPorts(
  m: EntityManager,
  tenantId: string,
  resourceIds: string[],
): Promise<Map<string, Port[]>> {
  const out = new Map<string, Port[]>();
  const rows = (await m.query(
    `SELECT resource_id, ports, created_at FROM jit_policies p
     WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND ${jitEnforcedSql("p")}`,
    [tenantId, resourceIds],
  )) as Array<{
    resource_id: string;
    ports: Array<{ number: number; protocol: string; lockedSince?: string }>;
    created_at: Date;
  }>;
  for (const row of rows)
    out.set(
      row.resource_id,
      row.ports.flatMap((p): Port[] => {
        const lockedSince = p.lockedSince ? Date.parse(p.lockedSince) : new Date(row.created_at).getTime();
        return p.protocol === "ANY"
          ? [
              { port: p.number, protocol: "TCP", lockedSince },
              { port: p.number, protocol: "UDP", lockedSince },
            ]
          : p.protocol === "TCP" || p.protocol === "UDP"
            ? [{ port: p.number, protocol: p.protocol, lockedSince }]
            : [];
      }),
    );
  return out;
}

/** Grants of approved requests (open from approval to expiry, revocation or expiry job) overlapping the batch. */
async function grants(
  m: EntityManager,
  tenantId: string,
  resourceIds: string[],
  from: string,
  to: string,
): Promise<Map<string, Grant[]>> {
  const out = new Map<string, Grant[]>();
  const rows = (await m.query(
    `SELECT resource_id, ports, host(source_ip) AS source_ip, decided_at, until FROM (
       SELECT resource_id, ports, source_ip, decided_at, LEAST(expires_at, coalesce(revoked_at, expires_at)) AS until
       FROM jit_requests
       WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND decided_at IS NOT NULL AND expires_at IS NOT NULL
         AND status IN ('APPROVED', 'REVOKED', 'EXPIRED')
     ) g WHERE decided_at <= $4 AND until >= $3`,
    [tenantId, resourceIds, from, to],
  )) as Array<{ resource_id: string; ports: number[]; source_ip: string; decided_at: Date; until: Date }>;
  for (const row of rows) {
    const list = out.get(row.resource_id) ?? [];
    list.push({
      ports: row.ports,
      sourceIp: row.source_ip,
      from: new Date(row.decided_at).getTime(),
      until: new Date(row.until).getTime(),
    });
    out.set(row.resource_id, list);
  }
  return out;
}

/** Whether the detections' built-in classification knows a path as critical (the default FIM watch list covers them all). */
export function isBuiltInCriticalPath(path: string): boolean {
  return classifyCriticalFile(path) !== "other";
}

/** Loads what the detections need to know about the machines of `records`, for one batch. */
export async function loadDetectionContext(
  m: EntityManager,
  tenantId: string,
  records: readonly TelemetryRecord[],
): Promise<DetectionContext> {
  const remote = records.filter((r) => r.kind === "flow" || r.kind === "logon");
  const resourceIds = [...new Set(remote.map((r) => r.resourceId))];
  const locked = resourceIds.length ? await lockedPorts(m, tenantId, resourceIds) : new Map<string, Port[]>();
  const withPolicy = [...locked.keys()];
  let granted = new Map<string, Grant[]>();
  if (withPolicy.length) {
    let first = Infinity;
    let last = -Infinity;
    for (const r of remote) {
      const t = Date.parse(r.time);
      if (t < first) first = t;
      if (t > last) last = t;
    }
    const iso = (ms: number) => new Date(ms).toISOString();
    granted = await grants(m, tenantId, withPolicy, iso(first), iso(last));
  }
  const machinesOf = (kind: TelemetryRecord["kind"]) => [
    ...new Set(records.filter((r) => r.kind === kind).map((r) => r.resourceId)),
  ];
  const appControl = await loadAppControlPolicies(m, tenantId, machinesOf("process"));
  const watchLists = await loadWatchLists(m, tenantId, machinesOf("file"));
  return {
    jitLockedPorts: (resourceId) => locked.get(resourceId) ?? [],
    appControlAllows: appControl.allows,
    appControlSince: appControl.since,
    isCriticalPath: (resourceId, path) =>
      (watchLists.get(resourceId)?.matcher ?? defaultWatchMatcher()).critical(path),
    jitGrantCovers: (resourceId, access) => {
      const at = Date.parse(access.time);
      return (granted.get(resourceId) ?? []).some(
        (g) => g.sourceIp === access.srcIp && g.ports.includes(access.port) && at >= g.from && at <= g.until,
      );
    },
  };
}
