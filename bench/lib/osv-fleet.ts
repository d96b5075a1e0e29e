/**
 * Synthetic OSV advisories and a fleet's package snapshots for the vulnerability-matching benchmark,
 * deterministic for a seed.
 *
 * The world: package pools per ecosystem (npm, PyPI, and the OS packages of Debian, Alpine and the RPM
 * rebuilds), each package with a release history per distribution release (versions valid in its
 * ecosystem's ordering: `1.4.2`, `2.36-9+deb12u3`, `1.2.3-r2`, `3.1.0-4.el9_2`). Popular packages (low
 * pool indexes) appear on most machines and draw most advisories, as in real feeds. Advisories are OSV
 * 1.6 documents shaped like their real sources (GHSA, PYSEC, DSA/DLA, ALPINE-CVE, ALSA, RLSA): one to
 * three affected packages, SEMVER/ECOSYSTEM ranges with one or two introduced/fixed pairs, some
 * `last_affected`, some explicit `versions`, CVE aliases, CVSS v3.1 vectors (else a severity wording),
 * a few withdrawn. Machines run one distribution release each (or, for some RPM hosts, report no
 * distribution name) and carry 500 packages: OS packages of their release plus npm and PyPI
 * dependencies, mostly at the newest version, some behind; a few snapshots list a package twice.
 */
import { prng } from "./ocsf-events";

/** An OS release of the fleet: its OSV ecosystem and how its machines describe themselves. */
export interface FleetRelease {
  /** OSV ecosystem of its advisories (`Debian:12`, `Alpine:v3.19`, `AlmaLinux:9`). */
  osvEcosystem: string;
  family: "debian" | "alpine" | "rhel";
  /** Package ecosystem of its OS packages. */
  ecosystem: "Debian" | "Alpine" | "RPM";
  /** `os.version` its machines report. */
  osVersion: string;
  /** `os.distribution` its machines report (RPM rebuilds). */
  distribution?: string;
  /** Share of the fleet. */
  share: number;
  /** Key of its version history: rebuilds of one major release ship the same versions. */
  history: string;
}

/** The releases of the fleet. */
export const FLEET_RELEASES: readonly FleetRelease[] = [
  {
    osvEcosystem: "Debian:11",
    family: "debian",
    ecosystem: "Debian",
    osVersion: "11.11",
    share: 0.14,
    history: "deb11",
  },
  {
    osvEcosystem: "Debian:12",
    family: "debian",
    ecosystem: "Debian",
    osVersion: "12.7",
    share: 0.24,
    history: "deb12",
  },
  {
    osvEcosystem: "Alpine:v3.18",
    family: "alpine",
    ecosystem: "Alpine",
    osVersion: "3.18.9",
    share: 0.08,
    history: "apk318",
  },
  {
    osvEcosystem: "Alpine:v3.19",
    family: "alpine",
    ecosystem: "Alpine",
    osVersion: "3.19.4",
    share: 0.12,
    history: "apk319",
  },
  {
    osvEcosystem: "AlmaLinux:8",
    family: "rhel",
    ecosystem: "RPM",
    osVersion: "8.10",
    distribution: "AlmaLinux",
    share: 0.1,
    history: "el8",
  },
  {
    osvEcosystem: "AlmaLinux:9",
    family: "rhel",
    ecosystem: "RPM",
    osVersion: "9.4",
    distribution: "AlmaLinux",
    share: 0.11,
    history: "el9",
  },
  {
    osvEcosystem: "Rocky Linux:8",
    family: "rhel",
    ecosystem: "RPM",
    osVersion: "8.10",
    distribution: "Rocky Linux",
    share: 0.1,
    history: "el8",
  },
  {
    osvEcosystem: "Rocky Linux:9",
    family: "rhel",
    ecosystem: "RPM",
    osVersion: "9.4",
    distribution: "Rocky Linux",
    share: 0.11,
    history: "el9",
  },
];

