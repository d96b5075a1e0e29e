import {
  DAY_MS,
  DEFAULT_LOOKBACK_DURATION,
  describeDuration,
  formatIsoDuration,
  HOUR_MS,
  LOOKBACK_DURATION_BOUNDS,
  MINUTE_MS,
  parseBoundedDuration,
  parseIsoDuration,
  QUERY_FREQUENCY_BOUNDS,
  QUERY_PERIOD_BOUNDS,
  SUPPRESSION_DURATION_BOUNDS,
} from "./durations";

describe("parseIsoDuration", () => {
  it.each([
    ["PT5M", 5 * MINUTE_MS],
    ["PT1H", HOUR_MS],
    ["PT1H30M", 90 * MINUTE_MS],
    ["P1D", DAY_MS],
    ["P14D", 14 * DAY_MS],
    ["P2W", 14 * DAY_MS],
    ["P1DT12H", 36 * HOUR_MS],
    ["PT0.5S", 500],
    ["PT1,25S", 1250],
    ["PT0.0004S", 0],
    ["PT0.0005S", 1],
    ["P1DT2H3M4.567S", DAY_MS + 2 * HOUR_MS + 3 * MINUTE_MS + 4567],
    ["PT90M", 90 * MINUTE_MS],
    ["PT0S", 0],
    ["P0D", 0],
  ])("%s is %d ms", (text, ms) => {
    expect(parseIsoDuration(text)).toEqual({ ms });
  });

  it.each([
    ["P1Y", /years and months/],
    ["P1M", /years and months/],
    ["P1Y2M3DT4H", /years and months/],
    ["", /empty/],
    ["P", /no value/],
    ["PT", /no value/],
    ["-PT5M", /negative/],
    ["pt5m", /upper-case/],
    ["PT5m", /upper-case/],
    ["PT1.5M", /only the seconds/],
    ["P1.5D", /only the seconds/],
    ["P1W2D", /not an ISO 8601 duration/],
    ["5 minutes", /not an ISO 8601 duration/],
    ["PT5M ", /not an ISO 8601 duration/],
    ["P1DT", /T must be followed/],
    ["PT1S1M", /not an ISO 8601 duration/],
    ["P99999999999999999D", /too long/],
  ])("rejects %j", (text, message) => {
    const result = parseIsoDuration(text);
    expect(result).toEqual({ error: expect.stringMatching(message) });
  });

  it("never throws on non-strings", () => {
    expect(parseIsoDuration(5 as unknown as string)).toEqual({ error: expect.any(String) });
  });
});

describe("formatIsoDuration", () => {
  it.each([
    [0, "PT0S"],
    [5 * MINUTE_MS, "PT5M"],
    [HOUR_MS, "PT1H"],
    [5 * HOUR_MS, "PT5H"],
    [DAY_MS, "P1D"],
    [14 * DAY_MS, "P14D"],
    [DAY_MS + 90 * MINUTE_MS + 1500, "P1DT1H30M1.5S"],
    [250, "PT0.25S"],
    [1, "PT0.001S"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatIsoDuration(ms)).toBe(text);
    expect(parseIsoDuration(text)).toEqual({ ms });
  });

  it("rejects negative, fractional and infinite values", () => {
    expect(() => formatIsoDuration(-1)).toThrow(RangeError);
    expect(() => formatIsoDuration(1.5)).toThrow(RangeError);
    expect(() => formatIsoDuration(Infinity)).toThrow(RangeError);
  });

  it("round-trips every minute count up to 14 days", () => {
    for (let minutes = 0; minutes <= 14 * 24 * 60; minutes += 7) {
      const ms = minutes * MINUTE_MS;
      expect(parseIsoDuration(formatIsoDuration(ms))).toEqual({ ms });
    }
  });
});

describe("Sentinel bounds", () => {
  it("has Sentinel's limits", () => {
    expect(QUERY_FREQUENCY_BOUNDS).toEqual({ min: 5 * MINUTE_MS, max: 14 * DAY_MS });
    expect(QUERY_PERIOD_BOUNDS).toEqual({ min: 5 * MINUTE_MS, max: 14 * DAY_MS });
    expect(SUPPRESSION_DURATION_BOUNDS).toEqual({ min: 5 * MINUTE_MS, max: 24 * HOUR_MS });
    expect(LOOKBACK_DURATION_BOUNDS).toEqual({ min: 5 * MINUTE_MS, max: 7 * DAY_MS });
    expect(DEFAULT_LOOKBACK_DURATION).toBe("PT5H");
  });

  it("checks bounds inclusively and says which", () => {
    expect(parseBoundedDuration("PT5M", QUERY_FREQUENCY_BOUNDS)).toEqual({ ms: 5 * MINUTE_MS });
    expect(parseBoundedDuration("P14D", QUERY_FREQUENCY_BOUNDS)).toEqual({ ms: 14 * DAY_MS });
    expect(parseBoundedDuration("P2W", QUERY_PERIOD_BOUNDS)).toEqual({ ms: 14 * DAY_MS });
    expect(parseBoundedDuration("PT4M59S", QUERY_FREQUENCY_BOUNDS)).toEqual({
      error: "must be between 5 minutes (PT5M) and 14 days (P14D) (got PT4M59S)",
    });
    expect(parseBoundedDuration("P14DT1S", QUERY_PERIOD_BOUNDS)).toEqual({
      error: expect.stringMatching(/14 days/),
    });
    expect(parseBoundedDuration("PT25H", SUPPRESSION_DURATION_BOUNDS)).toEqual({
      error: "must be between 5 minutes (PT5M) and 1 day (P1D) (got PT25H)",
    });
    expect(parseBoundedDuration("P8D", LOOKBACK_DURATION_BOUNDS)).toEqual({
      error: expect.stringMatching(/7 days/),
    });
    expect(parseBoundedDuration("P1M", LOOKBACK_DURATION_BOUNDS)).toEqual({
      error: expect.stringMatching(/months/),
    });
    expect(parseBoundedDuration(300, LOOKBACK_DURATION_BOUNDS)).toEqual({
      error: expect.stringMatching(/string/),
    });
  });

  it("describes durations for people", () => {
    expect(describeDuration(5 * MINUTE_MS)).toBe("5 minutes");
    expect(describeDuration(HOUR_MS + 30 * MINUTE_MS)).toBe("1 hour 30 minutes");
    expect(describeDuration(0)).toBe("0 seconds");
    expect(describeDuration(1500)).toBe("1 second 500 ms");
  });
});
