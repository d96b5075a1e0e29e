import {
  compareVersions,
  ecosystemOf,
  ECOSYSTEMS,
  isValidVersion,
  osvEcosystemParts,
  type Ecosystem,
} from "./versions";

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

/** Assert every pair of a chain is strictly increasing (not just neighbours). */
function expectAscending(ecosystem: Ecosystem, chain: string[]): void {
  for (let i = 0; i < chain.length; i++) {
    for (let j = 0; j < chain.length; j++) {
      const expected = sign(i - j);
      const actual = sign(compareVersions(ecosystem, chain[i], chain[j]));
      if (actual !== expected) {
        throw new Error(`${ecosystem}: compare(${chain[i]}, ${chain[j]}) = ${actual}, expected ${expected}`);
      }
    }
  }
}

describe("ecosystemOf", () => {
  it.each<[string, Ecosystem | null]>([
    ["npm", "npm"],
    ["PyPI", "PyPI"],
    ["pypi", "PyPI"],
    ["Debian", "Debian"],
    ["Debian:12", "Debian"],
    ["Debian:sid", "Debian"],
    ["Ubuntu:22.04:LTS", "Debian"],
    ["Ubuntu:Pro:18.04:LTS", "Debian"],
    ["Alpine", "Alpine"],
    ["Alpine:v3.19", "Alpine"],
    ["Wolfi", "Alpine"],
    ["Red Hat", "RPM"],
    ["Red Hat:enterprise_linux:9::appstream", "RPM"],
    ["AlmaLinux:9", "RPM"],
    ["Rocky Linux:9", "RPM"],
    ["openSUSE:Leap 15.5", "RPM"],
    ["SUSE:Linux Enterprise Server 15 SP5", "RPM"],
    ["Mageia:9", "RPM"],
    ["RPM", "RPM"],
    ["Maven", "Maven"],
    ["Maven:https://maven.google.com", "Maven"],
    ["Go", "Go"],
    ["crates.io", "crates.io"],
    ["NuGet", null],
    ["RubyGems", null],
    ["", null],
    ["Debianish", null],
  ])("%s → %s", (osv, expected) => {
    expect(ecosystemOf(osv)).toBe(expected);
  });

  it("splits release suffixes", () => {
    expect(osvEcosystemParts("Debian:12")).toEqual({ name: "Debian", release: "12" });
    expect(osvEcosystemParts("Red Hat:enterprise_linux:9::baseos")).toEqual({
      name: "Red Hat",
      release: "enterprise_linux:9::baseos",
    });
    expect(osvEcosystemParts("npm")).toEqual({ name: "npm", release: null });
    expect(osvEcosystemParts("Alpine:")).toEqual({ name: "Alpine", release: null });
  });
});

describe("npm (SemVer 2.0.0)", () => {
  it("orders the SemVer specification's precedence example", () => {
    expectAscending("npm", [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "1.0.1",
      "1.1.0",
      "1.9.0",
      "1.10.0",
      "2.0.0",
      "10.0.0",
    ]);
  });

  it.each<[string, string, number]>([
    ["1.0.0-1", "1.0.0-a", -1], // numeric identifiers below alphanumeric ones
    ["1.0.0-2", "1.0.0-10", -1], // numerically, not lexically
    ["1.0.0-a10", "1.0.0-a9", -1], // alphanumeric identifiers lexically
    ["1.0.0-alpha", "1.0.0-alpha.0", -1], // more identifiers win
    ["1.0.0-rc.1", "1.0.0", -1], // pre-release below release
    ["0.0.0-0", "0.0.0", -1],
    ["1.0.0-Z", "1.0.0-a", -1], // ASCII order
    ["9.99.99", "10.0.0", -1],
    ["1.0.9", "1.0.12345678901234567890", -1], // beyond Number precision
    ["1.0.0+build.1", "1.0.0+build.2", 0], // build metadata ignored
    ["1.0.0-rc.1+a", "1.0.0-rc.1+b", 0],
    ["v1.2.3", "1.2.3", 0],
    ["=1.2.3", "1.2.3", 0],
    ["=v1.2.3", "1.2.3", 0],
    [" 1.2.3 ", "1.2.3", 0],
    ["1.2.3", "1.2.3", 0],
    ["2.0.0", "1.99.99", 1],
  ])("%s vs %s → %i", (a, b, expected) => {
    expect(sign(compareVersions("npm", a, b))).toBe(expected);
    expect(sign(compareVersions("npm", b, a))).toBe(0 - expected);
  });

  it.each<[string, boolean]>([
    ["1.2.3", true],
    ["v1.2.3", true],
    ["1.0.0-0", true],
    ["1.0.0-x-y-z.--", true],
    ["1.0.0+21AF26D3----117B344092BD", true],
    ["1.0.0-alpha+001", true],
    ["1.2", false],
    ["1", false],
    ["01.0.0", false],
    ["1.0.0-01", false],
    ["1.0.0-", false],
    ["1.0.0+", false],
    ["1.0.0-alpha..1", false],
    ["latest", false],
    ["", false],
  ])("isValidVersion(npm, %j) = %s", (v, valid) => {
    expect(isValidVersion("npm", v)).toBe(valid);
  });

  it("sorts invalid versions after valid ones, naturally among themselves", () => {
    expect(compareVersions("npm", "99.0.0", "1.2")).toBeLessThan(0);
    expect(compareVersions("npm", "1.2", "1.10")).toBeLessThan(0);
    expect(compareVersions("npm", "1.10", "latest")).toBeLessThan(0);
    expect(compareVersions("npm", "latest", "latest")).toBe(0);
  });
});

