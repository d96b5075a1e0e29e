/**
 * OSV advisories (https://ossf.github.io/osv-schema/): parsing the parts of the schema that vulnerability
 * assessment uses, deciding whether an installed package is affected, and an index for matching many
 * installed packages against many advisories.
 *
 * Pure: no I/O, no database. Advisories are plain data and are treated as immutable once parsed.
 */
import {
  cvssBaseScore,
  severityLevelForScore,
  severityLevelFromText,
  SEVERITY_ORDER,
  type SeverityLevel,
} from "./cvss";
import { compareVersions, ecosystemOf, isValidVersion, osvEcosystemParts, type Ecosystem } from "./versions";
import { jsonProblem } from "../../../../common/src/validation";

export { cvssBaseScore, severityLevelForScore, severityLevelFromText } from "./cvss";
export type { SeverityLevel } from "./cvss";

/** One event of a range: exactly one of the four fields is set. */
export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

/** An OSV `affected[].ranges[]` entry. GIT ranges are kept but never used for matching. */
export interface OsvAffectedRange {
  type: "SEMVER" | "ECOSYSTEM" | "GIT";
  events: OsvEvent[];
  /** The repository of a GIT range, when given. */
  repo?: string;
}

/** The severity of an advisory, from its CVSS vector or, failing that, from the database's wording. */
export interface AdvisorySeverity {
  /** The CVSS vector the score comes from (v3 preferred, then v2); an unscored v4 vector when only that exists. */
  cvssVector: string | null;
  /** The CVSS base score of `cvssVector`; null when there is no scorable vector. */
  cvssScore: number | null;
  /** From the score when above 0; otherwise the most severe recognised `severity` wording; else UNKNOWN. */
  level: SeverityLevel;
}

/** A package an advisory affects, in an ecosystem this module can order versions for. */
export interface AffectedPackage {
  /** Version-ordering family of `osvEcosystem`. */
  ecosystem: Ecosystem;
  /** The OSV ecosystem string as published (`"Debian:12"`, `"Alpine:v3.19"`, `"AlmaLinux:9"`). */
  osvEcosystem: string;
  /** The package name as published. */
  package: string;
  ranges: OsvAffectedRange[];
  /** Versions listed explicitly as affected. */
  versions: string[];
}

/** A parsed OSV advisory. */
export interface Advisory {
  id: string;
  aliases: string[];
  summary: string | null;
  details: string | null;
  /** RFC 3339 timestamps, as published. */
  published: string | null;
  modified: string;
  severity: AdvisorySeverity;
  /** Affected packages in supported ecosystems; entries without a package (GIT-only) are dropped. */
  affected: AffectedPackage[];
  /** Reference URLs. */
  references: string[];
  /** When the advisory was withdrawn; withdrawn advisories never match. */
  withdrawn: string | null;
  /** OSV ecosystems of affected entries that were skipped because their versions cannot be ordered here. */
  skippedEcosystems: string[];
}

/** Something wrong with an advisory's JSON, located by a JSONPath-like path (`$.affected[0].ranges[1]`). */
export interface AdvisoryProblem {
  path: string;
  message: string;
}

/** A package installed on a workload. */
export interface InstalledPackage {
  ecosystem: Ecosystem;
  name: string;
  version: string;
  /**
   * Optional OSV ecosystem of the installation, with its release (`"Debian:12"`, `"Alpine:v3.19"`,
   * `"AlmaLinux:9"`). When given, only affected entries of the same distribution match, and of the same
   * release when both name one (`v` before an Alpine release number is ignored). When omitted, every
   * entry of the version family matches.
   */
  osvEcosystem?: string;
  /**
   * Optional major release of the installation's distribution (`"8"` for RHEL 8.10), for hosts whose
   * advisories come from several rebuilds of one distribution (AlmaLinux, Rocky Linux and Red Hat all
   * publish RPM advisories per major release). When given, an affected entry whose ecosystem names a
   * release matches only when the release's first number is this major (`AlmaLinux:8`,
   * `Red Hat:enterprise_linux:8::appstream`); an entry naming no release still matches. Applies in
   * addition to `osvEcosystem`.
   */
  releaseMajor?: string;
}

