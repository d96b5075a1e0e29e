/**
 * CVSS base scores from vector strings, and the qualitative severity levels derived from them.
 *
 * - CVSS v3.0 and v3.1 (`CVSS:3.x/AV:…/AC:…/PR:…/UI:…/S:…/C:…/I:…/A:…`): the specification's base score
 *   equations. v3.1 uses the specification's floating-point-safe `Roundup` (appendix A); v3.0 uses the
 *   original "smallest one-decimal number not below the input".
 * - CVSS v2 (`AV:N/AC:L/Au:N/C:P/I:P/A:P`, optionally in parentheses): the v2 base equation, rounded to one
 *   decimal.
 * - CVSS v4 vectors are recognised but not scored (their score comes from a lookup table): null.
 *
 * Temporal and environmental metrics may appear in a vector (with valid values); they do not change the
 * base score. Vectors with unknown or repeated metrics, invalid values or missing base metrics give null.
 */

/** Qualitative severity of an advisory. */
export type SeverityLevel = "CRITICAL" | "HIGH" | "MEDIUM" | "LOW" | "UNKNOWN";

type Weights = Readonly<Record<string, number>>;

const V3_BASE: Readonly<Record<string, Weights>> = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  PR: { N: 0.85, L: 0.62, H: 0.27 },
  UI: { N: 0.85, R: 0.62 },
  S: { U: 0, C: 1 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
};

/** Privileges Required weighs more when the scope changes. */
const V3_PR_SCOPE_CHANGED: Weights = { N: 0.85, L: 0.68, H: 0.5 };

/** Values allowed for v3 temporal and environmental metrics (ignored by the base score). */
const V3_OTHER: Readonly<Record<string, readonly string[]>> = {
  E: ["X", "U", "P", "F", "H"],
  RL: ["X", "O", "T", "W", "U"],
  RC: ["X", "U", "R", "C"],
  CR: ["X", "L", "M", "H"],
  IR: ["X", "L", "M", "H"],
  AR: ["X", "L", "M", "H"],
  MAV: ["X", "N", "A", "L", "P"],
  MAC: ["X", "L", "H"],
  MPR: ["X", "N", "L", "H"],
  MUI: ["X", "N", "R"],
  MS: ["X", "U", "C"],
  MC: ["X", "N", "L", "H"],
  MI: ["X", "N", "L", "H"],
  MA: ["X", "N", "L", "H"],
};

const V2_BASE: Readonly<Record<string, Weights>> = {
  AV: { L: 0.395, A: 0.646, N: 1.0 },
  AC: { H: 0.35, M: 0.61, L: 0.71 },
  Au: { M: 0.45, S: 0.56, N: 0.704 },
  C: { N: 0, P: 0.275, C: 0.66 },
  I: { N: 0, P: 0.275, C: 0.66 },
  A: { N: 0, P: 0.275, C: 0.66 },
};

const V2_OTHER: Readonly<Record<string, readonly string[]>> = {
  E: ["U", "POC", "F", "H", "ND"],
  RL: ["OF", "TF", "W", "U", "ND"],
  RC: ["UC", "UR", "C", "ND"],
  CDP: ["N", "L", "LM", "MH", "H", "ND"],
  TD: ["N", "L", "M", "H", "ND"],
  CR: ["L", "M", "H", "ND"],
  IR: ["L", "M", "H", "ND"],
  AR: ["L", "M", "H", "ND"],
};

/**
 * Parse `K:V/K:V/…` metrics; null on an empty part, an unknown or repeated metric, or an invalid value.
 * All base metrics must be present.
 */
function parseMetrics(
  parts: string[],
  base: Readonly<Record<string, Weights>>,
  other: Readonly<Record<string, readonly string[]>>,
): Map<string, string> | null {
  const metrics = new Map<string, string>();
  for (const part of parts) {
    const m = /^([A-Za-z]+):([A-Za-z]+)$/.exec(part);
    if (!m) return null;
    const [, key, value] = m;
    if (metrics.has(key)) return null;
    const baseWeights = Object.hasOwn(base, key) ? base[key] : undefined;
    const otherValues = Object.hasOwn(other, key) ? other[key] : undefined;
    if (baseWeights !== undefined) {
      if (!Object.hasOwn(baseWeights, value)) return null;
    } else if (otherValues === undefined || !otherValues.includes(value)) {
      return null;
    }
    metrics.set(key, value);
  }
  for (const key of Object.keys(base)) if (!metrics.has(key)) return null;
  return metrics;
}

