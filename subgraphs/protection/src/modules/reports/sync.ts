/*
 * Keeping posture's view of protection up to date. Every change that can alter a report (findings
 * recomputed, a JIT policy set or removed, internet traffic first seen on a management port, an
 * application-control group learned or configured) calls `syncPostureReports` in its own transaction:
 * the reports of the machines it touched are recomputed, compared with what was last reported
 * (`posture_reports`), and each one that changed is stored with a new version and announced by a
 * `posture.assessment` outbox event — in that transaction, so a change and its report commit together.
 * The relay (`relay.ts`) delivers the current row of each announced report to posture.
 *
 * One tenant's syncs run one at a time (a transaction advisory lock, held until commit): a sync computes
 * after every earlier one committed, so the last report written always includes every change before it.
 */
import type { EntityManager } from "typeorm";
import { isUuid, writeOutbox } from "../../../../common/src";
import {
  POSTURE_ASSESSMENT_TOPIC,
  REPORT_DEFINITIONS,
  type PostureAssessmentPayload,
  type ReportKind,
  type ReportStatus,
} from "./definitions";
import {
  appControlReport,
  managementPortsReport,
  systemUpdatesReport,
  vulnerabilitiesReport,
  MANAGEMENT_PORTS,
  type JitPortInfo,
  type OpenFinding,
  type Report,
} from "./evaluate";
import { jitEnforcedSql } from "../jit/enforcement";
import { coveredSql } from "../plans/coverage";

/** The reports that depend on whether a plan covers the machine: recomputed when coverage may have changed. */
export const COVERAGE_REPORT_KINDS: readonly ReportKind[] = [
  "vulnerabilities",
  "system-updates",
  "management-ports",
  "app-control",
];

/**
 * Why a vulnerability-assessment report is withdrawn from a machine no plan covers: vulnerability assessment is a
 * workload-protection feature ("only on covered resources"), so an uncovered machine's findings are not shown on
 * it (`Resource.vulnerabilities` is empty) and do not count against its Secure Score.
 */
export const VA_NOT_COVERED_CAUSE =
  "Workload protection does not cover the machine (its plan is not on the STANDARD tier in its account): vulnerability assessment is not performed.";

/** Why a report that no longer applies is withdrawn. */
const WITHDRAWN: Record<ReportKind, string> = {
  vulnerabilities: "Workload protection no longer has a package inventory of the machine.",
  "system-updates": "Workload protection no longer has an operating-system package inventory of the machine.",
  "management-ports":
    "No internet traffic to a management port and no just-in-time policy: nothing to assess.",
  "app-control": "The machine is no longer in an application-control group.",
};

/** No report for the machine; one made before is withdrawn (NOT_APPLICABLE) with this cause. */
interface Withdrawal {
  withdraw: string;
}

type Desired = Map<string, Report | Withdrawal>;

async function vulnerabilityReports(
  m: EntityManager,
  tenantId: string,
  ids: string[],
  kinds: ReadonlySet<ReportKind>,
): Promise<Map<ReportKind, Desired>> {
  const snapshots = (await m.query(
    `SELECT resource_id, os->>'family' AS family FROM package_snapshots WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])`,
    [tenantId, ids],
  )) as Array<{ resource_id: string; family: string }>;
  const findings = (await m.query(
    `SELECT resource_id, advisory_id, cve, ecosystem, package, installed_version, fixed_version, severity
     FROM vulnerability_findings WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND status = 'OPEN'`,
    [tenantId, ids],
  )) as Array<Record<string, string | null> & { resource_id: string }>;
  const byResource = new Map<string, OpenFinding[]>();
  for (const f of findings) {
    const list = byResource.get(f.resource_id) ?? [];
    list.push({
      advisoryId: f.advisory_id!,
      cve: f.cve,
      ecosystem: f.ecosystem!,
      package: f.package!,
      installedVersion: f.installed_version!,
      fixedVersion: f.fixed_version,
      severity: f.severity!,
    });
    byResource.set(f.resource_id, list);
  }
  // Named apart from every column of `coveredSql`'s tables (`plans.id` would capture a bare `id`).
  const coveredRows = (await m.query(
    `SELECT va.resource_id FROM unnest($2::uuid[]) AS va(resource_id) WHERE ${coveredSql("$1", "va.resource_id")}`,
    [tenantId, ids],
  )) as Array<{ resource_id: string }>;
  const covered = new Set(coveredRows.map((r) => r.resource_id));
  const family = new Map(snapshots.map((s) => [s.resource_id, { family: s.family }]));
  const report = (id: string, of: typeof vulnerabilitiesReport): Report | Withdrawal =>
    covered.has(id)
      ? of(family.get(id) ?? null, byResource.get(id) ?? [])
      : { withdraw: VA_NOT_COVERED_CAUSE };
  const out = new Map<ReportKind, Desired>();
  if (kinds.has("vulnerabilities"))
    out.set("vulnerabilities", new Map(ids.map((id) => [id, report(id, vulnerabilitiesReport)])));
  if (kinds.has("system-updates"))
    out.set("system-updates", new Map(ids.map((id) => [id, report(id, systemUpdatesReport)])));
  return out;
}

