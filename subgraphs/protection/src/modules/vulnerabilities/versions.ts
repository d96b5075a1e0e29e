/**
 * Version ordering for the package ecosystems that vulnerability assessment understands.
 *
 * Each ordering is written from the ecosystem's public specification:
 *
 * - `npm`: SemVer 2.0.0 precedence (section 11), tolerating a leading `=` and/or `v`.
 * - `PyPI`: PEP 440 (the "Version specifiers" specification), including its normalisation rules.
 * - `Debian`: dpkg's algorithm (`deb-version(7)`, `verrevcmp` in dpkg): epoch, upstream version, revision.
 * - `Alpine`: apk-tools' token comparison (`digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}`).
 * - `RPM`: `rpmvercmp` as of RPM 4.15 (with `~` and `^`), applied to epoch, version and release.
 * - `Maven`: Maven's `ComparableVersion` (the POM reference's "Version Order Specification"): items split at
 *   `.`, `-` and digit/letter transitions, numbers numerically, qualifiers `alpha` < `beta` < `milestone` <
 *   `rc` = `cr` < `snapshot` < `""` = `ga` = `final` = `release` < `sp` < any other (case-insensitive).
 * - `Go`: SemVer 2.0.0 with the `v` prefix Go module versions carry (tolerated without); a pseudo-version
 *   (`v0.0.0-20191109021931-daa7c04131f5`, `v1.2.4-0.20191109021931-daa7c04131f5`) is a SemVer pre-release
 *   and sorts as one, and `+incompatible` is build metadata.
 * - `crates.io`: SemVer 2.0.0 as Cargo reads it (no prefix).
 *
 * Every comparison never throws, and is a total preorder over all strings except Maven's: Maven's
 * `ComparableVersion` itself is not transitive when one package mixes spellings (`1.3.0.beta` < `1.3` <
 * `1.3-sp1`, yet `1.3.0.beta` > `1.3-sp1`, since a number outranks a `-` sub-list and a `.` qualifier
 * ranks below one), and the ordering here is Maven's, so that ranges mean what Maven (and the databases
 * that computed them with it) means. Versions spelt one way (`<major>.<minor>.<incremental>-<qualifier>`,
 * the POM reference's convention) are totally preordered. Strings that are not valid versions are ordered
 * by a documented fallback:
 *
 * - `Debian` and `RPM`: the dpkg / rpm algorithms are defined over any string, so they are applied as is
 *   (after a lenient split into epoch, version and revision/release; a non-numeric "epoch" is treated as
 *   part of the version). `isValidVersion` is nevertheless strict, following what dpkg / rpm accept.
 * - `npm`, `PyPI`, `Alpine`, `Maven`, `Go` and `crates.io`: every valid version sorts before every invalid
 *   string (for Maven, whose ordering takes any string, valid is printable ASCII without spaces starting
 *   with a letter or digit); invalid strings
 *   compare among themselves by a "natural" order (digit runs numerically, other runs by UTF-16 code
 *   units, digit runs before other runs, shorter sequence first), then by plain code-unit order.
 */

/** A version-ordering family: the OSV ecosystems it covers compare versions the same way. */
export type Ecosystem = "npm" | "PyPI" | "Debian" | "Alpine" | "RPM" | "Maven" | "Go" | "crates.io";

/** Every supported family. */
export const ECOSYSTEMS: readonly Ecosystem[] = [
  "npm",
  "PyPI",
  "Debian",
  "Alpine",
  "RPM",
  "Maven",
  "Go",
  "crates.io",
];

/**
 * OSV ecosystem names (the part before any `:` suffix, compared case-insensitively) and the ordering
 * family their versions follow.
 */
