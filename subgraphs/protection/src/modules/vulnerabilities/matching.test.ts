import { parseOsvAdvisory, AdvisoryIndex, type Advisory } from "./osv";
import { osPackageScope, SnapshotMatcher, type SnapshotOs, type SnapshotPackage } from "./matching";

function parsed(json: unknown): Advisory {
  const result = parseOsvAdvisory(json);
  if (!("advisory" in result)) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
  return result.advisory;
}

/** An advisory affecting `name` in each given OSV ecosystem before `fixed`. */
const advisory = (id: string, name: string, ecosystems: string[], fixed: string) =>
  parsed({
    id,
    modified: "2024-01-01T00:00:00Z",
    affected: ecosystems.map((ecosystem) => ({
      package: { ecosystem, name },
      ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed }] }],
    })),
  });

const matcher = new SnapshotMatcher(
  new AdvisoryIndex([
    advisory("ALPINE-CVE-2024-0001", "busybox", ["Alpine:v3.19"], "1.36.1-r16"),
    advisory("ALPINE-CVE-2024-0002", "busybox", ["Alpine:v3.18"], "1.36.1-r9"),
    advisory("ALSA-2024:0001", "glibc", ["AlmaLinux:8"], "2.28-236.el8_9.13"),
    advisory("ALSA-2024:0002", "glibc", ["AlmaLinux:9"], "2.34-100.el9_4.2"),
    advisory("RLSA-2024:0001", "glibc", ["Rocky Linux:8"], "2.28-236.el8_9.13"),
    advisory("RLSA-2024:0002", "glibc", ["Rocky Linux:9"], "2.34-100.el9_4.2"),
    advisory("RHSA-2024:0001", "glibc", ["Red Hat:enterprise_linux:8::baseos"], "2.28-236.el8_9.13"),
    advisory("DSA-5001-1", "openssl", ["Debian:11", "Debian:12"], "3.0.11-1~deb12u2"),
    parsed({
      id: "GHSA-aaaa-bbbb-cccc",
      modified: "2024-01-01T00:00:00Z",
      affected: [
        {
          package: { ecosystem: "npm", name: "minimist" },
          ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "1.2.6" }] }],
        },
      ],
    }),
  ]),
);

const ids = (os: SnapshotOs, packages: SnapshotPackage[]) =>
  [...matcher.findings(os, packages).values()].map((f) => [
    f.advisory.id,
    f.installedVersion,
    f.fixedVersion,
  ]);

describe("osPackageScope: which advisory entries a machine's OS packages match", () => {
  it.each<[string, SnapshotOs, ReturnType<typeof osPackageScope>]>([
    [
      "Debian: the major release",
      { family: "debian", version: "12.4" },
      { ecosystem: "Debian", osvEcosystem: "Debian:12" },
    ],
    [
      "Alpine: major.minor",
      { family: "alpine", version: "3.19.1" },
      { ecosystem: "Alpine", osvEcosystem: "Alpine:3.19" },
    ],
    [
      "Alpine written with a v",
      { family: "alpine", version: "v3.18" },
      { ecosystem: "Alpine", osvEcosystem: "Alpine:3.18" },
    ],
    [
      "RPM without a distribution: the major only",
      { family: "rhel", version: "8.10" },
      { ecosystem: "RPM", releaseMajor: "8" },
    ],
    [
      "AlmaLinux",
      { family: "rhel", version: "9.4", distribution: "AlmaLinux" },
      { ecosystem: "RPM", releaseMajor: "9", osvEcosystem: "AlmaLinux" },
    ],
    [
      "Rocky as agents write it",
      { family: "rhel", version: "8.10", distribution: "rocky" },
      { ecosystem: "RPM", releaseMajor: "8", osvEcosystem: "Rocky Linux" },
    ],
    [
      "RHEL",
      { family: "rhel", version: "8.9", distribution: "Red Hat Enterprise Linux" },
      { ecosystem: "RPM", releaseMajor: "8", osvEcosystem: "Red Hat" },
    ],
    [
      "another rebuild, as written",
      { family: "rhel", version: "9.3", distribution: "Oracle Linux" },
      { ecosystem: "RPM", releaseMajor: "9", osvEcosystem: "Oracle Linux" },
    ],
    ["Windows: none", { family: "windows", version: "10.0.20348" }, null],
  ])("%s", (_name, os, scope) => {
    expect(osPackageScope(os)).toEqual(scope);
  });
});

describe("SnapshotMatcher.findings", () => {
  it("matches an Alpine machine against its own release (v3.19 entries for 3.19.1)", () => {
    const busybox = [{ ecosystem: "Alpine" as const, name: "busybox", version: "1.36.1-r8" }];
    expect(ids({ family: "alpine", version: "3.19.1" }, busybox)).toEqual([
      ["ALPINE-CVE-2024-0001", "1.36.1-r8", "1.36.1-r16"],
    ]);
    expect(ids({ family: "alpine", version: "3.18.6" }, busybox)).toEqual([
      ["ALPINE-CVE-2024-0002", "1.36.1-r8", "1.36.1-r9"],
    ]);
  });

  it.each<[string, SnapshotOs, string, string[]]>([
    [
      "RHEL 8 without a distribution: every rebuild's release 8",
      { family: "rhel", version: "8.10" },
      "2.28-236.el8",
      ["ALSA-2024:0001", "RHSA-2024:0001", "RLSA-2024:0001"],
    ],
    [
      "AlmaLinux 8: its own advisories only",
      { family: "rhel", version: "8.10", distribution: "AlmaLinux" },
      "2.28-236.el8",
      ["ALSA-2024:0001"],
    ],
    [
      "Rocky Linux 9",
      { family: "rhel", version: "9.4", distribution: "Rocky Linux" },
      "2.34-100.el9",
      ["RLSA-2024:0002"],
    ],
    [
      "RHEL 8",
      { family: "rhel", version: "8.9", distribution: "Red Hat" },
      "2.28-236.el8",
      ["RHSA-2024:0001"],
    ],
    [
      "RHEL 9 without a distribution: release 9 entries of every rebuild, none of release 8",
      { family: "rhel", version: "9.4" },
      "2.34-99.el9",
      ["ALSA-2024:0002", "RLSA-2024:0002"],
    ],
  ])("%s", (_name, os, version, expected) => {
    const found = ids(os, [{ ecosystem: "RPM", name: "glibc", version }]).map(([id]) => id);
    expect(found.sort()).toEqual(expected);
  });

  it("makes one finding of a package listed twice, at the lowest affected version", () => {
    const os: SnapshotOs = { family: "debian", version: "12.4" };
    const minimist = (version: string) => ({ ecosystem: "npm" as const, name: "minimist", version });
    expect(ids(os, [minimist("1.2.5"), minimist("1.2.5")])).toEqual([
      ["GHSA-aaaa-bbbb-cccc", "1.2.5", "1.2.6"],
    ]);
    expect(ids(os, [minimist("1.2.5"), minimist("0.0.8"), minimist("1.2.8")])).toEqual([
      ["GHSA-aaaa-bbbb-cccc", "0.0.8", "1.2.6"],
    ]);
  });

  it("gives the same answer from its memo as from the index", () => {
    const os: SnapshotOs = { family: "debian", version: "11.9" };
    const openssl = [{ ecosystem: "Debian" as const, name: "openssl", version: "1.1.1n-0+deb11u5" }];
    const first = ids(os, openssl);
    expect(first).toEqual([["DSA-5001-1", "1.1.1n-0+deb11u5", "3.0.11-1~deb12u2"]]);
    expect(ids(os, openssl)).toEqual(first);
  });
});