/** CVSS v3.1 `Roundup`: the smallest one-decimal number ≥ the input, robust to floating-point error. */
function roundUp31(x: number): number {
  const scaled = Math.round(x * 100000);
  return scaled % 10000 === 0 ? scaled / 100000 : (Math.floor(scaled / 10000) + 1) / 10;
}

/** CVSS v3.0 round up, as that specification states it. */
const roundUp30 = (x: number): number => Math.ceil(x * 10) / 10;

function v3BaseScore(minor: "0" | "1", parts: string[]): number | null {
  const m = parseMetrics(parts, V3_BASE, V3_OTHER);
  if (m === null) return null;
  const w = (key: string): number => V3_BASE[key][m.get(key) as string];
  const changed = m.get("S") === "C";
  const pr = changed ? V3_PR_SCOPE_CHANGED[m.get("PR") as string] : w("PR");
  const iss = 1 - (1 - w("C")) * (1 - w("I")) * (1 - w("A"));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * w("AV") * w("AC") * pr * w("UI");
  if (impact <= 0) return 0;
  const roundUp = minor === "1" ? roundUp31 : roundUp30;
  return roundUp(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

function v2BaseScore(parts: string[]): number | null {
  const m = parseMetrics(parts, V2_BASE, V2_OTHER);
  if (m === null) return null;
  const w = (key: string): number => V2_BASE[key][m.get(key) as string];
  const impact = 10.41 * (1 - (1 - w("C")) * (1 - w("I")) * (1 - w("A")));
  const exploitability = 20 * w("AV") * w("AC") * w("Au");
  const f = impact === 0 ? 0 : 1.176;
  return Math.max(0, Math.round((0.6 * impact + 0.4 * exploitability - 1.5) * f * 10) / 10);
}

/**
 * The CVSS base score (0.0–10.0, one decimal) of a v3.0, v3.1 or v2 vector string; null for v4 vectors
 * and for anything that is not a well-formed vector.
 */
export function cvssBaseScore(vector: string): number | null {
  if (typeof vector !== "string") return null;
  const text = vector.trim();
  const v3 = /^CVSS:3\.([01])\/(.*)$/.exec(text);
  if (v3) return v3BaseScore(v3[1] as "0" | "1", v3[2].split("/"));
  if (/^CVSS:/i.test(text)) return null;
  const v2 = /^\((.*)\)$/.exec(text)?.[1] ?? text;
  return v2BaseScore(v2.split("/"));
}

/** The CVSS qualitative rating of a score: 9.0+ CRITICAL, 7.0+ HIGH, 4.0+ MEDIUM, above 0 LOW; else UNKNOWN. */
export function severityLevelForScore(score: number): SeverityLevel {
  if (!Number.isFinite(score) || score <= 0) return "UNKNOWN";
  if (score >= 9) return "CRITICAL";
  if (score >= 7) return "HIGH";
  if (score >= 4) return "MEDIUM";
  return "LOW";
}

const LEVEL_BY_TEXT: Readonly<Record<string, SeverityLevel>> = {
  critical: "CRITICAL",
  high: "HIGH",
  important: "HIGH",
  medium: "MEDIUM",
  moderate: "MEDIUM",
  low: "LOW",
  negligible: "LOW",
  unimportant: "LOW",
};

/**
 * A severity level from a database's own wording (GitHub `MODERATE`, Red Hat `Important`, Ubuntu
 * priorities such as `negligible`, Debian `unimportant`), case-insensitive; null when not recognised.
 */
export function severityLevelFromText(text: string): SeverityLevel | null {
  if (typeof text !== "string") return null;
  const key = text.trim().toLowerCase();
  return Object.hasOwn(LEVEL_BY_TEXT, key) ? LEVEL_BY_TEXT[key] : null;
}

/** Severity levels from least to most severe (UNKNOWN first). */
export const SEVERITY_ORDER: readonly SeverityLevel[] = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