/** Pool sizes (distinct package names) per ecosystem. */
const POOL = { npm: 20000, PyPI: 8000, Debian: 6000, Alpine: 2500, RPM: 5000 } as const;
type PoolName = keyof typeof POOL;

/** Versions in each package's history (index 0 oldest). */
const HISTORY = 7;

/** Advisories per source, as shares of the total. */
const SOURCES: ReadonlyArray<{ source: string; share: number }> = [
  { source: "GHSA-npm", share: 0.26 },
  { source: "PyPI", share: 0.16 },
  { source: "Debian", share: 0.2 },
  { source: "Alpine", share: 0.1 },
  { source: "AlmaLinux", share: 0.14 },
  { source: "Rocky Linux", share: 0.14 },
];

const SYLLABLES = [
  "ac",
  "al",
  "ar",
  "ba",
  "be",
  "bo",
  "ca",
  "ce",
  "co",
  "da",
  "de",
  "do",
  "el",
  "en",
  "er",
  "fa",
  "fi",
  "fo",
  "ga",
  "ge",
  "go",
  "ha",
  "he",
  "in",
  "io",
  "ja",
  "ka",
  "ke",
  "la",
  "le",
  "li",
  "lo",
  "ma",
  "me",
  "mi",
  "mo",
  "na",
  "ne",
  "no",
  "nu",
  "or",
  "pa",
  "pe",
  "pi",
  "po",
  "ra",
  "re",
  "ri",
  "ro",
  "sa",
  "se",
  "si",
  "so",
  "ta",
  "te",
  "ti",
  "to",
  "un",
  "va",
  "ve",
  "vi",
  "xa",
  "ya",
  "za",
  "ze",
  "zo",
];

const CVSS_METRICS: ReadonlyArray<[string, readonly string[]]> = [
  ["AV", ["N", "N", "N", "A", "L", "P"]],
  ["AC", ["L", "L", "H"]],
  ["PR", ["N", "N", "L", "H"]],
  ["UI", ["N", "N", "R"]],
  ["S", ["U", "U", "U", "C"]],
  ["C", ["H", "L", "N"]],
  ["I", ["H", "L", "N"]],
  ["A", ["H", "L", "N"]],
];

/** A package as a snapshot lists it. */
export interface FleetPackage {
  ecosystem: "npm" | "PyPI" | "Debian" | "Alpine" | "RPM";
  name: string;
  version: string;
}

/** One machine of the fleet. */
export interface FleetHost {
  index: number;
  host: string;
  release: FleetRelease;
  os: { family: FleetRelease["family"]; version: string; distribution?: string };
  packages: FleetPackage[];
}

/** The generated feed and fleet. */
export class OsvFleet {
  private readonly names: Record<PoolName, string[]>;
  /** PyPI names as some machines spell them (PEP 503 says they are the same package). */
  private readonly pypiSpelling: string[];
  private readonly histories = new Map<string, string[]>();
  private readonly releases: FleetRelease[];

  constructor(private readonly options: { seed: number; hosts: number; packagesPerHost: number }) {
    const random = prng(options.seed);
    const used = new Set<string>();
    const word = (parts: number) => {
      let w = "";
      for (let i = 0; i < parts; i++) w += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
      return w;
    };
    const pool = (size: number, make: () => string) => {
      const out: string[] = [];
      while (out.length < size) {
        const name = make();
        if (used.has(name)) continue;
        used.add(name);
        out.push(name);
      }
      return out;
    };
    this.names = {
      npm: pool(POOL.npm, () =>
        random() < 0.25 ? `@${word(2)}/${word(2 + Math.floor(random() * 2))}` : `${word(2)}-${word(2)}`,
      ),
      PyPI: pool(POOL.PyPI, () => (random() < 0.5 ? `py${word(2)}` : `${word(2)}-${word(1)}`)),
      Debian: pool(POOL.Debian, () =>
        random() < 0.4 ? `lib${word(2)}${Math.floor(random() * 9)}` : word(3),
      ),
      Alpine: pool(POOL.Alpine, () => `${word(2)}${random() < 0.3 ? "-libs" : ""}`),
      RPM: pool(POOL.RPM, () => (random() < 0.3 ? `${word(2)}-devel` : `${word(2)}${word(1)}`)),
    };
    this.pypiSpelling = this.names.PyPI.map((n, i) =>
      i % 7 === 0 ? n.replace(/-/g, "_").replace(/^./, (c) => c.toUpperCase()) : n,
    );
    this.releases = [...FLEET_RELEASES];
  }

