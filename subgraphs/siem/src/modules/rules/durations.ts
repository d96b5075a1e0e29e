/**
 * ISO 8601 durations as analytics rules use them (`PT5M`, `PT1H`, `P1D`, `P2W`, `P1DT12H`, `PT0.5S`), and the
 * bounds Microsoft Sentinel puts on a scheduled rule's timings.
 *
 * Choices:
 * - Only fixed-length designators are accepted: weeks (alone, `PnW`), days, hours, minutes and seconds. Years and
 *   months are rejected because their length varies; a day is always 24 hours (no calendar or DST arithmetic).
 * - Designators are upper-case (`P`, `T`, `W`, `D`, `H`, `M`, `S`); no sign, no spaces.
 * - Only the seconds may have a fraction (`.` or `,` as ISO allows); the result is rounded to the millisecond.
 */

/** One minute in milliseconds. */
export const MINUTE_MS = 60_000;
/** One hour in milliseconds. */
export const HOUR_MS = 60 * MINUTE_MS;
/** One day (24 hours) in milliseconds. */
export const DAY_MS = 24 * HOUR_MS;

/** Inclusive bounds of a duration, in milliseconds. */
export interface DurationBounds {
  readonly min: number;
  readonly max: number;
}

/** A scheduled rule's `queryFrequency` (how often it runs): 5 minutes to 14 days. */
export const QUERY_FREQUENCY_BOUNDS: DurationBounds = { min: 5 * MINUTE_MS, max: 14 * DAY_MS };
/** A scheduled rule's `queryPeriod` (how far back each run looks): 5 minutes to 14 days, and ≥ queryFrequency. */
export const QUERY_PERIOD_BOUNDS: DurationBounds = { min: 5 * MINUTE_MS, max: 14 * DAY_MS };
/**
 * A summarised rule's sliding `summarize.window`: 1 minute to 14 days (and ≤ queryPeriod). Shorter than a run's
 * frequency is fine: windows are anchored at events, not at runs.
 */
export const SLIDING_WINDOW_BOUNDS: DurationBounds = { min: MINUTE_MS, max: 14 * DAY_MS };
/** Alert suppression after a rule fires (`suppression.duration`): 5 minutes to 24 hours. */
export const SUPPRESSION_DURATION_BOUNDS: DurationBounds = { min: 5 * MINUTE_MS, max: 24 * HOUR_MS };
/** How far back incident grouping looks for an open incident (`incidentGrouping.lookbackDuration`): 5 minutes to 7 days. */
export const LOOKBACK_DURATION_BOUNDS: DurationBounds = { min: 5 * MINUTE_MS, max: 7 * DAY_MS };

/** Sentinel's default incident-grouping lookback. */
export const DEFAULT_LOOKBACK_DURATION = "PT5H";
/** Sentinel's default suppression duration (used when suppression is off, so that turning it on has a value). */
export const DEFAULT_SUPPRESSION_DURATION = "PT5H";

const DURATION_PATTERN =
  /^P(?:(?<weeks>\d+)W|(?:(?<days>\d+)D)?(?:T(?:(?<hours>\d+)H)?(?:(?<minutes>\d+)M)?(?:(?<seconds>\d+(?:[.,]\d+)?)S)?)?)$/;

/**
 * Parses an ISO 8601 duration of weeks, days, hours, minutes and (fractional) seconds into milliseconds.
 * Never throws: a text that is not such a duration gives `{ error }` saying why.
 */