/** Whether an advisory affects a package and, if so, the lowest version that fixes it (when known). */
export type AffectsResult = { affected: true; fixedVersion: string | null } | { affected: false };

// ---------------------------------------------------------------------------------------------------
// Parsing

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Longest advisory id. Ids are keys (a btree entry holds at most 2,704 bytes, with the tenant and the package
 * beside it in a finding's key); published ids (`GHSA-…`, `CVE-…`, `DEBIAN-CVE-…`) are a few dozen characters.
 */
export const MAX_ADVISORY_ID_LENGTH = 256;

/** Whether a timestamp's `YYYY-MM-DD` is on the calendar from year 1 (Date.parse takes 30 February as 2 March). */
function onCalendar(timestamp: string): boolean {
  const [year, month, day] = timestamp.slice(0, 10).split("-").map(Number);
  return (
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day
  );
}

const RANGE_TYPES: ReadonlySet<string> = new Set(["SEMVER", "ECOSYSTEM", "GIT"]);
const EVENT_KEYS = ["introduced", "fixed", "last_affected", "limit"] as const;

/** Severity-related text and vectors gathered while parsing. */
interface SeveritySources {
  vectors: Array<{ type: string; score: string }>;
  texts: string[];
}

class Reader {
  readonly problems: AdvisoryProblem[] = [];

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  /** An optional string (null and absent are the same); reports anything else. */
  optionalString(value: unknown, path: string): string | null {
    if (value === undefined || value === null) return null;
    if (typeof value === "string") return value;
    this.problem(path, "must be a string");
    return null;
  }

  /** A timestamp in RFC 3339 format. */
  timestamp(value: unknown, path: string, required: boolean): string | null {
    if (value === undefined || value === null) {
      if (required) this.problem(path, "is required (an RFC 3339 timestamp)");
      return null;
    }
    if (
      typeof value !== "string" ||
      !RFC3339.test(value) ||
      Number.isNaN(Date.parse(value)) ||
      !onCalendar(value)
    ) {
      this.problem(path, "must be an RFC 3339 timestamp such as 2024-01-31T12:00:00Z");
      return null;
    }
    return value;
  }

  /** An optional array of strings. */
  strings(value: unknown, path: string): string[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.problem(path, "must be an array of strings");
      return [];
    }
    const out: string[] = [];
    value.forEach((item: unknown, i) => {
      if (typeof item === "string") out.push(item);
      else this.problem(`${path}[${i}]`, "must be a string");
    });
    return out;
  }

  /** An optional object (`database_specific`, `ecosystem_specific`); its `severity` text is collected. */
  specific(value: unknown, path: string, sources: SeveritySources): void {
    if (value === undefined || value === null) return;
    if (!isObject(value)) {
      this.problem(path, "must be an object");
      return;
    }
    if (typeof value.severity === "string") sources.texts.push(value.severity);
  }

  /** An optional `severity` array. */
  severity(value: unknown, path: string, sources: SeveritySources): void {
    if (value === undefined || value === null) return;
    if (!Array.isArray(value)) {
      this.problem(path, "must be an array of { type, score } objects");
      return;
    }
    value.forEach((item: unknown, i) => {
      const at = `${path}[${i}]`;
      if (!isObject(item)) return this.problem(at, "must be an object with a type and a score");
      if (typeof item.type !== "string") return this.problem(`${at}.type`, "must be a string");
      if (typeof item.score !== "string") return this.problem(`${at}.score`, "must be a string");
      if (item.type.startsWith("CVSS_")) sources.vectors.push({ type: item.type, score: item.score });
      else sources.texts.push(item.score);
    });
  }

  ranges(value: unknown, path: string): OsvAffectedRange[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.problem(path, "must be an array");
      return [];
    }
    const out: OsvAffectedRange[] = [];
    value.forEach((item: unknown, i) => {
      const range = this.range(item, `${path}[${i}]`);
      if (range !== null) out.push(range);
    });
    return out;
  }

  range(value: unknown, path: string): OsvAffectedRange | null {
    if (!isObject(value)) {
      this.problem(path, "must be an object");
      return null;
    }
    const type = value.type;
    const typeOk = typeof type === "string" && RANGE_TYPES.has(type);
    if (!typeOk) this.problem(`${path}.type`, "must be one of SEMVER, ECOSYSTEM, GIT");
    const repo = this.optionalString(value.repo, `${path}.repo`);
    const eventsValue = value.events;
    if (!Array.isArray(eventsValue) || eventsValue.length === 0) {
      this.problem(`${path}.events`, "must be a non-empty array of events");
      return null;
    }
    const events: OsvEvent[] = [];
    let ok = typeOk;
    eventsValue.forEach((item: unknown, i) => {
      const at = `${path}.events[${i}]`;
      if (!isObject(item)) {
        this.problem(at, "must be an object");
        ok = false;
        return;
      }
      const keys = EVENT_KEYS.filter((k) => item[k] !== undefined);
      if (keys.length !== 1) {
        this.problem(at, "must have exactly one of introduced, fixed, last_affected, limit");
        ok = false;
        return;
      }
      const key = keys[0];
      const version = item[key];
      if (typeof version !== "string" || version.trim() === "") {
        this.problem(`${at}.${key}`, "must be a non-empty string");
        ok = false;
        return;
      }
      const event: OsvEvent = {};
      event[key] = version;
      events.push(event);
    });
    if (!ok) return null;
    if (!events.some((e) => e.introduced !== undefined)) {
      this.problem(`${path}.events`, "must contain at least one introduced event");
      return null;
    }
    if (events.some((e) => e.fixed !== undefined) && events.some((e) => e.last_affected !== undefined)) {
      this.problem(`${path}.events`, "must not contain both fixed and last_affected events");
      return null;
    }
    return { type: type as OsvAffectedRange["type"], events, ...(repo !== null ? { repo } : {}) };
  }

  references(value: unknown, path: string): string[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.problem(path, "must be an array of { type, url } objects");
      return [];
    }
    const out: string[] = [];
    value.forEach((item: unknown, i) => {
      const at = `${path}[${i}]`;
      if (!isObject(item)) this.problem(at, "must be an object with a url");
      else if (typeof item.url !== "string" || item.url === "") this.problem(`${at}.url`, "must be a string");
      else out.push(item.url);
    });
    return out;
  }
}

