import { loadBenchmark } from "../policies/benchmark";
import type { ControlPoints } from "../score/secure-score";

let controls: ControlPoints[] | undefined;

/** The security controls and their points, from the shipped benchmark. */
export function benchmarkControls(): ControlPoints[] {
  controls ??= loadBenchmark().controls.map((c) => ({ id: c.id, name: c.name, maxPoints: c.maxPoints }));
  return controls;
}