export function parseIsoDuration(text: string): { ms: number } | { error: string } {
  if (typeof text !== "string") return { error: "must be an ISO 8601 duration string such as PT5M" };
  if (text.length === 0) return { error: "must not be empty (use an ISO 8601 duration such as PT5M)" };
  if (text.length > 64) return { error: "is too long to be a duration" };
  if (/^[-+]/.test(text)) return { error: `"${text}": negative or signed durations are not allowed` };
  if (/^P[^T]*[YM]/.test(text)) {
    return {
      error: `"${text}": years and months are not supported because their length varies; use weeks or days (e.g. P30D)`,
    };
  }
  if (text !== text.toUpperCase() && /^p/i.test(text)) {
    return { error: `"${text}": duration designators must be upper-case (e.g. PT5M)` };
  }
  const match = DURATION_PATTERN.exec(text);
  if (!match?.groups) {
    if (/^P.*\d[.,]\d*[WDHM]/.test(text)) return { error: `"${text}": only the seconds may have a fraction` };
    return {
      error: `"${text}" is not an ISO 8601 duration (expected forms like PT5M, PT1H30M, P1D, P1DT12H, P2W, PT0.5S)`,
    };
  }
  const { weeks, days, hours, minutes, seconds } = match.groups;
  if ([weeks, days, hours, minutes, seconds].every((part) => part === undefined)) {
    return { error: `"${text}" has no value (e.g. PT5M)` };
  }
  if (text.endsWith("T")) return { error: `"${text}": T must be followed by hours, minutes or seconds` };
  const ms =
    Number(weeks ?? 0) * 7 * DAY_MS +
    Number(days ?? 0) * DAY_MS +
    Number(hours ?? 0) * HOUR_MS +
    Number(minutes ?? 0) * MINUTE_MS +
    Math.round(Number((seconds ?? "0").replace(",", ".")) * 1000);
  if (!Number.isSafeInteger(ms)) return { error: `"${text}" is too long` };
  return { ms };
}

/**
 * Formats milliseconds as an ISO 8601 duration with days, hours, minutes and seconds (`P1DT2H`, `PT5M`, `PT1.5S`,
 * `PT0S` for zero). Throws RangeError for a negative, fractional or non-finite value.
 */
export function formatIsoDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`a duration must be a non-negative whole number of milliseconds (got ${ms})`);
  }
  const days = Math.floor(ms / DAY_MS);
  const hours = Math.floor((ms % DAY_MS) / HOUR_MS);
  const minutes = Math.floor((ms % HOUR_MS) / MINUTE_MS);
  const millis = ms % MINUTE_MS;
  let time = "";
  if (hours > 0) time += `${hours}H`;
  if (minutes > 0) time += `${minutes}M`;
  if (millis > 0) {
    const whole = Math.floor(millis / 1000);
    const fraction = millis % 1000;
    time +=
      fraction === 0 ? `${whole}S` : `${whole}.${String(fraction).padStart(3, "0").replace(/0+$/, "")}S`;
  }
  if (days === 0 && time === "") return "PT0S";
  return `P${days > 0 ? `${days}D` : ""}${time ? `T${time}` : ""}`;
}

/** A readable length for messages: `5 minutes`, `24 hours`, `14 days`, `1 hour 30 minutes`. */
export function describeDuration(ms: number): string {
  const parts: string[] = [];
  const units: Array<[number, string]> = [
    [DAY_MS, "day"],
    [HOUR_MS, "hour"],
    [MINUTE_MS, "minute"],
    [1000, "second"],
  ];
  let rest = Math.max(0, Math.round(ms));
  for (const [size, name] of units) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count} ${name}${count === 1 ? "" : "s"}`);
    rest -= count * size;
  }
  if (rest > 0) parts.push(`${rest} ms`);
  return parts.length > 0 ? parts.join(" ") : "0 seconds";
}

/**
 * Parses a duration and checks it lies within `bounds` (inclusive). Never throws; the error names the bounds,
 * e.g. `must be between 5 minutes (PT5M) and 14 days (P14D) (got P15D)`.
 */
export function parseBoundedDuration(
  text: unknown,
  bounds: DurationBounds,
): { ms: number } | { error: string } {
  if (typeof text !== "string") return { error: "must be an ISO 8601 duration string such as PT5M" };
  const parsed = parseIsoDuration(text);
  if ("error" in parsed) return parsed;
  if (parsed.ms < bounds.min || parsed.ms > bounds.max) {
    return {
      error:
        `must be between ${describeDuration(bounds.min)} (${formatIsoDuration(bounds.min)}) and ` +
        `${describeDuration(bounds.max)} (${formatIsoDuration(bounds.max)}) (got ${text})`,
    };
  }
  return parsed;
}