/** The advisory severity from the collected vectors and wordings. */
function severityOf(sources: SeveritySources): AdvisorySeverity {
  let cvssVector: string | null = null;
  let cvssScore: number | null = null;
  for (const type of ["CVSS_V3", "CVSS_V2"]) {
    for (const v of sources.vectors) {
      if (cvssScore !== null || v.type !== type) continue;
      const score = cvssBaseScore(v.score);
      if (score !== null) {
        cvssVector = v.score.trim();
        cvssScore = score;
      }
    }
  }
  if (cvssVector === null) {
    const unscored = sources.vectors.find((v) => v.type === "CVSS_V4") ?? sources.vectors[0];
    if (unscored !== undefined) cvssVector = unscored.score.trim();
  }
  let level: SeverityLevel = cvssScore !== null ? severityLevelForScore(cvssScore) : "UNKNOWN";
  if (level === "UNKNOWN") {
    for (const text of sources.texts) {
      const fromText = severityLevelFromText(text);
      if (fromText !== null && SEVERITY_ORDER.indexOf(fromText) > SEVERITY_ORDER.indexOf(level))
        level = fromText;
    }
  }
  return { cvssVector, cvssScore, level };
}

function parseRoot(root: JsonObject): { advisory: Advisory } | { problems: AdvisoryProblem[] } {
  const r = new Reader();
  const sources: SeveritySources = { vectors: [], texts: [] };

  let id: string | null = null;
  if (typeof root.id !== "string" || root.id.trim() === "")
    r.problem("$.id", "is required (a non-empty string)");
  else if (root.id.length > MAX_ADVISORY_ID_LENGTH)
    r.problem("$.id", `must be at most ${MAX_ADVISORY_ID_LENGTH} characters`);
  else id = root.id;
  const modified = r.timestamp(root.modified, "$.modified", true);
  const published = r.timestamp(root.published, "$.published", false);
  const withdrawn = r.timestamp(root.withdrawn, "$.withdrawn", false);
  const aliases = r.strings(root.aliases, "$.aliases");
  const summary = r.optionalString(root.summary, "$.summary");
  const details = r.optionalString(root.details, "$.details");
  r.severity(root.severity, "$.severity", sources);
  r.specific(root.database_specific, "$.database_specific", sources);
  const references = r.references(root.references, "$.references");

  const affected: AffectedPackage[] = [];
  const skipped = new Set<string>();
  if (root.affected !== undefined && root.affected !== null && !Array.isArray(root.affected)) {
    r.problem("$.affected", "must be an array");
  } else {
    const entries: unknown[] = Array.isArray(root.affected) ? root.affected : [];
    entries.forEach((entry, i) => {
      const path = `$.affected[${i}]`;
      if (!isObject(entry)) return r.problem(path, "must be an object");
      let osvEcosystem: string | null = null;
      let name: string | null = null;
      const pkg = entry.package;
      if (pkg !== undefined && pkg !== null) {
        if (!isObject(pkg)) {
          r.problem(`${path}.package`, "must be an object with an ecosystem and a name");
        } else {
          if (typeof pkg.ecosystem !== "string" || pkg.ecosystem.trim() === "") {
            r.problem(`${path}.package.ecosystem`, "is required (a non-empty string)");
          } else {
            osvEcosystem = pkg.ecosystem;
          }
          if (typeof pkg.name !== "string" || pkg.name.trim() === "") {
            r.problem(`${path}.package.name`, "is required (a non-empty string)");
          } else {
            name = pkg.name;
          }
          r.optionalString(pkg.purl, `${path}.package.purl`);
        }
      }
      const ranges = r.ranges(entry.ranges, `${path}.ranges`);
      const versions = r.strings(entry.versions, `${path}.versions`);
      r.severity(entry.severity, `${path}.severity`, sources);
      r.specific(entry.ecosystem_specific, `${path}.ecosystem_specific`, sources);
      r.specific(entry.database_specific, `${path}.database_specific`, sources);
      if (osvEcosystem === null || name === null) return;
      const ecosystem = ecosystemOf(osvEcosystem);
      if (ecosystem === null) skipped.add(osvEcosystem);
      else affected.push({ ecosystem, osvEcosystem, package: name, ranges, versions });
    });
  }

  if (r.problems.length > 0 || id === null || modified === null) return { problems: r.problems };
  return {
    advisory: {
      id,
      aliases,
      summary,
      details,
      published,
      modified,
      severity: severityOf(sources),
      affected,
      references,
      withdrawn,
      skippedEcosystems: [...skipped],
    },
  };
}

