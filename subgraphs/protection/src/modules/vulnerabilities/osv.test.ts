import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  affects,
  AdvisoryIndex,
  cvssBaseScore,
  normalizePackageName,
  parseOsvAdvisory,
  severityLevelForScore,
  severityLevelFromText,
  type Advisory,
  type AdvisoryProblem,
  type InstalledPackage,
} from "./osv";
import { type Ecosystem } from "./versions";

const FIXTURES = join(__dirname, "../../../../../test/fixtures/protection/osv");

function parsed(json: unknown): Advisory {
  const result = parseOsvAdvisory(json);
  if (!("advisory" in result)) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
  return result.advisory;
}

function problemsOf(json: unknown): AdvisoryProblem[] {
  const result = parseOsvAdvisory(json);
  if (!("problems" in result)) throw new Error(`expected problems for ${JSON.stringify(json)}`);
  return result.problems;
}

/** A minimal valid advisory with the given affected entries. */
const advisory = (affected: unknown[], extra: Record<string, unknown> = {}): Advisory =>
  parsed({ id: "TEST-2024-0001", modified: "2024-01-01T00:00:00Z", affected, ...extra });

const range = (type: string, ...events: Array<Record<string, string>>) => ({ type, events });
const entry = (ecosystem: string, name: string, ranges: unknown[], versions?: string[]) => ({
  package: { ecosystem, name },
  ranges,
  ...(versions ? { versions } : {}),
});

const fixtureAdvisories: Advisory[] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => parsed(JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as unknown));

const byId = (id: string): Advisory => {
  const found = fixtureAdvisories.find((a) => a.id === id);
  if (!found) throw new Error(`fixture ${id} missing`);
  return found;
};

// ---------------------------------------------------------------------------------------------------

