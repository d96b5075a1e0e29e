/**
 * From a machine's package snapshot to the findings it should have, against one advisory index.
 *
 * Pure: no I/O. A fleet shares most of its packages (the same distribution release, the same popular
 * dependencies), so `SnapshotMatcher` memoises `AdvisoryIndex.match` per distinct installed package:
 * matching 10,000 machines costs about as much as matching their few hundred thousand distinct packages.
 */
import type { PackagesRecord } from "../telemetry/telemetry.model";
import type { AdvisoryIndex, Advisory, InstalledPackage } from "./osv";
import { compareVersions, type Ecosystem } from "./versions";

/** A machine's operating system, as its package snapshot reports it. */
export type SnapshotOs = PackagesRecord["os"];

/** An installed package, as a snapshot lists it. */
export type SnapshotPackage = PackagesRecord["packages"][number];

/**
 * RPM distributions as agents name them (lower-case, without spaces, `-` or `_`) and the OSV ecosystem
 * name their advisories are published under.
 */
const RPM_DISTRIBUTIONS: Readonly<Record<string, string>> = {
  almalinux: "AlmaLinux",
  alma: "AlmaLinux",
  rockylinux: "Rocky Linux",
  rocky: "Rocky Linux",
  redhat: "Red Hat",
  redhatenterpriselinux: "Red Hat",
  rhel: "Red Hat",
};

/** Which advisory entries a machine's operating-system packages are matched against. */
export interface OsPackageScope {
  /** The version family of the OS packages (`Debian`, `Alpine`, `RPM`). */
  ecosystem: Ecosystem;
  /** See `InstalledPackage.osvEcosystem`. */
  osvEcosystem?: string;
  /** See `InstalledPackage.releaseMajor`. */
  releaseMajor?: string;
}

/**
 * The scope of a machine's OS packages: Debian hosts match `Debian:<major>` entries, Alpine hosts
 * `Alpine:<major>.<minor>` entries (`Alpine:v3.19` for 3.19.1), RPM hosts entries of their major release
 * (`AlmaLinux:8`, `Rocky Linux:8`, `Red Hat:enterprise_linux:8::baseos` for 8.10) and, when the snapshot
 * names the distribution, only that distribution's. Null for Windows (no OS packages in OSV).
 */
export function osPackageScope(os: SnapshotOs): OsPackageScope | null {
  const release = os.version
    .trim()
    .replace(/^v(?=\d)/i, "")
    .split(".");
  switch (os.family) {
    case "debian":
      return { ecosystem: "Debian", osvEcosystem: `Debian:${release[0]}` };
    case "alpine":
      return { ecosystem: "Alpine", osvEcosystem: `Alpine:${release.slice(0, 2).join(".")}` };
    case "rhel": {
      const given = os.distribution?.trim();
      const distribution = given
        ? (RPM_DISTRIBUTIONS[given.toLowerCase().replace(/[\s_-]+/g, "")] ?? given)
        : undefined;
      return {
        ecosystem: "RPM",
        releaseMajor: release[0],
        ...(distribution ? { osvEcosystem: distribution } : {}),
      };
    }
    default:
      return null;
  }
}

/** A package of a snapshot as matched: OS packages carry the machine's distribution and release. */
export function installedPackage(scope: OsPackageScope | null, pkg: SnapshotPackage): InstalledPackage {
  const installed: InstalledPackage = { ecosystem: pkg.ecosystem, name: pkg.name, version: pkg.version };
  if (scope !== null && scope.ecosystem === pkg.ecosystem) {
    if (scope.osvEcosystem !== undefined) installed.osvEcosystem = scope.osvEcosystem;
    if (scope.releaseMajor !== undefined) installed.releaseMajor = scope.releaseMajor;
  }
  return installed;
}

/** A finding a machine should have. */
export interface DesiredFinding {
  advisory: Advisory;
  ecosystem: Ecosystem;
  /** The package name as the snapshot lists it. */
  package: string;
  installedVersion: string;
  fixedVersion: string | null;
}

/** The identity of a finding on a machine (the findings table's unique key without tenant and machine). */
export const findingKey = (advisoryId: string, ecosystem: string, pkg: string): string =>
  `${advisoryId}\u0000${ecosystem}\u0000${pkg}`;

type Matches = ReturnType<AdvisoryIndex["match"]>;

/** Memo entry of a package name no advisory mentions. */
const UNLISTED = "unlisted";
const NO_MATCHES: Matches = [];