const describe = (error: unknown): string => {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unknown error";
  }
};

/**
 * Parse one OSV advisory: a parsed JSON value (or the JSON text itself). Validates the parts of the schema
 * used here (id, timestamps, aliases, summary/details, severity, affected packages, ranges and events,
 * versions, references) and reports every problem found rather than the first; null is accepted for
 * optional fields. An advisory holding a string Postgres cannot store (a NUL, an unpaired surrogate) or
 * nested deeper than MAX_JSON_DEPTH is refused with that one fault. Affected entries in ecosystems whose
 * versions cannot be ordered here are skipped and listed in `skippedEcosystems`; entries without a package
 * (GIT-only) are dropped. Never throws.
 */
export function parseOsvAdvisory(json: unknown): { advisory: Advisory } | { problems: AdvisoryProblem[] } {
  try {
    let root: unknown = json;
    if (typeof json === "string") {
      try {
        root = JSON.parse(json) as unknown;
      } catch (error) {
        return { problems: [{ path: "$", message: `is not valid JSON: ${describe(error)}` }] };
      }
    }
    if (!isObject(root)) return { problems: [{ path: "$", message: "must be a JSON object" }] };
    // Stored as jsonb, which holds no NUL and no unpaired surrogate; and walked here, so not too deep.
    const unstorable = jsonProblem(root);
    if (unstorable)
      return {
        problems: [{ path: unstorable.path ? `$.${unstorable.path}` : "$", message: unstorable.message }],
      };
    return parseRoot(root);
  } catch (error) {
    return { problems: [{ path: "$", message: `could not be read: ${describe(error)}` }] };
  }
}

