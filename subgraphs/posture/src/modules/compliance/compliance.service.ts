import { type Identity, type RequestDb } from "../../../../common/src";
import { loadBenchmark } from "../policies/benchmark";
import type { PoliciesService } from "../policies/policies.service";
import { complianceCache, type KeptSignatures, type SignatureRow } from "./compliance-cache";
import { ComplianceControl, ComplianceStandard, ComplianceState } from "./compliance.types";

/** Regulatory compliance: the shipped standards' controls, judged from the assessments. */
export class ComplianceService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly policies: PoliciesService,
  ) {}

  /**
   * The tenant's signatures, once per request. What this process kept, with the accounts whose assessments a
   * transaction committed since changed read again (one statement when none did, two otherwise); everything read
   * when nothing is kept, or when what is kept is older than the change log's horizon. A request whose transaction
   * has written reads them itself and keeps nothing.
   */
  private signatures: Promise<SignatureRow[]> | undefined;

  private tenantSignatures(): Promise<SignatureRow[]> {
    this.signatures ??= this.db.read(async (m) => {
      const tenantId = this.identity.tenantId;
      const definitions = [...controlMapping().byDefinition.keys()];
      const kept = complianceCache.enabled ? complianceCache.get(tenantId) : undefined;
      if (kept) {
        const [since]: Array<{ snapshot: string; valid: boolean; writing: boolean; changed: string[] }> =
          await m.query(CHANGED_SINCE, [tenantId, kept.snapshot]);
        if (since.valid && !since.writing) {
          if (since.changed.length === 0) {
            complianceCache.count("hit");
            return kept.rows;
          }
          // Read as of a later snapshot than the check's, which is the one kept: a change committed in between
          // shows in the next request's check (and is read again then, even if these rows have it already).
          const [read]: Array<{ rows: SignatureRow[] }> = await m.query(SIGNATURES, [
            tenantId,
            definitions,
            since.changed,
          ]);
          const changed = new Set(since.changed);
          const rows = [...kept.rows.filter((r) => !changed.has(r.account_id)), ...read.rows];
          complianceCache.count("partial");
          complianceCache.keep(tenantId, { snapshot: since.snapshot, rows });
          return rows;
        }
      }
      const [read]: Array<KeptSignatures & { writing: boolean }> = await m.query(SIGNATURES, [
        tenantId,
        definitions,
        null,
      ]);
      if (complianceCache.enabled && !read.writing) {
        complianceCache.count("miss");
        complianceCache.keep(tenantId, { snapshot: read.snapshot, rows: read.rows });
      } else complianceCache.count("bypass");
      return read.rows;
    });
    return this.signatures;
  }

  /** Every standard with per-control state and counts, for the tenant or one account. */
  async standards(accountId?: string | null): Promise<ComplianceStandard[]> {
    const rows = await this.tenantSignatures();
    return this.build(
      controlCounts(accountId ? rows.filter((r) => r.account_id === accountId) : rows),
      undefined,
    );
  }

  /**
   * An account's compliance per standard (optionally one standard), with the same semantics as the tenant's
   * but counting only the account's resources. Every account of a request reads the one set of signatures.
   */
  async forAccount(accountId: string, standardId?: string | null): Promise<ComplianceStandard[]> {
    const rows = await this.tenantSignatures();
    return this.build(controlCounts(rows.filter((r) => r.account_id === accountId)), standardId ?? undefined);
  }

  private async build(
    byControl: Map<string, ControlCounts>,
    standardId: string | undefined,
  ): Promise<ComplianceStandard[]> {
    const standards = loadBenchmark().standards.filter(
      (s) => standardId === undefined || s.id === standardId,
    );
    const definitions = await this.policies.all();
    return standards.map((s) => {
      const controls = s.controls.map((c) => {
        const r = byControl.get(`${s.id}|${c.id}`);
        const failed = r?.failed ?? 0;
        const passed = (r?.assessed ?? 0) - failed;
        const state =
          failed > 0 ? ComplianceState.FAILED : passed > 0 ? ComplianceState.PASSED : ComplianceState.SKIPPED;
        return Object.assign(new ComplianceControl(), {
          id: c.id,
          title: c.title,
          description: c.description ?? "",
          state,
          passedResources: passed,
          failedResources: failed,
          passedResourcesPercentage: percentage(passed, passed + failed),
          definitions: c.definitions.flatMap((d) => definitions.get(d) ?? []),
        });
      });
      const passedControls = controls.filter((c) => c.state === ComplianceState.PASSED).length;
      const failedControls = controls.filter((c) => c.state === ComplianceState.FAILED).length;
      return Object.assign(new ComplianceStandard(), {
        id: s.id,
        name: s.name,
        version: String(s.version),
        description: s.description ?? "",
        controls,
        passedControls,
        failedControls,
        skippedControls: controls.filter((c) => c.state === ComplianceState.SKIPPED).length,
        passedControlsPercentage: percentage(passedControls, passedControls + failedControls),
      });
    });
  }
}