async function managementPortReports(m: EntityManager, tenantId: string, ids: string[]): Promise<Desired> {
  const exposure = (await m.query(
    `SELECT resource_id, port, first_seen FROM management_port_exposure
     WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND port = ANY($3::int[])`,
    [tenantId, ids, Object.keys(MANAGEMENT_PORTS).map(Number)],
  )) as Array<{ resource_id: string; port: number; first_seen: Date }>;
  const policies = (await m.query(
    `SELECT resource_id, ports, ${jitEnforcedSql("p")} AS enforced FROM jit_policies p
     WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])`,
    [tenantId, ids],
  )) as Array<{ resource_id: string; ports: JitPortInfo[]; enforced: boolean }>;
  const jit = new Map(policies.map((p) => [p.resource_id, p]));
  return new Map(
    ids.map((id) => {
      const policy = jit.get(id);
      const seen = exposure
        .filter((e) => e.resource_id === id)
        .map((e) => ({ port: e.port, firstSeen: new Date(e.first_seen) }));
      return [id, managementPortsReport(seen, policy?.ports ?? null, policy?.enforced ?? true)];
    }),
  );
}

async function appControlReports(m: EntityManager, tenantId: string, ids: string[]): Promise<Desired> {
  const rows = (await m.query(
    `SELECT mem.resource_id, g.name, g.mode, ${coveredSql("mem.tenant_id", "mem.resource_id")} AS covered,
            (SELECT count(*)::int FROM app_control_rules r WHERE r.group_id = g.id AND r.status = 'APPROVED') AS approved,
            (SELECT count(*)::int FROM app_control_rules r WHERE r.group_id = g.id AND r.status = 'RECOMMENDED') AS recommended
     FROM app_control_members mem JOIN app_control_groups g ON g.id = mem.group_id
     WHERE mem.tenant_id = $1 AND mem.resource_id = ANY($2::uuid[])`,
    [tenantId, ids],
  )) as Array<{
    resource_id: string;
    name: string;
    mode: string;
    covered: boolean;
    approved: number;
    recommended: number;
  }>;
  const byId = new Map(rows.map((r) => [r.resource_id, r]));
  return new Map(ids.map((id) => [id, appControlReport(byId.get(id) ?? null)]));
}

/**
 * Recomputes `kinds` of the reports of `resourceIds` and stores and announces those that changed, in the
 * caller's transaction. Returns how many changed.
 */
export async function syncPostureReports(
  m: EntityManager,
  tenantId: string,
  resourceIds: readonly string[],
  kinds: readonly ReportKind[],
): Promise<number> {
  const ids = [...new Set(resourceIds.filter(isUuid))].sort();
  if (ids.length === 0 || kinds.length === 0) return 0;
  await m.query(`SELECT pg_advisory_xact_lock(hashtext('protection.posture-reports:' || $1))`, [tenantId]);
  const wanted = new Set(kinds);
  const desired = new Map<ReportKind, Desired>();
  if (wanted.has("vulnerabilities") || wanted.has("system-updates"))
    for (const [kind, map] of await vulnerabilityReports(m, tenantId, ids, wanted)) desired.set(kind, map);
  if (wanted.has("management-ports"))
    desired.set("management-ports", await managementPortReports(m, tenantId, ids));
  if (wanted.has("app-control")) desired.set("app-control", await appControlReports(m, tenantId, ids));

  const keys = [...desired.keys()].map((k) => REPORT_DEFINITIONS[k].key);
  const existing = (await m.query(
    `SELECT resource_id, definition_key, status, cause FROM posture_reports
     WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND definition_key = ANY($3::text[])`,
    [tenantId, ids, keys],
  )) as Array<{ resource_id: string; definition_key: string; status: ReportStatus; cause: string | null }>;
  const before = new Map(existing.map((e) => [`${e.resource_id}|${e.definition_key}`, e]));
  const changes: Array<{ resourceId: string; key: string; status: ReportStatus; cause: string | null }> = [];
  for (const [kind, map] of desired) {
    const key = REPORT_DEFINITIONS[kind].key;
    for (const id of ids) {
      const want = map.get(id) ?? { withdraw: WITHDRAWN[kind] };
      const had = before.get(`${id}|${key}`);
      const next =
        "withdraw" in want
          ? had && had.status !== "NOT_APPLICABLE"
            ? { status: "NOT_APPLICABLE" as const, cause: want.withdraw }
            : null
          : want;
      if (!next || (had && had.status === next.status && had.cause === next.cause)) continue;
      changes.push({ resourceId: id, key, status: next.status, cause: next.cause });
    }
  }
  if (changes.length === 0) return 0;
  const stored = (await m.query(
    `INSERT INTO posture_reports AS p (tenant_id, resource_id, definition_key, status, cause)
     SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[])
     ON CONFLICT (tenant_id, resource_id, definition_key) DO UPDATE
       SET status = excluded.status, cause = excluded.cause, version = p.version + 1, updated_at = now()
     RETURNING resource_id, definition_key, status, version::int AS version`,
    [
      tenantId,
      changes.map((c) => c.resourceId),
      changes.map((c) => c.key),
      changes.map((c) => c.status),
      changes.map((c) => c.cause),
    ],
  )) as Array<{ resource_id: string; definition_key: string; status: ReportStatus; version: number }>;
  await writeOutbox(
    m,
    stored.map((s) => ({
      tenantId,
      topic: POSTURE_ASSESSMENT_TOPIC,
      key: `${s.resource_id}/${s.definition_key}`,
      payload: {
        resourceId: s.resource_id,
        definitionKey: s.definition_key,
        version: s.version,
        status: s.status,
      } satisfies PostureAssessmentPayload,
    })),
  );
  return stored.length;
}