describe("PyPI (PEP 440)", () => {
  it("orders the PEP 440 / packaging example sequence", () => {
    expectAscending("PyPI", [
      "1.0.dev456",
      "1.0a1",
      "1.0a2.dev456",
      "1.0a12.dev456",
      "1.0a12",
      "1.0b1.dev456",
      "1.0b2",
      "1.0b2.post345.dev456",
      "1.0b2.post345",
      "1.0rc1.dev456",
      "1.0rc1",
      "1.0",
      "1.0+abc.5",
      "1.0+abc.7",
      "1.0+5",
      "1.0.post456.dev34",
      "1.0.post456",
      "1.0.15",
      "1.1.dev1",
    ]);
  });

  it.each<[string, string, number]>([
    ["1!0.1", "2.0", 1], // epochs dominate
    ["1!1.0", "2!0.1", -1],
    ["0!1.0", "1.0", 0],
    ["1.0", "1.0.0", 0], // zero padding
    ["1.0", "1.0.0.0", 0],
    ["1.0.0.1", "1.0", 1],
    ["1.01", "1.1", 0], // integers, not strings
    ["1.9", "1.10", -1],
    ["1.0a", "1.0a0", 0], // implicit pre-release number
    ["1.0alpha1", "1.0a1", 0],
    ["1.0.a1", "1.0a1", 0],
    ["1.0-a-1", "1.0a1", 0],
    ["1.0beta2", "1.0b2", 0],
    ["1.0c1", "1.0rc1", 0],
    ["1.0pre1", "1.0rc1", 0],
    ["1.0preview1", "1.0rc1", 0],
    ["1.0RC1", "1.0rc1", 0], // case-insensitive
    ["1.0-1", "1.0.post1", 0], // implicit post-release
    ["1.0post1", "1.0.post1", 0],
    ["1.0.r1", "1.0.post1", 0],
    ["1.0-rev1", "1.0.post1", 0],
    ["1.0.post", "1.0.post0", 0],
    ["1.0.dev", "1.0.dev0", 0],
    ["1.0-dev1", "1.0.dev1", 0],
    ["V1.0", "1.0", 0],
    [" 1.0 ", "1.0", 0],
    ["1.0+ubuntu-1", "1.0+ubuntu.1", 0], // local separators normalise
    ["1.0+ABC", "1.0+abc", 0],
    ["1.0.dev1", "1.0a1", -1], // dev before pre
    ["1.0a1.dev1", "1.0a1", -1],
    ["1.0rc1", "1.0", -1], // pre before release
    ["1.0", "1.0.post0", -1], // release before post
    ["1.0.post1.dev1", "1.0.post1", -1],
    ["1.0.post1.dev1", "1.0", 1],
    ["1.0", "1.0+local", -1], // local after none
    ["1.0+abc", "1.0+1", -1], // numeric local segments above alphanumeric
    ["1.0+1", "1.0+1.0", -1], // longer local wins
    ["5.4b2", "5.4", -1],
    ["5.4", "5.4.0", 0],
    ["4.0.0rc1", "4.21.0rc2", -1],
  ])("%s vs %s → %i", (a, b, expected) => {
    expect(sign(compareVersions("PyPI", a, b))).toBe(expected);
    expect(sign(compareVersions("PyPI", b, a))).toBe(0 - expected);
  });

  it.each<[string, boolean]>([
    ["1.0", true],
    ["2012.10", true],
    ["1!2.0.post3.dev4+local.5", true],
    ["1.0-1", true],
    ["v1.0", true],
    ["1.0.x", false],
    ["1..0", false],
    ["1.0+", false],
    ["1.0+ab$c", false],
    ["dev", false],
    ["1.0-beta-x", false],
    ["", false],
  ])("isValidVersion(PyPI, %j) = %s", (v, valid) => {
    expect(isValidVersion("PyPI", v)).toBe(valid);
  });

  it("sorts invalid versions after valid ones", () => {
    expect(compareVersions("PyPI", "999!9", "1.0.x")).toBeLessThan(0);
    expect(compareVersions("PyPI", "0.1dev-r1234", "0.1dev-r999")).toBeGreaterThan(0);
  });
});