// ---------------------------------------------------------------------------------------------------
// Matching

/**
 * The name under which a package is indexed and compared: PyPI names normalised per PEP 503 (lower-case,
 * runs of `-`, `_`, `.` become `-`); crates.io names lower-cased with `_` as `-` (crates.io treats names that
 * differ only so as one crate and refuses to publish a second); Debian, Alpine and RPM names lower-cased;
 * npm names, Maven `groupId:artifactId` coordinates and Go module paths exact (each registry tells
 * `HikariCP` from `hikaricp`, and the Go proxy `github.com/BurntSushi/toml` from its lower-case spelling).
 */
export function normalizePackageName(ecosystem: Ecosystem, name: string): string {
  switch (ecosystem) {
    case "PyPI":
      return name.replace(/[-_.]+/g, "-").toLowerCase();
    case "crates.io":
      return name.replace(/_/g, "-").toLowerCase();
    case "npm":
    case "Maven":
    case "Go":
      return name;
    default:
      return name.toLowerCase();
  }
}

/**
 * The ordering a range is evaluated in: an ECOSYSTEM range in its entry's, a SEMVER range in SemVer as its
 * ecosystem spells it (Go's `v` prefix and pseudo-versions, Cargo's plain versions), npm's for the others.
 */
const rangeFamily = (range: OsvAffectedRange, ecosystem: Ecosystem): Ecosystem =>
  range.type !== "SEMVER" ? ecosystem : ecosystem === "Go" || ecosystem === "crates.io" ? ecosystem : "npm";

const normalizeRelease = (release: string): string =>
  release
    .trim()
    .toLowerCase()
    .replace(/^v(?=\d)/, "");

/** Whether an affected entry's OSV ecosystem applies to the installation's (see `InstalledPackage`). */
function sameDistribution(entryEcosystem: string, installed: string | undefined): boolean {
  if (installed === undefined || installed.trim() === "") return true;
  const a = osvEcosystemParts(entryEcosystem);
  const b = osvEcosystemParts(installed);
  if (a.name.toLowerCase() !== b.name.toLowerCase()) return false;
  return (
    a.release === null || b.release === null || normalizeRelease(a.release) === normalizeRelease(b.release)
  );
}

/** The first number of a release (`8` of `enterprise_linux:8::appstream`), without leading zeros. */
const releaseMajorOf = (release: string): string | null =>
  /\d+/.exec(normalizeRelease(release))?.[0].replace(/^0+(?=\d)/, "") ?? null;

/** Whether an affected entry's release has the installation's major release (see `InstalledPackage`). */
function sameMajorRelease(entryEcosystem: string, major: string | undefined): boolean {
  if (major === undefined || major.trim() === "") return true;
  const { release } = osvEcosystemParts(entryEcosystem);
  if (release === null) return true;
  return releaseMajorOf(release) === major.trim().replace(/^0+(?=\d)/, "");
}

