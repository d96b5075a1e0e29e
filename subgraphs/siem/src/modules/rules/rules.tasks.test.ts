import { catchUpWindowEnd, MAX_CATCH_UP_MS } from "./rules.tasks";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

describe("catchUpWindowEnd", () => {
  const now = Date.parse("2026-11-29T12:00:00.000Z");

  it("runs a window that is late by less than the limit as planned", () => {
    const planned = new Date(now - 3 * DAY);
    expect(catchUpWindowEnd(planned, 5 * MINUTE, now)).toEqual(planned);
    const atLimit = new Date(now - MAX_CATCH_UP_MS);
    expect(catchUpWindowEnd(atLimit, 5 * MINUTE, now)).toEqual(atLimit);
  });

  it("skips, on the rule's cadence, to the first window ending within the limit", () => {
    const planned = new Date(now - 20 * DAY - 2 * MINUTE);
    const end = catchUpWindowEnd(planned, 5 * MINUTE, now);
    expect(end.getTime()).toBeGreaterThanOrEqual(now - MAX_CATCH_UP_MS);
    expect(end.getTime() - 5 * MINUTE).toBeLessThan(now - MAX_CATCH_UP_MS);
    expect((end.getTime() - planned.getTime()) % (5 * MINUTE)).toBe(0);
  });

  it("keeps daily rules on their time of day", () => {
    const planned = new Date(Date.parse("2026-10-01T06:30:00.000Z"));
    const end = catchUpWindowEnd(planned, DAY, now);
    expect(end.toISOString()).toBe("2026-11-16T06:30:00.000Z");
  });
});
