/** Look-back windows over telemetry (application-control learning, network hardening): ISO 8601 durations. */

/** Shortest and longest window (telemetry is kept 30 days by default, so longer windows see no more). */
export const WINDOW_LIMITS = { minSeconds: 3600, maxSeconds: 90 * 86_400 } as const;

const DURATION = /^P(?:(\d{1,4})W|(?:(\d{1,4})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,8})M)?(?:(\d{1,9})S)?)?)$/;

/**
 * Parses a window such as `P14D`, `P2W` or `PT12H` into seconds, or returns why it is not one: whole
 * weeks, days, hours, minutes and seconds only (no years or months, whose length varies), from PT1H to P90D.
 */
export function parseWindow(text: string): { seconds: number } | { problem: string } {
  const m = DURATION.exec(text ?? "");
  if (!m || text === "P" || text.endsWith("T"))
    return { problem: "must be an ISO 8601 duration of weeks, days, hours, minutes or seconds, e.g. P14D" };
  const [, w, d, h, min, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  const seconds = w * 7 * 86_400 + d * 86_400 + h * 3600 + min * 60 + s;
  if (seconds < WINDOW_LIMITS.minSeconds || seconds > WINDOW_LIMITS.maxSeconds)
    return { problem: "must be between PT1H and P90D" };
  return { seconds };
}