/** The version of an event that orders it (introduced, fixed, last_affected or limit). */
const eventVersion = (e: OsvEvent): string => e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? "";

/** The events of a range other than `limit`, in version order; computed once per range (ranges are immutable). */
const sortedEventsCache = new WeakMap<OsvAffectedRange, OsvEvent[]>();

function sortedEvents(range: OsvAffectedRange, family: Ecosystem): OsvEvent[] {
  let events = sortedEventsCache.get(range);
  if (events === undefined) {
    events = range.events
      .filter((e) => e.limit === undefined)
      .sort((x, y) => {
        const zx = x.introduced === "0";
        const zy = y.introduced === "0";
        if (zx || zy) return zx && zy ? 0 : zx ? -1 : 1;
        return compareVersions(family, eventVersion(x), eventVersion(y));
      });
    sortedEventsCache.set(range, events);
  }
  return events;
}

/**
 * Whether `version` lies in a SEMVER or ECOSYSTEM range, per the OSV evaluation algorithm: below some
 * `limit` (when there are any; `*` is infinity), and after sweeping the events in version order the last
 * applicable one is an `introduced` (`"0"` sorts before every version). A version that is not valid in
 * the range's ordering is never in a range.
 */
function inRange(range: OsvAffectedRange, ecosystem: Ecosystem, version: string): boolean {
  if (range.type === "GIT") return false;
  const family = rangeFamily(range, ecosystem);
  if (!isValidVersion(family, version)) return false;
  const cmp = (a: string, b: string) => compareVersions(family, a, b);
  const limits = range.events.flatMap((e) => (e.limit !== undefined ? [e.limit] : []));
  if (limits.length > 0 && !limits.some((limit) => limit.includes("*") || cmp(version, limit) < 0))
    return false;
  let vulnerable = false;
  for (const e of sortedEvents(range, family)) {
    if (e.introduced !== undefined) {
      if (e.introduced === "0" || cmp(version, e.introduced) >= 0) vulnerable = true;
    } else if (e.fixed !== undefined) {
      if (cmp(version, e.fixed) >= 0) vulnerable = false;
    } else if (e.last_affected !== undefined) {
      if (cmp(version, e.last_affected) > 0) vulnerable = false;
    }
  }
  return vulnerable;
}

/** Explicit versions match by string, or by equivalence when both are valid (`1.0` = `1.0.0` in PyPI). */
function inVersions(entry: AffectedPackage, version: string): boolean {
  const valid = isValidVersion(entry.ecosystem, version);
  return entry.versions.some(
    (v) =>
      v === version ||
      (valid && isValidVersion(entry.ecosystem, v) && compareVersions(entry.ecosystem, v, version) === 0),
  );
}

/** The affected entries of an advisory that describe an installed package (name, family, distribution). */
function entriesFor(advisory: Advisory, pkg: InstalledPackage): AffectedPackage[] {
  const name = normalizePackageName(pkg.ecosystem, pkg.name);
  return advisory.affected.filter(
    (e) =>
      e.ecosystem === pkg.ecosystem &&
      normalizePackageName(e.ecosystem, e.package) === name &&
      sameDistribution(e.osvEcosystem, pkg.osvEcosystem) &&
      sameMajorRelease(e.osvEcosystem, pkg.releaseMajor),
  );
}

const isAffectedVersion = (entries: AffectedPackage[], version: string): boolean =>
  entries.some((e) => inVersions(e, version) || e.ranges.some((r) => inRange(r, e.ecosystem, version)));

/**
 * Whether an advisory affects an installed package, per the OSV evaluation algorithm: some affected entry
 * for the package lists the version or has a SEMVER/ECOSYSTEM range containing it (GIT ranges ignored).
 * Withdrawn advisories never match. `fixedVersion` is the lowest `fixed` event above the installed version,
 * among the package's SEMVER/ECOSYSTEM ranges in the advisory, that the advisory does not itself affect:
 * the fix closing the range that contains the installed version, unless another range (or entry) still
 * covers that version, in which case the next fix that clears them all. Null when there is none (e.g. only
 * `last_affected` is known).
 */
