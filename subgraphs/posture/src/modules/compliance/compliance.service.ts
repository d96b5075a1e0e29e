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
    const standards = loadBenchmark().standards;
    const pairs = standards.flatMap((s) =>
      s.controls.flatMap((c) => c.definitions.map((d) => [`${s.id}|${c.id}`, d] as const)),
    );
    const account = accountId
      ? isUuid(accountId)
        ? accountId
        : "00000000-0000-0000-0000-000000000000"
      : null;
    const rows: Array<{ control: string; assessed: number; failed: number }> = await this.db.read((m) =>
      m.query(
        `SELECT p.control, count(DISTINCT a.resource_id) FILTER (WHERE a.status IN ('HEALTHY', 'UNHEALTHY'))::int AS assessed,
                count(DISTINCT a.resource_id) FILTER (WHERE a.status = 'UNHEALTHY')::int AS failed
         FROM unnest($2::text[], $3::text[]) AS p(control, definition)
         JOIN assessments a ON a.tenant_id = $1 AND a.definition_id = p.definition AND ($4::uuid IS NULL OR a.account_id = $4::uuid)
         GROUP BY p.control`,
        [this.identity.tenantId, pairs.map((p) => p[0]), pairs.map((p) => p[1]), account],
      ),
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
          definitions: c.definitions.flatMap((d) => definitions.get(d) ?? []),
        });
      });
      return Object.assign(new ComplianceStandard(), {
        id: s.id,
        name: s.name,
        version: String(s.version),
        description: s.description ?? "",
        controls,
        passedControls: controls.filter((c) => c.state === ComplianceState.PASSED).length,
        failedControls: controls.filter((c) => c.state === ComplianceState.FAILED).length,
        skippedControls: controls.filter((c) => c.state === ComplianceState.SKIPPED).length,
      });
    });
  }
}