const FAMILY_BY_OSV_NAME: ReadonlyMap<string, Ecosystem> = new Map<string, Ecosystem>([
  ["npm", "npm"],
  ["pypi", "PyPI"],
  ["debian", "Debian"],
  ["ubuntu", "Debian"],
  ["alpine", "Alpine"],
  ["wolfi", "Alpine"],
  ["chainguard", "Alpine"],
  ["rpm", "RPM"],
  ["red hat", "RPM"],
  ["almalinux", "RPM"],
  ["rocky linux", "RPM"],
  ["opensuse", "RPM"],
  ["suse", "RPM"],
  ["mageia", "RPM"],
  ["openeuler", "RPM"],
  ["photon os", "RPM"],
  // `Maven:<repository URL>` names a repository other than Maven Central; the ordering is the same.
  ["maven", "Maven"],
  ["go", "Go"],
  ["crates.io", "crates.io"],
]);

/** An OSV ecosystem string split into its name and optional release suffix (`"Debian:12"`). */
export interface OsvEcosystemParts {
  /** The ecosystem name, trimmed, as written (`"Debian"`, `"Red Hat"`). */
  name: string;
  /** Everything after the first `:`, trimmed; null when absent or empty. */
  release: string | null;
}

/** Split an OSV ecosystem string such as `"Alpine:v3.19"` or `"Red Hat:enterprise_linux:9::baseos"`. */
export function osvEcosystemParts(osvEcosystem: string): OsvEcosystemParts {
  const colon = osvEcosystem.indexOf(":");
  if (colon < 0) return { name: osvEcosystem.trim(), release: null };
  const release = osvEcosystem.slice(colon + 1).trim();
  return { name: osvEcosystem.slice(0, colon).trim(), release: release === "" ? null : release };
}

/**
 * The ordering family of an OSV ecosystem string, or null when it is not supported.
 * Accepts release-qualified names (`"Debian:12"`, `"Alpine:v3.19"`, `"Ubuntu:22.04:LTS"`,
 * `"Red Hat:enterprise_linux:9::appstream"`, `"AlmaLinux:9"`, `"Rocky Linux:9"`, `"openSUSE:Leap 15.5"`),
 * case-insensitively. Ubuntu maps to `Debian` (dpkg versions); Wolfi and Chainguard map to `Alpine`
 * (apk versions); Red Hat, AlmaLinux, Rocky Linux, openSUSE, SUSE, Mageia, openEuler and Photon OS map
 * to `RPM`.
 */
export function ecosystemOf(osvEcosystem: string): Ecosystem | null {
  if (typeof osvEcosystem !== "string") return null;
  return FAMILY_BY_OSV_NAME.get(osvEcosystemParts(osvEcosystem).name.toLowerCase()) ?? null;
}

// ---------------------------------------------------------------------------------------------------
// Shared helpers

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

/** Code-unit order of two strings (byte order for ASCII). */
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const isDigit = (c: string): boolean => c.length === 1 && c >= "0" && c <= "9";
const isAsciiLetter = (c: string): boolean =>
  c.length === 1 && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z"));

/** Numeric order of two non-empty digit strings of any length (leading zeros ignored). */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, "");
  const y = b.replace(/^0+/, "");
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return compareStrings(x, y);
}

/** The fallback order of strings that are not valid versions (see the module comment). */
function compareFallback(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    const dx = isDigit(x.charAt(0));
    const dy = isDigit(y.charAt(0));
    const c = dx && dy ? compareDigits(x, y) : dx !== dy ? (dx ? -1 : 1) : compareStrings(x, y);
    if (c !== 0) return c;
  }
  if (ta.length !== tb.length) return ta.length < tb.length ? -1 : 1;
  return compareStrings(a, b);
}

/** Valid versions first (in `compare` order), then invalid strings in fallback order. */
function compareParsed<T>(
  a: string,
  b: string,
  parse: (v: string) => T | null,
  compare: (x: T, y: T) => number,
): number {
  const pa = parse(a);
  const pb = parse(b);
  if (pa !== null && pb !== null) return sign(compare(pa, pb));
  if (pa !== null) return -1;
  if (pb !== null) return 1;
  return sign(compareFallback(a, b));
}

// ---------------------------------------------------------------------------------------------------
// npm: SemVer 2.0.0

interface SemVer {
  major: string;
  minor: string;
  patch: string;
  prerelease: string[];
}