  /** The version history of a package (ecosystem npm/PyPI, or an OS release's history key). */
  history(history: string, ecosystem: PoolName, nameIndex: number): string[] {
    const key = `${history}\u0000${nameIndex}`;
    let list = this.histories.get(key);
    if (list) return list;
    const random = prng(hash(`${this.options.seed}:${key}`));
    const major = Math.floor(random() * 6);
    let minor = Math.floor(random() * 20);
    let patch = Math.floor(random() * 10);
    const upstream = `${major + 1}.${minor}.${patch}`;
    const revision = 1 + Math.floor(random() * 5);
    list = [];
    for (let k = 0; k < HISTORY; k++) {
      switch (ecosystem) {
        case "npm":
        case "PyPI": {
          list.push(
            ecosystem === "PyPI" && patch === 0 && k > 0
              ? `${major + 1}.${minor}`
              : `${major + 1}.${minor}.${patch}`,
          );
          if (random() < 0.25) {
            minor++;
            patch = 0;
          } else patch++;
          break;
        }
        case "Debian": {
          const release = history === "deb11" ? "11" : "12";
          list.push(k === 0 ? `${upstream}-${revision}` : `${upstream}-${revision}+deb${release}u${k}`);
          break;
        }
        case "Alpine":
          list.push(`${upstream}-r${k}`);
          break;
        case "RPM": {
          const el = history === "el8" ? "el8" : "el9";
          list.push(k === 0 ? `${upstream}-${revision}.${el}` : `${upstream}-${revision}.${el}_${k}`);
          break;
        }
      }
    }
    this.histories.set(key, list);
    return list;
  }

  /** The name of a package of a pool, as advisories publish it. */
  name(ecosystem: PoolName, index: number): string {
    return this.names[ecosystem][index];
  }

