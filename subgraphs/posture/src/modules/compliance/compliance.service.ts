import DataLoader from "dataloader";
import { isUuid, type Identity, type RequestDb } from "../../../../common/src";
import { loadBenchmark } from "../policies/benchmark";
import type { PoliciesService } from "../policies/policies.service";
import { ComplianceControl, ComplianceStandard, ComplianceState } from "./compliance.types";

/** Regulatory compliance: the shipped standards' controls, judged from the assessments. */
export class ComplianceService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly policies: PoliciesService,
  ) {}

  /** Every standard with per-control state and counts, for the tenant or one account (one statement). */
  async standards(accountId?: string | null): Promise<ComplianceStandard[]> {
    const account = accountId
      ? isUuid(accountId)
        ? accountId
        : "00000000-0000-0000-0000-000000000000"
      : null;
    const rows: SignatureRow[] = await this.db.read((m) =>
      m.query(
        `SELECT assessed, unhealthy, sum(resources)::int AS resources FROM compliance_signatures
         WHERE tenant_id = $1 AND ($2::uuid IS NULL OR account_id = $2::uuid)
         GROUP BY assessed, unhealthy HAVING sum(resources) <> 0`,
        [this.identity.tenantId, account],
      ),
    );
    return this.build(controlCounts(rows), undefined);
  }

  /** Per account of a request: the signatures of every account asked for, from one statement. */
  private readonly byAccount = new DataLoader<string, Map<string, ControlCounts>>(async (accountIds) => {
    const rows: Array<SignatureRow & { account_id: string }> = await this.db.read((m) =>
      m.query(
        `SELECT account_id, assessed, unhealthy, resources FROM compliance_signatures
         WHERE tenant_id = $1 AND account_id = ANY($2::uuid[]) AND resources <> 0`,
        [this.identity.tenantId, accountIds.filter(isUuid)],
      ),
    );
    return accountIds.map((id) => controlCounts(rows.filter((r) => r.account_id === id)));
  });

  /**
   * An account's compliance per standard (optionally one standard), with the same semantics as the tenant's
   * but counting only the account's resources. Batched: one statement for every account of a request.
   */
  async forAccount(accountId: string, standardId?: string | null): Promise<ComplianceStandard[]> {
    return this.build(await this.byAccount.load(accountId), standardId ?? undefined);
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
 * Resources of one signature (`compliance_signatures`, kept by triggers on `assessments`): the definitions that
 * assess each of them HEALTHY or UNHEALTHY, and those that assess them UNHEALTHY.
 */
interface SignatureRow {
  assessed: string[];
  unhealthy: string[];
  resources: number;
}

/** A standard control's distinct resources assessed by any of its definitions, and failed by any. */
interface ControlCounts {
  assessed: number;
  failed: number;
}

/** Per definition, the `standard|control` keys of every shipped standard that map it. */
let controlsOfDefinition: { benchmark: object; index: Map<string, string[]> } | undefined;

function controlsByDefinition(): Map<string, string[]> {
  const benchmark = loadBenchmark();
  if (controlsOfDefinition?.benchmark !== benchmark) {
    const index = new Map<string, string[]>();
    for (const s of benchmark.standards)
      for (const c of s.controls)
        for (const d of c.definitions) {
          const keys = index.get(d) ?? [];
          if (!keys.includes(`${s.id}|${c.id}`)) keys.push(`${s.id}|${c.id}`);
          index.set(d, keys);
        }
    controlsOfDefinition = { benchmark, index };
  }
  return controlsOfDefinition.index;
}

/**
 * Per control key, its counts from signatures: a signature's resources count once for every control any of its
 * assessed definitions maps to (and as failed where any of its unhealthy ones does), which is the distinct count
 * over the control's definitions, since each resource has exactly one signature per account.
 */
function controlCounts(rows: SignatureRow[]): Map<string, ControlCounts> {
  const index = controlsByDefinition();
  const counts = new Map<string, ControlCounts>();
  const hit = (definitions: string[]) => new Set(definitions.flatMap((d) => index.get(d) ?? []));
  for (const row of rows) {
    for (const key of hit(row.assessed)) {
      const c = counts.get(key) ?? { assessed: 0, failed: 0 };
      c.assessed += row.resources;
      counts.set(key, c);
    }
    for (const key of hit(row.unhealthy)) counts.get(key)!.failed += row.resources;
  }
  return counts;
}

/** `part` of `whole` in percent, rounded to two decimals; null when `whole` is 0 (nothing assessed). */
function percentage(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 10000) / 100;
}