const NUMERIC_IDENTIFIER = "0|[1-9]\\d*";
const PRERELEASE_IDENTIFIER = `(?:${NUMERIC_IDENTIFIER}|\\d*[a-zA-Z-][0-9a-zA-Z-]*)`;
const SEMVER_PATTERN = new RegExp(
  `^(${NUMERIC_IDENTIFIER})\\.(${NUMERIC_IDENTIFIER})\\.(${NUMERIC_IDENTIFIER})` +
    `(?:-(${PRERELEASE_IDENTIFIER}(?:\\.${PRERELEASE_IDENTIFIER})*))?` +
    `(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$`,
);

function parseSemver(v: string): SemVer | null {
  const m = SEMVER_PATTERN.exec(v.trim().replace(/^=?\s*v?/, ""));
  if (!m) return null;
  return { major: m[1], minor: m[2], patch: m[3], prerelease: m[4] === undefined ? [] : m[4].split(".") };
}

function compareSemver(a: SemVer, b: SemVer): number {
  const core =
    compareDigits(a.major, b.major) || compareDigits(a.minor, b.minor) || compareDigits(a.patch, b.patch);
  if (core !== 0) return core;
  // A version without a pre-release has higher precedence than one with.
  if (a.prerelease.length === 0 || b.prerelease.length === 0)
    return b.prerelease.length - a.prerelease.length;
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    // Numeric identifiers compare numerically and have lower precedence than alphanumeric ones.
    const c = nx && ny ? compareDigits(x, y) : nx !== ny ? (nx ? -1 : 1) : compareStrings(x, y);
    if (c !== 0) return c;
  }
  return a.prerelease.length - b.prerelease.length;
}

/** Go module versions: SemVer with an optional `v` (Go writes one, OSV's Go records do not). */
function parseGoVersion(v: string): SemVer | null {
  const m = SEMVER_PATTERN.exec(v.trim().replace(/^v/, ""));
  if (!m) return null;
  return { major: m[1], minor: m[2], patch: m[3], prerelease: m[4] === undefined ? [] : m[4].split(".") };
}

/** crates.io versions: SemVer exactly, as Cargo's `semver` crate reads them (no `v`, no `=`). */
function parseCargoVersion(v: string): SemVer | null {
  const m = SEMVER_PATTERN.exec(v);
  if (!m) return null;
  return { major: m[1], minor: m[2], patch: m[3], prerelease: m[4] === undefined ? [] : m[4].split(".") };
}

// ---------------------------------------------------------------------------------------------------
// PyPI: PEP 440

interface Pep440 {
  epoch: string;
  release: string[];
  /** Pre-release phase (0 = a, 1 = b, 2 = rc) and number. */
  pre: { phase: number; n: string } | null;
  post: string | null;
  dev: string | null;
  /** Local segments: numbers as digit strings, others lower-cased. */
  local: string[] | null;
}