  /** `count` OSV advisories. */
  advisories(count: number): object[] {
    const random = prng(hash(`${this.options.seed}:advisories`));
    const out: object[] = [];
    const serial: Record<string, number> = {};
    const popular = (size: number) => Math.min(size - 1, Math.floor(size * random() ** 1.2));
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
    const cve = () => `CVE-${2019 + Math.floor(random() * 7)}-${10000 + Math.floor(random() * 89999)}`;
    const vector = () =>
      `CVSS:3.1/${CVSS_METRICS.map(([metric, values]) => `${metric}:${pick(values)}`).join("/")}`;
    /** Ranges over a history: a fix at index `f` (1..HISTORY-1), sometimes a second introduced/fixed pair. */
    const ranges = (history: string[], type: "SEMVER" | "ECOSYSTEM") => {
      const f = 1 + Math.floor(random() ** 0.6 * (HISTORY - 1));
      const events: Array<Record<string, string>> = [];
      const start = random() < 0.6 ? "0" : history[Math.floor(random() * f)];
      events.push({ introduced: start });
      const r = random();
      if (r < 0.05) events.push({ last_affected: history[f - 1] });
      else if (r < 0.065) {
        // Not fixed yet.
      } else events.push({ fixed: history[f] });
      const list = [{ type, events }];
      if (random() < 0.12 && f + 2 < HISTORY)
        list.push({ type, events: [{ introduced: history[f + 1] }, { fixed: history[f + 2] }] });
      return { ranges: list, fixIndex: f };
    };
    for (let i = 0; i < count; i++) {
      let roll = random();
      let source = SOURCES[SOURCES.length - 1].source;
      for (const s of SOURCES) {
        if (roll < s.share) {
          source = s.source;
          break;
        }
        roll -= s.share;
      }
      serial[source] = (serial[source] ?? 0) + 1;
      const n = serial[source];
      const aliases = random() < 0.9 ? [cve()] : [];
      if (random() < 0.1) aliases.push(cve());
      const affected: object[] = [];
      let id: string;
      const withVersions = (history: string[], fixIndex: number) =>
        random() < 0.1 ? { versions: history.slice(0, fixIndex) } : {};
      const packages = random() < 0.8 ? 1 : random() < 0.7 ? 2 : 3;
      switch (source) {
        case "GHSA-npm":
        case "PyPI": {
          const eco: PoolName = source === "GHSA-npm" ? "npm" : "PyPI";
          id =
            eco === "npm" || random() < 0.4
              ? `GHSA-${ghsaPart(random)}-${ghsaPart(random)}-${ghsaPart(random)}`
              : `PYSEC-${2019 + (n % 7)}-${n}`;
          for (const index of distinct(Math.min(packages, 2), () => popular(POOL[eco]))) {
            const history = this.history(eco, eco, index);
            const r = ranges(history, eco === "npm" ? "SEMVER" : "ECOSYSTEM");
            affected.push({
              package: {
                ecosystem: eco,
                name: this.names[eco][index],
                purl: `pkg:${eco.toLowerCase()}/${this.names[eco][index]}`,
              },
              ranges: r.ranges,
              ...withVersions(history, r.fixIndex),
              database_specific: { source: "bench" },
            });
          }
          break;
        }
        case "Debian":
        case "Alpine": {
          const eco: PoolName = source;
          const releases = this.releases.filter((r) => r.ecosystem === eco);
          id =
            eco === "Debian"
              ? `${random() < 0.6 ? "DSA" : "DLA"}-${4000 + n}-1`
              : `ALPINE-${aliases[0] ?? `CVE-2024-${n}`}`;
          const targets = random() < 0.55 ? releases : [pick(releases)];
          for (const index of distinct(packages, () => popular(POOL[eco]))) {
            for (const release of targets) {
              const history = this.history(release.history, eco, index);
              const r = ranges(history, "ECOSYSTEM");
              affected.push({
                package: { ecosystem: release.osvEcosystem, name: this.names[eco][index] },
                ranges: r.ranges,
                ...withVersions(history, r.fixIndex),
              });
            }
          }
          break;
        }
        default: {
          const major = random() < 0.5 ? "8" : "9";
          const release = this.releases.find((r) => r.osvEcosystem === `${source}:${major}`)!;
          id = `${source === "AlmaLinux" ? "ALSA" : "RLSA"}-${2022 + (n % 4)}:${String(n).padStart(4, "0")}`;
          for (const index of distinct(packages, () => popular(POOL.RPM))) {
            const history = this.history(release.history, "RPM", index);
            const r = ranges(history, "ECOSYSTEM");
            affected.push({
              package: { ecosystem: release.osvEcosystem, name: this.names.RPM[index] },
              ranges: r.ranges,
            });
          }
        }
      }
      const day = new Date(Date.UTC(2022, 0, 1) + Math.floor(random() * 1400) * 86_400_000);
      const scored = random() < 0.85;
      out.push({
        schema_version: "1.6.0",
        id,
        modified: new Date(day.getTime() + 86_400_000 * 3).toISOString(),
        published: day.toISOString(),
        ...(random() < 0.015 ? { withdrawn: new Date(day.getTime() + 86_400_000 * 30).toISOString() } : {}),
        aliases,
        summary: `${pick(["Buffer overflow", "Denial of service", "Path traversal", "Prototype pollution", "Use after free", "SQL injection", "Improper certificate validation", "Integer overflow"])} in ${(affected[0] as { package: { name: string } }).package.name}`,
        details: `Synthetic advisory ${id} for the vulnerability-matching benchmark.`,
        ...(scored
          ? { severity: [{ type: "CVSS_V3", score: vector() }] }
          : { database_specific: { severity: pick(["Low", "Moderate", "Important", "Critical"]) } }),
        affected,
        references: [{ type: "ADVISORY", url: `https://example.test/advisories/${encodeURIComponent(id)}` }],
      });
    }
    return dedupeIds(out);
  }

