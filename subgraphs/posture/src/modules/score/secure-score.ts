/** The state of one assessment (resource × definition). */
export type AssessmentState = "HEALTHY" | "UNHEALTHY" | "NOT_APPLICABLE";

/** A security control and the points it is worth. */
export interface ControlPoints {
  id: string;
  name: string;
  maxPoints: number;
}

/** How many resources are healthy, unhealthy and not applicable in one control. */
export interface ControlCounts {
  healthy: number;
  unhealthy: number;
  notApplicable: number;
}

/** One control's share of the score. */
export interface ControlScore extends ControlCounts {
  controlId: string;
  name: string;
  /** The control's points, or 0 when no resource is applicable to it. */
  max: number;
  current: number;
  /** current / max (0 when max is 0). */
  percentage: number;
  /** healthy + unhealthy: the resources the control's score is computed over. */
  weight: number;
}

/** A secure score: Σ current / Σ max, with its breakdown by control. */
export interface ScoreBreakdown {
  current: number;
  max: number;
  percentage: number;
  controls: ControlScore[];
}

/**
 * A resource's state in a control from its assessments there: healthy only when every
 * applicable recommendation of the control is healthy for it; not applicable when none applies.
 */
export function controlStateOf(states: Iterable<AssessmentState>): AssessmentState {
  let applicable = false;
  for (const state of states) {
    if (state === "UNHEALTHY") return "UNHEALTHY";
    if (state === "HEALTHY") applicable = true;
  }
  return applicable ? "HEALTHY" : "NOT_APPLICABLE";
}

const round2 = (n: number) => Math.round(n * 100) / 100;
// Percentages are fractions: four decimals keep a hundredth of a percentage point, as Azure's API does
// (`0.4667`), so one resource's fix shows in the percentage as it does in the points.
const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/**
 * Azure Secure Score: a control's current score is max × healthy / (healthy + unhealthy), with
 * not-applicable resources left out and max 0 for a control with no applicable resource; the
 * overall score is Σ current / Σ max. Counts are summed across accounts for a tenant score (not
 * averaged), which is why this takes counts rather than per-account scores.
 */
export function computeSecureScore(
  controls: readonly ControlPoints[],
  counts: ReadonlyMap<string, ControlCounts>,
): ScoreBreakdown {
  const rows = controls.map((control): ControlScore => {
    const c = counts.get(control.id) ?? { healthy: 0, unhealthy: 0, notApplicable: 0 };
    const weight = c.healthy + c.unhealthy;
    const max = weight === 0 ? 0 : control.maxPoints;
    const current = weight === 0 ? 0 : (control.maxPoints * c.healthy) / weight;
    return {
      controlId: control.id,
      name: control.name,
      ...c,
      weight,
      max,
      current: round2(current),
      percentage: max === 0 ? 0 : round4(current / max),
    };
  });
  const exactCurrent = rows.reduce(
    (sum, r) => sum + (r.weight === 0 ? 0 : (r.max * r.healthy) / r.weight),
    0,
  );
  const max = rows.reduce((sum, r) => sum + r.max, 0);
  return {
    current: round2(exactCurrent),
    max,
    percentage: max === 0 ? 0 : round4(exactCurrent / max),
    controls: rows,
  };
}