/** The PEP 440 version pattern (appendix B of the specification), matched case-insensitively. */
const PEP440_PATTERN =
  /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?(dev)[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/i;

const PRE_PHASE: Readonly<Record<string, number>> = {
  a: 0,
  alpha: 0,
  b: 1,
  beta: 1,
  c: 2,
  rc: 2,
  pre: 2,
  preview: 2,
};

function parsePep440(v: string): Pep440 | null {
  const m = PEP440_PATTERN.exec(v.trim());
  if (!m) return null;
  const [, epoch, release, preL, preN, postImplicit, postL, postN, devL, devN, local] = m;
  return {
    epoch: epoch ?? "0",
    release: release.split("."),
    pre: preL === undefined ? null : { phase: PRE_PHASE[preL.toLowerCase()], n: preN ?? "0" },
    post: postImplicit !== undefined ? postImplicit : postL !== undefined ? (postN ?? "0") : null,
    dev: devL === undefined ? null : (devN ?? "0"),
    local: local === undefined ? null : local.toLowerCase().split(/[-_.]/),
  };
}

/** Position of the pre-release component in PEP 440's sort key: dev-only releases sort before pre-releases. */
function preRank(v: Pep440): number {
  if (v.pre !== null) return 1;
  return v.post === null && v.dev !== null ? 0 : 2;
}

function comparePep440(a: Pep440, b: Pep440): number {
  let c = compareDigits(a.epoch, b.epoch);
  if (c !== 0) return c;
  // Release segments compare as if padded with zeros: 1.0 == 1.0.0.
  for (let i = 0; i < Math.max(a.release.length, b.release.length); i++) {
    c = compareDigits(a.release[i] ?? "0", b.release[i] ?? "0");
    if (c !== 0) return c;
  }
  // 1.0.dev0 < 1.0a0 < 1.0 < 1.0.post0
  c = preRank(a) - preRank(b);
  if (c !== 0) return c;
  if (a.pre !== null && b.pre !== null) {
    c = a.pre.phase - b.pre.phase || compareDigits(a.pre.n, b.pre.n);
    if (c !== 0) return c;
  }
  // No post-release sorts before any post-release.
  if (a.post === null || b.post === null) c = (a.post === null ? 0 : 1) - (b.post === null ? 0 : 1);
  else c = compareDigits(a.post, b.post);
  if (c !== 0) return c;
  // No dev-release sorts after any dev-release.
  if (a.dev === null || b.dev === null) c = (a.dev === null ? 1 : 0) - (b.dev === null ? 1 : 0);
  else c = compareDigits(a.dev, b.dev);
  if (c !== 0) return c;
  return compareLocal(a.local, b.local);
}

/** PEP 440 local versions: none first; numeric segments above alphanumeric ones; shorter first. */
function compareLocal(a: string[] | null, b: string[] | null): number {
  if (a === null || b === null) return (a === null ? 0 : 1) - (b === null ? 0 : 1);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const nx = /^\d+$/.test(a[i]);
    const ny = /^\d+$/.test(b[i]);
    const c = nx && ny ? compareDigits(a[i], b[i]) : nx !== ny ? (nx ? 1 : -1) : compareStrings(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------------
// Debian: dpkg

interface DebianVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

/** Split any string as dpkg does; a non-numeric epoch is left in the upstream part (lenient). */
function splitDebian(v: string): DebianVersion {
  let epoch = "0";
  let rest = v;
  const colon = v.indexOf(":");
  if (colon > 0 && /^\d+$/.test(v.slice(0, colon))) {
    epoch = v.slice(0, colon);
    rest = v.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf("-");
  // dpkg leaves the revision empty (not "0") when there is none; the algorithm orders "" and "0" equal.
  if (hyphen < 0) return { epoch, upstream: rest, revision: "" };
  return { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
}

/** dpkg's weight of a character in a non-digit part: `~` < end of part < letters < everything else. */
function dpkgOrder(c: string): number {
  if (c === "" || isDigit(c)) return 0;
  if (isAsciiLetter(c)) return c.charCodeAt(0);
  if (c === "~") return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's `verrevcmp`: alternate non-digit parts (by `dpkgOrder`) and digit parts (numerically). */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charAt(i))) || (j < b.length && !isDigit(b.charAt(j)))) {
      const ac = dpkgOrder(a.charAt(i));
      const bc = dpkgOrder(b.charAt(j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charAt(i) === "0") i++;
    while (b.charAt(j) === "0") j++;
    let firstDiff = 0;
    while (isDigit(a.charAt(i)) && isDigit(b.charAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charAt(i))) return 1;
    if (isDigit(b.charAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

function compareDebian(a: string, b: string): number {
  const x = splitDebian(a);
  const y = splitDebian(b);
  return sign(
    compareDigits(x.epoch, y.epoch) || verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision),
  );
}

/** What dpkg's parser accepts (with the policy requirement that the upstream version starts with a digit). */
function isValidDebian(v: string): boolean {
  if (v === "" || /\s/.test(v)) return false;
  const colon = v.indexOf(":");
  if (colon >= 0 && !/^\d+$/.test(v.slice(0, colon))) return false;
  const { upstream, revision } = splitDebian(v);
  if (v.slice(colon + 1).includes("-") && revision === "") return false;
  if (!/^\d[A-Za-z0-9.+~:-]*$/.test(upstream)) return false;
  return revision === "" || /^[A-Za-z0-9.+~]+$/.test(revision);
}

// ---------------------------------------------------------------------------------------------------
// Alpine: apk-tools

/** apk token kinds, in grammar order (the order matters when two token streams diverge). */
const ApkKind = {
  InitialDigit: 0,
  Digit: 1,
  Letter: 2,
  Suffix: 3,
  SuffixNumber: 4,
  CommitHash: 5,
  Revision: 6,
  End: 7,
} as const;
type ApkKind = (typeof ApkKind)[keyof typeof ApkKind];

interface ApkToken {
  kind: ApkKind;
  text: string;
  /** For suffixes: alpha 1, beta 2, pre 3, rc 4, (none 5), cvs 6, svn 7, git 8, hg 9, p 10. */
  suffix: number;
}

const APK_SUFFIX_NONE = 5;
const APK_SUFFIXES: Readonly<Record<string, number>> = {
  alpha: 1,
  beta: 2,
  pre: 3,
  rc: 4,
  cvs: 6,
  svn: 7,
  git: 8,
  hg: 9,
  p: 10,
};

/** Tokenise a version the way apk-tools does; null when apk would reject it. */
function apkTokens(v: string): ApkToken[] | null {
  const first = /^\d+/.exec(v);
  if (!first) return null;
  const tokens: ApkToken[] = [{ kind: ApkKind.InitialDigit, text: first[0], suffix: 0 }];
  let last: ApkKind = ApkKind.InitialDigit;
  let i = first[0].length;
  const push = (kind: ApkKind, text: string, suffix = 0) => {
    tokens.push({ kind, text, suffix });
    last = kind;
  };
  while (i < v.length) {
    const c = v.charAt(i);
    if (c >= "a" && c <= "z") {
      if (last > ApkKind.Digit) return null;
      push(ApkKind.Letter, c);
      i++;
    } else if (c === "." || isDigit(c)) {
      if (c === ".") {
        if (last > ApkKind.Digit) return null;
        i++;
      }
      let kind: ApkKind;
      if (last === ApkKind.InitialDigit || last === ApkKind.Digit) kind = ApkKind.Digit;
      else if (last === ApkKind.Suffix) kind = ApkKind.SuffixNumber;
      else return null;
      const digits = /^\d+/.exec(v.slice(i));
      if (!digits) return null;
      push(kind, digits[0]);
      i += digits[0].length;
    } else if (c === "_") {
      if (last > ApkKind.SuffixNumber) return null;
      const name = /^[a-z]*/.exec(v.slice(i + 1))?.[0] ?? "";
      const suffix = APK_SUFFIXES[name];
      if (suffix === undefined) return null;
      push(ApkKind.Suffix, name, suffix);
      i += 1 + name.length;
    } else if (c === "~") {
      if (last >= ApkKind.CommitHash) return null;
      const hash = /^[0-9a-f]+/.exec(v.slice(i + 1));
      if (!hash) return null;
      push(ApkKind.CommitHash, hash[0]);
      i += 1 + hash[0].length;
    } else if (c === "-") {
      if (last >= ApkKind.Revision || v.charAt(i + 1) !== "r") return null;
      const digits = /^\d+/.exec(v.slice(i + 2));
      if (!digits) return null;
      push(ApkKind.Revision, digits[0]);
      i += 2 + digits[0].length;
    } else {
      return null;
    }
  }
  return tokens;
}

function compareApkToken(a: ApkToken, b: ApkToken): number {
  switch (a.kind) {
    case ApkKind.Digit:
      // apk-tools: a part after a dot with a leading zero compares as a string ("similar to Gentoo").
      if (a.text.startsWith("0") || b.text.startsWith("0")) return compareStrings(a.text, b.text);
      return compareDigits(a.text, b.text);
    case ApkKind.InitialDigit:
    case ApkKind.SuffixNumber:
    case ApkKind.Revision:
      return compareDigits(a.text, b.text);
    case ApkKind.Suffix:
      return a.suffix - b.suffix;
    default:
      return compareStrings(a.text, b.text);
  }
}

function compareApk(a: ApkToken[], b: ApkToken[]): number {
  const end: ApkToken = { kind: ApkKind.End, text: "", suffix: 0 };
  for (let i = 0; ; i++) {
    const x = a[i] ?? end;
    const y = b[i] ?? end;
    if (x.kind !== y.kind) {
      // Where the token streams diverge, a pre-release suffix is lower than anything; otherwise the stream
      // whose next token kind comes later in the grammar (e.g. the one that ended) is lower.
      if (x.kind === ApkKind.Suffix && x.suffix < APK_SUFFIX_NONE) return -1;
      if (y.kind === ApkKind.Suffix && y.suffix < APK_SUFFIX_NONE) return 1;
      return x.kind > y.kind ? -1 : 1;
    }
    if (x.kind === ApkKind.End) return 0;
    const c = compareApkToken(x, y);
    if (c !== 0) return c;
  }
}

// ---------------------------------------------------------------------------------------------------
// RPM: rpmvercmp (RPM >= 4.15)

/** `rpmvercmp`: alphanumeric segments, `~` before anything, `^` after the end but before anything else. */
function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const isSegmentChar = (c: string) => isDigit(c) || isAsciiLetter(c) || c === "~" || c === "^";
  while (i < a.length || j < b.length) {
    while (i < a.length && !isSegmentChar(a.charAt(i))) i++;
    while (j < b.length && !isSegmentChar(b.charAt(j))) j++;
    const ca = a.charAt(i);
    const cb = b.charAt(j);
    if (ca === "~" || cb === "~") {
      if (ca !== "~") return 1;
      if (cb !== "~") return -1;
      i++;
      j++;
      continue;
    }
    if (ca === "^" || cb === "^") {
      if (ca === "") return -1;
      if (cb === "") return 1;
      if (ca !== "^") return 1;
      if (cb !== "^") return -1;
      i++;
      j++;
      continue;
    }
    if (ca === "" || cb === "") break;
    const numeric = isDigit(ca);
    const inSegment = numeric ? isDigit : isAsciiLetter;
    let ei = i;
    while (ei < a.length && inSegment(a.charAt(ei))) ei++;
    let ej = j;
    while (ej < b.length && inSegment(b.charAt(ej))) ej++;
    // Segments of different types: numeric is newer than alphabetic.
    if (ej === j) return numeric ? 1 : -1;
    const c = numeric
      ? compareDigits(a.slice(i, ei), b.slice(j, ej))
      : compareStrings(a.slice(i, ei), b.slice(j, ej));
    if (c !== 0) return c;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

interface RpmVersion {
  epoch: string;
  version: string;
  release: string;
}

/** `[epoch:]version[-release]`; a missing epoch is 0 and a missing release is empty. */
function splitRpm(v: string): RpmVersion {
  const m = /^(\d+):/.exec(v);
  const epoch = m ? m[1] : "0";
  const rest = m ? v.slice(m[0].length) : v;
  const hyphen = rest.lastIndexOf("-");
  if (hyphen < 0) return { epoch, version: rest, release: "" };
  return { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1) };
}

function compareRpm(a: string, b: string): number {
  const x = splitRpm(a);
  const y = splitRpm(b);
  return sign(
    compareDigits(x.epoch, y.epoch) || rpmvercmp(x.version, y.version) || rpmvercmp(x.release, y.release),
  );
}

const RPM_PATTERN = /^(?:\d+:)?([A-Za-z0-9._+~^]+)(?:-([A-Za-z0-9._+~^]+))?$/;

function isValidRpm(v: string): boolean {
  const m = RPM_PATTERN.exec(v);
  return m !== null && /[A-Za-z0-9]/.test(m[1]);
}

// ---------------------------------------------------------------------------------------------------
// Maven: ComparableVersion

/**
 * An item of a parsed Maven version: a number (digits without leading zeros; "" is zero), a qualifier
 * (lower-cased, aliases resolved: "" is the release), or a sub-list that a `-` or a digit/letter transition
 * started.
 */
type MavenItem =
  | { kind: "number"; digits: string }
  | { kind: "qualifier"; value: string }
  | { kind: "list"; items: MavenItem[] };

/** Well-known qualifiers in order; the release ("", also spelled ga, final, release) sits before `sp`. */
const MAVEN_QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const MAVEN_RELEASE = String(MAVEN_QUALIFIERS.indexOf(""));
const MAVEN_ALIASES: Readonly<Record<string, string>> = { ga: "", final: "", release: "", cr: "rc" };
/** `a1`, `b2`, `m3`: a single letter right before a number abbreviates alpha, beta or milestone. */
const MAVEN_SHORT: Readonly<Record<string, string>> = { a: "alpha", b: "beta", m: "milestone" };

function mavenQualifier(text: string, followedByDigit: boolean): MavenItem {
  const word = followedByDigit && text.length === 1 ? (MAVEN_SHORT[text] ?? text) : text;
  return { kind: "qualifier", value: MAVEN_ALIASES[word] ?? word };
}

/**
 * The sort key of a qualifier: its position among the well-known ones, any other after them all, in
 * code-unit order among themselves ("7-abc" > "6"; the positions are single digits, so the strings compare
 * as the positions do).
 */
function mavenQualifierKey(value: string): string {
  const i = MAVEN_QUALIFIERS.indexOf(value);
  return i < 0 ? `${MAVEN_QUALIFIERS.length}-${value}` : String(i);
}

/** A null item: zero, the release qualifier, an empty list. Trailing null items do not count. */
function isMavenNull(item: MavenItem): boolean {
  if (item.kind === "number") return item.digits === "";
  if (item.kind === "qualifier") return item.value === "";
  return item.items.length === 0;
}

/** Drops trailing null items, looking past sub-lists that are not null (as `ListItem.normalize`). */
function normalizeMavenList(items: MavenItem[]): void {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (isMavenNull(item)) items.splice(i, 1);
    else if (item.kind !== "list") break;
  }
}

/** Parses any string into Maven's item tree, as `ComparableVersion.parseVersion` does (lower-cased first). */
function parseMaven(version: string): MavenItem[] {
  const v = version.toLowerCase();
  const root: MavenItem[] = [];
  let list = root;
  const lists = [root];
  const open = () => {
    const items: MavenItem[] = [];
    list.push({ kind: "list", items });
    list = items;
    lists.push(items);
  };
  const item = (digit: boolean, text: string): MavenItem =>
    digit ? { kind: "number", digits: text.replace(/^0+/, "") } : mavenQualifier(text, false);
  let digit = false;
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charAt(i);
    if (c === "." || c === "-") {
      // An empty item (`1..2`, `1-`) is a zero.
      list.push(i === start ? { kind: "number", digits: "" } : item(digit, v.slice(start, i)));
      start = i + 1;
      if (c === "-") open();
    } else if (isDigit(c)) {
      if (!digit && i > start) {
        // Letters then digits (`rc1`): the qualifier, then a sub-list for what follows.
        list.push(mavenQualifier(v.slice(start, i), true));
        start = i;
        open();
      }
      digit = true;
    } else {
      if (digit && i > start) {
        // Digits then letters (`1rc`): the number, then a sub-list, as if a `-` stood between them.
        list.push(item(true, v.slice(start, i)));
        start = i;
        open();
      }
      digit = false;
    }
  }
  if (v.length > start) list.push(item(digit, v.slice(start)));
  // Innermost lists first, so that a sub-list left empty is itself a trailing null of its parent.
  for (let i = lists.length - 1; i >= 0; i--) normalizeMavenList(lists[i]);
  return root;
}

/** `Item.compareTo`: `b` null stands for an item that is absent (the other version is shorter). */
function compareMavenItem(a: MavenItem, b: MavenItem | null): number {
  switch (a.kind) {
    case "number":
      if (b === null) return a.digits === "" ? 0 : 1; // 1.0 == 1, 1.1 > 1
      // A number is above a qualifier (1.1 > 1-sp) and above a sub-list (1.1 > 1-1).
      return b.kind === "number" ? compareDigits(a.digits || "0", b.digits || "0") : 1;
    case "qualifier":
      if (b === null) return compareStrings(mavenQualifierKey(a.value), MAVEN_RELEASE); // 1-rc < 1 < 1-sp
      if (b.kind !== "qualifier") return -1; // 1.rc < 1.1, 1.rc < 1-1
      return compareStrings(mavenQualifierKey(a.value), mavenQualifierKey(b.value));
    case "list":
      if (b === null) {
        // The whole sub-list against nothing, not only its first item (MNG-6964: 1-0.alpha < 1).
        for (const item of a.items) {
          const c = compareMavenItem(item, null);
          if (c !== 0) return c;
        }
        return 0;
      }
      if (b.kind === "number") return -1; // 1-1 < 1.1
      if (b.kind === "qualifier") return 1; // 1-1 > 1-sp
      return compareMavenLists(a.items, b.items);
  }
}

function compareMavenLists(a: readonly MavenItem[], b: readonly MavenItem[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    const c = x === null ? (y === null ? 0 : -compareMavenItem(y, null)) : compareMavenItem(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

/** What counts as a Maven version: printable ASCII without spaces, starting with a letter or a digit. */
const MAVEN_PATTERN = /^[A-Za-z0-9][\x21-\x7e]*$/;

const parseValidMaven = (v: string): MavenItem[] | null => (MAVEN_PATTERN.test(v) ? parseMaven(v) : null);

// ---------------------------------------------------------------------------------------------------
// Public API

/**
 * Compare two versions of a package in an ecosystem: negative when `a` sorts before `b`, zero when they
 * are equivalent (e.g. PEP 440 `1.0` and `1.0.0`, SemVer versions differing only in build metadata),
 * positive otherwise. A total preorder over all strings; never throws. Invalid versions are ordered by
 * the fallback described in this module's comment.
 */
export function compareVersions(ecosystem: Ecosystem, a: string, b: string): number {
  switch (ecosystem) {
    case "npm":
      return compareParsed(a, b, parseSemver, compareSemver);
    case "PyPI":
      return compareParsed(a, b, parsePep440, comparePep440);
    case "Debian":
      return compareDebian(a, b);
    case "Alpine":
      return compareParsed(a, b, apkTokens, compareApk);
    case "RPM":
      return compareRpm(a, b);
    case "Maven":
      return compareParsed(a, b, parseValidMaven, compareMavenLists);
    case "Go":
      return compareParsed(a, b, parseGoVersion, compareSemver);
    case "crates.io":
      return compareParsed(a, b, parseCargoVersion, compareSemver);
    default:
      return sign(compareFallback(a, b));
  }
}

/**
 * Whether a string is a valid version in an ecosystem: SemVer 2.0.0 (leading `=`/`v` tolerated), PEP 440
 * (any spelling PEP 440 normalises), what dpkg accepts (upstream part starting with a digit), what apk
 * accepts, `[epoch:]version[-release]` with RPM's version characters, for Maven printable ASCII without
 * spaces starting with a letter or digit, for Go SemVer with or without its `v`, for crates.io SemVer.
 */
export function isValidVersion(ecosystem: Ecosystem, v: string): boolean {
  if (typeof v !== "string") return false;
  switch (ecosystem) {
    case "npm":
      return parseSemver(v) !== null;
    case "PyPI":
      return parsePep440(v) !== null;
    case "Debian":
      return isValidDebian(v);
    case "Alpine":
      return apkTokens(v) !== null;
    case "RPM":
      return isValidRpm(v);
    case "Maven":
      return MAVEN_PATTERN.test(v);
    case "Go":
      return parseGoVersion(v) !== null;
    case "crates.io":
      return parseCargoVersion(v) !== null;
    default:
      return false;
  }
}