export function affects(advisory: Advisory, pkg: InstalledPackage): AffectsResult {
  if (advisory.withdrawn !== null) return { affected: false };
  return affectsWithin(entriesFor(advisory, pkg), pkg);
}

/** `affects` given the advisory's entries that describe the package. */
function affectsWithin(entries: AffectedPackage[], pkg: InstalledPackage): AffectsResult {
  if (entries.length === 0 || !isAffectedVersion(entries, pkg.version)) return { affected: false };
  const candidates = new Set<string>();
  for (const entry of entries) {
    for (const range of entry.ranges) {
      if (range.type === "GIT") continue;
      const family = rangeFamily(range, entry.ecosystem);
      for (const e of range.events) {
        if (e.fixed !== undefined && compareVersions(family, e.fixed, pkg.version) > 0)
          candidates.add(e.fixed);
      }
    }
  }
  const fixedVersion =
    [...candidates]
      .sort((a, b) => compareVersions(pkg.ecosystem, a, b))
      .find((candidate) => !isAffectedVersion(entries, candidate)) ?? null;
  return { affected: true, fixedVersion };
}

/** Index key of a package: its family and normalised name. */
const indexKey = (ecosystem: Ecosystem, name: string): string =>
  `${ecosystem}\u0000${normalizePackageName(ecosystem, name)}`;

/** Whether `a` was modified after `b` (RFC 3339 instants; string order when either does not parse). */
function modifiedAfter(a: Advisory, b: Advisory): boolean {
  const x = Date.parse(a.modified);
  const y = Date.parse(b.modified);
  return Number.isNaN(x) || Number.isNaN(y) ? a.modified > b.modified : x > y;
}

/**
 * Advisories indexed by (version family, normalised package name) for matching installed packages.
 * When several advisories share an id, the most recently modified one is kept (on a tie, the later one
 * given). Withdrawn advisories are left out. `size` counts the advisories indexed.
 */
export class AdvisoryIndex {
  /** Number of advisories indexed (distinct ids, withdrawn ones excluded). */
  readonly size: number;

  /** Per package key, each advisory naming the package with its entries for that name (in any distribution). */
  private readonly byPackage = new Map<string, Array<{ advisory: Advisory; entries: AffectedPackage[] }>>();

  constructor(advisories: Advisory[]) {
    const latest = new Map<string, Advisory>();
    for (const advisory of advisories) {
      const previous = latest.get(advisory.id);
      if (previous === undefined || !modifiedAfter(previous, advisory)) latest.set(advisory.id, advisory);
    }
    let size = 0;
    for (const advisory of latest.values()) {
      if (advisory.withdrawn !== null) continue;
      size++;
      const byKey = new Map<string, AffectedPackage[]>();
      for (const entry of advisory.affected) {
        const key = indexKey(entry.ecosystem, entry.package);
        const entries = byKey.get(key);
        if (entries === undefined) byKey.set(key, [entry]);
        else entries.push(entry);
      }
      for (const [key, entries] of byKey) {
        const list = this.byPackage.get(key);
        if (list === undefined) this.byPackage.set(key, [{ advisory, entries }]);
        else list.push({ advisory, entries });
      }
    }
    for (const list of this.byPackage.values())
      list.sort((a, b) => (a.advisory.id < b.advisory.id ? -1 : a.advisory.id > b.advisory.id ? 1 : 0));
    this.size = size;
  }

  /** Whether some indexed advisory names the package (family and normalised name), whatever the version. */
  lists(ecosystem: Ecosystem, name: string): boolean {
    return this.byPackage.has(indexKey(ecosystem, name));
  }

