import type { tenantDefinitions } from "../../subgraphs/posture/src/modules/assessments/definition-registry";
import type { toAssessable } from "../../subgraphs/posture/src/modules/assessments/assessment.runner";

/**
 * The posture rules applied the plain way — one resource and one definition at a time, then control states and
 * score counters counted from the assessments — as the reference the posture tests compare the engine's
 * incremental and bulk writes with. Shares nothing with the engine's write path.
 */

export type Status = "HEALTHY" | "UNHEALTHY" | "NOT_APPLICABLE";

/** An assessment row, in the columns the tests compare. */
export interface AssessmentRow {
  resource_id: string;
  definition_id: string;
  account_id: string;
  control_id: string;
  source: string;
  status: Status;
  raw_status: Status;
  cause: string | null;
  raw_cause: string | null;
  exemption_id: string | null;
}

export interface ExemptionRow {
  id: string;
  definition_id: string;
  account_id: string | null;
  resource_id: string | null;
  resource_group_key: string | null;
  category: string;
  reason: string;
}

/** A control state row (`h`, `u`, `n`: healthy, unhealthy and not-applicable assessments in the control). */
export interface StateRow {
  resource_id: string;
  control_id: string;
  account_id: string;
  h: number;
  u: number;
  n: number;
}

export interface CounterRow {
  account_id: string;
  control_id: string;
  healthy: number;
  unhealthy: number;
  not_applicable: number;
}

/** A resource as the reference evaluates it: assessable, with its account and its lower-cased external id. */
export type ReferenceResource = ReturnType<typeof toAssessable> & { key: string };

export const NOT_IN_SCOPE = "The resource's configuration is outside the definition's scope.";

/**
 * The exemption that applies to a resource for a definition, the most specific first: the resource's own, its
 * resource group's (or a parent scope of its ARM id), its account's, then the tenant's; among equals the oldest
 * (`exemptions` ordered by creation).
 */
export function exemptionMatcher(exemptions: readonly ExemptionRow[]) {
  return (
    definitionId: string,
    r: { id: string; accountId: string; key: string },
  ): ExemptionRow | undefined => {
    const mine = exemptions.filter((x) => x.definition_id === definitionId);
    return (
      mine.find((x) => x.resource_id === r.id) ??
      mine.find(
        (x) =>
          x.resource_group_key !== null &&
          (r.key === x.resource_group_key || r.key.startsWith(`${x.resource_group_key}/`)),
      ) ??
      mine.find((x) => !x.resource_id && !x.resource_group_key && x.account_id === r.accountId) ??
      mine.find((x) => !x.resource_id && !x.resource_group_key && !x.account_id)
    );
  };
}

/** The evaluated definitions' assessments of every resource they apply to, except where disabled in its account. */
export function ruleAssessments(
  definitions: Awaited<ReturnType<typeof tenantDefinitions>>,
  resources: readonly ReferenceResource[],
  disabled: ReadonlySet<string>,
  exemptionOf: ReturnType<typeof exemptionMatcher>,
): AssessmentRow[] {
  const assessments: AssessmentRow[] = [];
  for (const r of resources) {
    for (const d of definitions) {
      if (!d.types.has(r.type.toLowerCase()) || disabled.has(`${r.accountId}|${d.spec.id}`)) continue;
      let raw: Status = "HEALTHY";
      let rawCause: string | null = null;
      if (d.applicability && !d.applicability.test(r)) {
        raw = "NOT_APPLICABLE";
        rawCause = NOT_IN_SCOPE;
      } else if (d.condition.test(r)) {
        raw = "UNHEALTHY";
        rawCause = d.condition.explain(r) ?? d.spec.title;
      }
      const exemption = raw === "NOT_APPLICABLE" ? undefined : exemptionOf(d.spec.id, r);
      assessments.push({
        resource_id: r.id,
        definition_id: d.spec.id,
        account_id: r.accountId,
        control_id: d.spec.control,
        source: d.source,
        status: exemption ? "NOT_APPLICABLE" : raw,
        raw_status: raw,
        cause: exemption ? `Exempted (${exemption.category}): ${exemption.reason}` : rawCause,
        raw_cause: rawCause,
        exemption_id: exemption?.id ?? null,
      });
    }
  }
  return assessments;
}

/**
 * Each resource's state in each control (its assessments there counted), and per account and control the
 * resources healthy (no unhealthy assessment, a healthy one), unhealthy and not applicable; in no set order.
 */
export function controlStatesAndCounters(assessments: readonly AssessmentRow[]): {
  controlStates: StateRow[];
  counters: CounterRow[];
} {
  const states = new Map<string, StateRow>();
  for (const a of assessments) {
    const k = `${a.resource_id}|${a.control_id}`;
    const s = states.get(k) ?? {
      resource_id: a.resource_id,
      control_id: a.control_id,
      account_id: a.account_id,
      h: 0,
      u: 0,
      n: 0,
    };
    if (a.status === "HEALTHY") s.h++;
    else if (a.status === "UNHEALTHY") s.u++;
    else s.n++;
    states.set(k, s);
  }
  const counters = new Map<string, CounterRow>();
  for (const s of states.values()) {
    const k = `${s.account_id}|${s.control_id}`;
    const c = counters.get(k) ?? {
      account_id: s.account_id,
      control_id: s.control_id,
      healthy: 0,
      unhealthy: 0,
      not_applicable: 0,
    };
    if (s.u) c.unhealthy++;
    else if (s.h) c.healthy++;
    else c.not_applicable++;
    counters.set(k, c);
  }
  return { controlStates: [...states.values()], counters: [...counters.values()] };
}