/** Memoised answers of one scope and ecosystem: by name, then by version. */
type ByName = Map<string, Map<string, Matches> | typeof UNLISTED>;

/** Distinct installed packages remembered per index before the memo starts over (bounds memory). */
const MEMO_LIMIT = 1_000_000;

/** Matches snapshots against one advisory index, remembering the answer for each distinct package. */
export class SnapshotMatcher {
  /**
   * Answers by distribution scope, ecosystem, name and version: nested maps, so that looking up one of
   * the millions of packages of a fleet builds no key string. A name no advisory mentions maps to
   * `UNLISTED` instead of a map of versions: such packages cost two lookups and no memory per version.
   */
  private readonly memo = new Map<string, Map<string, ByName>>();
  private memoized = 0;

  constructor(readonly index: AdvisoryIndex) {}

  /** `AdvisoryIndex.match`, memoised. */
  match(pkg: InstalledPackage): Matches {
    return this.lookup(
      this.byName(`${pkg.osvEcosystem ?? ""}\u0000${pkg.releaseMajor ?? ""}`, pkg.ecosystem),
      pkg,
      null,
    );
  }

  /** The memo of one distribution scope (the key of an `OsPackageScope`) and ecosystem, by name. */
  private byName(scope: string, ecosystem: string): ByName {
    let byEcosystem = this.memo.get(scope);
    if (byEcosystem === undefined) this.memo.set(scope, (byEcosystem = new Map()));
    let byName = byEcosystem.get(ecosystem);
    if (byName === undefined) byEcosystem.set(ecosystem, (byName = new Map()));
    return byName;
  }

  /** The memo's answer for `pkg`; on a miss, `pkg` is matched within `os` (null: as it is). */
  private lookup(byName: ByName, pkg: InstalledPackage, os: OsPackageScope | null): Matches {
    let byVersion = byName.get(pkg.name);
    if (byVersion === UNLISTED) return NO_MATCHES;
    if (byVersion === undefined) {
      if (!this.index.lists(pkg.ecosystem, pkg.name)) {
        byName.set(pkg.name, UNLISTED);
        return NO_MATCHES;
      }
      byName.set(pkg.name, (byVersion = new Map()));
    }
    let matches = byVersion.get(pkg.version);
    if (matches === undefined) {
      matches = this.index.match(os === null ? pkg : installedPackage(os, pkg));
      if (++this.memoized > MEMO_LIMIT) {
        // Start over rather than evict: the maps being filled stay valid, they are just no longer reachable.
        this.memo.clear();
        this.memoized = 0;
      }
      byVersion.set(pkg.version, matches);
    }
    return matches;
  }

  /**
   * The findings a snapshot should have, by `findingKey`. A snapshot may list a package more than once
   * (the same version twice, or several versions of one npm package); a finding is per advisory and
   * package, so the lowest affected version listed is the one reported.
   */
  findings(os: SnapshotOs, packages: readonly SnapshotPackage[]): Map<string, DesiredFinding> {
    const scope = osPackageScope(os);
    const osByName =
      scope === null
        ? null
        : this.byName(`${scope.osvEcosystem ?? ""}\u0000${scope.releaseMajor ?? ""}`, scope.ecosystem);
    // Snapshots list packages grouped by ecosystem: the map of the previous package's is usually the one.
    let appEcosystem = "";
    let appByName: ByName | null = null;
    const out = new Map<string, DesiredFinding>();
    for (const pkg of packages) {
      let matches: Matches;
      if (scope !== null && pkg.ecosystem === scope.ecosystem) matches = this.lookup(osByName!, pkg, scope);
      else {
        if (appByName === null || pkg.ecosystem !== appEcosystem) {
          appEcosystem = pkg.ecosystem;
          appByName = this.byName("\u0000", appEcosystem);
        }
        matches = this.lookup(appByName, pkg, null);
      }
      if (matches.length === 0) continue;
      for (const { advisory, fixedVersion } of matches) {
        const key = findingKey(advisory.id, pkg.ecosystem, pkg.name);
        const kept = out.get(key);
        if (kept !== undefined) {
          const c = compareVersions(pkg.ecosystem, pkg.version, kept.installedVersion);
          if (c > 0 || (c === 0 && pkg.version >= kept.installedVersion)) continue;
        }
        out.set(key, {
          advisory,
          ecosystem: pkg.ecosystem,
          package: pkg.name,
          installedVersion: pkg.version,
          fixedVersion,
        });
      }
    }
    return out;
  }
}