describe("Debian (dpkg)", () => {
  it("orders tildes before everything, even the end of the string (Debian policy 5.6.12)", () => {
    expectAscending("Debian", ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]);
  });

  it("orders security-update revisions", () => {
    expectAscending("Debian", [
      "3.0.11-1~deb12u1",
      "3.0.11-1~deb12u2",
      "3.0.11-1",
      "3.0.11-1+b1",
      "3.0.11-1.1",
      "3.0.11-2",
      "3.0.11-10",
      "3.0.13-1~deb12u1",
    ]);
  });

  it.each<[string, string, number]>([
    ["1.0~rc1", "1.0", -1],
    ["1.0~rc1", "1.0~rc2", -1],
    ["1.0~rc1-1", "1.0-1", -1],
    ["1:1.0", "2.0", 1], // epoch dominates
    ["1:0.1", "0:99.9", 1],
    ["2:0.1", "1:99", 1],
    ["0:1.0", "1.0", 0], // missing epoch is 0
    ["1.0", "1.0-0", 0], // absent revision compares like "0"
    ["1.0-1", "1.0-2", -1],
    ["1.0-2", "1.0-10", -1],
    ["1.0-1", "1.0-1.1", -1],
    ["1.0-1~deb12u1", "1.0-1", -1],
    ["1.0-1", "1.0-1+deb12u1", -1],
    ["7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1],
    ["1.1.1n-0+deb11u5", "1.1.1w-0+deb11u1", -1],
    ["1.2.3", "1.2.10", -1],
    ["2.4", "2.30", -1],
    ["1.0", "1.00", 0], // digit parts are numbers
    ["1.0a", "1.0+", -1], // letters before non-letters
    ["1.0+", "1.0.", -1], // non-letters by character code
    ["1.0", "1.0.0", -1],
    ["9.18.30-1", "1:9.18.19-1~deb12u1", -1],
    ["1:9.18.19-1~deb12u1", "1:9.18.24-1", -1],
    ["2.36-9+deb12u4", "2.36-9+deb12u10", -1],
    ["1.0-1ubuntu1", "1.0-1", 1],
  ])("%s vs %s → %i", (a, b, expected) => {
    expect(sign(compareVersions("Debian", a, b))).toBe(expected);
    expect(sign(compareVersions("Debian", b, a))).toBe(0 - expected);
  });

  it.each<[string, boolean]>([
    ["1.0", true],
    ["1:2.3-4", true],
    ["0:1.0~rc1-1", true],
    ["1.0+dfsg-1ubuntu0.1", true],
    ["3.0.11-1~deb12u2", true],
    ["2.0-1-2", true], // hyphens in the upstream version when there is a revision
    ["1:2:3-1", true], // colons in the upstream version when there is an epoch
    ["a1.0", false], // must start with a digit
    ["1.0-", false], // empty revision
    ["x:1.0", false], // non-numeric epoch
    [":1.0", false],
    ["1.0 beta", false],
    ["1.0-a_b", false],
    ["1.0_1", false],
    ["", false],
  ])("isValidVersion(Debian, %j) = %s", (v, valid) => {
    expect(isValidVersion("Debian", v)).toBe(valid);
  });

  it("applies the dpkg algorithm to strings dpkg would reject", () => {
    expect(compareVersions("Debian", "a", "b")).toBeLessThan(0);
    expect(compareVersions("Debian", "x:1.0", "1.0")).not.toBe(0);
  });
});

