import DataLoader from "dataloader";
import type { EntityManager } from "typeorm";
import {
  addJob,
  childConnectionLoader,
  childPagesSql,
  groupChildRows,
  copyInsertNew,
  assertNoProblems,
  BadUserInputError,
  canonicalId,
  isUuid,
  parameterTextProblems,
  newId,
  OrderDirection,
  RecordRejection,
  Role,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  Connection,
  type CursorKey,
  type CursorValueKind,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { checkAgentCredential, otherMachineMessage, unboundAgent } from "../agentpolicy/credentials.service";
import { syncPostureReports } from "../reports/sync";
import { parseTelemetryRecord, type PackagesRecord } from "../telemetry/telemetry.model";
import { SnapshotMatcher, findingKey, type DesiredFinding } from "./matching";
import { AdvisoryIndex, parseOsvAdvisory, type Advisory } from "./osv";
import {
  FindingStatus,
  ImportAdvisoriesPayload,
  IngestPackagesPayload,
  VulnerabilityExposure,
  VulnerabilityFindingOrderField,
  VulnerabilityMatchingStatus,
  VulnerabilityFinding,
  VulnerabilitySeverity,
  type VulnerabilityFindingFilter,
  type VulnerabilityFindingOrder,
  type VulnerabilitySummary,
  type VulnerabilityFilter,
} from "./vulnerabilities.types";

/** A CVE id as `vulnerabilityFindings` and `vulnerabilityExposure` take it. */
const CVE_ID = /^CVE-\d{4}-\d{4,}$/i;
/** Most values per list of the findings filter. */
const MAX_FILTER_VALUES = 100;
/** Severity as a number, for ordering (`f` is `vulnerability_findings`). */
const SEVERITY_RANK_SQL = `CASE f.severity WHEN 'CRITICAL' THEN 4 WHEN 'HIGH' THEN 3 WHEN 'MEDIUM' THEN 2 WHEN 'LOW' THEN 1 ELSE 0 END`;
/** Each ordering's sort expression (an int or a millisecond timestamp, so cursors round-trip) and cursor kind. */
const FINDING_ORDER: Record<VulnerabilityFindingOrderField, { sql: string; kind: CursorValueKind }> = {
  [VulnerabilityFindingOrderField.SEVERITY]: { sql: SEVERITY_RANK_SQL, kind: "int" },
  // Tenths of a point; no score sorts below every score.
  [VulnerabilityFindingOrderField.CVSS_SCORE]: {
    sql: `coalesce(round(f.cvss_score * 10), -1)::int`,
    kind: "int",
  },
  [VulnerabilityFindingOrderField.FIRST_SEEN]: {
    sql: `date_trunc('milliseconds', f.first_seen)`,
    kind: "time",
  },
  [VulnerabilityFindingOrderField.LAST_SEEN]: {
    sql: `date_trunc('milliseconds', f.last_seen)`,
    kind: "time",
  },
};
const DEFAULT_FINDING_ORDER = {
  field: VulnerabilityFindingOrderField.SEVERITY,
  direction: OrderDirection.DESC,
};

/** Problems of a findings filter (CVE ids, resource ids, list sizes). */
function findingFilterProblems(filter: VulnerabilityFindingFilter | undefined): InputProblem[] {
  const problems: InputProblem[] = [];
  const lists = { cves: filter?.cves, resourceIds: filter?.resourceIds, packages: filter?.packages };
  for (const [field, values] of Object.entries(lists))
    if (values && values.length > MAX_FILTER_VALUES)
      problems.push({ field: `filter.${field}`, message: `at most ${MAX_FILTER_VALUES} values` });
  (filter?.cves ?? []).forEach((cve, index) => {
    if (!CVE_ID.test(cve))
      problems.push({ index, field: "filter.cves", message: "must be a CVE id (CVE-YYYY-NNNN)" });
  });
  (filter?.resourceIds ?? []).forEach((id, index) => {
    if (!isUuid(id))
      problems.push({ index, field: "filter.resourceIds", message: "must be a resource id (UUID)" });
  });
  problems.push(...parameterTextProblems({ "filter.packages": filter?.packages }));
  return problems;
}

/** A page of findings. */
export const VulnerabilityFindingConnection = Connection(VulnerabilityFinding);
export type VulnerabilityFindingConnection = InstanceType<typeof VulnerabilityFindingConnection>;

const MAX_PER_CALL = 1000;

/** The durable job that re-matches a tenant's whole fleet after its advisories changed. */
export const REMATCH_TASK = "vulnerabilities_rematch";

/** One pending re-match per tenant: imports in quick succession replace it instead of queueing more. */
export const rematchJobKey = (tenantId: string) => `vulnerabilities-rematch:${tenantId}`;

/**
 * How long after an import the re-match starts. A feed is imported in calls of up to 1,000 advisories;
 * each call pushes the pending job back, so a burst of calls is matched once, after the last.
 */
export const REMATCH_DELAY_MS = 2000;

/** Machines per re-match transaction: big enough to amortise the statements, small enough to hold few locks. */
export const REMATCH_BATCH = 250;

/**
 * Re-match transactions in flight: while one waits for Postgres (reading snapshots, writing findings),
 * the other matches in JavaScript, so the process and the database work at the same time.
 */
export const REMATCH_PARALLEL = 2;

function findingFromRow(row: Record<string, unknown>): VulnerabilityFinding {
  return Object.assign(new VulnerabilityFinding(), {
    id: row.id,
    resourceId: row.resource_id,
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

/** The revision of a tenant's advisories (0 before the first import). */
export async function advisoryRevision(m: EntityManager, tenantId: string): Promise<string> {
  const rows: Array<{ revision: string }> = await m.query(
    `SELECT revision::text AS revision FROM advisory_revisions WHERE tenant_id = $1`,
    [tenantId],
  );
  return rows[0]?.revision ?? "0";
}

/**
 * Per-tenant matchers (advisory index and its memo), rebuilt when the tenant's advisory revision moves:
 * advisories are parsed once per process and revision, not once per match.
 */
const matchers = new Map<string, { revision: string; matcher: Promise<SnapshotMatcher> }>();

async function snapshotMatcher(
  m: EntityManager,
  tenantId: string,
  revision?: string,
): Promise<SnapshotMatcher> {
  const current = revision ?? (await advisoryRevision(m, tenantId));
  const hit = matchers.get(tenantId);
  if (hit && hit.revision === current) return hit.matcher;
  // Shared while it loads: concurrent batches of one re-match parse the advisories once.
  const matcher = (async () => {
    const rows: Array<{ advisory: Advisory }> = await m.query(
      `SELECT advisory FROM advisories WHERE tenant_id = $1`,
      [tenantId],
    );
    return new SnapshotMatcher(new AdvisoryIndex(rows.map((r) => r.advisory)));
  })();
  if (matchers.size > 1000) matchers.clear();
  matchers.set(tenantId, { revision: current, matcher });
  matcher.catch(() => {
    if (matchers.get(tenantId)?.matcher === matcher) matchers.delete(tenantId);
  });
  return matcher;
}

/** A machine's stored package snapshot. */
interface SnapshotRow {
  resource_id: string;
  os: PackagesRecord["os"];
  packages: PackagesRecord["packages"];
}

/** A stored finding, as far as matching compares it. */
export interface StoredFinding {
  id: string;
  resource_id: string;
  advisory_id: string;
  ecosystem: string;
  package: string;
  installed_version: string;
  fixed_version: string | null;
  cve: string | null;
  aliases: string[];
  summary: string | null;
  cvss_score: string | null;
  severity: string;
  status: string;
}

/** The columns a new finding is written with (COPY order). */
export const FINDING_COLUMNS = [
  "tenant_id",
  "id",
  "resource_id",
  "advisory_id",
  "ecosystem",
  "package",
  "installed_version",
  "fixed_version",
  "cve",
  "aliases",
  "summary",
  "cvss_score",
  "severity",
  "status",
] as const;

const cveOf = (a: Advisory) => [a.id, ...a.aliases].find((x) => /^CVE-\d{4}-\d+$/.test(x)) ?? null;

/** A text[] value in COPY's text format (elements double-quoted and escaped). */
const pgTextArray = (values: readonly string[]) =>
  `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(",")}}`;

/** Whether a stored finding already says what matching found (nothing to write). */
function unchanged(stored: StoredFinding, d: DesiredFinding): boolean {
  const a = d.advisory;
  return (
    stored.status === "OPEN" &&
    stored.installed_version === d.installedVersion &&
    stored.fixed_version === d.fixedVersion &&
    stored.severity === a.severity.level &&
    (stored.cvss_score === null ? null : Number(stored.cvss_score)) === a.severity.cvssScore &&
    stored.summary === a.summary &&
    stored.cve === cveOf(a) &&
    stored.aliases.length === a.aliases.length &&
    stored.aliases.every((x, i) => x === a.aliases[i])
  );
}

/**
 * The stored findings that carry on under another advisory id, by the desired finding's key. Matching
 * shows a vulnerability published under several ids once, under the advisory of the group it keeps (the
 * highest score); when a new advisory joins the group, or the kept one is rescored, the id the group is
 * shown under changes though the flaw on the machine is the same; so does it when the advisory kept
 * before stops matching while another naming the same flaw still does. Such a finding keeps its identity
 * (its id, first-seen time and history) and takes the new id, rather than being marked FIXED beside a new
 * OPEN copy. A desired finding with no stored finding under its own key takes a stored finding of the same
 * package that shares a name with it (an id or alias of one is an id or alias of the other) and that no
 * desired finding claims under its own key; an OPEN one before a FIXED one, then the smallest id, so the
 * choice is repeatable.
 */
function carriedFindings(
  mine: ReadonlyMap<string, StoredFinding>,
  desired: ReadonlyMap<string, DesiredFinding>,
): Map<string, StoredFinding> {
  const carried = new Map<string, StoredFinding>();
  if (desired.size === 0 || mine.size === 0) return carried;
  let byName: Map<string, StoredFinding[]> | null = null;
  const claimed = new Set<string>();
  for (const [key, d] of desired) {
    if (mine.has(key)) continue;
    if (byName === null) {
      byName = new Map();
      for (const [storedKey, f] of mine) {
        if (desired.has(storedKey)) continue;
        for (const id of new Set([f.advisory_id, ...f.aliases].map((x) => x.trim().toUpperCase()))) {
          const name = findingKey(id, f.ecosystem, f.package);
          const list = byName.get(name);
          if (list === undefined) byName.set(name, [f]);
          else list.push(f);
        }
      }
    }
    let best: StoredFinding | undefined;
    for (const name of [d.advisory.id, ...d.advisory.aliases]) {
      for (const f of byName.get(findingKey(name.trim().toUpperCase(), d.ecosystem, d.package)) ?? []) {
        if (claimed.has(f.id)) continue;
        const better =
          best === undefined ||
          (f.status === "OPEN" && best.status !== "OPEN") ||
          (f.status === best.status && f.id < best.id);
        if (better) best = f;
      }
    }
    if (best !== undefined) {
      claimed.add(best.id);
      carried.set(key, best);
    }
  }
  return carried;
}

/**
 * Brings the stored findings of some machines in line with what their snapshots match, writing only the
 * differences: new matches are inserted OPEN, changed ones (version, fix, advisory text, a FIXED one
 * matching again) updated and reopened, OPEN ones no longer matched marked FIXED. `inventory`: the
 * snapshots were just received, so the findings they still show get `last_seen` now. Returns the
 * machines whose findings changed.
 */
async function applyFindings(
  m: EntityManager,
  tenantId: string,
  matcher: SnapshotMatcher,
  snapshots: readonly SnapshotRow[],
  inventory: boolean,
): Promise<{ opened: number; fixed: number; changed: string[] }> {
  const ids = snapshots.map((s) => s.resource_id);
  const stored: StoredFinding[] = ids.length
    ? await m.query(
        `SELECT id, resource_id, advisory_id, ecosystem, package, installed_version, fixed_version, cve, aliases,
                summary, cvss_score::text AS cvss_score, severity, status
         FROM vulnerability_findings WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])`,
        [tenantId, ids],
      )
    : [];
  const storedBy = new Map<string, Map<string, StoredFinding>>();
  for (const f of stored) {
    let mine = storedBy.get(f.resource_id);
    if (!mine) storedBy.set(f.resource_id, (mine = new Map()));
    mine.set(findingKey(f.advisory_id, f.ecosystem, f.package), f);
  }
  const inserts: unknown[][] = [];
  const updates: Array<{ id: string; d: DesiredFinding }> = [];
  const touched: string[] = [];
  const fixed: string[] = [];
  const changed = new Set<string>();
  let reopened = 0;
  for (const s of snapshots) {
    const mine = storedBy.get(s.resource_id) ?? new Map<string, StoredFinding>();
    const desired = matcher.findings(s.os, s.packages);
    const carried = carriedFindings(mine, desired);
    for (const [key, d] of desired) {
      const f = mine.get(key) ?? carried.get(key);
      if (f === undefined) {
        const a = d.advisory;
        inserts.push([
          tenantId,
          newId(),
          s.resource_id,
          a.id,
          d.ecosystem,
          d.package,
          d.installedVersion,
          d.fixedVersion,
          cveOf(a),
          pgTextArray(a.aliases),
          a.summary,
          a.severity.cvssScore,
          a.severity.level,
          "OPEN",
        ]);
        changed.add(s.resource_id);
      } else if (f.advisory_id !== d.advisory.id || !unchanged(f, d)) {
        updates.push({ id: f.id, d });
        if (f.status !== "OPEN") reopened++;
        changed.add(s.resource_id);
      } else if (inventory) {
        touched.push(f.id);
      }
    }
    const kept = new Set([...carried.values()].map((f) => f.id));
    for (const [key, f] of mine) {
      if (f.status === "OPEN" && !desired.has(key) && !kept.has(f.id)) {
        fixed.push(f.id);
        changed.add(s.resource_id);
      }
    }
  }
  let inserted = 0;
  if (inserts.length) {
    const result = await copyInsertNew<{ id: string }>(m, {
      table: "vulnerability_findings",
      columns: FINDING_COLUMNS,
      rows: inserts,
      conflict: "(tenant_id, resource_id, advisory_id, ecosystem, package)",
      returning: "id",
    });
    inserted = result.count;
  }
  if (updates.length)
    await m.query(
      `UPDATE vulnerability_findings f SET advisory_id = u.advisory_id, installed_version = u.installed_version,
         fixed_version = u.fixed_version, cve = u.cve, aliases = ARRAY(SELECT jsonb_array_elements_text(u.aliases)),
         summary = u.summary, cvss_score = u.cvss_score, severity = u.severity, status = 'OPEN', fixed_at = NULL,
         last_seen = now()
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::numeric[], $9::text[],
                   $10::text[])
         AS u(id, installed_version, fixed_version, cve, aliases, summary, cvss_score, severity, advisory_id)
       WHERE f.tenant_id = $1 AND f.id = u.id`,
      [
        tenantId,
        updates.map((u) => u.id),
        updates.map((u) => u.d.installedVersion),
        updates.map((u) => u.d.fixedVersion),
        updates.map((u) => cveOf(u.d.advisory)),
        updates.map((u) => JSON.stringify(u.d.advisory.aliases)),
        updates.map((u) => u.d.advisory.summary),
        updates.map((u) => u.d.advisory.severity.cvssScore),
        updates.map((u) => u.d.advisory.severity.level),
        updates.map((u) => u.d.advisory.id),
      ],
    );
  if (touched.length)
    await m.query(
      `UPDATE vulnerability_findings SET last_seen = now() WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
      [tenantId, touched],
    );
  if (fixed.length)
    await m.query(
      `UPDATE vulnerability_findings SET status = 'FIXED', fixed_at = now() WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
      [tenantId, fixed],
    );
  const opened = inserted + reopened;
  if (opened || fixed.length) {
    await writeOutbox(m, [
      {
        tenantId,
        topic: "vulnerabilities.findings.changed",
        key: tenantId,
        payload: { resources: changed.size, opened, fixed: fixed.length },
      },
    ]);
  }
  return { opened, fixed: fixed.length, changed: [...changed] };
}

/**
 * Recomputes the findings of machines from the package snapshots just stored for them, in the caller's
 * transaction (which wrote those snapshots and holds their rows locked): new matches open findings,
 * matches that the new inventory no longer shows are FIXED, and a fixed finding that matches again
 * reopens. Coverage is applied when findings are read (`Resource.vulnerabilities` knows the resource's
 * type and account through federation), so enabling a plan shows the findings at once.
 */
async function recomputeFindings(
  m: EntityManager,
  tenantId: string,
  snapshots: readonly SnapshotRow[],
): Promise<{ opened: number; fixed: number }> {
  const matcher = await snapshotMatcher(m, tenantId);
  const { opened, fixed } = await applyFindings(m, tenantId, matcher, snapshots, true);
  // The machines' "Remediate vulnerabilities" and "Apply system updates" reports to posture.
  await syncPostureReports(
    m,
    tenantId,
    snapshots.map((s) => s.resource_id),
    ["vulnerabilities", "system-updates"],
  );
  return { opened, fixed };
}

/**
 * Records that a fleet re-match against `revision` completed (it never moves back: a slower, older run
 * finishing late does not undo a newer one).
 */
export async function markFleetMatched(m: EntityManager, tenantId: string, revision: string): Promise<void> {
  await m.query(
    `UPDATE advisory_revisions SET matched_revision = greatest(matched_revision, $2::bigint), matched_at = now()
     WHERE tenant_id = $1`,
    [tenantId, revision],
  );
}

/**
 * One batch of a fleet re-match, in the caller's transaction: the machines `resourceIds` that still have a
 * snapshot, locked in id order (as an inventory locks them) so that an inventory arriving meanwhile waits,
 * or is waited for, and the findings always follow the newest snapshot. `superseded` when the tenant's
 * advisories moved past `revision`: the import that moved them queued its own re-match, which will cover
 * every machine.
 */
export async function rematchBatch(
  m: EntityManager,
  tenantId: string,
  revision: string,
  resourceIds: readonly string[],
): Promise<
  | { superseded: true }
  | { superseded: false; machines: number; changed: number; opened: number; fixed: number }
> {
  if ((await advisoryRevision(m, tenantId)) !== revision) return { superseded: true };
  const matcher = await snapshotMatcher(m, tenantId, revision);
  const snapshots: SnapshotRow[] = await m.query(
    `SELECT resource_id, os, packages FROM package_snapshots
     WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) ORDER BY resource_id FOR UPDATE`,
    [tenantId, resourceIds],
  );
  const { opened, fixed, changed } = await applyFindings(m, tenantId, matcher, snapshots, false);
  // Only a machine whose findings changed can have a different report.
  await syncPostureReports(m, tenantId, changed, ["vulnerabilities", "system-updates"]);
  return { superseded: false, machines: snapshots.length, changed: changed.length, opened, fixed };
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
  // Keyed by the canonical (lower-case) id, the form Postgres answers with.
  const newest = new Map<string, PackagesRecord>();
  for (const s of snapshots) {
    const id = s.resourceId.toLowerCase();
    const kept = newest.get(id);
    if (!kept || Date.parse(s.time) > Date.parse(kept.time)) newest.set(id, s);
  }
  // In id order, as a fleet re-match locks them: two transactions locking the same machines never deadlock.
  const ids = [...newest.keys()].sort();
  // One JSON document for the batch: a jsonb[] parameter would make pg escape every quote of every list.
  const rows: Array<{ resource_id: string }> = await m.query(
    `INSERT INTO package_snapshots AS s (tenant_id, resource_id, taken_at, os, packages)
     SELECT $1, i.r, i.t, i.o, i.p FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (r uuid, t timestamptz, o jsonb, p jsonb)) WITH ORDINALITY AS i(r, t, o, p, n)
     ORDER BY i.n
     ON CONFLICT (tenant_id, resource_id) DO UPDATE SET taken_at = excluded.taken_at, os = excluded.os, packages = excluded.packages, received_at = now()
       WHERE excluded.taken_at > s.taken_at
     RETURNING resource_id`,
    [
      tenantId,
      JSON.stringify(
        ids.map((id) => {
          const s = newest.get(id)!;
          return { r: id, t: s.time, o: s.os, p: s.packages };
        }),
      ),
    ],
  );
  if (rows.length === 0) return { accepted: 0, stale: snapshots.length, opened: 0, fixed: 0 };
  // The snapshots just stored are matched as they are in memory, not read back.
  const { opened, fixed } = await recomputeFindings(
    m,
    tenantId,
    rows.map(({ resource_id }) => {
      const s = newest.get(resource_id)!;
      return { resource_id, os: s.os, packages: s.packages };
    }),
  );
  return { accepted: rows.length, stale: snapshots.length - rows.length, opened, fixed };
}

/** Vulnerability assessment: advisories, package inventories, findings. */
export class VulnerabilitiesService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /**
   * Imports OSV advisories (idempotent on id + modified) and queues the re-match of every machine
   * (`REMATCH_TASK`), which runs a moment later and stores the findings batch by batch.
   */
  async importAdvisories(osv: unknown[]): Promise<ImportAdvisoriesPayload> {
    const payload = Object.assign(new ImportAdvisoriesPayload(), {
      importedCount: 0,
      unchangedCount: 0,
      rejected: [] as RecordRejection[],
      advisoryRevision: 0,
    });
    const withCurrentRevision = async () => {
      payload.advisoryRevision = Number(
        await this.db.read((m) => advisoryRevision(m, this.identity.tenantId)),
      );
      return payload;
    };
    if (osv.length > MAX_PER_CALL) {
      payload.rejected.push(
        RecordRejection.from({ field: "osv", message: `at most ${MAX_PER_CALL} advisories per call` }),
      );
      return withCurrentRevision();
    }
    // One advisory per id (an upsert cannot change a row twice): the newest, the later one on a tie.
    const byId = new Map<string, Advisory>();
    let parsedCount = 0;
    osv.forEach((json, index) => {
      const parsed = parseOsvAdvisory(json);
      if ("problems" in parsed)
        for (const p of parsed.problems.slice(0, 5))
          payload.rejected.push(RecordRejection.from({ index, field: p.path, message: p.message }));
      else {
        parsedCount++;
        const kept = byId.get(parsed.advisory.id);
        if (!kept || Date.parse(parsed.advisory.modified) >= Date.parse(kept.modified))
          byId.set(parsed.advisory.id, parsed.advisory);
      }
    });
    // In id order, so two imports of overlapping advisories wait for each other instead of deadlocking.
    const good = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (good.length === 0) return withCurrentRevision();
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
          // As an instant: Postgres reads no offset beyond ±15:59, which RFC 3339 allows.
          good.map((a) => new Date(a.modified).toISOString()),
        ],
      );
      payload.importedCount = rows.length;
      payload.unchangedCount = parsedCount - rows.length;
      if (rows.length) {
        const [{ revision }]: Array<{ revision: string }> = await m.query(
          `INSERT INTO advisory_revisions AS r (tenant_id, revision) VALUES ($1, 1)
           ON CONFLICT (tenant_id) DO UPDATE SET revision = r.revision + 1
           RETURNING revision::text AS revision`,
          [this.identity.tenantId],
        );
        payload.advisoryRevision = Number(revision);
        // Matching the fleet is a job, in batches of machines per transaction: the import stays short, and
        // the calls of one feed import share one re-match (each replaces the pending job and pushes it back).
        await addJob(
          m,
          "protection",
          REMATCH_TASK,
          { tenantId: this.identity.tenantId },
          { jobKey: rematchJobKey(this.identity.tenantId), runAt: new Date(Date.now() + REMATCH_DELAY_MS) },
        );
      } else payload.advisoryRevision = Number(await advisoryRevision(m, this.identity.tenantId));
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

  /** How far the fleet re-match has come against the tenant's advisories. */
  async matchingStatus(): Promise<VulnerabilityMatchingStatus> {
    const [row]: Array<{ revision: string; matched_revision: string; matched_at: Date | null }> =
      await this.db.read((m) =>
        m.query(
          `SELECT revision::text AS revision, matched_revision::text AS matched_revision, matched_at
           FROM advisory_revisions WHERE tenant_id = $1`,
          [this.identity.tenantId],
        ),
      );
    const advisory = Number(row?.revision ?? 0);
    const matched = Number(row?.matched_revision ?? 0);
    return Object.assign(new VulnerabilityMatchingStatus(), {
      advisoryRevision: advisory,
      matchedRevision: matched,
      upToDate: matched >= advisory,
      matchedAt: row?.matched_at ?? null,
    });
  }

  /**
   * Stores package snapshots (the newest per machine wins) and recomputes those machines' findings. A
   * machine-bound credential's snapshots of other machines are rejected; an unbound INGESTOR token is refused
   * while its tenant requires machine-bound agent credentials.
   */
  async ingestPackages(records: unknown[]): Promise<IngestPackagesPayload> {
    if (unboundAgent(this.identity, Role.ADMIN))
      await this.db.read((m) => checkAgentCredential(m, this.identity, Role.ADMIN));
    const bound = this.identity.resourceId;
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
      else if (bound !== undefined && canonicalId(parsed.record.resourceId) !== bound)
        payload.rejected.push(
          RecordRejection.from({ index, field: "resourceId", message: otherMachineMessage(bound) }),
        );
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
    const page = toKeysetPage(args, "none");
    const key = JSON.stringify([filter?.severities ?? null, filter?.status ?? FindingStatus.OPEN]);
    let loader = this.byResource.get(key);
    if (!loader) {
      loader = childConnectionLoader<VulnerabilityFinding>(async (ids, p) => {
        // The count before the cursor: `totalCount` is the whole list's on every page (also past its end).
        const rows: Array<
          Record<string, unknown> & { page_parent: string; page_rn: unknown; total: number }
        > = await this.db.read((m) =>
          m.query(
            childPagesSql({
              source: `SELECT f.* FROM vulnerability_findings f
                          WHERE f.tenant_id = $1 AND f.resource_id = ANY($2::uuid[]) AND f.status = $3
                            AND ($4::text[] IS NULL OR f.severity = ANY($4::text[]))`,
              parent: "resource_id",
              after: "$5::uuid IS NULL OR id > $5::uuid",
              order: "id",
              limit: "$6",
            }),
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
        return groupChildRows(rows, findingFromRow);
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

  /**
   * The tenant's findings across machines: filtered, ordered and keyset-paged in one statement (the total, when
   * asked for, is a second). Every machine that sent a package inventory is listed, covered or not: coverage is
   * a question of the machine's account, which posture holds (`resource { coverage }` answers it).
   */
  async findings(
    filter: VulnerabilityFindingFilter | undefined,
    order: VulnerabilityFindingOrder | undefined,
    args: PageArgs,
  ): Promise<VulnerabilityFindingConnection> {
    const { field, direction } = order ?? DEFAULT_FINDING_ORDER;
    const sort = FINDING_ORDER[field];
    const page = toKeysetPage(args, sort.kind);
    assertNoProblems("Invalid filter; nothing was read.", findingFilterProblems(filter));
    const dir = direction === OrderDirection.ASC ? "ASC" : "DESC";
    const params: unknown[] = [
      this.identity.tenantId,
      filter?.status === undefined ? FindingStatus.OPEN : filter.status,
      filter?.severities ?? null,
      filter?.cves ? filter.cves.map((c) => c.toUpperCase()) : null,
      filter?.resourceIds ? filter.resourceIds.map(canonicalId) : null,
      filter?.packages ?? null,
    ];
    const where = `f.tenant_id = $1 AND ($2::text IS NULL OR f.status = $2)
      AND ($3::text[] IS NULL OR f.severity = ANY($3::text[])) AND ($4::text[] IS NULL OR f.cve = ANY($4::text[]))
      AND ($5::uuid[] IS NULL OR f.resource_id = ANY($5::uuid[])) AND ($6::text[] IS NULL OR f.package = ANY($6::text[]))`;
    const cast = sort.kind === "int" ? "int" : "timestamptz";
    const keyset = page.after
      ? ` AND (${sort.sql}, f.id) ${dir === "ASC" ? ">" : "<"} ($7::${cast}, $8::uuid)`
      : "";
    const rows: Array<Record<string, unknown> & { sort_value: unknown }> = await this.db.read((m) =>
      m.query(
        `SELECT f.*, ${sort.sql} AS sort_value FROM vulnerability_findings f
         WHERE ${where}${keyset}
         ORDER BY ${sort.sql} ${dir}, f.id ${dir} LIMIT ${page.first + 1}`,
        page.after ? [...params, page.after[0], page.after[1]] : params,
      ),
    );
    const values = new Map(rows.map((r) => [r.id as string, r.sort_value]));
    return VulnerabilityFindingConnection.from({
      rows: rows.map(findingFromRow),
      page,
      total: async () =>
        (
          await this.db.read((m) =>
            m.query(`SELECT count(*)::int AS n FROM vulnerability_findings f WHERE ${where}`, params),
          )
        )[0].n as number,
      cursorOf: (f): CursorKey => {
        const v = values.get(f.id);
        return [v instanceof Date ? v.toISOString() : Number(v), f.id];
      },
    });
  }

  /** How far one CVE reaches: machines and findings, in one statement. */
  async exposure(cve: string): Promise<VulnerabilityExposure> {
    if (!CVE_ID.test(cve))
      throw new BadUserInputError("Invalid CVE.", [
        { field: "cve", message: "must be a CVE id (CVE-YYYY-NNNN)" },
      ]);
    const id = cve.toUpperCase();
    const [row]: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT count(DISTINCT f.resource_id) FILTER (WHERE f.status = 'OPEN')::int AS machines,
                count(*) FILTER (WHERE f.status = 'OPEN')::int AS open,
                count(*) FILTER (WHERE f.status = 'FIXED')::int AS fixed,
                max(f.cvss_score) FILTER (WHERE f.status = 'OPEN') AS score,
                max(${SEVERITY_RANK_SQL}) FILTER (WHERE f.status = 'OPEN') AS rank,
                min(f.first_seen) FILTER (WHERE f.status = 'OPEN') AS first_seen
         FROM vulnerability_findings f WHERE f.tenant_id = $1 AND f.cve = $2`,
        [this.identity.tenantId, id],
      ),
    );
    const ranks = [
      VulnerabilitySeverity.UNKNOWN,
      VulnerabilitySeverity.LOW,
      VulnerabilitySeverity.MEDIUM,
      VulnerabilitySeverity.HIGH,
      VulnerabilitySeverity.CRITICAL,
    ];
    return Object.assign(new VulnerabilityExposure(), {
      cve: id,
      affectedMachineCount: row.machines,
      openFindingCount: row.open,
      fixedFindingCount: row.fixed,
      highestCvssScore: row.score === null ? null : Number(row.score),
      severity: row.rank === null ? null : ranks[Number(row.rank)],
      firstSeen: row.first_seen ?? null,
    });
  }
}