  /**
   * The advisories affecting an installed package, by advisory id, each with its fixed version if known:
   * `affects` for every indexed advisory naming the package (family and normalised name), so the
   * package's `osvEcosystem` and `releaseMajor` narrow the entries considered exactly as they do there.
   * Pure: the same package always gives the same answer for one index, so callers may memoise it.
   */
  match(pkg: InstalledPackage): Array<{ advisory: Advisory; fixedVersion: string | null }> {
    const out: Array<{ advisory: Advisory; fixedVersion: string | null }> = [];
    for (const { advisory, entries } of this.byPackage.get(indexKey(pkg.ecosystem, pkg.name)) ?? []) {
      // The same entries `affects` would select: the name and family already agree.
      const result = affectsWithin(
        entries.filter(
          (e) =>
            sameDistribution(e.osvEcosystem, pkg.osvEcosystem) &&
            sameMajorRelease(e.osvEcosystem, pkg.releaseMajor),
        ),
        pkg,
      );
      if (result.affected) out.push({ advisory, fixedVersion: result.fixedVersion });
    }
    return out.length > 1 ? mergeAliases(out, pkg.ecosystem) : out;
  }
}

/** The severity order of levels, most severe first. */
const LEVEL_RANK: Readonly<Record<SeverityLevel, number>> = {
  CRITICAL: 0,
  HIGH: 1,
  MEDIUM: 2,
  LOW: 3,
  UNKNOWN: 4,
};

/**
 * One match per vulnerability: advisories of one package that name each other (an id or alias of one is an
 * id or alias of the other, as GHSA, PYSEC and the CVE record of one flaw do) describe the same
 * vulnerability, and a machine should show it once, as OSV-Scanner and Defender do. The advisory kept is the
 * one with the highest CVSS score (then the most severe wording, then the smallest id); it carries every id
 * and alias of the group as its aliases, and the highest fixed version any of them names (the upgrade that
 * fixes the flaw by all accounts). Groups of one are returned as they are.
 */
function mergeAliases(
  matches: Array<{ advisory: Advisory; fixedVersion: string | null }>,
  ecosystem: Ecosystem,
): Array<{ advisory: Advisory; fixedVersion: string | null }> {
  const parent = matches.map((_, i) => i);
  const root = (i: number): number => (parent[i] === i ? i : (parent[i] = root(parent[i])));
  const owner = new Map<string, number>();
  matches.forEach(({ advisory }, i) => {
    for (const name of [advisory.id, ...advisory.aliases]) {
      const key = name.trim().toUpperCase();
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else parent[root(i)] = root(j);
    }
  });
  const groups = new Map<number, Array<{ advisory: Advisory; fixedVersion: string | null }>>();
  matches.forEach((match, i) => {
    const group = groups.get(root(i));
    if (group === undefined) groups.set(root(i), [match]);
    else group.push(match);
  });
  if (groups.size === matches.length) return matches;
  const out: Array<{ advisory: Advisory; fixedVersion: string | null }> = [];
  for (const group of groups.values()) {
    if (group.length === 1) {
      out.push(group[0]);
      continue;
    }
    const [kept] = [...group].sort(
      (a, b) =>
        (b.advisory.severity.cvssScore ?? -1) - (a.advisory.severity.cvssScore ?? -1) ||
        LEVEL_RANK[a.advisory.severity.level] - LEVEL_RANK[b.advisory.severity.level] ||
        (a.advisory.id < b.advisory.id ? -1 : a.advisory.id > b.advisory.id ? 1 : 0),
    );
    const names = new Set(group.flatMap(({ advisory }) => [advisory.id, ...advisory.aliases]));
    names.delete(kept.advisory.id);
    const fixes = group.flatMap(({ fixedVersion }) => (fixedVersion === null ? [] : [fixedVersion]));
    out.push({
      advisory: { ...kept.advisory, aliases: [...names].sort() },
      fixedVersion: fixes.sort((a, b) => compareVersions(ecosystem, a, b)).pop() ?? null,
    });
  }
  return out.sort((a, b) => (a.advisory.id < b.advisory.id ? -1 : a.advisory.id > b.advisory.id ? 1 : 0));
}