describe("Alpine (apk)", () => {
  it("orders suffixes: _alpha _beta _pre _rc < none < _cvs _svn _git _hg _p", () => {
    expectAscending("Alpine", [
      "1.0_alpha",
      "1.0_alpha1",
      "1.0_alpha2",
      "1.0_beta",
      "1.0_pre1",
      "1.0_rc1",
      "1.0_rc1_p1",
      "1.0",
      "1.0-r0",
      "1.0-r1",
      "1.0_cvs",
      "1.0_svn",
      "1.0_git20240101",
      "1.0_hg",
      "1.0_p1",
      "1.0_p2",
      "1.0a",
      "1.0b",
      "1.0.1",
    ]);
  });

  it.each<[string, string, number]>([
    ["1.36.1-r15", "1.36.1-r16", -1],
    ["1.36.1-r9", "1.36.1-r10", -1],
    ["1.36.1", "1.36.1-r0", -1], // no revision sorts below -r0
    ["1.36.1-r16", "1.36.2-r0", -1],
    ["1.0_rc1", "1.0-r1", -1],
    ["1.0-r5", "1.0_p1", -1],
    ["1.2", "1.2.0", -1], // more components win
    ["1.2.9", "1.2.10", -1],
    ["1.01", "1.1", -1], // leading zero: string comparison
    ["1.001", "1.01", -1],
    ["1.0", "1.00", -1],
    ["8.2.0015", "8.2.002", -1], // apk-tools test vector
    ["006", "1.0.0", 1], // the first component is always numeric
    ["021109-r3", "3.0.0-r2", 1],
    ["1.0z", "1.0.1", -1],
    ["1.0-r1", "1.0~abc", -1], // commit hash after revision in grammar order
    ["1.0~abc", "1.0~abd", -1],
    ["1.0~abc-r1", "1.0~abc-r2", -1],
    ["2.4.58_p1-r0", "2.4.58-r9", 1],
    ["1.36.1-r15", "1.36.1-r15", 0],
  ])("%s vs %s → %i", (a, b, expected) => {
    expect(sign(compareVersions("Alpine", a, b))).toBe(expected);
    expect(sign(compareVersions("Alpine", b, a))).toBe(0 - expected);
  });

  it.each<[string, boolean]>([
    ["1.0", true],
    ["1.36.1-r15", true],
    ["2.4.58_p1-r0", true],
    ["1.0a", true],
    ["1.0_rc1_p2", true],
    ["1.0~abc123-r1", true],
    ["20240101", true],
    ["1.0-r", false],
    ["1.0_foo", false],
    ["v1.0", false],
    ["1.0a1", false], // no digits after the letter
    ["1.0ab", false],
    ["1.0-1", false],
    ["1.0.", false],
    ["1..0", false],
    ["1.0-r1-r2", false],
    ["1.0-r1_p1", false],
    ["1.0_p1.2", false],
    ["1.0~", false],
    ["", false],
  ])("isValidVersion(Alpine, %j) = %s", (v, valid) => {
    expect(isValidVersion("Alpine", v)).toBe(valid);
  });

  it("sorts invalid versions after valid ones", () => {
    expect(compareVersions("Alpine", "999.0-r99", "1.0-1")).toBeLessThan(0);
  });
});

describe("RPM (rpmvercmp, RPM 4.15+)", () => {
  it("orders tilde and caret versions", () => {
    expectAscending("RPM", [
      "1.0~rc1~git123",
      "1.0~rc1",
      "1.0~rc1^git1",
      "1.0~rc2",
      "1.0",
      "1.0^",
      "1.0^git1~pre",
      "1.0^git1",
      "1.0^git2",
      "1.0^20160101", // numeric segments are newer than alphabetic ones
      "1.0^20160101^git1",
      "1.0.1",
      "1.01a",
    ]);
  });

  it.each<[string, string, number]>([
    // From rpm's own rpmvercmp test list.
    ["1.0", "1.0", 0],
    ["1.0", "2.0", -1],
    ["2.0.1", "2.0", 1],
    ["2.0.1a", "2.0.1", 1],
    ["5.5p1", "5.5p2", -1],
    ["5.5p10", "5.5p1", 1],
    ["10xyz", "10.1xyz", -1],
    ["xyz10", "xyz10.1", -1],
    ["xyz.4", "8", -1],
    ["xyz.4", "2", -1],
    ["5.5p2", "5.6p1", -1],
    ["6.0.rc1", "6.0", 1],
    ["10b2", "10a1", 1],
    ["1.0aa", "1.0a", 1],
    ["10.0001", "10.1", 0],
    ["10.0001", "10.0039", -1],
    ["4.999.9", "5.0", -1],
    ["20101121", "20101120", 1],
    ["1.0", "1_0", 0], // separators are not compared
    ["1+", "1_", 0],
    ["1.0^git1", "1.01", -1],
    ["1.0^20160101", "1.0.1", -1],
    ["1.0~rc1^git1", "1.0", -1],
    // Epoch-version-release.
    ["1:1.0-1", "2.0-1", 1],
    ["0:1.0-1", "1.0-1", 0],
    ["2.34-60.el9_2.6", "2.34-60.el9_2.7", -1],
    ["2.34-60.el9_2.7", "2.34-60.el9_2.10", -1],
    ["2.34-60.el9", "2.34-60.el9_2.7", -1],
    ["2.34-83.el9", "2.34-60.el9_2.7", 1],
    ["1.0", "1.0-1", -1], // missing release sorts first
    ["3.0.7-30.el9", "1:3.0.7-24.el9", -1],
    ["1:3.0.7-24.el9", "1:3.0.7-27.el9", -1],
  ])("%s vs %s → %i", (a, b, expected) => {
    expect(sign(compareVersions("RPM", a, b))).toBe(expected);
    expect(sign(compareVersions("RPM", b, a))).toBe(0 - expected);
  });

  it.each<[string, boolean]>([
    ["2.34-60.el9_2.7", true],
    ["1:3.0.7-27.el9", true],
    ["1.0~rc1^git2-1.fc40", true],
    ["1.0", true],
    ["1.0-1-1", false],
    ["-1", false],
    ["a:1.0", false],
    ["1.0 1", false],
    ["...-1", false],
    ["", false],
  ])("isValidVersion(RPM, %j) = %s", (v, valid) => {
    expect(isValidVersion("RPM", v)).toBe(valid);
  });
});