describe("cvssBaseScore", () => {
  it.each<[string, number]>([
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
    ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0],
    ["CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5],
    ["CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3],
    ["CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", 7.4],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:N/A:N", 6.5],
    ["CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:N", 3.8],
    ["CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6],
    ["CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 9.1], // PR:H weighs 0.5 when the scope changes
    ["CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0],
    ["CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
    ["CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
    // Metric order is free; temporal and environmental metrics do not change the base score.
    ["CVSS:3.1/C:H/I:H/A:H/AV:N/AC:L/PR:N/UI:N/S:U", 9.8],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/CR:H/MAV:L", 9.8],
    ["  CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H  ", 9.8],
    // CVSS v2.
    ["AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5],
    ["AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3],
    ["AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0],
    ["AV:N/AC:L/Au:N/C:N/I:N/A:P", 5.0],
    ["(AV:N/AC:L/Au:N/C:P/I:P/A:P)", 7.5],
    ["AV:N/AC:L/Au:N/C:P/I:P/A:P/E:POC/RL:OF/RC:C", 7.5],
    ["AV:L/AC:H/Au:M/C:N/I:N/A:N", 0],
  ])("%s = %d", (vector, score) => {
    expect(cvssBaseScore(vector)).toBe(score);
  });

  it.each([
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", // missing A
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:H", // repeated
    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", // invalid value
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/FOO:B", // unknown metric
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:Z", // invalid temporal value
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",
    "CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/",
    "AV:N/AC:L/Au:N/C:P/I:P", // v2 missing A
    "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", // v3 metrics without the prefix
    "high",
    "",
  ])("%j → null", (vector) => {
    expect(cvssBaseScore(vector)).toBeNull();
  });

  it.each<[number, string]>([
    [10, "CRITICAL"],
    [9, "CRITICAL"],
    [8.9, "HIGH"],
    [7, "HIGH"],
    [6.9, "MEDIUM"],
    [4, "MEDIUM"],
    [3.9, "LOW"],
    [0.1, "LOW"],
    [0, "UNKNOWN"],
    [Number.NaN, "UNKNOWN"],
  ])("score %d is %s", (score, level) => {
    expect(severityLevelForScore(score)).toBe(level);
  });

  it.each<[string, string | null]>([
    ["CRITICAL", "CRITICAL"],
    ["HIGH", "HIGH"],
    ["Important", "HIGH"],
    ["MODERATE", "MEDIUM"],
    ["medium", "MEDIUM"],
    ["Low", "LOW"],
    ["negligible", "LOW"],
    ["unimportant", "LOW"],
    ["untriaged", null],
    ["", null],
  ])("wording %j is %s", (text, level) => {
    expect(severityLevelFromText(text)).toBe(level);
  });
});

// ---------------------------------------------------------------------------------------------------

describe("parseOsvAdvisory", () => {
  it("parses a complete advisory", () => {
    const a = byId("GHSA-7f2q-c9xw-r4h8");
    expect(a).toEqual({
      id: "GHSA-7f2q-c9xw-r4h8",
      aliases: ["CVE-2023-90101"],
      summary: "Prototype pollution in lodash zipObjectDeep",
      details: expect.stringContaining("zipObjectDeep") as unknown,
      published: "2023-11-20T09:15:44Z",
      modified: "2024-02-12T18:31:07Z",
      severity: { cvssVector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", cvssScore: 7.4, level: "HIGH" },
      affected: [
        {
          ecosystem: "npm",
          osvEcosystem: "npm",
          package: "lodash",
          ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "4.17.21" }] }],
          versions: [],
        },
        {
          ecosystem: "npm",
          osvEcosystem: "npm",
          package: "lodash-es",
          ranges: [{ type: "SEMVER", events: [{ introduced: "4.0.0" }, { fixed: "4.17.21" }] }],
          versions: [],
        },
      ],
      references: ["https://nvd.nist.gov/vuln/detail/CVE-2023-90101", "https://github.com/lodash/lodash"],
      withdrawn: null,
      skippedEcosystems: [],
    });
  });

  it("parses every fixture", () => {
    expect(fixtureAdvisories.map((a) => a.id)).toEqual([
      "ALPINE-CVE-2023-90311",
      "ALSA-2023:9101",
      "DSA-9101-1",
      "DSA-9102-1",
      "GHSA-4hmr-v8wq-3c6x",
      "GHSA-7f2q-c9xw-r4h8",
      "GHSA-8vjc-m2wq-5p3f",
      "GHSA-9fq4-m7xr-w3c2",
      "GHSA-h3gx-9wcq-j2v6",
      "GHSA-q9j5-rw6f-x8c2",
      "GO-2021-9012",
      "PYSEC-2023-9007",
      "PYSEC-2024-9101",
      "RHSA-2024:9102",
      "RUSTSEC-2021-9004",
    ]);
  });

  it.each<[string, Partial<Advisory["severity"]>]>([
    [
      "GHSA-8vjc-m2wq-5p3f",
      { cvssVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", cvssScore: 9.8, level: "CRITICAL" },
    ],
    ["GHSA-4hmr-v8wq-3c6x", { cvssScore: 6.5, level: "MEDIUM" }],
    ["GHSA-q9j5-rw6f-x8c2", { cvssVector: null, cvssScore: null, level: "MEDIUM" }], // database_specific wording
    ["ALSA-2023:9101", { cvssScore: 7.8, level: "HIGH" }], // affected[].severity
    ["RHSA-2024:9102", { cvssVector: null, level: "MEDIUM" }], // Red Hat "Moderate"
    ["PYSEC-2024-9101", { cvssVector: null, cvssScore: null, level: "UNKNOWN" }],
    ["DSA-9101-1", { level: "UNKNOWN" }],
  ])("derives the severity of %s", (id, severity) => {
    expect(byId(id).severity).toMatchObject(severity);
  });

  it("prefers a v3 vector, falls back to v2, and keeps an unscored v4 vector", () => {
    const base = { id: "X-1", modified: "2024-01-01T00:00:00Z" };
    const v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    expect(
      parsed({ ...base, severity: [{ type: "CVSS_V2", score: "AV:N/AC:L/Au:N/C:P/I:P/A:P" }] }).severity,
    ).toEqual({ cvssVector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", cvssScore: 7.5, level: "HIGH" });
    expect(
      parsed({
        ...base,
        severity: [{ type: "CVSS_V4", score: v4 }],
        database_specific: { severity: "CRITICAL" },
      }).severity,
    ).toEqual({ cvssVector: v4, cvssScore: null, level: "CRITICAL" });
    expect(
      parsed({
        ...base,
        severity: [
          { type: "CVSS_V4", score: v4 },
          { type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N" },
        ],
      }).severity,
    ).toEqual({
      cvssVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
      cvssScore: 5.3,
      level: "MEDIUM",
    });
    expect(parsed({ ...base, severity: [{ type: "Ubuntu", score: "negligible" }] }).severity.level).toBe(
      "LOW",
    );
    // The most severe wording wins when there is no score.
    expect(
      parsed({
        ...base,
        affected: [
          { package: { ecosystem: "npm", name: "a" }, ecosystem_specific: { severity: "LOW" } },
          { package: { ecosystem: "npm", name: "b" }, database_specific: { severity: "HIGH" } },
        ],
      }).severity.level,
    ).toBe("HIGH");
  });

  it("skips ecosystems it cannot order and entries without a package", () => {
    const a = byId("GHSA-h3gx-9wcq-j2v6");
    expect(a.affected.map((e) => `${e.osvEcosystem}/${e.package}`)).toEqual([
      "PyPI/protobuf",
      "Maven/com.google.protobuf:protobuf-java",
    ]);
    expect(a.skippedEcosystems).toEqual([]);
    const gitOnly = advisory([
      { ranges: [{ type: "GIT", repo: "https://example.com/r.git", events: [{ introduced: "0" }] }] },
      entry("NuGet", "Example.Package", []),
      entry("NuGet", "Example.Other", []),
      entry("RubyGems", "example", []),
    ]);
    expect(gitOnly.affected).toEqual([]);
    expect(gitOnly.skippedEcosystems).toEqual(["NuGet", "RubyGems"]);
  });

  it("reads Maven, Go and crates.io entries, a Maven repository suffix included", () => {
    expect(byId("GHSA-9fq4-m7xr-w3c2").affected).toEqual([
      expect.objectContaining({ ecosystem: "Maven", package: "org.apache.logging.log4j:log4j-core" }),
    ]);
    expect(byId("GHSA-9fq4-m7xr-w3c2").severity).toMatchObject({ cvssScore: 10, level: "CRITICAL" });
    expect(byId("GO-2021-9012").affected.map((e) => [e.ecosystem, e.package])).toEqual([
      ["Go", "golang.org/x/crypto"],
      ["Go", "stdlib"],
    ]);
    expect(byId("RUSTSEC-2021-9004").affected.map((e) => [e.ecosystem, e.package])).toEqual([
      ["crates.io", "crossbeam-deque"],
    ]);
    const google = advisory([entry("Maven:https://maven.google.com", "androidx.core:core", [])]);
    expect(google.affected.map((e) => [e.ecosystem, e.osvEcosystem])).toEqual([
      ["Maven", "Maven:https://maven.google.com"],
    ]);
  });

  it("keeps GIT ranges with their repository", () => {
    expect(byId("PYSEC-2024-9101").affected[0].ranges[0]).toEqual({
      type: "GIT",
      repo: "https://github.com/django/django",
      events: [{ introduced: "0" }, { fixed: "5a8b2c1f9e0d4b7a6c3e2f1d0a9b8c7d6e5f4a3b" }],
    });
  });

  it("accepts JSON text, null optional fields and unknown fields", () => {
    const a = parsed(
      JSON.stringify({
        schema_version: "1.6.0",
        id: "X-2",
        modified: "2024-01-01T00:00:00.123+02:00",
        summary: null,
        aliases: null,
        affected: [
          { package: { ecosystem: "npm", name: "x" }, ranges: [range("SEMVER", { introduced: "0" })] },
        ],
        credits: [{ name: "someone" }],
        somethingNew: { nested: true },
      }),
    );
    expect(a).toMatchObject({ id: "X-2", summary: null, aliases: [], published: null, withdrawn: null });
  });

  const valid = { id: "X-3", modified: "2024-01-01T00:00:00Z" };
  const npmEntry = (ranges: unknown) => ({
    ...valid,
    affected: [{ package: { ecosystem: "npm", name: "x" }, ranges }],
  });

  it.each<[string, unknown, AdvisoryProblem[]]>([
    ["an array", [], [{ path: "$", message: "must be a JSON object" }]],
    ["null", null, [{ path: "$", message: "must be a JSON object" }]],
    ["a number", 42, [{ path: "$", message: "must be a JSON object" }]],
    [
      "missing id",
      { modified: valid.modified },
      [{ path: "$.id", message: "is required (a non-empty string)" }],
    ],
    ["empty id", { ...valid, id: " " }, [{ path: "$.id", message: "is required (a non-empty string)" }]],
    [
      "missing modified",
      { id: "X" },
      [{ path: "$.modified", message: "is required (an RFC 3339 timestamp)" }],
    ],
    [
      "a malformed timestamp",
      { ...valid, published: "yesterday" },
      [{ path: "$.published", message: "must be an RFC 3339 timestamp such as 2024-01-31T12:00:00Z" }],
    ],
    [
      "an impossible date",
      { ...valid, modified: "2024-13-45T00:00:00Z" },
      [{ path: "$.modified", message: "must be an RFC 3339 timestamp such as 2024-01-31T12:00:00Z" }],
    ],
    [
      "aliases not an array",
      { ...valid, aliases: "CVE-1" },
      [{ path: "$.aliases", message: "must be an array of strings" }],
    ],
    [
      "a non-string alias",
      { ...valid, aliases: ["CVE-1", 2] },
      [{ path: "$.aliases[1]", message: "must be a string" }],
    ],
    ["a non-string summary", { ...valid, summary: 3 }, [{ path: "$.summary", message: "must be a string" }]],
    [
      "affected not an array",
      { ...valid, affected: {} },
      [{ path: "$.affected", message: "must be an array" }],
    ],
    [
      "an affected entry not an object",
      { ...valid, affected: [1] },
      [{ path: "$.affected[0]", message: "must be an object" }],
    ],
    [
      "a package without a name",
      { ...valid, affected: [{ package: { ecosystem: "npm" } }] },
      [{ path: "$.affected[0].package.name", message: "is required (a non-empty string)" }],
    ],
    [
      "a package without an ecosystem",
      { ...valid, affected: [{ package: { name: "x" } }] },
      [{ path: "$.affected[0].package.ecosystem", message: "is required (a non-empty string)" }],
    ],
    [
      "an unknown range type",
      npmEntry([range("NUMERIC", { introduced: "0" })]),
      [{ path: "$.affected[0].ranges[0].type", message: "must be one of SEMVER, ECOSYSTEM, GIT" }],
    ],
    [
      "no events",
      npmEntry([{ type: "SEMVER", events: [] }]),
      [{ path: "$.affected[0].ranges[0].events", message: "must be a non-empty array of events" }],
    ],
    [
      "an event with two fields",
      npmEntry([range("SEMVER", { introduced: "1.0.0", fixed: "1.0.2" })]),
      [
        {
          path: "$.affected[0].ranges[0].events[0]",
          message: "must have exactly one of introduced, fixed, last_affected, limit",
        },
      ],
    ],
    [
      "an event with no known field",
      npmEntry([range("SEMVER", { introduced: "0" }, { patched: "1.0.0" })]),
      [
        {
          path: "$.affected[0].ranges[0].events[1]",
          message: "must have exactly one of introduced, fixed, last_affected, limit",
        },
      ],
    ],
    [
      "a non-string event version",
      npmEntry([{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: 1 }] }]),
      [{ path: "$.affected[0].ranges[0].events[1].fixed", message: "must be a non-empty string" }],
    ],
    [
      "no introduced event",
      npmEntry([range("SEMVER", { fixed: "1.0.0" })]),
      [{ path: "$.affected[0].ranges[0].events", message: "must contain at least one introduced event" }],
    ],
    [
      "both fixed and last_affected",
      npmEntry([range("SEMVER", { introduced: "0" }, { fixed: "1.0.0" }, { last_affected: "1.5.0" })]),
      [
        {
          path: "$.affected[0].ranges[0].events",
          message: "must not contain both fixed and last_affected events",
        },
      ],
    ],
    [
      "a malformed severity",
      { ...valid, severity: [{ type: "CVSS_V3" }] },
      [{ path: "$.severity[0].score", message: "must be a string" }],
    ],
    [
      "a reference without a url",
      { ...valid, references: [{ type: "WEB" }] },
      [{ path: "$.references[0].url", message: "must be a string" }],
    ],
    [
      "database_specific not an object",
      { ...valid, database_specific: "x" },
      [{ path: "$.database_specific", message: "must be an object" }],
    ],
  ])("reports %s", (_name, json, problems) => {
    expect(problemsOf(json)).toEqual(problems);
  });

  it("reports every problem, not just the first", () => {
    const problems = problemsOf({
      aliases: [1],
      affected: [
        { package: { ecosystem: "PyPI" }, ranges: [range("SEMVER", { fixed: "1" })], versions: [2] },
      ],
    });
    expect(problems.map((p) => p.path)).toEqual([
      "$.id",
      "$.modified",
      "$.aliases[0]",
      "$.affected[0].package.name",
      "$.affected[0].ranges[0].events",
      "$.affected[0].versions[0]",
    ]);
  });

  it("never throws", () => {
    const hostile = {
      id: "X",
      modified: "2024-01-01T00:00:00Z",
      get affected(): unknown {
        throw new Error("boom");
      },
    };
    expect(problemsOf(hostile)).toEqual([{ path: "$", message: "could not be read: boom" }]);
    expect(problemsOf("{not json")[0].path).toBe("$");
    expect(problemsOf(undefined)).toEqual([{ path: "$", message: "must be a JSON object" }]);
  });
});

// ---------------------------------------------------------------------------------------------------

const pkg = (ecosystem: Ecosystem, name: string, version: string, osvEcosystem?: string): InstalledPackage =>
  osvEcosystem === undefined ? { ecosystem, name, version } : { ecosystem, name, version, osvEcosystem };

describe("affects: OSV range evaluation", () => {
  const fixedAt = (result: ReturnType<typeof affects>) =>
    result.affected ? result.fixedVersion : "not affected";

  const everything = advisory([entry("npm", "x", [range("SEMVER", { introduced: "0" })])]);
  const before102 = advisory([entry("npm", "x", [range("SEMVER", { introduced: "0" }, { fixed: "1.0.2" })])]);
  const twoWindows = advisory([
    entry("npm", "x", [
      range(
        "SEMVER",
        { introduced: "1.0.0" },
        { fixed: "1.0.2" },
        { introduced: "3.0.0" },
        { fixed: "3.2.5" },
      ),
    ]),
  ]);
  const unsorted = advisory([
    entry("npm", "x", [
      range(
        "SEMVER",
        { fixed: "3.2.5" },
        { introduced: "3.0.0" },
        { fixed: "1.0.2" },
        { introduced: "1.0.0" },
      ),
    ]),
  ]);
  const lastAffected = advisory([
    entry("PyPI", "x", [range("ECOSYSTEM", { introduced: "0" }, { last_affected: "2.1.214" })]),
  ]);
  const limited = advisory([
    entry("npm", "x", [range("SEMVER", { introduced: "1.0.0" }, { limit: "2.0.0" })]),
  ]);
  const starLimit = advisory([entry("npm", "x", [range("SEMVER", { introduced: "1.0.0" }, { limit: "*" })])]);
  const listOnly = advisory([entry("PyPI", "x", [], ["1.0", "1.1rc1", "not-a-version"])]);
  const gitOnly = advisory([
    entry(
      "npm",
      "x",
      [{ type: "GIT", repo: "https://example.com/x.git", events: [{ introduced: "0" }] }],
      ["0.9.0"],
    ),
  ]);
  const withdrawn = advisory([entry("npm", "x", [range("SEMVER", { introduced: "0" })])], {
    withdrawn: "2024-02-01T00:00:00Z",
  });
  const preBoundary = advisory([
    entry("PyPI", "x", [range("ECOSYSTEM", { introduced: "2.0a1" }, { fixed: "2.0.1" })]),
  ]);

  it.each<[string, Advisory, Ecosystem, string, string | null]>([
    ["introduced 0 affects everything", everything, "npm", "0.0.0", null],
    ["introduced 0 affects everything", everything, "npm", "99.0.0-rc.1", null],
    ["introduced 0 / fixed", before102, "npm", "0.1.0", "1.0.2"],
    ["introduced 0 / fixed: pre-release of the fix", before102, "npm", "1.0.2-rc.1", "1.0.2"],
    ["introduced 0 / fixed: the fix", before102, "npm", "1.0.2", "not affected"],
    ["introduced 0 / fixed: build metadata", before102, "npm", "1.0.2+build.5", "not affected"],
    ["introduced 0 / fixed: later", before102, "npm", "2.0.0", "not affected"],
    ["two windows: before", twoWindows, "npm", "0.9.9", "not affected"],
    ["two windows: first start", twoWindows, "npm", "1.0.0", "1.0.2"],
    ["two windows: first", twoWindows, "npm", "1.0.1", "1.0.2"],
    ["two windows: between", twoWindows, "npm", "2.5.0", "not affected"],
    ["two windows: second", twoWindows, "npm", "3.2.4", "3.2.5"],
    ["two windows: after", twoWindows, "npm", "3.2.5", "not affected"],
    ["unsorted events are sorted first", unsorted, "npm", "1.0.1", "1.0.2"],
    ["unsorted events are sorted first", unsorted, "npm", "2.5.0", "not affected"],
    ["unsorted events are sorted first", unsorted, "npm", "3.1.0", "3.2.5"],
    ["last_affected is inclusive", lastAffected, "PyPI", "2.1.214", null],
    ["last_affected: equivalent spelling", lastAffected, "PyPI", "2.1.214.0", null],
    ["last_affected: post-release is above", lastAffected, "PyPI", "2.1.214.post1", "not affected"],
    ["last_affected: above", lastAffected, "PyPI", "2.1.215", "not affected"],
    ["limit: below", limited, "npm", "1.5.0", null],
    ["limit: at the limit", limited, "npm", "2.0.0", "not affected"],
    ["limit *: infinity", starLimit, "npm", "99.0.0", null],
    ["versions list", listOnly, "PyPI", "1.0", null],
    ["versions list: equivalent version", listOnly, "PyPI", "1.0.0", null],
    ["versions list: equivalent spelling", listOnly, "PyPI", "1.1c1", null],
    ["versions list: not listed", listOnly, "PyPI", "1.0.1", "not affected"],
    ["versions list: invalid version matched exactly", listOnly, "PyPI", "not-a-version", null],
    ["GIT ranges are ignored", gitOnly, "npm", "0.8.0", "not affected"],
    ["GIT ranges are ignored, versions still count", gitOnly, "npm", "0.9.0", null],
    ["withdrawn advisories never match", withdrawn, "npm", "1.0.0", "not affected"],
    ["pre-release boundary: before", preBoundary, "PyPI", "2.0.dev3", "not affected"],
    ["pre-release boundary: pre-release", preBoundary, "PyPI", "2.0rc2", "2.0.1"],
    ["pre-release boundary: release", preBoundary, "PyPI", "2.0", "2.0.1"],
    ["an invalid installed version is never in a range", everything, "npm", "latest", "not affected"],
  ])("%s (%s %s)", (_name, a, ecosystem, version, expected) => {
    expect(fixedAt(affects(a, pkg(ecosystem, "x", version)))).toBe(expected);
  });

  it("reports the lowest fix above the installed version", () => {
    const a = advisory([
      entry("npm", "x", [
        range("SEMVER", { introduced: "0" }, { fixed: "1.0.5" }),
        range("SEMVER", { introduced: "1.2.0" }, { fixed: "1.4.0" }),
        range("SEMVER", { introduced: "1.5.0" }, { fixed: "2.0.0" }),
      ]),
    ]);
    expect(affects(a, pkg("npm", "x", "1.0.0"))).toEqual({ affected: true, fixedVersion: "1.0.5" });
    expect(affects(a, pkg("npm", "x", "1.3.0"))).toEqual({ affected: true, fixedVersion: "1.4.0" });
    expect(affects(a, pkg("npm", "x", "1.7.0"))).toEqual({ affected: true, fixedVersion: "2.0.0" });
    expect(affects(a, pkg("npm", "x", "1.4.5"))).toEqual({ affected: false });
  });

  it("skips a fix that another range still covers", () => {
    const a = advisory([
      entry("npm", "x", [
        range("SEMVER", { introduced: "0" }, { fixed: "2.0.0" }),
        range("SEMVER", { introduced: "1.0.0" }, { fixed: "1.4.0" }),
      ]),
    ]);
    expect(affects(a, pkg("npm", "x", "1.2.0"))).toEqual({ affected: true, fixedVersion: "2.0.0" });
  });

  it("skips a fix that is itself affected through another entry", () => {
    const a = advisory([
      entry("npm", "x", [range("SEMVER", { introduced: "0" }, { fixed: "1.5.0" })]),
      entry("npm", "x", [range("SEMVER", { introduced: "1.2.0" }, { fixed: "2.0.0" })]),
    ]);
    expect(affects(a, pkg("npm", "x", "1.3.0"))).toEqual({ affected: true, fixedVersion: "2.0.0" });
    expect(affects(a, pkg("npm", "x", "1.0.0"))).toEqual({ affected: true, fixedVersion: "2.0.0" });
  });

  it("takes a fix from the entry's ranges when only its versions list matched", () => {
    const a = advisory([
      entry("PyPI", "x", [range("ECOSYSTEM", { introduced: "1.0" }, { fixed: "1.3" })], ["0.9"]),
    ]);
    expect(affects(a, pkg("PyPI", "x", "0.9"))).toEqual({ affected: true, fixedVersion: "1.3" });
  });

  it("matches names per ecosystem", () => {
    const py = advisory([entry("PyPI", "Foo.Bar_baz", [range("ECOSYSTEM", { introduced: "0" })])]);
    expect(affects(py, pkg("PyPI", "foo-bar-baz", "1.0")).affected).toBe(true);
    expect(affects(py, pkg("PyPI", "FOO__BAR.-baz", "1.0")).affected).toBe(true);
    expect(affects(py, pkg("PyPI", "foobarbaz", "1.0")).affected).toBe(false);
    const js = advisory([entry("npm", "JSONStream", [range("SEMVER", { introduced: "0" })])]);
    expect(affects(js, pkg("npm", "JSONStream", "1.0.0")).affected).toBe(true);
    expect(affects(js, pkg("npm", "jsonstream", "1.0.0")).affected).toBe(false);
    const deb = advisory([entry("Debian:12", "OpenSSL", [range("ECOSYSTEM", { introduced: "0" })])]);
    expect(affects(deb, pkg("Debian", "openssl", "3.0.11-1")).affected).toBe(true);
    expect(affects(deb, pkg("npm", "OpenSSL", "3.0.11")).affected).toBe(false); // other family
  });

  it.each<[Ecosystem, string, string]>([
    ["PyPI", "Django", "django"],
    ["PyPI", "zope.interface", "zope-interface"],
    ["PyPI", "Foo__Bar", "foo-bar"],
    ["npm", "@Scope/Pkg", "@Scope/Pkg"],
    ["Debian", "LibXML2", "libxml2"],
    ["RPM", "Glibc", "glibc"],
    ["Maven", "com.zaxxer:HikariCP", "com.zaxxer:HikariCP"],
    ["Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"],
    ["crates.io", "crossbeam_deque", "crossbeam-deque"],
    ["crates.io", "Inflector", "inflector"],
  ])("normalizePackageName(%s, %s) = %s", (ecosystem, name, expected) => {
    expect(normalizePackageName(ecosystem, name)).toBe(expected);
  });

  it("matches Maven coordinates, Go module paths and crate names as their registries tell them apart", () => {
    const maven = advisory([
      entry("Maven", "com.zaxxer:HikariCP", [range("ECOSYSTEM", { introduced: "0" })]),
    ]);
    expect(affects(maven, pkg("Maven", "com.zaxxer:HikariCP", "4.0.3")).affected).toBe(true);
    expect(affects(maven, pkg("Maven", "com.zaxxer:hikaricp", "4.0.3")).affected).toBe(false);
    expect(affects(maven, pkg("Maven", "HikariCP", "4.0.3")).affected).toBe(false); // no groupId
    const go = advisory([entry("Go", "github.com/BurntSushi/toml", [range("SEMVER", { introduced: "0" })])]);
    expect(affects(go, pkg("Go", "github.com/BurntSushi/toml", "v1.2.0")).affected).toBe(true);
    expect(affects(go, pkg("Go", "github.com/burntsushi/toml", "v1.2.0")).affected).toBe(false);
    const crate = advisory([
      entry("crates.io", "crossbeam-deque", [range("SEMVER", { introduced: "0.0.0-0" })]),
    ]);
    expect(affects(crate, pkg("crates.io", "crossbeam_deque", "0.8.0")).affected).toBe(true);
    expect(affects(crate, pkg("crates.io", "Crossbeam-Deque", "0.8.0")).affected).toBe(true);
    expect(affects(crate, pkg("npm", "crossbeam-deque", "0.8.0")).affected).toBe(false); // other ecosystem
  });

  it("evaluates Maven ECOSYSTEM ranges in Maven's version order", () => {
    const log4j = byId("GHSA-9fq4-m7xr-w3c2");
    const at = (v: string) => fixedAt(affects(log4j, pkg("Maven", "org.apache.logging.log4j:log4j-core", v)));
    expect(at("2.0-beta8")).toBe("not affected");
    expect(at("2.0-beta9")).toBe("2.3.1");
    expect(at("2.0-rc1")).toBe("2.3.1");
    expect(at("2.0")).toBe("2.3.1");
    expect(at("2.3")).toBe("2.3.1");
    expect(at("2.3.1")).toBe("not affected");
    expect(at("2.4")).toBe("2.12.2");
    expect(at("2.12.1")).toBe("2.12.2");
    expect(at("2.12.2")).toBe("not affected");
    expect(at("2.13.0-SNAPSHOT")).toBe("not affected"); // a snapshot sorts before its release
    expect(at("2.14.1")).toBe("2.15.0");
    expect(at("2.15.0-rc1")).toBe("2.15.0");
    expect(at("2.15.0")).toBe("not affected");
    expect(at("2.17.1")).toBe("not affected");
    expect(at("1.2.17")).toBe("not affected");
  });

  it("evaluates Go SEMVER ranges with module versions and pseudo-versions", () => {
    const go = byId("GO-2021-9012");
    const crypto = (v: string) => fixedAt(affects(go, pkg("Go", "golang.org/x/crypto", v)));
    expect(crypto("v0.0.0-20201216223049-8b5274cf687f")).toBe("0.0.0-20211202192323-5770296d904e");
    expect(crypto("v0.0.0-20211202192323-5770296d904e")).toBe("not affected");
    expect(crypto("v0.1.0")).toBe("not affected");
    const stdlib = (v: string) => fixedAt(affects(go, pkg("Go", "stdlib", v)));
    expect(stdlib("v1.16.11")).toBe("1.16.12");
    expect(stdlib("1.16.12")).toBe("not affected");
    expect(stdlib("v1.17.0-rc.1")).toBe("1.17.5");
    expect(stdlib("v1.17.4")).toBe("1.17.5");
    expect(stdlib("v1.17.5")).toBe("not affected");
    expect(stdlib("go1.17.4")).toBe("not affected"); // the toolchain's spelling is no module version
  });

  it("evaluates crates.io SEMVER ranges with Cargo's versions", () => {
    const rustsec = byId("RUSTSEC-2021-9004");
    const at = (v: string) => fixedAt(affects(rustsec, pkg("crates.io", "crossbeam-deque", v)));
    expect(at("0.1.0")).toBe("0.7.4");
    expect(at("0.7.3")).toBe("0.7.4");
    expect(at("0.7.4")).toBe("not affected");
    expect(at("0.8.0")).toBe("0.8.1");
    expect(at("0.8.1")).toBe("not affected");
    expect(at("v0.8.0")).toBe("not affected"); // Cargo writes no v
  });

  it("evaluates SEMVER ranges with SemVer even outside npm", () => {
    const a = advisory([entry("PyPI", "x", [range("SEMVER", { introduced: "1.0.0" }, { fixed: "1.2.0" })])]);
    expect(affects(a, pkg("PyPI", "x", "1.1.0"))).toEqual({ affected: true, fixedVersion: "1.2.0" });
    expect(affects(a, pkg("PyPI", "x", "1.1"))).toEqual({ affected: false }); // not a SemVer version
  });
});

// ---------------------------------------------------------------------------------------------------

describe("AdvisoryIndex over the fixtures", () => {
  const index = new AdvisoryIndex(fixtureAdvisories);
  const matches = (p: InstalledPackage) => index.match(p).map((m) => [m.advisory.id, m.fixedVersion]);

  it("indexes the advisories that are not withdrawn", () => {
    expect(index.size).toBe(14);
  });

  it.each<[string, InstalledPackage, Array<[string, string | null]>]>([
    // npm
    ["lodash before the fix", pkg("npm", "lodash", "4.17.20"), [["GHSA-7f2q-c9xw-r4h8", "4.17.21"]]],
    ["lodash at the fix", pkg("npm", "lodash", "4.17.21"), []],
    ["lodash-es in its window", pkg("npm", "lodash-es", "4.17.15"), [["GHSA-7f2q-c9xw-r4h8", "4.17.21"]]],
    ["lodash-es before its window", pkg("npm", "lodash-es", "3.10.1"), []],
    ["axios 0.x", pkg("npm", "axios", "0.27.2"), [["GHSA-4hmr-v8wq-3c6x", "0.28.0"]]],
    ["axios 1.x", pkg("npm", "axios", "1.5.1"), [["GHSA-4hmr-v8wq-3c6x", "1.6.0"]]],
    ["axios before 0.8.1", pkg("npm", "axios", "0.8.0"), []],
    ["axios 1.0.0 pre-release sits between the windows", pkg("npm", "axios", "1.0.0-alpha.1"), []],
    ["axios fixed", pkg("npm", "axios", "1.6.0"), []],
    ["request at last_affected", pkg("npm", "request", "2.88.2"), [["GHSA-q9j5-rw6f-x8c2", null]]],
    ["request after last_affected", pkg("npm", "request", "2.88.3"), []],
    // PyPI
    ["Django 4.2.10", pkg("PyPI", "Django", "4.2.10"), [["PYSEC-2024-9101", "4.2.11"]]],
    ["Django 4.2.0 == 4.2", pkg("PyPI", "django", "4.2.0"), [["PYSEC-2024-9101", "4.2.11"]]],
    ["Django 5.0rc1", pkg("PyPI", "django", "5.0rc1"), [["PYSEC-2024-9101", "5.0.3"]]],
    ["Django 4.1.13", pkg("PyPI", "django", "4.1.13"), []],
    ["Django 5.0.3", pkg("PyPI", "django", "5.0.3"), []],
    ["PyYAML 5.3.1", pkg("PyPI", "pyyaml", "5.3.1"), [["GHSA-8vjc-m2wq-5p3f", "5.4"]]],
    ["PyYAML 5.4b2", pkg("PyPI", "PyYAML", "5.4b2"), [["GHSA-8vjc-m2wq-5p3f", "5.4"]]],
    ["PyYAML 5.4.0", pkg("PyPI", "PyYAML", "5.4.0"), []],
    ["protobuf 3.18.2", pkg("PyPI", "protobuf", "3.18.2"), [["GHSA-h3gx-9wcq-j2v6", "3.18.3"]]],
    ["protobuf 3.20.1", pkg("PyPI", "protobuf", "3.20.1"), [["GHSA-h3gx-9wcq-j2v6", "3.20.2"]]],
    ["protobuf 4.21.0rc2", pkg("PyPI", "protobuf", "4.21.0rc2"), [["GHSA-h3gx-9wcq-j2v6", "4.21.6"]]],
    ["protobuf 3.19.6", pkg("PyPI", "protobuf", "3.19.6"), []],
    ["requests (withdrawn advisory)", pkg("PyPI", "requests", "2.30.0"), []],
    // Debian
    [
      "openssl deb12u1",
      pkg("Debian", "openssl", "3.0.11-1~deb12u1", "Debian:12"),
      [["DSA-9101-1", "3.0.11-1~deb12u2"]],
    ],
    ["openssl deb12u2", pkg("Debian", "openssl", "3.0.11-1~deb12u2", "Debian:12"), []],
    ["openssl 3.0.11-1 (above ~deb12u2)", pkg("Debian", "openssl", "3.0.11-1", "Debian:12"), []],
    [
      "openssl bullseye",
      pkg("Debian", "openssl", "1.1.1n-0+deb11u5", "Debian:11"),
      [["DSA-9101-1", "1.1.1w-0+deb11u1"]],
    ],
    ["openssl bullseye fixed", pkg("Debian", "openssl", "1.1.1w-0+deb11u1", "Debian:11"), []],
    ["openssl, other distribution", pkg("Debian", "openssl", "1.1.1n-0ubuntu1", "Ubuntu:22.04:LTS"), []],
    // Without a release every Debian entry applies: bullseye's fix is itself affected by the bookworm entry.
    [
      "openssl, release unknown",
      pkg("Debian", "openssl", "1.1.1n-0+deb11u5"),
      [["DSA-9101-1", "3.0.11-1~deb12u2"]],
    ],
    ["bind9 with epoch", pkg("Debian", "bind9", "1:9.18.19-1~deb12u1"), [["DSA-9102-1", "1:9.18.24-1"]]],
    ["bind9 without epoch sorts below", pkg("Debian", "bind9", "9.18.30-1"), [["DSA-9102-1", "1:9.18.24-1"]]],
    ["bind9 fixed", pkg("Debian", "bind9", "1:9.18.24-1"), []],
    // Alpine
    [
      "busybox r15",
      pkg("Alpine", "busybox", "1.36.1-r15", "Alpine:v3.19"),
      [["ALPINE-CVE-2023-90311", "1.36.1-r16"]],
    ],
    ["busybox r16", pkg("Alpine", "busybox", "1.36.1-r16", "Alpine:v3.19"), []],
    ["busybox 3.18 r7", pkg("Alpine", "busybox", "1.36.1-r7", "Alpine:v3.18"), []],
    [
      "busybox 3.18 r6 (release without v)",
      pkg("Alpine", "busybox", "1.36.1-r6", "Alpine:3.18"),
      [["ALPINE-CVE-2023-90311", "1.36.1-r7"]],
    ],
    // RPM
    [
      "glibc el9_2.6",
      pkg("RPM", "glibc", "2.34-60.el9_2.6", "AlmaLinux:9"),
      [["ALSA-2023:9101", "2.34-60.el9_2.7"]],
    ],
    ["glibc el9", pkg("RPM", "glibc", "2.34-60.el9", "AlmaLinux:9"), [["ALSA-2023:9101", "2.34-60.el9_2.7"]]],
    ["glibc el9_2.7", pkg("RPM", "glibc", "2.34-60.el9_2.7", "AlmaLinux:9"), []],
    ["glibc -83", pkg("RPM", "glibc", "2.34-83.el9", "AlmaLinux:9"), []],
    ["glibc on Rocky", pkg("RPM", "glibc", "2.34-60.el9_2.6", "Rocky Linux:9"), []],
    [
      "RHEL openssl",
      pkg("RPM", "openssl", "1:3.0.7-24.el9", "Red Hat:enterprise_linux:9::baseos"),
      [["RHSA-2024:9102", "1:3.0.7-27.el9"]],
    ],
    [
      "RHEL openssl-libs",
      pkg("RPM", "openssl-libs", "1:3.0.7-24.el9"),
      [["RHSA-2024:9102", "1:3.0.7-27.el9"]],
    ],
    [
      "RHEL openssl without epoch",
      pkg("RPM", "openssl", "3.0.7-30.el9"),
      [["RHSA-2024:9102", "1:3.0.7-27.el9"]],
    ],
    ["RHEL openssl fixed", pkg("RPM", "openssl", "1:3.0.7-27.el9"), []],
    ["openssl on AlmaLinux is not RHEL", pkg("RPM", "openssl", "1:3.0.7-24.el9", "AlmaLinux:9"), []],
    // Maven, Go, crates.io
    [
      "log4j-core 2.14.1",
      pkg("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1"),
      [["GHSA-9fq4-m7xr-w3c2", "2.15.0"]],
    ],
    ["log4j-core 2.17.1", pkg("Maven", "org.apache.logging.log4j:log4j-core", "2.17.1"), []],
    [
      "protobuf-java 3.21.6",
      pkg("Maven", "com.google.protobuf:protobuf-java", "3.21.6"),
      [["GHSA-h3gx-9wcq-j2v6", "3.21.7"]],
    ],
    ["protobuf-java 3.21.7", pkg("Maven", "com.google.protobuf:protobuf-java", "3.21.7"), []],
    [
      "x/crypto pseudo-version",
      pkg("Go", "golang.org/x/crypto", "v0.0.0-20210921155107-089bfa567519"),
      [["GO-2021-9012", "0.0.0-20211202192323-5770296d904e"]],
    ],
    ["stdlib 1.17.2", pkg("Go", "stdlib", "v1.17.2"), [["GO-2021-9012", "1.17.5"]]],
    ["crossbeam-deque 0.7.3", pkg("crates.io", "crossbeam-deque", "0.7.3"), [["RUSTSEC-2021-9004", "0.7.4"]]],
    ["crossbeam_deque 0.8.0", pkg("crates.io", "crossbeam_deque", "0.8.0"), [["RUSTSEC-2021-9004", "0.8.1"]]],
    // Unknown packages
    ["unknown package", pkg("npm", "left-pad", "1.0.0"), []],
  ])("%s", (_name, installed, expected) => {
    expect(matches(installed)).toEqual(expected);
  });

  it("keeps the most recently modified copy of an advisory", () => {
    const old = parsed({
      id: "DUP-1",
      modified: "2024-01-01T00:00:00Z",
      affected: [entry("npm", "x", [range("SEMVER", { introduced: "0" }, { fixed: "1.0.0" })])],
    });
    const updated = {
      ...old,
      modified: "2024-03-01T00:00:00Z",
      affected: [{ ...old.affected[0], ranges: [] }],
    };
    const withdrawnLater = { ...old, modified: "2024-04-01T00:00:00Z", withdrawn: "2024-04-01T00:00:00Z" };
    expect(new AdvisoryIndex([updated, old]).match(pkg("npm", "x", "0.5.0"))).toEqual([]);
    expect(new AdvisoryIndex([old]).match(pkg("npm", "x", "0.5.0"))).toHaveLength(1);
    expect(new AdvisoryIndex([old, updated]).size).toBe(1);
    expect(new AdvisoryIndex([old, withdrawnLater]).size).toBe(0);
  });

  it("returns several advisories sorted by id", () => {
    const a = (id: string) =>
      parsed({
        id,
        modified: "2024-01-01T00:00:00Z",
        affected: [entry("npm", "x", [range("SEMVER", { introduced: "0" })])],
      });
    const idx = new AdvisoryIndex([a("B-2"), a("A-1"), a("C-3")]);
    expect(idx.match(pkg("npm", "x", "1.0.0")).map((m) => m.advisory.id)).toEqual(["A-1", "B-2", "C-3"]);
  });

  it("is empty for no advisories", () => {
    const idx = new AdvisoryIndex([]);
    expect(idx.size).toBe(0);
    expect(idx.match(pkg("npm", "x", "1.0.0"))).toEqual([]);
  });
});

describe("AdvisoryIndex: advisories that are aliases of each other are one vulnerability", () => {
  const pypi = (id: string, aliases: string[], fixed: string, extra: Record<string, unknown> = {}) =>
    parsed({
      id,
      aliases,
      modified: "2024-01-01T00:00:00Z",
      affected: [entry("PyPI", "jinja2", [range("ECOSYSTEM", { introduced: "0" }, { fixed })])],
      ...extra,
    });
  const cvss = { severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }] };
  // The same flaw published by GitHub and by the PyPI advisory database, naming each other or a shared CVE.
  const ghsa = pypi("GHSA-h5c8-rqwp-cp95", ["CVE-2024-22195"], "3.1.3", cvss);
  const pysec = pypi("PYSEC-2024-10", ["CVE-2024-22195", "GHSA-h5c8-rqwp-cp95"], "3.1.4");
  const other = pypi("GHSA-other-0000-0001", ["CVE-2024-99999"], "3.1.3");

  it("matches a package once per vulnerability, keeping the scored advisory with every alias and the highest fix", () => {
    const found = new AdvisoryIndex([pysec, ghsa, other]).match(pkg("PyPI", "Jinja2", "3.1.2"));
    expect(found.map((m) => [m.advisory.id, m.advisory.aliases, m.fixedVersion])).toEqual([
      ["GHSA-h5c8-rqwp-cp95", ["CVE-2024-22195", "PYSEC-2024-10"], "3.1.4"],
      ["GHSA-other-0000-0001", ["CVE-2024-99999"], "3.1.3"],
    ]);
    expect(found[0].advisory.severity.cvssScore).toBe(9.8);
  });

  it("groups advisories that only share a CVE alias", () => {
    const osv = pypi("OSV-2024-1", ["CVE-2024-22195"], "3.1.3");
    const found = new AdvisoryIndex([osv, pysec]).match(pkg("PyPI", "jinja2", "3.1.2"));
    expect(found.map((m) => m.advisory.id)).toEqual(["OSV-2024-1"]);
    expect(found[0].advisory.aliases).toEqual(["CVE-2024-22195", "GHSA-h5c8-rqwp-cp95", "PYSEC-2024-10"]);
  });

  it("still reports the one advisory that affects the version when the other does not", () => {
    const found = new AdvisoryIndex([ghsa, pysec]).match(pkg("PyPI", "jinja2", "3.1.3"));
    expect(found.map((m) => [m.advisory.id, m.fixedVersion])).toEqual([["PYSEC-2024-10", "3.1.4"]]);
  });
});

describe("AdvisoryIndex: RPM machines match advisories of their major release", () => {
  const rpm = (id: string, ecosystem: string) =>
    parsed({
      id,
      modified: "2024-01-01T00:00:00Z",
      affected: [
        entry(ecosystem, "kernel", [range("ECOSYSTEM", { introduced: "0" }, { fixed: "5.14.0-999.el9" })]),
      ],
    });
  const advisories = [
    rpm("ALSA-8", "AlmaLinux:8"),
    rpm("ALSA-9", "AlmaLinux:9"),
    rpm("RLSA-8", "Rocky Linux:8"),
    rpm("RLSA-9", "Rocky Linux:9"),
    rpm("RHSA-8", "Red Hat:enterprise_linux:8::baseos"),
    rpm("RHSA-9", "Red Hat:rhel_eus:9.2::appstream"),
    rpm("RPM-ANY", "AlmaLinux"),
    rpm("SUSE-15", "openSUSE:Leap 15.5"),
  ];
  const index = new AdvisoryIndex(advisories);
  const kernel = (extra: Partial<InstalledPackage>): InstalledPackage => ({
    ecosystem: "RPM",
    name: "kernel",
    version: "5.14.0-1.el9",
    ...extra,
  });

  it.each<[string, Partial<InstalledPackage>, string[]]>([
    [
      "no scope: every RPM entry",
      {},
      ["ALSA-8", "ALSA-9", "RHSA-8", "RHSA-9", "RLSA-8", "RLSA-9", "RPM-ANY", "SUSE-15"],
    ],
    [
      "major 8: release 8 of every distribution, and entries naming no release",
      { releaseMajor: "8" },
      ["ALSA-8", "RHSA-8", "RLSA-8", "RPM-ANY"],
    ],
    [
      "major 9 (an EUS minor release counts by its major)",
      { releaseMajor: "9" },
      ["ALSA-9", "RHSA-9", "RLSA-9", "RPM-ANY"],
    ],
    ["major written with a leading zero", { releaseMajor: "09" }, ["ALSA-9", "RHSA-9", "RLSA-9", "RPM-ANY"]],
    ["major 15 does not match 1.5", { releaseMajor: "15" }, ["RPM-ANY", "SUSE-15"]],
    ["AlmaLinux 8", { releaseMajor: "8", osvEcosystem: "AlmaLinux" }, ["ALSA-8", "RPM-ANY"]],
    ["Rocky Linux 9", { releaseMajor: "9", osvEcosystem: "rocky linux" }, ["RLSA-9"]],
    ["Red Hat 9", { releaseMajor: "9", osvEcosystem: "Red Hat" }, ["RHSA-9"]],
    [
      "AlmaLinux:9 without releaseMajor (release compared as a whole)",
      { osvEcosystem: "AlmaLinux:9" },
      ["ALSA-9", "RPM-ANY"],
    ],
  ])("%s", (_name, extra, expected) => {
    const installed = kernel(extra);
    const ids = index.match(installed).map((m) => m.advisory.id);
    expect(ids).toEqual(expected);
    // The index answers exactly what `affects` answers for each advisory.
    expect(
      advisories
        .filter((a) => affects(a, installed).affected)
        .map((a) => a.id)
        .sort(),
    ).toEqual(expected);
  });
});
