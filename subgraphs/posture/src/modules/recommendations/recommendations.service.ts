import DataLoader from "dataloader";
import {
  childConnectionLoader,
  childPagesSql,
  isUuid,
  OrderDirection,
  invalidCursor,
  pageOfArray,
  toKeysetPage,
  type Identity,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import type { InventoryService } from "../inventory/inventory.service";
import { ResourceConnection } from "../inventory/inventory.connections";
import type { Resource } from "../inventory/resource.entity";
import type { PoliciesService } from "../policies/policies.service";
import { SEVERITY_RANK } from "../policies/policies.types";
import { loadCounters } from "../assessments/assessment.runner";
import { benchmarkControls } from "../assessments/controls";
import { computeSecureScore } from "../score/secure-score";
import { RecommendationConnection } from "./recommendations.connections";
import {
  Recommendation,
  RecommendationOrderField,
  type RecommendationFilter,
  type RecommendationOrder,
} from "./recommendations.types";

/**
 * Recommendations: definitions with unhealthy resources, with their counts and the Secure Score
 * points that fixing them would gain. A resource flips to healthy in a control only when the
 * recommendation is its only unhealthy one there, so the gain is max × flips / weight.
 */
export class RecommendationsService {
  private readonly cache = new Map<string, Promise<Recommendation[]>>();

  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly policies: PoliciesService,
    private readonly inventory: InventoryService,
  ) {}

  /**
   * Every recommendation of the tenant (or an account), computed once per request from small reads: the
   * definition counters and flips (a row per account, definition and control, kept by triggers) and the score
   * counters.
   */
  all(accountId?: string | null): Promise<Recommendation[]> {
    const key = accountId ?? "";
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.compute(
        accountId && isUuid(accountId)
          ? accountId
          : accountId
            ? "00000000-0000-0000-0000-000000000000"
            : undefined,
      );
      this.cache.set(key, hit);
    }
    return hit;
  }

  private async compute(accountId?: string): Promise<Recommendation[]> {
    const params = accountId ? [this.identity.tenantId, accountId] : [this.identity.tenantId];
    const accountFilter = accountId ? "AND account_id = $2" : "";
    const [counts, flips, counters, definitions] = await Promise.all([
      this.db.read((m) =>
        m.query(
          `SELECT definition_id, sum(healthy)::int AS healthy, sum(unhealthy)::int AS unhealthy,
                  sum(not_applicable)::int AS not_applicable
           FROM definition_counters WHERE tenant_id = $1 ${accountFilter} GROUP BY definition_id`,
          params,
        ),
      ) as Promise<
        Array<{ definition_id: string; healthy: number; unhealthy: number; not_applicable: number }>
      >,
      this.db.read((m) =>
        m.query(
          `SELECT definition_id, control_id, sum(flips)::int AS flips
           FROM definition_flips WHERE tenant_id = $1 ${accountFilter} GROUP BY definition_id, control_id
           HAVING sum(flips) > 0`,
          params,
        ),
      ) as Promise<Array<{ definition_id: string; control_id: string; flips: number }>>,
      this.db.read((m) => loadCounters(m, this.identity.tenantId, accountId)),
      this.policies.all(),
    ]);
    // A definition's assessments are in one control, but for a moment (its control changed) in two: its flips
    // are those in its own control, else in the other one.
    const flipsByDefinition = new Map<string, number>();
    for (const f of flips)
      if (
        !flipsByDefinition.has(f.definition_id) ||
        f.control_id === definitions.get(f.definition_id)?.control.id
      )
        flipsByDefinition.set(f.definition_id, f.flips);
    const score = computeSecureScore(benchmarkControls(), counters);
    return counts
      .filter((c) => c.unhealthy > 0 && definitions.has(c.definition_id))
      .map((c) => {
        const definition = definitions.get(c.definition_id)!;
        const control = score.controls.find((s) => s.controlId === definition.control.id);
        const flips = flipsByDefinition.get(c.definition_id) ?? 0;
        const gain = control && control.weight > 0 ? (control.max * flips) / control.weight : 0;
        return Object.assign(new Recommendation(), {
          id: definition.id,
          definition,
          title: definition.title,
          severity: definition.severity,
          control: definition.control,
          remediation: definition.remediation,
          healthyCount: c.healthy,
          unhealthyCount: c.unhealthy,
          notApplicableCount: c.not_applicable,
          potentialScoreIncrease: Math.round(gain * 100) / 100,
          potentialScoreIncreasePercentage:
            score.max > 0 ? Math.round((gain / score.max) * 10000) / 10000 : 0,
          accountId,
        });
      });
  }

  /** A filtered, ordered page of recommendations. */
  async list(
    filter: RecommendationFilter | undefined,
    order: RecommendationOrder | undefined,
    args: PageArgs,
  ): Promise<RecommendationConnection> {
    const field = order?.field ?? RecommendationOrderField.POTENTIAL_SCORE_INCREASE;
    const sign = (order?.direction ?? OrderDirection.DESC) === OrderDirection.DESC ? -1 : 1;
    const value = (r: Recommendation): number | string =>
      field === RecommendationOrderField.POTENTIAL_SCORE_INCREASE
        ? r.potentialScoreIncrease
        : field === RecommendationOrderField.SEVERITY
          ? SEVERITY_RANK[r.severity]
          : field === RecommendationOrderField.UNHEALTHY_COUNT
            ? r.unhealthyCount
            : r.title.toLowerCase();
    /** The order's key of a recommendation: the chosen value, then the most severe, then the id. */
    type SortKey = [value: number | string, severity: number, id: string];
    const keyOf = (r: Recommendation): SortKey => [value(r), SEVERITY_RANK[r.severity], r.id];
    const compare = ([va, sa, ia]: SortKey, [vb, sb, ib]: SortKey): number =>
      va !== vb ? (va < vb ? -1 : 1) * sign : sb - sa || (ia < ib ? -1 : ia > ib ? 1 : 0);
    const items = (await this.all(filter?.accountId))
      .filter((r) => !filter?.severities?.length || filter.severities.includes(r.severity))
      .filter((r) => !filter?.controlId || r.control.id === filter.controlId)
      .sort((a, b) => compare(keyOf(a), keyOf(b)));
    // The cursor carries the order's value and severity: a recommendation fixed since (gone from the list)
    // still marks the place where the next page starts.
    const place = {
      valueOf: (r: Recommendation) => JSON.stringify(keyOf(r).slice(0, 2)),
      follows: (r: Recommendation, cursorValue: string, id: string) => {
        const [v, severity] = parsedCursorValue(cursorValue, typeof value(r));
        return compare(keyOf(r), [v, severity, id]) > 0;
      },
    };
    return RecommendationConnection.from(pageOfArray(items, args, (r) => r.id, place));
  }

  /** Recommendations in which a resource is unhealthy. */
  async forResource(resourceId: string): Promise<Recommendation[]> {
    const [ids, all] = await Promise.all([this.unhealthyByResource.load(resourceId), this.all()]);
    return all.filter((r) => ids.includes(r.id));
  }

  private readonly unhealthyByResource = new DataLoader<string, string[]>(async (resourceIds) => {
    const rows: Array<{ resource_id: string; definition_id: string }> = await this.db.read((m) =>
      m.query(
        `SELECT resource_id, definition_id FROM assessments WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND status = 'UNHEALTHY'`,
        [this.identity.tenantId, resourceIds.filter(isUuid)],
      ),
    );
    return resourceIds.map((id) => rows.filter((r) => r.resource_id === id).map((r) => r.definition_id));
  });

  /** Affected-resource loaders by account ("" for the tenant): a filtered list's counts are its account's. */
  private readonly affectedLoaders = new Map<string, ReturnType<typeof this.affectedLoader>>();

  /** Unhealthy resources of recommendations (of one account, or all), paged per recommendation in one statement. */
  private affectedLoader(accountId: string | undefined) {
    return childConnectionLoader<Resource>(async (definitionIds, page) => {
      // The count before the cursor: `totalCount` is the whole list's on every page (also past its end).
      const rows: Array<{ resource_id: string; page_parent: string; page_rn: unknown; total: number }> =
        await this.db.read((m) =>
          m.query(
            childPagesSql({
              source: `SELECT definition_id, resource_id FROM assessments
                        WHERE tenant_id = $1 AND definition_id = ANY($2::text[]) AND status = 'UNHEALTHY'
                          AND ($5::uuid IS NULL OR account_id = $5::uuid)`,
              parent: "definition_id",
              after: "$3::uuid IS NULL OR resource_id > $3::uuid",
              order: "resource_id",
              limit: "$4",
            }),
            [
              this.identity.tenantId,
              definitionIds,
              page.after?.[1] ?? null,
              page.first + 1,
              accountId ?? null,
            ],
          ),
        );
      const shown = rows.filter((r) => r.page_rn !== null);
      const resources = await this.inventory.resourcesByIds([...new Set(shown.map((r) => r.resource_id))]);
      const byId = new Map(resources.map((r) => [r.id, r]));
      const out = new Map<string, { rows: Resource[]; total: number }>();
      for (const row of rows) {
        const entry = out.get(row.page_parent) ?? { rows: [], total: row.total };
        const resource = row.page_rn === null ? undefined : byId.get(row.resource_id);
        if (resource) entry.rows.push(resource);
        out.set(row.page_parent, entry);
      }
      return out;
    });
  }

  /** A page of a recommendation's affected resources, of one account when the recommendation was computed for one. */
  async affectedResources(
    definitionId: string,
    args: PageArgs,
    accountId?: string,
  ): Promise<ResourceConnection> {
    const page = toKeysetPage(args, "none");
    let loader = this.affectedLoaders.get(accountId ?? "");
    if (!loader) {
      loader = this.affectedLoader(accountId);
      this.affectedLoaders.set(accountId ?? "", loader);
    }
    const { rows, total } = await loader.load({ parentId: definitionId, page });
    return ResourceConnection.from({ rows, page, total, cursorOf: (r) => [null, r.id] });
  }
}

/** A recommendation cursor's `[value, severity rank]`, checked to be of the list's order (BAD_USER_INPUT if not). */
function parsedCursorValue(text: string, valueType: string): [number | string, number] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidCursor();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== valueType ||
    !Number.isInteger(parsed[1])
  )
    throw invalidCursor();
  return parsed as [number | string, number];
}