/** Assert every version of a group is equal to every other (both ways). */
function expectEqual(ecosystem: Ecosystem, group: string[]): void {
  for (const a of group)
    for (const b of group)
      if (compareVersions(ecosystem, a, b) !== 0)
        throw new Error(
          `${ecosystem}: compare(${a}, ${b}) = ${compareVersions(ecosystem, a, b)}, expected 0`,
        );
}

describe("Maven (ComparableVersion)", () => {
  it("orders qualifiers: alpha < beta < milestone < rc = cr < snapshot < release < sp < others < numbers", () => {
    // The ordered list of Maven's own ComparableVersionTest.
    expectAscending("Maven", [
      "1-alpha2snapshot",
      "1-alpha2",
      "1-alpha-123",
      "1-beta-2",
      "1-beta123",
      "1-m2",
      "1-m11",
      "1-rc",
      "1-cr2",
      "1-rc123",
      "1-SNAPSHOT",
      "1",
      "1-sp",
      "1-sp2",
      "1-sp123",
      "1-abc",
      "1-def",
      "1-pom-1",
      "1-1-snapshot",
      "1-1",
      "1-2",
      "1-123",
    ]);
  });

  it("orders numbers and the separators around them", () => {
    expectAscending("Maven", [
      "2.0",
      "2-1",
      "2.0.a",
      "2.0.0.a",
      "2.0.2",
      "2.0.123",
      "2.1.0",
      "2.1-a",
      "2.1b",
      "2.1-c",
      "2.1-1",
      "2.1.0.1",
      "2.2",
      "2.123",
      "11.a2",
      "11.a11",
      "11.b2",
      "11.b11",
      "11.m2",
      "11.m11",
      "11",
      "11.a",
      "11b",
      "11c",
      "11m",
    ]);
  });

  it.each<[string, string]>([
    ["1", "2"],
    ["1.5", "2"],
    ["1", "2.5"],
    ["1.0.0", "1.1"],
    ["1.0.1", "1.1"],
    ["1.1", "1.2.0"],
    ["1.0-alpha-1", "1.0"],
    ["1.0-alpha-1", "1.0-beta-1"],
    ["1.0-beta-1", "1.0-SNAPSHOT"],
    ["1.0-SNAPSHOT", "1.0"],
    ["1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"],
    ["1.0", "1.0-1"],
    ["1.0-1", "1.0-2"],
    ["2.0-1", "2.0.1"],
    ["2.0.1-klm", "2.0.1-lmn"],
    ["2.0.1", "2.0.1-xyz"],
    ["2.0.1-xyz", "2.0.1-123"],
    ["1-foo2", "1-foo10"], // numbers after a qualifier compare numerically
    // MNG-5568: stays transitive around an odd letter in the middle.
    ["6.1.0rc3", "6.1.0"],
    ["6.1.0rc3", "6.1H.5-beta"],
    ["6.1.0", "6.1H.5-beta"],
    // MNG-6572: numbers of any length.
    ["20190126.230843", "1234567890.12345"],
    ["1234567890.12345", "123456789012345.1H.5-beta"],
    ["123456789012345.1H.5-beta", "12345678901234567890.1H.5-beta"],
    // MNG-6964: a qualifier after "-0." still counts.
    ["1-0.alpha", "1-0.beta"],
    ["1-0.beta", "1"],
    // Real releases: log4j-core through the Log4Shell fixes.
    ["2.0-beta9", "2.0-rc1"],
    ["2.0-rc1", "2.0-rc2"],
    ["2.0-rc2", "2.0"],
    ["2.0", "2.0.1"],
    ["2.14.1", "2.15.0"],
    ["2.15.0", "2.16.0"],
    ["2.16.0", "2.17.0"],
    ["2.12.1", "2.12.2"],
    ["2.3", "2.3.1"],
    ["2.17.0", "2.17.1"],
    // Spring (milestones, release candidates, the old .RELEASE spelling), Netty, Jackson, Guava flavours.
    ["5.3.0-M1", "5.3.0-M2"],
    ["5.3.0-M2", "5.3.0-RC1"],
    ["5.3.0-RC1", "5.3.0.RELEASE"],
    ["5.3.0.RELEASE", "5.3.1"],
    ["4.1.99.Final", "4.1.100.Final"],
    ["2.13.4", "2.13.4.1"],
    ["2.13.4.1", "2.13.4.2"],
    ["2.13.4.2", "2.14.0-rc1"],
    ["2.14.0-rc1", "2.14.0"],
    ["31.1-android", "31.1-jre"],
    ["31.1-jre", "32.0.0-android"],
    ["1.0-SNAPSHOT", "1.0-sp1"],
  ])("%s < %s", (a, b) => {
    expectAscending("Maven", [a, b]);
  });

  it.each([
    [["1", "1.0", "1.0.0", "1-0", "1.0-0", "1.ga", "1-ga", "1final", "1.RELEASE", "1GA", "1FinaL"]],
    [["1a", "1-a", "1.0-a", "1.0.0-a", "1.0a", "1.0.0a"]],
    [["1x", "1-x", "1.0-x", "1.0.0x", "1X"]],
    [["1cr", "1rc", "1-RC", "1Cr"]],
    [["1a1", "1-alpha-1", "1ALPHA1", "1Alpha1"]],
    [["1b2", "1-beta-2", "1BETA2"]],
    [["1m3", "1-milestone-3", "1Milestone3", "1MILESTONE3"]],
    [["1-abcdefghijklmnopqrstuvwxyz", "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ"]],
    [["0000000000000000001", "0001", "01", "1"]],
    [["0000000000000000000", "00", "0", "0.0.0"]],
    [["4.1.86.Final", "4.1.86"]],
    [["5.4.2.Final", "5.4.2.final", "5.4.2"]],
  ])("equal: %j", (group) => {
    expectEqual("Maven", group);
  });

  it("takes printable ASCII starting with a letter or digit as a version, and orders anything else after", () => {
    for (const v of ["1.0", "r09", "2.0-beta9", "1.0_01", "20040616"])
      expect(isValidVersion("Maven", v)).toBe(true);
    for (const v of ["", " 1.0", "1.0 beta", "-1", ".1", "1.0\u00e9"])
      expect(isValidVersion("Maven", v)).toBe(false);
    expect(compareVersions("Maven", "999", "-1")).toBeLessThan(0);
  });
});

