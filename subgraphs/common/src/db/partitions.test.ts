import { dayOf, DayPartitions, timeWindowProblem } from "./partitions";

describe("day partitions", () => {
  it("names a day's partition after its table", () => {
    expect(new DayPartitions("protection", "telemetry").partitionName("2026-11-28")).toBe(
      "telemetry_p20261128",
    );
    expect(dayOf("2026-11-28T23:59:59.999-01:00")).toBe("2026-11-29");
  });

  it("accepts times inside the retention and up to a day ahead, and says why not otherwise", () => {
    const now = Date.parse("2026-11-28T12:00:00Z");
    expect(timeWindowProblem("2026-11-28T11:00:00Z", now, 30)).toBeNull();
    expect(timeWindowProblem("2026-10-30T12:00:00Z", now, 30)).toBeNull();
    expect(timeWindowProblem("2026-10-29T11:59:59Z", now, 30)).toBe(
      "time 2026-10-29T11:59:59Z is older than the 30-day retention",
    );
    expect(timeWindowProblem("2026-11-29T12:00:01Z", now, 30)).toBe(
      "time 2026-11-29T12:00:01Z is more than a day in the future",
    );
    expect(timeWindowProblem("yesterday", now, 30)).toBe("time is not a valid timestamp");
  });
});
