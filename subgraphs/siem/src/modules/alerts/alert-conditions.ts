import { isUuid, type InputProblem } from "../../../../common/src";

// Apart from alerts.inputs, which needs alert-store as it loads: alert-store loads the incident workflow (through
// correlation), which needs these checks; taken from alerts.inputs they would close a cycle of module loads.

/** Most values `ruleIds` or `tactics` of an alert or incident filter may hold. */
const MAX_FILTER_VALUES = 100;

/**
 * The faults of the alert conditions an alert or incident filter shares: `ruleIds` and `tactics` (at most 100
 * values each; rule ids must be UUIDs).
 */
export function alertConditionProblems(filter: {
  ruleIds?: string[] | null;
  tactics?: string[] | null;
}): InputProblem[] {
  const problems: InputProblem[] = [];
  for (const field of ["ruleIds", "tactics"] as const)
    if ((filter[field]?.length ?? 0) > MAX_FILTER_VALUES)
      problems.push({ field, message: `at most ${MAX_FILTER_VALUES} values` });
  if (filter.ruleIds?.some((id) => !isUuid(id)))
    problems.push({ field: "ruleIds", message: "must be analytics rule ids (UUIDs)" });
  return problems;
}