describe("Go (module versions)", () => {
  it("orders releases, pre-releases and pseudo-versions as SemVer", () => {
    expectAscending("Go", [
      // A pseudo-version with no earlier tag: v0.0.0-<UTC time>-<commit>.
      "v0.0.0-20191109021931-daa7c04131f5",
      "v0.0.0-20201216223049-8b5274cf687f",
      "v0.0.0-20211202192323-5770296d904e",
      "v0.1.0",
      "v1.2.3",
      // After v1.2.3 and before v1.2.4 and its pre-releases: v1.2.4-0.<time>-<commit>.
      "v1.2.4-0.20191109021931-daa7c04131f5",
      "v1.2.4-pre",
      // After the pre-release v1.2.4-pre: v1.2.4-pre.0.<time>-<commit>.
      "v1.2.4-pre.0.20191109021931-daa7c04131f5",
      "v1.2.4-rc.1",
      "v1.2.4",
      "v1.10.0",
      "v2.0.0+incompatible",
      "v2.1.0",
    ]);
  });

  it("reads versions with and without the v, and ignores build metadata such as +incompatible", () => {
    expectEqual("Go", ["v1.2.3", "1.2.3"]);
    expectEqual("Go", ["v2.4.0+incompatible", "v2.4.0", "2.4.0"]);
    expectEqual("Go", ["0.0.0-20211202192323-5770296d904e", "v0.0.0-20211202192323-5770296d904e"]);
  });

  it.each<[string, boolean]>([
    ["v1.2.3", true],
    ["1.2.3", true],
    ["v0.0.0-20191109021931-daa7c04131f5", true],
    ["v2.0.0+incompatible", true],
    ["v1.2", false], // a module version names all three numbers
    ["v01.2.3", false],
    ["=1.2.3", false],
    ["go1.21.3", false],
    ["latest", false],
  ])("isValidVersion(Go, %j) = %s", (v, valid) => {
    expect(isValidVersion("Go", v)).toBe(valid);
  });
});