/**
 * Per account ($3: of these accounts only, or all), its resources grouped by *signature*: the ids of the mapped
 * definitions that assess a resource HEALTHY or UNHEALTHY, and of those that assess it UNHEALTHY (each sorted,
 * space-separated: built-in ids have no spaces), and how many resources have that pair. Resources share few pairs
 * (4,344 at 100,000 resources), and a control's distinct resources over its definitions follow from them
 * (controlCounts). One pass over the assessments of mapped definitions, grouped twice; with the snapshot it read
 * them in, and whether the reading transaction has written (then what it read may never commit: not kept).
 */
const SIGNATURES = `
  SELECT pg_current_snapshot()::text AS snapshot, pg_current_xact_id_if_assigned() IS NOT NULL AS writing,
         coalesce(json_agg(s), '[]') AS rows
  FROM (SELECT account_id, assessed, unhealthy, count(*)::int AS resources
        FROM (SELECT account_id, resource_id,
                     string_agg(definition_id, ' ' ORDER BY definition_id COLLATE "C") AS assessed,
                     coalesce(string_agg(definition_id, ' ' ORDER BY definition_id COLLATE "C")
                                FILTER (WHERE status = 'UNHEALTHY'), '') AS unhealthy
              FROM assessments
              WHERE tenant_id = $1 AND definition_id = ANY($2::text[]) AND status IN ('HEALTHY', 'UNHEALTHY')
                AND ($3::uuid[] IS NULL OR account_id = ANY($3::uuid[]))
              GROUP BY account_id, resource_id) AS r
        GROUP BY account_id, assessed, unhealthy) AS s`;

/**
 * What changed since signatures were read in snapshot $2: the accounts of every change to the tenant's assessments
 * visible now that was not visible then (transactions that ended before the snapshot's xmin were); whether that
 * can be told (the prune job's horizon has not passed the snapshot's xmin, or such rows may be gone); whether this
 * transaction has written; and this statement's snapshot.
 */
const CHANGED_SINCE = `
  SELECT pg_current_snapshot()::text AS snapshot, pg_current_xact_id_if_assigned() IS NOT NULL AS writing,
         pg_snapshot_xmin($2::pg_snapshot) >= (SELECT horizon FROM assessment_changes_horizon) AS valid,
         (SELECT coalesce(array_agg(DISTINCT account_id), '{}') FROM assessment_changes
          WHERE tenant_id = $1 AND xid >= pg_snapshot_xmin($2::pg_snapshot)
            AND NOT pg_visible_in_snapshot(xid, $2::pg_snapshot)) AS changed`;

/** A standard control's distinct resources assessed by any of its definitions, and failed by any. */
interface ControlCounts {
  assessed: number;
  failed: number;
}

/** Signature sides (space-separated definition ids) kept with the controls they hit; cleared when this many. */
const SIDES_KEPT = 100_000;

/**
 * The shipped standards' controls (`standard|control` keys) and, per signature side already seen, the indexes of
 * the controls its definitions map to, each once. Rebuilt when the benchmark changes.
 */
let mapping:
  | { benchmark: object; keys: string[]; byDefinition: Map<string, number[]>; sides: Map<string, number[]> }
  | undefined;

function controlMapping(): NonNullable<typeof mapping> {
  const benchmark = loadBenchmark();
  if (mapping?.benchmark !== benchmark) {
    const keys = benchmark.standards.flatMap((s) => s.controls.map((c) => `${s.id}|${c.id}`));
    const byDefinition = new Map<string, number[]>();
    let i = 0;
    for (const s of benchmark.standards)
      for (const c of s.controls) {
        for (const d of new Set(c.definitions)) byDefinition.set(d, [...(byDefinition.get(d) ?? []), i]);
        i++;
      }
    mapping = { benchmark, keys, byDefinition, sides: new Map() };
  }
  return mapping;
}

/** The indexes of the controls a signature side's definitions map to, each once. */
function controlsHit(m: NonNullable<typeof mapping>, side: string): number[] {
  let hit = m.sides.get(side);
  if (!hit) {
    hit = [...new Set((side === "" ? [] : side.split(" ")).flatMap((d) => m.byDefinition.get(d) ?? []))];
    if (m.sides.size >= SIDES_KEPT) m.sides.clear();
    m.sides.set(side, hit);
  }
  return hit;
}

/**
 * Per control key, its counts from signatures: a signature's resources count once for every control any of its
 * assessed definitions maps to (and as failed where any of its unhealthy ones does), which is the distinct count
 * over the control's definitions, since each resource has exactly one signature per account.
 */
function controlCounts(rows: SignatureRow[]): Map<string, ControlCounts> {
  const m = controlMapping();
  const assessed = new Array<number>(m.keys.length).fill(0);
  const failed = new Array<number>(m.keys.length).fill(0);
  for (const row of rows) {
    for (const i of controlsHit(m, row.assessed)) assessed[i] += row.resources;
    for (const i of controlsHit(m, row.unhealthy)) failed[i] += row.resources;
  }
  return new Map(m.keys.map((key, i) => [key, { assessed: assessed[i], failed: failed[i] }]));
}

/** `part` of `whole` in percent, rounded to two decimals; null when `whole` is 0 (nothing assessed). */
function percentage(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 10000) / 100;
}
