import { computeSecureScore, controlStateOf, type ControlCounts } from "./secure-score";

const counts = (entries: Array<[string, Partial<ControlCounts>]>) =>
  new Map(entries.map(([id, c]) => [id, { healthy: 0, unhealthy: 0, notApplicable: 0, ...c }]));

describe("secure score (Azure's formula)", () => {
  it("gives 0.12 per healthy resource for max 6 over 50 resources, so 42 healthy → 5.04", () => {
    const controls = [{ id: "updates", name: "Apply system updates", maxPoints: 6 }];
    const one = computeSecureScore(controls, counts([["updates", { healthy: 1, unhealthy: 49 }]]));
    expect(one.controls[0].current).toBe(0.12);
    const score = computeSecureScore(controls, counts([["updates", { healthy: 42, unhealthy: 8 }]]));
    expect(score.controls[0].current).toBe(5.04);
    expect(score.controls[0].weight).toBe(50);
  });

  it("gives 0.2 for 1 healthy + 4 unhealthy at max 1, and 2 for 1 + 1 at max 4", () => {
    const controls = [
      { id: "logging", name: "Enable auditing and logging", maxPoints: 1 },
      { id: "encryption", name: "Enable encryption at rest", maxPoints: 4 },
    ];
    const score = computeSecureScore(
      controls,
      counts([
        ["logging", { healthy: 1, unhealthy: 4 }],
        ["encryption", { healthy: 1, unhealthy: 1 }],
      ]),
    );
    expect(score.controls.map((c) => c.current)).toEqual([0.2, 2]);
    expect(score.current).toBe(2.2);
    expect(score.max).toBe(5);
    expect(score.percentage).toBe(0.44);
  });

  it("leaves not-applicable resources out and gives max 0 to a control with nothing applicable", () => {
    const controls = [
      { id: "mfa", name: "Enable MFA", maxPoints: 10 },
      { id: "ddos", name: "Protect applications against DDoS attacks", maxPoints: 2 },
    ];
    const score = computeSecureScore(
      controls,
      counts([
        ["mfa", { healthy: 3, unhealthy: 1, notApplicable: 96 }],
        ["ddos", { notApplicable: 7 }],
      ]),
    );
    expect(score.controls[0]).toMatchObject({ max: 10, current: 7.5, weight: 4 });
    expect(score.controls[1]).toMatchObject({ max: 0, current: 0, percentage: 0, weight: 0 });
    expect(score).toMatchObject({ current: 7.5, max: 10, percentage: 0.75 });
  });

  it("keeps percentages to four decimals, so one resource's fix moves them as it moves the points", () => {
    const controls = [
      { id: "updates", name: "Apply system updates", maxPoints: 6 },
      { id: "mfa", name: "Enable MFA", maxPoints: 10 },
    ];
    const score = computeSecureScore(
      controls,
      counts([
        ["updates", { healthy: 49, unhealthy: 1 }],
        ["mfa", { healthy: 1, unhealthy: 2 }],
      ]),
    );
    expect(score.controls.map((c) => [c.current, c.percentage])).toEqual([
      [5.88, 0.98],
      [3.33, 0.3333],
    ]);
    // (5.88 + 10/3) / 16 = 0.57583…
    expect(score).toMatchObject({ current: 9.21, max: 16, percentage: 0.5758 });
    const fixed = computeSecureScore(
      controls,
      counts([
        ["updates", { healthy: 50, unhealthy: 0 }],
        ["mfa", { healthy: 1, unhealthy: 2 }],
      ]),
    );
    expect(fixed.percentage).toBe(0.5833);
  });

  it("counts a resource healthy in a control only when all of the control's recommendations are healthy for it", () => {
    expect(controlStateOf(["HEALTHY", "HEALTHY"])).toBe("HEALTHY");
    expect(controlStateOf(["HEALTHY", "UNHEALTHY", "HEALTHY"])).toBe("UNHEALTHY");
    expect(controlStateOf(["NOT_APPLICABLE", "HEALTHY"])).toBe("HEALTHY");
    expect(controlStateOf(["NOT_APPLICABLE"])).toBe("NOT_APPLICABLE");
    expect(controlStateOf([])).toBe("NOT_APPLICABLE");
  });
});