describe("crates.io (SemVer)", () => {
  it("orders releases and pre-releases", () => {
    expectAscending("crates.io", [
      "0.1.0",
      "0.9.9",
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "1.0.1",
      "1.10.0",
      "1.11.1",
    ]);
    expectEqual("crates.io", ["1.0.0+build.1", "1.0.0"]);
  });

  it.each<[string, boolean]>([
    ["1.2.3", true],
    ["0.1.0-alpha.1", true],
    ["v1.2.3", false],
    ["1.2", false],
    ["1.02.3", false],
  ])("isValidVersion(crates.io, %j) = %s", (v, valid) => {
    expect(isValidVersion("crates.io", v)).toBe(valid);
  });
});

// ---------------------------------------------------------------------------------------------------
// Total order on random samples

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES: Record<Ecosystem, string[]> = {
  npm: ["0", "1", "2", "10", "01", ".", ".", "-", "+", "alpha", "beta", "rc", "v", "=", "x", "-1"],
  PyPI: [
    "0",
    "1",
    "2",
    "10",
    "01",
    ".",
    ".",
    "!",
    "a",
    "b",
    "rc",
    "c",
    "post",
    "dev",
    "-",
    "+",
    "local",
    "_",
  ],
  Debian: ["0", "1", "2", "10", "00", ".", ".", "-", "~", "+", ":", "a", "b", "deb12u", "ubuntu", "~rc"],
  Alpine: ["0", "1", "2", "10", "01", ".", ".", "a", "z", "_rc", "_p", "_alpha", "_git", "-r", "~ab", "_"],
  RPM: ["0", "1", "2", "10", "01", ".", ".", "-", "~", "^", ":", "el", "9", "_", "a", "git"],
  Maven: [
    "0",
    "1",
    "2",
    "10",
    "01",
    ".",
    ".",
    "-",
    "-",
    "a",
    "b",
    "m",
    "rc",
    "cr",
    "sp",
    "ga",
    "SNAPSHOT",
    "x",
  ],
  Go: ["0", "1", "2", "10", "01", ".", ".", "-", "+", "v", "pre", "rc", "20191109021931", "-daa7c04131f5"],
  "crates.io": ["0", "1", "2", "10", "01", ".", ".", "-", "+", "alpha", "beta", "rc", "v", "x"],
};

/** Random version-like strings: mostly well-formed ones, plus arbitrary concatenations of pieces. */
function sample(ecosystem: Ecosystem, random: () => number, count: number): string[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const num = () => pick(["0", "1", "2", "3", "10", "11"]);
  const wellFormed: Record<Ecosystem, () => string> = {
    npm: () =>
      `${num()}.${num()}.${num()}${random() < 0.4 ? `-${pick(["alpha", "beta", "1", "rc"])}.${num()}` : ""}`,
    PyPI: () =>
      `${random() < 0.1 ? "1!" : ""}${num()}.${num()}${random() < 0.3 ? pick(["a", "b", "rc"]) + num() : ""}` +
      `${random() < 0.2 ? ".post" + num() : ""}${random() < 0.2 ? ".dev" + num() : ""}${random() < 0.1 ? "+l." + num() : ""}`,
    Debian: () =>
      `${random() < 0.2 ? "1:" : ""}${num()}.${num()}${random() < 0.3 ? "~rc" + num() : ""}` +
      `${random() < 0.6 ? `-${num()}${random() < 0.5 ? pick(["~deb12u", "+deb12u"]) + num() : ""}` : ""}`,
    Alpine: () =>
      `${num()}.${num()}${random() < 0.2 ? pick(["a", "b"]) : ""}${random() < 0.3 ? pick(["_rc", "_p", "_alpha"]) + num() : ""}` +
      `${random() < 0.7 ? "-r" + num() : ""}`,
    RPM: () =>
      `${random() < 0.2 ? "1:" : ""}${num()}.${num()}${random() < 0.3 ? pick(["~rc", "^git"]) + num() : ""}` +
      `${random() < 0.7 ? `-${num()}.el9${random() < 0.5 ? "_" + num() : ""}` : ""}`,
    Maven: () =>
      `${num()}.${num()}${random() < 0.5 ? `.${num()}` : ""}` +
      `${random() < 0.5 ? pick(["-", ".", ""]) + pick(["alpha", "beta", "M", "RC", "SNAPSHOT", "Final", "sp", "jre", "a", "1"]) + (random() < 0.5 ? num() : "") : ""}`,
    Go: () =>
      `v${num()}.${num()}.${num()}` +
      `${random() < 0.4 ? `-${pick(["0.", "pre.0.", ""])}${pick(["20191109021931", "20211202192323"])}-${pick(["daa7c04131f5", "8b5274cf687f"])}` : ""}`,
    "crates.io": () =>
      `${num()}.${num()}.${num()}${random() < 0.4 ? `-${pick(["alpha", "beta", "1", "rc"])}.${num()}` : ""}`,
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (random() < 0.6) out.push(wellFormed[ecosystem]());
    else {
      let s = "";
      const n = 1 + Math.floor(random() * 7);
      for (let k = 0; k < n; k++) s += pick(PIECES[ecosystem]);
      out.push(s);
    }
  }
  return out;
}

