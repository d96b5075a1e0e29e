import DataLoader from "dataloader";
import type { EntityManager } from "typeorm";
import {
  childConnectionLoader,
  isUuid,
  newId,
  RecordRejection,
  toPage,
  writeAudit,
  writeOutbox,
  Connection,
  type Identity,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { syncPostureReports } from "../reports/sync";
import { parseTelemetryRecord, type PackagesRecord } from "../telemetry/telemetry.model";
import { AdvisoryIndex, parseOsvAdvisory, type Advisory } from "./osv";
import type { Ecosystem } from "./versions";
import {
  FindingStatus,
  ImportAdvisoriesPayload,
  IngestPackagesPayload,
  VulnerabilityFinding,
  type VulnerabilitySummary,
  type VulnerabilityFilter,
} from "./vulnerabilities.types";

/** A page of findings. */
export const VulnerabilityFindingConnection = Connection(VulnerabilityFinding);
export type VulnerabilityFindingConnection = InstanceType<typeof VulnerabilityFindingConnection>;

const MAX_PER_CALL = 1000;
const OS_ECOSYSTEM: Record<string, string | undefined> = {
  debian: "Debian",
  alpine: "Alpine",
  rhel: undefined,
  windows: undefined,
};

function findingFromRow(row: Record<string, unknown>): VulnerabilityFinding {
  return Object.assign(new VulnerabilityFinding(), {
    id: row.id,
    advisoryId: row.advisory_id,
    cve: row.cve ?? null,
    aliases: row.aliases ?? [],
    summary: row.summary ?? null,
    cvssScore: row.cvss_score === null || row.cvss_score === undefined ? null : Number(row.cvss_score),
    severity: row.severity,
    ecosystem: row.ecosystem,
    package: row.package,
    installedVersion: row.installed_version,
    fixedVersion: row.fixed_version ?? null,
    status: row.status,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    fixedAt: row.fixed_at ?? null,
  });
}

/** Per-tenant advisory indexes, rebuilt when the tenant's advisories change. */
const indexes = new Map<string, { version: string; index: AdvisoryIndex }>();

async function advisoryIndex(m: EntityManager, tenantId: string): Promise<AdvisoryIndex> {
  const [{ version }]: Array<{ version: string }> = await m.query(
    `SELECT coalesce(max(imported_at)::text, '') || ':' || count(*) AS version FROM advisories WHERE tenant_id = $1`,
    [tenantId],
  );
  const hit = indexes.get(tenantId);
  if (hit && hit.version === version) return hit.index;
  const rows: Array<{ advisory: Advisory }> = await m.query(
    `SELECT advisory FROM advisories WHERE tenant_id = $1`,
    [tenantId],
  );
  const index = new AdvisoryIndex(rows.map((r) => r.advisory));
  if (indexes.size > 1000) indexes.clear();
  indexes.set(tenantId, { version, index });
  return index;
}

/**
 * Recomputes the findings of some machines from their latest package snapshot and the tenant's
 * advisories: new matches open findings, matches that a newer inventory no longer shows are
 * FIXED, and a fixed finding that matches again reopens. Coverage is applied when findings are
 * read (`Resource.vulnerabilities` knows the resource's type and account through federation), so
 * enabling a plan shows the findings at once.
 */
export async function recomputeFindings(
  m: EntityManager,
  tenantId: string,
  resourceIds?: readonly string[],
): Promise<{ opened: number; fixed: number }> {
  const index = await advisoryIndex(m, tenantId);
  const snapshots: Array<{
    resource_id: string;
    os: PackagesRecord["os"];
    packages: PackagesRecord["packages"];
  }> = await m.query(
    `SELECT resource_id, os, packages FROM package_snapshots WHERE tenant_id = $1 ${resourceIds ? "AND resource_id = ANY($2::uuid[])" : ""}`,
    resourceIds ? [tenantId, resourceIds] : [tenantId],
  );
  const desired: Array<{
    resourceId: string;
    advisory: Advisory;
    ecosystem: Ecosystem;
    name: string;
    version: string;
    fixed: string | null;
  }> = [];
  for (const s of snapshots) {
    const osEco = OS_ECOSYSTEM[s.os.family];
    for (const pkg of s.packages) {
      const osvEcosystem =
        osEco && pkg.ecosystem === osEco ? `${osEco}:${s.os.version.split(".")[0]}` : undefined;
      for (const { advisory, fixedVersion } of index.match({
        ecosystem: pkg.ecosystem as Ecosystem,
        name: pkg.name,
        version: pkg.version,
        osvEcosystem,
      })) {
        desired.push({
          resourceId: s.resource_id,
          advisory,
          ecosystem: pkg.ecosystem as Ecosystem,
          name: pkg.name,
          version: pkg.version,
          fixed: fixedVersion,
        });
      }
    }
  }
  const scope = snapshots.map((s) => s.resource_id);
  const cve = (a: Advisory) => [a.id, ...a.aliases].find((x) => /^CVE-\d{4}-\d+$/.test(x)) ?? null;
  const rows: Array<{ status: string; was: string | null }> = desired.length
    ? await m.query(
        `WITH input AS (
           SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::text[], $11::numeric[], $12::text[], $13::uuid[])
             AS i(resource_id, advisory_id, ecosystem, package, installed_version, fixed_version, cve, aliases, summary, cvss_score, severity, new_id)
         ), before AS (
           SELECT f.resource_id, f.advisory_id, f.ecosystem, f.package, f.status FROM vulnerability_findings f
           JOIN input i USING (resource_id, advisory_id, ecosystem, package) WHERE f.tenant_id = $1
         )
         INSERT INTO vulnerability_findings AS f (tenant_id, id, resource_id, advisory_id, ecosystem, package, installed_version, fixed_version,
                                                  cve, aliases, summary, cvss_score, severity, status)
         SELECT $1, new_id, resource_id, advisory_id, ecosystem, package, installed_version, fixed_version, cve,
                ARRAY(SELECT jsonb_array_elements_text(aliases)), summary, cvss_score, severity, 'OPEN' FROM input
         ON CONFLICT (tenant_id, resource_id, advisory_id, ecosystem, package) DO UPDATE SET
           installed_version = excluded.installed_version, fixed_version = excluded.fixed_version, last_seen = now(),
           status = 'OPEN', fixed_at = NULL, severity = excluded.severity, cvss_score = excluded.cvss_score, summary = excluded.summary
         RETURNING f.status, (SELECT b.status FROM before b WHERE b.resource_id = f.resource_id AND b.advisory_id = f.advisory_id
                              AND b.ecosystem = f.ecosystem AND b.package = f.package) AS was`,
        [
          tenantId,
          desired.map((d) => d.resourceId),
          desired.map((d) => d.advisory.id),
          desired.map((d) => d.ecosystem),
          desired.map((d) => d.name),
          desired.map((d) => d.version),
          desired.map((d) => d.fixed),
          desired.map((d) => cve(d.advisory)),
          desired.map((d) => JSON.stringify(d.advisory.aliases)),
          desired.map((d) => d.advisory.summary),
          desired.map((d) => d.advisory.severity.cvssScore),
          desired.map((d) => d.advisory.severity.level),
          desired.map(() => newId()),
        ],
      )
    : [];
  const opened = rows.filter((r) => r.was !== "OPEN").length;
  const fixedRows: Array<{ id: string }> = scope.length
    ? await m.query(
        `WITH fixed AS (
           UPDATE vulnerability_findings f SET status = 'FIXED', fixed_at = now()
           WHERE f.tenant_id = $1 AND f.resource_id = ANY($2::uuid[]) AND f.status = 'OPEN'
             AND NOT EXISTS (SELECT 1 FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) AS d(r, a, e, p)
                             WHERE d.r = f.resource_id AND d.a = f.advisory_id AND d.e = f.ecosystem AND d.p = f.package)
           RETURNING f.id
         ) SELECT id FROM fixed`,
        [
          tenantId,
          scope,
          desired.map((d) => d.resourceId),
          desired.map((d) => d.advisory.id),
          desired.map((d) => d.ecosystem),
          desired.map((d) => d.name),
        ],
      )
    : [];
  if (opened || fixedRows.length) {
    await writeOutbox(m, [
      {
        tenantId,
        topic: "vulnerabilities.findings.changed",
        key: tenantId,
        payload: { resources: scope.length, opened, fixed: fixedRows.length },
      },
    ]);
  }
  // The machines' "Remediate vulnerabilities" and "Apply system updates" reports to posture.
  await syncPostureReports(m, tenantId, scope, ["vulnerabilities", "system-updates"]);
  return { opened, fixed: fixedRows.length };
}

/**
 * Stores package snapshots in the caller's transaction (the newest per machine, in the batch and against
 * the stored one, replaces the previous one; older ones are stale) and recomputes the findings of the machines whose snapshot changed. Used by
 * `ingestPackageInventory` and by telemetry ingest (records of kind `packages`).
 */
export async function storePackageSnapshots(
  m: EntityManager,
  tenantId: string,
  snapshots: readonly PackagesRecord[],
): Promise<{ accepted: number; stale: number; opened: number; fixed: number }> {
  if (snapshots.length === 0) return { accepted: 0, stale: 0, opened: 0, fixed: 0 };
  // One row per machine per statement (ON CONFLICT cannot update a row twice): the newest of the batch.
  const newest = new Map<string, PackagesRecord>();
  for (const s of snapshots) {
    const kept = newest.get(s.resourceId);
    if (!kept || Date.parse(s.time) > Date.parse(kept.time)) newest.set(s.resourceId, s);
  }
  const latest = [...newest.values()];
  const rows: Array<{ resource_id: string }> = await m.query(
    `INSERT INTO package_snapshots AS s (tenant_id, resource_id, taken_at, os, packages)
     SELECT $1, r, t, o, p FROM unnest($2::uuid[], $3::timestamptz[], $4::jsonb[], $5::jsonb[]) AS i(r, t, o, p)
     ON CONFLICT (tenant_id, resource_id) DO UPDATE SET taken_at = excluded.taken_at, os = excluded.os, packages = excluded.packages, received_at = now()
       WHERE excluded.taken_at > s.taken_at
     RETURNING resource_id`,
    [
      tenantId,
      latest.map((s) => s.resourceId),
      latest.map((s) => s.time),
      latest.map((s) => JSON.stringify(s.os)),
      latest.map((s) => JSON.stringify(s.packages)),
    ],
  );
  if (rows.length === 0) return { accepted: 0, stale: snapshots.length, opened: 0, fixed: 0 };
  const { opened, fixed } = await recomputeFindings(
    m,
    tenantId,
    rows.map((r) => r.resource_id),
  );
  return { accepted: rows.length, stale: snapshots.length - rows.length, opened, fixed };
}

/** Vulnerability assessment: advisories, package inventories, findings. */
export class VulnerabilitiesService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Imports OSV advisories (idempotent on id + modified) and re-matches every machine. */
  async importAdvisories(osv: unknown[]): Promise<ImportAdvisoriesPayload> {
    const payload = Object.assign(new ImportAdvisoriesPayload(), {
      importedCount: 0,
      unchangedCount: 0,
      rejected: [] as RecordRejection[],
    });
    if (osv.length > MAX_PER_CALL) {
      payload.rejected.push(
        RecordRejection.from({ field: "osv", message: `at most ${MAX_PER_CALL} advisories per call` }),
      );
      return payload;
    }
    const good: Advisory[] = [];
    osv.forEach((json, index) => {
      const parsed = parseOsvAdvisory(json);
      if ("problems" in parsed)
        for (const p of parsed.problems.slice(0, 5))
          payload.rejected.push(RecordRejection.from({ index, field: p.path, message: p.message }));
      else good.push(parsed.advisory);
    });
    if (good.length === 0) return payload;
    return this.db.write(async (m) => {
      const rows: Array<{ id: string }> = await m.query(
        `INSERT INTO advisories AS a (tenant_id, id, advisory, modified)
         SELECT $1, id, adv, modified FROM unnest($2::text[], $3::jsonb[], $4::timestamptz[]) AS i(id, adv, modified)
         ON CONFLICT (tenant_id, id) DO UPDATE SET advisory = excluded.advisory, modified = excluded.modified, imported_at = now()
           WHERE excluded.modified > a.modified
         RETURNING id`,
        [
          this.identity.tenantId,
          good.map((a) => a.id),
          good.map((a) => JSON.stringify(a)),
          good.map((a) => a.modified),
        ],
      );
      payload.importedCount = rows.length;
      payload.unchangedCount = good.length - rows.length;
      if (rows.length) await recomputeFindings(m, this.identity.tenantId);
      await writeAudit(m, this.identity, [
        {
          action: "vulnerabilities.advisories.import",
          target: "advisories",
          details: { imported: rows.length },
        },
      ]);
      return payload;
    });
  }

  /** Stores package snapshots (the newest per machine wins) and recomputes those machines' findings. */
  async ingestPackages(records: unknown[]): Promise<IngestPackagesPayload> {
    const payload = Object.assign(new IngestPackagesPayload(), {
      acceptedCount: 0,
      staleCount: 0,
      openedCount: 0,
      fixedCount: 0,
      rejected: [] as RecordRejection[],
    });
    if (records.length > MAX_PER_CALL) {
      payload.rejected.push(
        RecordRejection.from({ field: "records", message: `at most ${MAX_PER_CALL} records per call` }),
      );
      return payload;
    }
    const snapshots: PackagesRecord[] = [];
    records.forEach((value, index) => {
      const parsed = parseTelemetryRecord(value);
      if ("reason" in parsed)
        payload.rejected.push(RecordRejection.from({ index, field: "record", message: parsed.reason }));
      else if (parsed.record.kind !== "packages")
        payload.rejected.push(RecordRejection.from({ index, field: "kind", message: 'must be "packages"' }));
      else snapshots.push(parsed.record as PackagesRecord);
    });
    if (snapshots.length === 0) return payload;
    return this.db.write(async (m) => {
      const stored = await storePackageSnapshots(m, this.identity.tenantId, snapshots);
      return Object.assign(payload, {
        acceptedCount: stored.accepted,
        staleCount: stored.stale,
        openedCount: stored.opened,
        fixedCount: stored.fixed,
      });
    });
  }

  /** Findings of many resources, paged per resource in one statement (by severity, then advisory). */
  private readonly byResource = new Map<
    string,
    ReturnType<typeof childConnectionLoader<VulnerabilityFinding>>
  >();

  /** A page of a resource's findings. */
  async forResource(
    resourceId: string,
    filter: VulnerabilityFilter | undefined,
    args: PageArgs,
  ): Promise<VulnerabilityFindingConnection> {
    const page = toPage(args);
    const key = JSON.stringify([filter?.severities ?? null, filter?.status ?? FindingStatus.OPEN]);
    let loader = this.byResource.get(key);
    if (!loader) {
      loader = childConnectionLoader<VulnerabilityFinding>(async (ids, p) => {
        const rows: Array<Record<string, unknown> & { total: number }> = await this.db.read((m) =>
          m.query(
            `SELECT * FROM (
               SELECT f.*, count(*) OVER (PARTITION BY f.resource_id)::int AS total,
                      row_number() OVER (PARTITION BY f.resource_id ORDER BY f.id) AS rn
               FROM vulnerability_findings f
               WHERE f.tenant_id = $1 AND f.resource_id = ANY($2::uuid[]) AND f.status = $3 AND ($4::text[] IS NULL OR f.severity = ANY($4::text[]))
                 AND ($5::uuid IS NULL OR f.id > $5::uuid)
             ) x WHERE rn <= $6`,
            [
              this.identity.tenantId,
              ids.filter(isUuid),
              filter?.status ?? FindingStatus.OPEN,
              filter?.severities ?? null,
              p.after?.[1] ?? null,
              p.first + 1,
            ],
          ),
        );
        const out = new Map<string, { rows: VulnerabilityFinding[]; total: number }>();
        for (const row of rows) {
          const entry = out.get(row.resource_id as string) ?? { rows: [], total: row.total };
          entry.rows.push(findingFromRow(row));
          out.set(row.resource_id as string, entry);
        }
        return out;
      });
      this.byResource.set(key, loader);
    }
    const { rows, total } = await loader.load({ parentId: resourceId, page });
    return VulnerabilityFindingConnection.from({ rows, page, total, cursorOf: (f) => [null, f.id] });
  }

  /** Open findings by severity, for many resources in one statement. */
  readonly summary = new DataLoader<string, Omit<VulnerabilitySummary, "covered">>(async (ids) => {
    const rows: Array<{ resource_id: string; severity: string; n: number }> = await this.db.read((m) =>
      m.query(
        `SELECT resource_id, severity, count(*)::int AS n FROM vulnerability_findings
         WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND status = 'OPEN' GROUP BY resource_id, severity`,
        [this.identity.tenantId, ids.filter(isUuid)],
      ),
    );
    return ids.map((id) => {
      const n = (s: string) => rows.find((r) => r.resource_id === id && r.severity === s)?.n ?? 0;
      const counts = {
        critical: n("CRITICAL"),
        high: n("HIGH"),
        medium: n("MEDIUM"),
        low: n("LOW"),
        unknown: n("UNKNOWN"),
      };
      return { ...counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
    });
  });
}