  /** Machine `index` of the fleet (generated on demand, the same every time). */
  host(index: number): FleetHost {
    const random = prng(hash(`${this.options.seed}:host:${index}`));
    let roll = random();
    let release = this.releases[this.releases.length - 1];
    for (const r of this.releases) {
      if (roll < r.share) {
        release = r;
        break;
      }
      roll -= r.share;
    }
    const total = this.options.packagesPerHost;
    const osCount = Math.round(total * (release.family === "alpine" ? 0.24 : 0.64));
    const npmCount = Math.round((total - osCount) * 0.66);
    const pypiCount = total - osCount - npmCount;
    /** Mostly the newest version, else one of the last few (servers lag behind on updates). */
    const installed = (history: string[]) => {
      const r = random();
      return history[
        r < 0.82
          ? HISTORY - 1
          : r < 0.92
            ? HISTORY - 2
            : r < 0.97
              ? HISTORY - 3
              : Math.floor(random() * (HISTORY - 3))
      ];
    };
    const packages: FleetPackage[] = [];
    const take = (eco: PoolName, count: number, history: string, base: number) => {
      const size = POOL[eco];
      const chosen = new Set<number>();
      // Every machine of a release has its base system; the rest skews to popular packages.
      for (let i = 0; i < Math.min(base, count); i++) chosen.add(i);
      while (chosen.size < count) chosen.add(Math.min(size - 1, Math.floor(size * random() ** 1.6)));
      for (const i of [...chosen].sort((a, b) => a - b)) {
        const name = eco === "PyPI" ? this.pypiSpelling[i] : this.names[eco][i];
        packages.push({ ecosystem: eco, name, version: installed(this.history(history, eco, i)) });
      }
    };
    take(release.ecosystem, osCount, release.history, Math.round(osCount * 0.4));
    take("npm", npmCount, "npm", 0);
    take("PyPI", pypiCount, "PyPI", 0);
    // Node projects often vendor two versions of a dependency; some inventories list an entry twice.
    if (index % 20 === 7) {
      const i = packages.findIndex((p) => p.ecosystem === "npm");
      const history = this.history("npm", "npm", this.names.npm.indexOf(packages[i].name));
      packages[packages.length - 1] = { ...packages[i], version: history[1] };
    }
    if (index % 50 === 11) {
      const i = packages.findIndex((p) => p.ecosystem === "npm");
      packages[packages.length - 2] = { ...packages[i] };
    }
    const reportsDistribution = release.family !== "rhel" || index % 8 !== 3;
    return {
      index,
      host: `vm-${String(index).padStart(5, "0")}`,
      release,
      os: {
        family: release.family,
        version: release.osVersion,
        ...(reportsDistribution && release.distribution ? { distribution: release.distribution } : {}),
      },
      packages,
    };
  }
}

/** A 32-bit FNV-1a hash (seeds derived from labels). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const GHSA_CHARS = "23456789cfghjmpqrvwx";
function ghsaPart(random: () => number): string {
  let s = "";
  for (let i = 0; i < 4; i++) s += GHSA_CHARS[Math.floor(random() * GHSA_CHARS.length)];
  return s;
}

/** Up to `count` distinct values of `draw` (gives up after a few collisions). */
function distinct(count: number, draw: () => number): number[] {
  const out = new Set<number>();
  for (let tries = 0; out.size < count && tries < count * 10; tries++) out.add(draw());
  return [...out];
}

/** Ids are unique in a feed: a rare collision of generated ids gets a suffix. */
function dedupeIds(list: object[]): object[] {
  const seen = new Set<string>();
  for (const a of list as Array<{ id: string }>) {
    let id = a.id;
    for (let k = 2; seen.has(id); k++) id = `${a.id}-${k}`;
    seen.add(id);
    a.id = id;
  }
  return list;
}