/** Reflexive, antisymmetric and transitive over `xs`, and sorting by it leaves no pair out of order. */
function expectTotalPreorder(ecosystem: Ecosystem, xs: string[]): void {
  const n = xs.length;
  const m: number[][] = xs.map((a) => xs.map((b) => sign(compareVersions(ecosystem, a, b))));
  for (let i = 0; i < n; i++) {
    expect(m[i][i]).toBe(0);
    for (let j = 0; j < n; j++) {
      if (m[i][j] !== -m[j][i]) throw new Error(`not antisymmetric: ${xs[i]} vs ${xs[j]}`);
      for (let k = 0; k < n; k++) {
        if (m[i][j] <= 0 && m[j][k] <= 0 && m[i][k] > 0) {
          throw new Error(`not transitive: ${xs[i]} <= ${xs[j]} <= ${xs[k]} but ${xs[i]} > ${xs[k]}`);
        }
      }
    }
  }
  const sorted = [...xs].sort((a, b) => compareVersions(ecosystem, a, b));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++)
      expect(compareVersions(ecosystem, sorted[i], sorted[j])).toBeLessThanOrEqual(0);
  }
}

describe("compareVersions(Maven) on random samples", () => {
  /** Versions spelt as the POM reference does: numbers, then a `-` qualifier, maybe with a number. */
  const hyphenated = (random: () => number, count: number) => {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const num = () => pick(["0", "1", "2", "3", "10", "11"]);
    const qualifier = () =>
      pick(["alpha", "beta", "M", "RC", "cr", "SNAPSHOT", "Final", "ga", "sp", "jre", "android", "release"]);
    return Array.from(
      { length: count },
      () =>
        `${num()}.${num()}${random() < 0.6 ? `.${num()}` : ""}` +
        `${random() < 0.6 ? `-${qualifier()}${random() < 0.5 ? num() : ""}` : ""}`,
    );
  };

  it.each([[1], [2], [3]])("is a total preorder over hyphen-qualified versions (sample #%i)", (seed) => {
    expectTotalPreorder("Maven", hyphenated(prng(seed * 104729), 70));
  });

  it.each([[1], [2], [3]])("is reflexive and antisymmetric over any strings (sample #%i)", (seed) => {
    const xs = sample("Maven", prng(seed * 7919 + 5), 70);
    for (const a of xs) {
      expect(compareVersions("Maven", a, a)).toBe(0);
      for (const b of xs)
        if (sign(compareVersions("Maven", a, b)) + sign(compareVersions("Maven", b, a)) !== 0)
          throw new Error(`not antisymmetric: ${a} vs ${b}`);
    }
  });

  it("is no more transitive than Maven's own ComparableVersion over mixed spellings", () => {
    expectAscending("Maven", ["1.3.0.beta", "1.3"]);
    expectAscending("Maven", ["1.3", "1.3-sp1"]);
    expect(compareVersions("Maven", "1.3.0.beta", "1.3-sp1")).toBeGreaterThan(0);
  });
});

describe.each(ECOSYSTEMS.map((e) => [e]))("compareVersions(%s) on odd input", (ecosystem) => {
  it("never throws", () => {
    const odd = [
      "",
      " ",
      "~",
      "^",
      ":",
      "-",
      "0",
      "\u00e9t\u00e9",
      "1.0\u0000",
      "9".repeat(400),
      "-r",
      "!",
      "+",
    ];
    for (const a of odd) {
      for (const b of odd) expect(() => compareVersions(ecosystem, a, b)).not.toThrow();
      expect(typeof isValidVersion(ecosystem, a)).toBe("boolean");
    }
  });
});

describe.each(ECOSYSTEMS.filter((e) => e !== "Maven").map((e) => [e]))(
  "compareVersions(%s) is a total preorder",
  (ecosystem) => {
    it.each([[1], [2], [3]])("on random sample #%i", (seed) => {
      expectTotalPreorder(ecosystem, sample(ecosystem, prng(seed * 7919 + ecosystem.length), 70));
    });
  },
);
