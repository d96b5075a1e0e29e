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
    const rows: ControlRow[] = await this.db.read((m) =>
      m.query(
        `SELECT p.control, count(DISTINCT a.resource_id) FILTER (WHERE a.status IN ('HEALTHY', 'UNHEALTHY'))::int AS assessed,
                count(DISTINCT a.resource_id) FILTER (WHERE a.status = 'UNHEALTHY')::int AS failed
         FROM unnest($2::text[], $3::text[]) AS p(control, definition)
         JOIN assessments a ON a.tenant_id = $1 AND a.definition_id = p.definition AND ($4::uuid IS NULL OR a.account_id = $4::uuid)
         GROUP BY p.control`,
        [this.identity.tenantId, ...controlPairs(), account],
      ),
    );
    return this.build(rows, undefined);
  }

  /** Per account of a request: control rows from one statement for every account asked for. */
  private readonly byAccount = new DataLoader<string, ControlRow[]>(async (accountIds) => {
    const rows: Array<ControlRow & { account_id: string }> = await this.db.read((m) =>
      m.query(
        `SELECT a.account_id, p.control,
                count(DISTINCT a.resource_id) FILTER (WHERE a.status IN ('HEALTHY', 'UNHEALTHY'))::int AS assessed,
                count(DISTINCT a.resource_id) FILTER (WHERE a.status = 'UNHEALTHY')::int AS failed
         FROM unnest($2::text[], $3::text[]) AS p(control, definition)
         JOIN assessments a ON a.tenant_id = $1 AND a.definition_id = p.definition AND a.account_id = ANY($4::uuid[])
         GROUP BY a.account_id, p.control`,
        [this.identity.tenantId, ...controlPairs(), accountIds.filter(isUuid)],
      ),
    );
    return accountIds.map((id) => rows.filter((r) => r.account_id === id));
  });

  /**
   * An account's compliance per standard (optionally one standard), with the same semantics as the tenant's
   * but counting only the account's resources. Batched: one statement for every account of a request.
   */
  async forAccount(accountId: string, standardId?: string | null): Promise<ComplianceStandard[]> {
    return this.build(await this.byAccount.load(accountId), standardId ?? undefined);
  }

  private async build(rows: ControlRow[], standardId: string | undefined): Promise<ComplianceStandard[]> {
    const standards = loadBenchmark().standards.filter(
      (s) => standardId === undefined || s.id === standardId,
    );
    const byControl = new Map(rows.map((r) => [r.control, r]));
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

interface ControlRow {
  control: string;
  assessed: number;
  failed: number;
}

/** (standard|control, definition) pairs of every shipped standard, as two parallel arrays for `unnest`. */
function controlPairs(): [string[], string[]] {
  const pairs = loadBenchmark().standards.flatMap((s) =>
    s.controls.flatMap((c) => c.definitions.map((d) => [`${s.id}|${c.id}`, d] as const)),
  );
  return [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
}

/** `part` of `whole` in percent, rounded to two decimals; null when `whole` is 0 (nothing assessed). */
function percentage(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 10000) / 100;
}
