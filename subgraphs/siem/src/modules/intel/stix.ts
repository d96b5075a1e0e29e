/**
 * STIX 2.1 threat-intelligence input: bundle validation and the subset of the STIX patterning language that
 * can be matched against one normalised event (IPs, domains, URLs, file hashes, e-mail addresses).
 *
 * Pure: no I/O, never throws on bad input (problems and errors are returned as values).
 *
 * Pattern handling: a real tokenizer and a recursive-descent parser build an AST of the full STIX 2.1 pattern
 * grammar (observation expressions, qualifiers, comparison operators, set/timestamp/binary/hex literals); the
 * AST is then converted to disjunctive normal form (an OR of AND-groups of observables). Parts that cannot be
 * matched against one event (other object types or properties, `!=`, `LIKE`, `MATCHES`, `NOT`, `EXISTS`,
 * `FOLLOWEDBY`, qualifiers…) are dropped from the groups and the result is flagged `partial`.
 */
import { domainToASCII } from "node:url";
import { textProblem } from "../../../../common/src/validation";
import { formatIpv6, parseIpv4, parseIpv6 } from "../../../../common/src/ip";

// ----------------------------------------------------------------------------------------------------------------
// Public types
// ----------------------------------------------------------------------------------------------------------------

export type ObservableType = "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "file-hash" | "email-addr";
export type HashAlgorithm = "MD5" | "SHA-1" | "SHA-256" | "SHA-512";

/**
 * One matchable value. Values are normalised: domains and e-mails lower-case, hashes lower-case hex, IPv4
 * dotted-quad (a CIDR like `203.0.113.0/24` with host bits cleared; `/32` is written as the bare address),
 * IPv6 RFC 5952 (lower-case, compressed; CIDRs likewise), URLs trimmed with scheme and host lower-cased.
 */
export interface Observable {
  type: ObservableType;
  value: string;
  hashAlgorithm?: HashAlgorithm;
}

export interface ParsedIndicator {
  /** Where the indicator is in the bundle, e.g. `objects[3]` (for problems found later, on import). */
  path: string;
  stixId: string;
  name: string | null;
  description: string | null;
  pattern: string;
  patternType: "stix";
  validFrom: string;
  validUntil: string | null;
  confidence: number | null;
  revoked: boolean;
  labels: string[];
  indicatorTypes: string[];
  killChainPhases: Array<{ killChainName: string; phaseName: string }>;
  created: string;
  modified: string;
  createdByRef: string | null;
  /** Compound patterns: the observables of each AND-group; the indicator matches an event when all observables of ANY group match (OR of ANDs). Single-observable patterns give one group of one. */
  groups: Observable[][];
  /** True when the pattern could be parsed but contains parts we cannot match (e.g. windows-registry-key, process, FOLLOWEDBY, WITHIN, MATCHES, LIKE, temporal qualifiers); those parts are dropped from groups and the indicator is stored but flagged. */
  partial: boolean;
}

/** A problem with one part of a bundle; `path` is `$` for the bundle itself, else e.g. `objects[3].pattern`. */
export interface BundleProblem {
  path: string;
  message: string;
}

export interface ParsedBundle {
  indicators: ParsedIndicator[];
  problems: BundleProblem[];
  /** Non-indicator objects (identity, malware, relationship…). */
  skipped: number;
}

/** Most AND-groups a pattern may expand to. */
export const MAX_PATTERN_GROUPS = 64;
/** Longest pattern accepted (characters). */
export const MAX_PATTERN_LENGTH = 65_536;
/** Default cap on the number of objects in one bundle. */
export const DEFAULT_MAX_BUNDLE_OBJECTS = 50_000;
const MAX_NESTING = 100;

// ----------------------------------------------------------------------------------------------------------------
// Value normalisation (shared with the indicator index)
// ----------------------------------------------------------------------------------------------------------------

export { formatIpv6, parseIpv4, parseIpv6 };

export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Clears the host bits of an IPv4 address (unsigned result). */
export function maskIpv4(ip: number, prefix: number): number {
  if (prefix <= 0) return 0;
  if (prefix >= 32) return ip >>> 0;
  return ((ip >>> (32 - prefix)) << (32 - prefix)) >>> 0;
}

export function maskIpv6(groups: readonly number[], prefix: number): number[] {
  return groups.map((g, i) => {
    const bits = prefix - i * 16;
    if (bits >= 16) return g;
    if (bits <= 0) return 0;
    return g & ((0xffff << (16 - bits)) & 0xffff);
  });
}

function splitPrefix(text: string, max: number): { address: string; prefix: number } | null {
  const slash = text.indexOf("/");
  if (slash === -1) return { address: text, prefix: max };
  const digits = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(digits)) return null;
  const prefix = Number(digits);
  if (prefix > max) return null;
  return { address: text.slice(0, slash), prefix };
}

/** Canonical IPv4 address or CIDR (host bits cleared, `/32` dropped); null when invalid. */
export function normalizeIpv4(text: string): string | null {
  const parts = splitPrefix(text.trim(), 32);
  if (!parts) return null;
  const ip = parseIpv4(parts.address);
  if (ip < 0) return null;
  if (parts.prefix === 32) return formatIpv4(ip);
  return `${formatIpv4(maskIpv4(ip, parts.prefix))}/${parts.prefix}`;
}

/** Canonical (RFC 5952) IPv6 address or CIDR (host bits cleared, `/128` dropped); null when invalid. */
export function normalizeIpv6(text: string): string | null {
  const parts = splitPrefix(text.trim(), 128);
  if (!parts) return null;
  const groups = parseIpv6(parts.address);
  if (!groups) return null;
  if (parts.prefix === 128) return formatIpv6(groups);
  return `${formatIpv6(maskIpv6(groups, parts.prefix))}/${parts.prefix}`;
}

const DOMAIN_SYNTAX =
  /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Canonical domain name: lower-case, ASCII (IDNs converted to punycode), no trailing dot, at least two labels,
 * a non-numeric top-level label. Null when invalid.
 */
export function normalizeDomain(text: string): string | null {
  let domain = text.trim().toLowerCase();
  if (domain.endsWith(".")) domain = domain.slice(0, -1);
  if (domain.length === 0 || domain.length > 253) return null;
  if (/[^\x00-\x7f]/.test(domain)) {
    domain = domainToASCII(domain);
    if (domain === "" || domain.length > 253) return null;
  }
  if (!DOMAIN_SYNTAX.test(domain)) return null;
  // The top-level label must not be all digits (that is an IP address or garbage).
  for (let i = domain.length - 1; i >= 0; i--) {
    const c = domain.charCodeAt(i);
    if (c === 46 /* . */) return null;
    if (c < 48 || c > 57) return domain;
  }
  return null;
}

/** Lower-case e-mail address whose domain is a valid domain name; null when invalid. */
export function normalizeEmail(text: string): string | null {
  const email = text.trim().toLowerCase();
  const at = email.lastIndexOf("@");
  if (at <= 0 || at > 64 || email.length > 320) return null;
  for (let i = 0; i < at; i++) {
    const c = email.charCodeAt(i);
    // No whitespace/controls, '@', or the specials that delimit addresses in headers.
    if (c <= 32 || c === 64 || c === 60 || c === 62 || c === 40 || c === 41 || c === 91 || c === 93)
      return null;
    if (c === 44 || c === 59 || c === 58 || c === 34 || c === 92 || c === 127) return null;
  }
  const domainText = email.slice(at + 1);
  const domain = normalizeDomain(domainText);
  if (domain === null) return null;
  return domain === domainText ? email : `${email.slice(0, at)}@${domain}`;
}

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A URL split as `normalizeUrl` needs it: normalised text and lower-case host (IPv6 brackets removed). */
function splitUrl(text: string): { url: string; host: string } | null {
  const url = text.trim();
  const scheme = URL_SCHEME.exec(url);
  if (!scheme || url.length > 8192 || /\s/.test(url)) return null;
  const schemeText = scheme[0].toLowerCase(); // with "//"
  let end = url.length;
  for (let i = schemeText.length; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  const authority = url.slice(schemeText.length, end);
  const at = authority.lastIndexOf("@");
  const hostPort = authority.slice(at + 1);
  let hostEnd: number;
  if (hostPort.startsWith("[")) {
    hostEnd = hostPort.indexOf("]") + 1;
    if (hostEnd === 0) return null;
  } else {
    hostEnd = hostPort.indexOf(":");
    if (hostEnd === -1) hostEnd = hostPort.length;
  }
  const host = hostPort.slice(0, hostEnd).toLowerCase();
  if (host === "" || host === "[]") return null;
  const path = url.slice(end);
  const normalized =
    schemeText +
    authority.slice(0, at + 1) +
    host +
    hostPort.slice(hostEnd) +
    (path === "" ? "/" : path.startsWith("/") ? path : `/${path}`);
  return { url: normalized, host: host.startsWith("[") ? host.slice(1, -1) : host };
}

/**
 * Trimmed `scheme://host…` URL with its scheme and host lower-cased (user info, port, path, query and fragment are
 * kept as they are) and `/` added when there is no path. Null when it does not start with `scheme://`, has no host
 * or has whitespace inside.
 */
export function normalizeUrl(text: string): string | null {
  return splitUrl(text)?.url ?? null;
}

/** The host of a URL (lower-case, IPv6 brackets removed), or null when it has none. */
export function urlHost(url: string): string | null {
  return splitUrl(url)?.host ?? null;
}

/** The normalised URL and its host in one pass (for event extraction). */
export function normalizeUrlAndHost(text: string): { url: string; host: string } | null {
  return splitUrl(text);
}

const HASH_LENGTHS: Record<HashAlgorithm, number> = { MD5: 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128 };

/** Maps `MD5`, `sha1`, `SHA-256`, `sha_512`… to the STIX algorithm name; null for others (SSDEEP, TLSH, SHA3…). */
export function hashAlgorithmOf(name: string): HashAlgorithm | null {
  switch (name.toUpperCase().replace(/[-_]/g, "")) {
    case "MD5":
      return "MD5";
    case "SHA1":
      return "SHA-1";
    case "SHA256":
      return "SHA-256";
    case "SHA512":
      return "SHA-512";
    default:
      return null;
  }
}

/** The algorithm a hex digest's length implies; null when it is not hex of a supported length. */
export function hashAlgorithmOfDigest(hex: string): HashAlgorithm | null {
  if (!/^[0-9a-fA-F]+$/.test(hex)) return null;
  switch (hex.length) {
    case 32:
      return "MD5";
    case 40:
      return "SHA-1";
    case 64:
      return "SHA-256";
    case 128:
      return "SHA-512";
    default:
      return null;
  }
}

/** A stable identity for an observable (type, algorithm, value). */
export function observableKey(o: Observable): string {
  return `${o.type}|${o.hashAlgorithm ?? ""}|${o.value}`;
}

// ----------------------------------------------------------------------------------------------------------------
// Pattern tokenizer
// ----------------------------------------------------------------------------------------------------------------

class PatternError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

type PathStep = { property: string } | { index: number | "*" };
interface ObjectPath {
  objectType: string;
  steps: PathStep[];
  text: string;
}

type LiteralKind = "string" | "int" | "float" | "bool" | "timestamp" | "binary" | "hex";
interface Literal {
  kind: LiteralKind;
  value: string;
  pos: number;
}

type Token =
  | { kind: "[" | "]" | "(" | ")" | "," | "eof"; pos: number }
  | { kind: "op"; op: "=" | "!=" | "<" | "<=" | ">" | ">="; pos: number }
  | { kind: "keyword"; word: string; pos: number }
  | { kind: "path"; path: ObjectPath; pos: number }
  | { kind: "literal"; literal: Literal; pos: number };

const KEYWORDS = new Set([
  "AND",
  "OR",
  "NOT",
  "IN",
  "LIKE",
  "MATCHES",
  "ISSUBSET",
  "ISSUPERSET",
  "EXISTS",
  "FOLLOWEDBY",
  "WITHIN",
  "SECONDS",
  "REPEATS",
  "TIMES",
  "START",
  "STOP",
]);

const isIdentStart = (c: string) => /[A-Za-z_]/.test(c);
const isIdentChar = (c: string) => /[A-Za-z0-9_-]/.test(c);

function describe(token: Token): string {
  switch (token.kind) {
    case "eof":
      return "end of pattern";
    case "op":
      return `'${token.op}'`;
    case "keyword":
      return token.word;
    case "path":
      return `'${token.path.text}'`;
    case "literal":
      return token.literal.kind === "string" ? `'${token.literal.value}'` : token.literal.value;
    default:
      return `'${token.kind}'`;
  }
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;

  /** Reads a `'…'` string starting at the quote; only `\'` and `\\` are valid escapes. */
  const readQuoted = (): string => {
    const start = i;
    i++; // opening quote
    let out = "";
    while (i < src.length) {
      const c = src[i];
      if (c === "\\") {
        const next = src[i + 1];
        if (next === "'" || next === "\\") {
          out += next;
          i += 2;
          continue;
        }
        throw new PatternError(
          next === undefined ? "unterminated string" : `invalid escape '\\${next}' in string`,
          next === undefined ? start : i,
        );
      }
      if (c === "'") {
        i++;
        return out;
      }
      out += c;
      i++;
    }
    throw new PatternError("unterminated string", start);
  };

  const readIdent = (): string => {
    const start = i;
    while (i < src.length && isIdentChar(src[i])) i++;
    return src.slice(start, i);
  };

  while (i < src.length) {
    const c = src[i];
    const pos = i;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (c === "[" || c === "]" || c === "(" || c === ")" || c === ",") {
      tokens.push({ kind: c, pos });
      i++;
    } else if (c === "=") {
      tokens.push({ kind: "op", op: "=", pos });
      i++;
    } else if (c === "!" && src[i + 1] === "=") {
      tokens.push({ kind: "op", op: "!=", pos });
      i += 2;
    } else if (c === "<" && src[i + 1] === ">") {
      tokens.push({ kind: "op", op: "!=", pos });
      i += 2;
    } else if (c === "<" || c === ">") {
      const withEq = src[i + 1] === "=";
      tokens.push({ kind: "op", op: withEq ? (c === "<" ? "<=" : ">=") : c, pos });
      i += withEq ? 2 : 1;
    } else if (c === "'") {
      tokens.push({ kind: "literal", literal: { kind: "string", value: readQuoted(), pos }, pos });
    } else if (/[0-9]/.test(c) || ((c === "-" || c === "+") && /[0-9]/.test(src[i + 1] ?? ""))) {
      const match = /^[-+]?[0-9]+(\.[0-9]+)?/.exec(src.slice(i, i + 64));
      const text = match ? match[0] : c;
      i += text.length;
      tokens.push({
        kind: "literal",
        literal: { kind: match?.[1] ? "float" : "int", value: text, pos },
        pos,
      });
    } else if ((c === "t" || c === "b" || c === "h") && src[i + 1] === "'") {
      i++;
      const value = readQuoted();
      if (c === "t" && !isStixTimestamp(value)) throw new PatternError(`invalid timestamp '${value}'`, pos);
      if (c === "h" && !/^([0-9a-fA-F]{2})*$/.test(value))
        throw new PatternError(`invalid hex '${value}'`, pos);
      if (c === "b" && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
        throw new PatternError(`invalid binary '${value}'`, pos);
      const kind: LiteralKind = c === "t" ? "timestamp" : c === "b" ? "binary" : "hex";
      tokens.push({ kind: "literal", literal: { kind, value, pos }, pos });
    } else if (isIdentStart(c)) {
      const word = readIdent();
      if (src[i] === ":") {
        i++;
        tokens.push({ kind: "path", path: readPath(word, pos), pos });
      } else if (KEYWORDS.has(word.toUpperCase())) {
        tokens.push({ kind: "keyword", word: word.toUpperCase(), pos });
      } else if (word === "true" || word === "false") {
        tokens.push({ kind: "literal", literal: { kind: "bool", value: word, pos }, pos });
      } else {
        throw new PatternError(`unexpected word '${word}' (an object path needs 'type:property')`, pos);
      }
    } else {
      throw new PatternError(`unexpected character '${c}'`, pos);
    }
  }
  tokens.push({ kind: "eof", pos: src.length });
  return tokens;

  /** Reads the property path after `object-type:` — components `name`, `'quoted name'`, `[n]`, `[*]` joined by `.`. */
  function readPath(objectType: string, start: number): ObjectPath {
    if (!/^[a-z0-9][a-z0-9-]*[a-z0-9]$/i.test(objectType) || objectType.includes("--")) {
      throw new PatternError(`invalid object type '${objectType}'`, start);
    }
    const steps: PathStep[] = [];
    const readComponent = () => {
      if (src[i] === "'") {
        const at = i;
        const name = readQuoted();
        if (name === "") throw new PatternError("empty property name", at);
        steps.push({ property: name });
      } else if (i < src.length && isIdentStart(src[i])) {
        steps.push({ property: readIdent() });
      } else {
        throw new PatternError("expected a property name", i);
      }
    };
    readComponent();
    for (;;) {
      if (src[i] === "." && i + 1 < src.length) {
        i++;
        readComponent();
      } else if (src[i] === "[" && /^\[(\*|[0-9]+)\]/.test(src.slice(i, i + 24))) {
        const match = /^\[(\*|[0-9]+)\]/.exec(src.slice(i, i + 24)) as RegExpExecArray;
        steps.push({ index: match[1] === "*" ? "*" : Number(match[1]) });
        i += match[0].length;
      } else {
        break;
      }
    }
    return { objectType, steps, text: src.slice(start, i) };
  }
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$/;

/** RFC 3339 UTC timestamp as STIX requires it: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, calendar-valid. */
export function isStixTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (hour > 23 || minute > 59 || second > 59) return false;
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** Orders two valid STIX timestamps (sub-millisecond fractions included). */
function compareTimestamps(a: string, b: string): number {
  const head = a.slice(0, 19).localeCompare(b.slice(0, 19));
  if (head !== 0) return head;
  const frac = (t: string) => (t[19] === "." ? t.slice(20, -1) : "");
  const fa = frac(a);
  const fb = frac(b);
  const width = Math.max(fa.length, fb.length);
  return fa.padEnd(width, "0").localeCompare(fb.padEnd(width, "0"));
}

// ----------------------------------------------------------------------------------------------------------------
// Pattern parser (recursive descent over the STIX 2.1 grammar)
// ----------------------------------------------------------------------------------------------------------------

type ComparisonOp =
  "=" | "!=" | "<" | "<=" | ">" | ">=" | "IN" | "LIKE" | "MATCHES" | "ISSUBSET" | "ISSUPERSET";

type ComparisonNode =
  | { kind: "test"; path: ObjectPath; op: ComparisonOp; negated: boolean; values: Literal[]; pos: number }
  | { kind: "exists"; path: ObjectPath; pos: number }
  | { kind: "and" | "or"; items: ComparisonNode[] };

type ObservationNode =
  | { kind: "observation"; comparison: ComparisonNode }
  | { kind: "qualified"; inner: ObservationNode; qualifier: string }
  | { kind: "and" | "or" | "followedby"; items: ObservationNode[] };

class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): ObservationNode {
    const tree = this.observationExpressions();
    const next = this.peek();
    if (next.kind !== "eof") {
      throw new PatternError(`unexpected ${describe(next)} after the end of the pattern`, next.pos);
    }
    return tree;
  }

  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const token = this.tokens[this.index];
    if (token.kind !== "eof") this.index++;
    return token;
  }

  private isKeyword(word: string): boolean {
    const token = this.peek();
    return token.kind === "keyword" && token.word === word;
  }

  private expect(kind: "[" | "]" | "(" | ")", context: string): Token {
    const token = this.peek();
    if (token.kind !== kind) {
      throw new PatternError(`expected '${kind}' ${context} but found ${describe(token)}`, token.pos);
    }
    return this.next();
  }

  private enter(pos: number): void {
    if (++this.depth > MAX_NESTING) throw new PatternError("pattern nested too deeply", pos);
  }

  // observationExpressions := observationExpressionOr (FOLLOWEDBY observationExpressionOr)*
  private observationExpressions(): ObservationNode {
    const items = [this.observationOr()];
    while (this.isKeyword("FOLLOWEDBY")) {
      this.next();
      items.push(this.observationOr());
    }
    return items.length === 1 ? items[0] : { kind: "followedby", items };
  }

  // observationExpressionOr := observationExpressionAnd (OR observationExpressionAnd)*
  private observationOr(): ObservationNode {
    const items = [this.observationAnd()];
    while (this.isKeyword("OR")) {
      this.next();
      items.push(this.observationAnd());
    }
    return items.length === 1 ? items[0] : { kind: "or", items };
  }

  // observationExpressionAnd := observationExpression (AND observationExpression)*
  private observationAnd(): ObservationNode {
    const items = [this.observation()];
    while (this.isKeyword("AND")) {
      this.next();
      items.push(this.observation());
    }
    return items.length === 1 ? items[0] : { kind: "and", items };
  }

  // observationExpression := ( '[' comparisonExpression ']' | '(' observationExpressions ')' ) qualifier*
  private observation(): ObservationNode {
    const token = this.peek();
    this.enter(token.pos);
    let node: ObservationNode;
    if (token.kind === "[") {
      this.next();
      const comparison = this.comparisonOr();
      this.expect("]", "to close the observation expression");
      node = { kind: "observation", comparison };
    } else if (token.kind === "(") {
      this.next();
      node = this.observationExpressions();
      this.expect(")", "to close the parenthesised observation expressions");
    } else {
      throw new PatternError(`expected '[' or '(' but found ${describe(token)}`, token.pos);
    }
    for (;;) {
      const qualifier = this.qualifier();
      if (!qualifier) break;
      node = { kind: "qualified", inner: node, qualifier };
    }
    this.depth--;
    return node;
  }

  // qualifier := WITHIN number SECONDS | REPEATS int TIMES | START t'…' STOP t'…'
  private qualifier(): string | null {
    const token = this.peek();
    if (token.kind !== "keyword") return null;
    const expectLiteral = (kinds: LiteralKind[], what: string): Literal => {
      const t = this.next();
      if (t.kind !== "literal" || !kinds.includes(t.literal.kind)) {
        throw new PatternError(`expected ${what} after ${token.kind === "keyword" ? token.word : ""}`, t.pos);
      }
      return t.literal;
    };
    const expectKeyword = (word: string) => {
      const t = this.next();
      if (t.kind !== "keyword" || t.word !== word) {
        throw new PatternError(`expected ${word} but found ${describe(t)}`, t.pos);
      }
    };
    switch (token.word) {
      case "WITHIN": {
        this.next();
        const n = expectLiteral(["int", "float"], "a number of seconds");
        if (Number(n.value) <= 0) throw new PatternError("WITHIN needs a positive number of seconds", n.pos);
        expectKeyword("SECONDS");
        return "WITHIN";
      }
      case "REPEATS": {
        this.next();
        const n = expectLiteral(["int"], "a repeat count");
        if (Number(n.value) <= 0) throw new PatternError("REPEATS needs a positive count", n.pos);
        expectKeyword("TIMES");
        return "REPEATS";
      }
      case "START": {
        this.next();
        const start = expectLiteral(["timestamp"], "a timestamp t'…'");
        expectKeyword("STOP");
        const stop = expectLiteral(["timestamp"], "a timestamp t'…'");
        if (compareTimestamps(stop.value, start.value) <= 0) {
          throw new PatternError("STOP must be later than START", stop.pos);
        }
        return "START/STOP";
      }
      default:
        return null;
    }
  }

  // comparisonExpression := comparisonExpressionAnd (OR comparisonExpressionAnd)*
  private comparisonOr(): ComparisonNode {
    const items = [this.comparisonAnd()];
    while (this.isKeyword("OR")) {
      this.next();
      items.push(this.comparisonAnd());
    }
    return items.length === 1 ? items[0] : { kind: "or", items };
  }

  // comparisonExpressionAnd := propTest (AND propTest)*
  private comparisonAnd(): ComparisonNode {
    const items = [this.propTest()];
    while (this.isKeyword("AND")) {
      this.next();
      items.push(this.propTest());
    }
    return items.length === 1 ? items[0] : { kind: "and", items };
  }

  // propTest := '(' comparisonExpression ')' | EXISTS objectPath | objectPath NOT? operator literal
  private propTest(): ComparisonNode {
    const token = this.peek();
    if (token.kind === "(") {
      this.enter(token.pos);
      this.next();
      const inner = this.comparisonOr();
      this.expect(")", "to close the parenthesised comparison");
      this.depth--;
      return inner;
    }
    if (token.kind === "keyword" && token.word === "EXISTS") {
      this.next();
      const path = this.next();
      if (path.kind !== "path") {
        throw new PatternError(`expected an object path after EXISTS but found ${describe(path)}`, path.pos);
      }
      return { kind: "exists", path: path.path, pos: token.pos };
    }
    if (token.kind !== "path") {
      throw new PatternError(
        `expected an object path (e.g. ipv4-addr:value) but found ${describe(token)}`,
        token.pos,
      );
    }
    this.next();
    let negated = false;
    if (this.isKeyword("NOT")) {
      this.next();
      negated = true;
    }
    const opToken = this.next();
    let op: ComparisonOp;
    if (opToken.kind === "op") op = opToken.op;
    else if (
      opToken.kind === "keyword" &&
      ["IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"].includes(opToken.word)
    ) {
      op = opToken.word as ComparisonOp;
    } else {
      throw new PatternError(
        `expected a comparison operator after '${token.path.text}' but found ${describe(opToken)}`,
        opToken.pos,
      );
    }
    if (negated && (op === "<" || op === "<=" || op === ">" || op === ">=")) {
      throw new PatternError(`NOT cannot be combined with '${op}'`, opToken.pos);
    }
    const values = op === "IN" ? this.setLiteral() : [this.primitiveLiteral(op)];
    return { kind: "test", path: token.path, op, negated, values, pos: token.pos };
  }

  private primitiveLiteral(op: ComparisonOp): Literal {
    const token = this.next();
    if (token.kind !== "literal") {
      throw new PatternError(`expected a value after '${op}' but found ${describe(token)}`, token.pos);
    }
    const literal = token.literal;
    if (
      (op === "LIKE" || op === "MATCHES" || op === "ISSUBSET" || op === "ISSUPERSET") &&
      literal.kind !== "string"
    ) {
      throw new PatternError(`${op} needs a string`, literal.pos);
    }
    if ((op === "<" || op === "<=" || op === ">" || op === ">=") && literal.kind === "bool") {
      throw new PatternError(`'${op}' cannot compare a boolean`, literal.pos);
    }
    return literal;
  }

  // setLiteral := '(' ( primitiveLiteral (',' primitiveLiteral)* )? ')'
  private setLiteral(): Literal[] {
    this.expect("(", "to open the IN list");
    const values: Literal[] = [];
    if (this.peek().kind === ")") {
      this.next();
      return values;
    }
    for (;;) {
      const token = this.next();
      if (token.kind !== "literal") {
        throw new PatternError(`expected a value in the IN list but found ${describe(token)}`, token.pos);
      }
      values.push(token.literal);
      const sep = this.next();
      if (sep.kind === ")") return values;
      if (sep.kind !== ",") {
        throw new PatternError(`expected ',' or ')' in the IN list but found ${describe(sep)}`, sep.pos);
      }
    }
  }
}

// ----------------------------------------------------------------------------------------------------------------
// Conversion to disjunctive normal form
// ----------------------------------------------------------------------------------------------------------------

/** A DNF: OR of AND-groups. `null` stands for a dropped (unmatchable) part: the identity for both AND and OR. */
type Dnf = Observable[][] | null;

class TooComplex extends Error {}

/** Removes duplicate observables from a group. */
function dedupeGroup(group: Observable[]): Observable[] {
  const seen = new Set<string>();
  return group.filter((o) => {
    const key = observableKey(o);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Drops duplicate groups and groups absorbed by a smaller one ({a} OR {a,b} ≡ {a}). */
function simplify(groups: Observable[][]): Observable[][] {
  const keyed = groups.map((g) => ({ group: g, keys: new Set(g.map(observableKey)) }));
  return keyed
    .filter((candidate, i) => {
      return !keyed.some((other, j) => {
        if (j === i || other.keys.size > candidate.keys.size) return false;
        if (other.keys.size === candidate.keys.size && j > i) return false; // equal sets: keep the first
        for (const key of other.keys) if (!candidate.keys.has(key)) return false;
        return true;
      });
    })
    .map((k) => k.group);
}

function dnfOr(items: Dnf[]): Dnf {
  const present = items.filter((d): d is Observable[][] => d !== null);
  if (present.length === 0) return null;
  // Exact duplicates (e.g. a value repeated in an IN list) go first, cheaply, so they do not count to the cap.
  const unique = new Map<string, Observable[]>();
  for (const group of present.flat()) {
    const key = group.map(observableKey).sort().join("\n");
    if (!unique.has(key)) unique.set(key, group);
  }
  if (unique.size > MAX_PATTERN_GROUPS) throw new TooComplex();
  return simplify([...unique.values()]);
}

function dnfAnd(items: Dnf[]): Dnf {
  const present = items.filter((d): d is Observable[][] => d !== null);
  if (present.length === 0) return null;
  // Single-group operands are plain conjunctions: concatenate them once, then distribute over the others
  // (each distribution step is capped, so long AND chains stay linear).
  const common: Observable[] = [];
  const alternatives: Observable[][][] = [];
  for (const dnf of present) {
    if (dnf.length === 0) return []; // AND with something that matches nothing
    if (dnf.length === 1) common.push(...dnf[0]);
    else alternatives.push(dnf);
  }
  let acc: Observable[][] = [common];
  for (const next of alternatives) {
    if (acc.length * next.length > MAX_PATTERN_GROUPS) throw new TooComplex();
    const product: Observable[][] = [];
    for (const a of acc) for (const b of next) product.push([...a, ...b]);
    acc = product;
  }
  return simplify(acc.map(dedupeGroup));
}

type Target =
  | { kind: "ipv4-addr" | "ipv6-addr" | "ip" | "domain-name" | "url" | "email-addr" }
  | { kind: "file-hash"; algorithm: HashAlgorithm };

/** The observable a path compares, or null when we cannot match that path. */
function targetOf(path: ObjectPath): Target | null {
  const props = path.steps.map((s) => ("property" in s ? s.property : null));
  const type = path.objectType.toLowerCase();
  if (props.length === 1 && props[0] === "value") {
    switch (type) {
      case "ipv4-addr":
      case "ipv6-addr":
      case "domain-name":
      case "url":
      case "email-addr":
        return { kind: type };
      default:
        return null;
    }
  }
  if (type === "file" && props.length === 2 && props[0] === "hashes" && props[1] !== null) {
    const algorithm = hashAlgorithmOf(props[1]);
    return algorithm ? { kind: "file-hash", algorithm } : null;
  }
  if (
    type === "network-traffic" &&
    props.length === 2 &&
    (props[0] === "dst_ref" || props[0] === "src_ref") &&
    props[1] === "value"
  ) {
    return { kind: "ip" };
  }
  // An e-mail's sender or recipients (`from_ref`, `sender_ref`, `to_refs[*]`, `cc_refs[*]`, `bcc_refs[*]`) as
  // feeds write e-mail addresses seen in phishing; matched like `email-addr:value` (any address of the event).
  if (type === "email-message" && props[props.length - 1] === "value") {
    const ref = props[0];
    if (props.length === 2 && (ref === "from_ref" || ref === "sender_ref")) return { kind: "email-addr" };
    if (
      props.length === 3 &&
      props[1] === null &&
      (ref === "to_refs" || ref === "cc_refs" || ref === "bcc_refs")
    ) {
      return { kind: "email-addr" };
    }
  }
  return null;
}

/** An IPv6 address or CIDR; IPv4-mapped ones (`::ffff:192.0.2.1`, `::ffff:0:0/104`) become IPv4. */
function ipv6Observable(raw: string): Observable | null {
  const value = normalizeIpv6(raw);
  if (!value) return null;
  const mapped = ipv4OfMapped(value);
  return mapped ? { type: "ipv4-addr", value: mapped } : { type: "ipv6-addr", value };
}

/** The IPv4 form of a canonical IPv4-mapped IPv6 address or CIDR (prefix ≥ 96), else null. */
export function ipv4OfMapped(canonicalIpv6: string): string | null {
  if (!canonicalIpv6.startsWith("::ffff:")) return null;
  const parts = splitPrefix(canonicalIpv6, 128);
  const groups = parts && parseIpv6(parts.address);
  if (!parts || !groups || parts.prefix < 96) return null;
  if (groups.slice(0, 5).some((g) => g !== 0) || groups[5] !== 0xffff) return null;
  const v4 = formatIpv4(((groups[6] << 16) | groups[7]) >>> 0);
  return parts.prefix === 128 ? v4 : `${v4}/${parts.prefix - 96}`;
}

/** Validates and normalises one compared value into an observable; throws a PatternError when invalid. */
function observableOf(target: Target, literal: Literal, pathText: string): Observable {
  if (literal.kind !== "string") {
    throw new PatternError(`${pathText} must be compared with a string`, literal.pos);
  }
  const raw = literal.value;
  const invalid = (what: string) => new PatternError(`invalid ${what} '${raw}'`, literal.pos);
  switch (target.kind) {
    case "ipv4-addr": {
      const value = normalizeIpv4(raw);
      if (!value) throw invalid("IPv4 address");
      return { type: "ipv4-addr", value };
    }
    case "ipv6-addr": {
      const value = ipv6Observable(raw);
      if (!value) throw invalid("IPv6 address");
      return value;
    }
    case "ip": {
      const v4 = normalizeIpv4(raw);
      if (v4) return { type: "ipv4-addr", value: v4 };
      const v6 = ipv6Observable(raw);
      if (v6) return v6;
      throw invalid("IP address");
    }
    case "domain-name": {
      const value = normalizeDomain(raw);
      if (!value) throw invalid("domain name");
      return { type: "domain-name", value };
    }
    case "url": {
      const value = normalizeUrl(raw);
      if (!value) throw invalid("URL (expected scheme://…)");
      return { type: "url", value };
    }
    case "email-addr": {
      const value = normalizeEmail(raw);
      if (!value) throw invalid("e-mail address");
      return { type: "email-addr", value };
    }
    case "file-hash": {
      const value = raw.trim().toLowerCase();
      if (!/^[0-9a-f]+$/.test(value) || value.length !== HASH_LENGTHS[target.algorithm]) {
        throw invalid(`${target.algorithm} hash (expected ${HASH_LENGTHS[target.algorithm]} hex digits)`);
      }
      return { type: "file-hash", value, hashAlgorithm: target.algorithm };
    }
  }
}

interface DnfState {
  partial: boolean;
  /** Where each observable's value is in the pattern: groups are listed in pattern order. */
  positions: Map<Observable, number>;
}

function comparisonDnf(node: ComparisonNode, state: DnfState): Dnf {
  switch (node.kind) {
    case "and":
      return dnfAnd(node.items.map((item) => comparisonDnf(item, state)));
    case "or":
      return dnfOr(node.items.map((item) => comparisonDnf(item, state)));
    case "exists":
      state.partial = true;
      return null;
    case "test": {
      const target = targetOf(node.path);
      if (!target || node.negated) {
        state.partial = true;
        return null;
      }
      const isIp = target.kind === "ipv4-addr" || target.kind === "ipv6-addr" || target.kind === "ip";
      if (node.op === "=" || node.op === "IN" || (node.op === "ISSUBSET" && isIp)) {
        return dnfOr(
          node.values.map((v) => {
            const observable = observableOf(target, v, node.path.text);
            state.positions.set(observable, v.pos);
            return [[observable]];
          }),
        );
      }
      state.partial = true;
      return null;
    }
  }
}

function observationDnf(node: ObservationNode, state: DnfState): Dnf {
  switch (node.kind) {
    case "observation":
      return comparisonDnf(node.comparison, state);
    case "qualified":
      // Qualifiers (WITHIN, REPEATS, START/STOP) constrain time or counts we cannot check on one event: dropped.
      state.partial = true;
      return observationDnf(node.inner, state);
    case "followedby":
      // Ordering is dropped: both sides must still be present.
      state.partial = true;
      return dnfAnd(node.items.map((item) => observationDnf(item, state)));
    case "and":
      return dnfAnd(node.items.map((item) => observationDnf(item, state)));
    case "or":
      return dnfOr(node.items.map((item) => observationDnf(item, state)));
  }
}

/**
 * Parses a STIX 2.1 pattern into the AND-groups of observables we can match (OR of ANDs, at most 64 groups).
 * Errors carry the 0-based character offset, e.g. `expected ']' … at position 23`.
 */
export function parseStixPattern(
  pattern: string,
): { groups: Observable[][]; partial: boolean } | { error: string } {
  if (typeof pattern !== "string") return { error: "pattern must be a string" };
  if (pattern.length > MAX_PATTERN_LENGTH)
    return { error: `pattern too long (over ${MAX_PATTERN_LENGTH} characters)` };
  if (pattern.trim() === "") return { error: "empty pattern" };
  try {
    const tree = new Parser(tokenize(pattern)).parse();
    const state: DnfState = { partial: false, positions: new Map() };
    const dnf = observationDnf(tree, state) ?? [];
    const position = (o: Observable) => state.positions.get(o) ?? 0;
    const groups = dnf.map((group) =>
      group.length > 1 ? [...group].sort((a, b) => position(a) - position(b)) : group,
    );
    return { groups, partial: state.partial };
  } catch (e) {
    if (e instanceof PatternError) return { error: `${e.message} at position ${e.position}` };
    if (e instanceof TooComplex) return { error: "pattern too complex" };
    return { error: `pattern could not be parsed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

// ----------------------------------------------------------------------------------------------------------------
// Bundle validation
// ----------------------------------------------------------------------------------------------------------------

const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const BUNDLE_ID = new RegExp(`^bundle--${UUID}$`);
const INDICATOR_ID = new RegExp(`^indicator--${UUID}$`);
const IDENTITY_ID = new RegExp(`^identity--${UUID}$`);
const OBJECT_TYPE = /^[a-z0-9][a-z0-9-]*[a-z0-9]$/;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Validates a STIX 2.1 bundle and extracts its indicators. Never throws. An invalid indicator gives problems
 * (with its path) and is left out; the others are kept. Non-indicator objects are counted in `skipped`. When the
 * same indicator id appears more than once, the version with the latest `modified` is kept.
 */
export function parseStixBundle(bundle: unknown, options?: { maxObjects?: number }): ParsedBundle {
  const maxObjects = options?.maxObjects ?? DEFAULT_MAX_BUNDLE_OBJECTS;
  const problems: BundleProblem[] = [];
  const result: ParsedBundle = { indicators: [], problems, skipped: 0 };
  try {
    if (!isRecord(bundle) || bundle.type !== "bundle") {
      problems.push({ path: "$", message: 'not a STIX bundle: expected an object with type "bundle"' });
      return result;
    }
    if (typeof bundle.id !== "string" || !BUNDLE_ID.test(bundle.id)) {
      problems.push({ path: "id", message: "bundle id must be bundle--<uuid>" });
    }
    const objects = bundle.objects;
    if (objects === undefined) return result; // an empty bundle may omit objects
    if (!Array.isArray(objects)) {
      problems.push({ path: "objects", message: "objects must be an array" });
      return result;
    }
    if (objects.length > maxObjects) {
      problems.push({
        path: "objects",
        message: `too many objects: ${objects.length} (at most ${maxObjects} per bundle)`,
      });
      return result;
    }
    const byId = new Map<string, number>(); // stixId -> position in result.indicators
    objects.forEach((object, i) => {
      const path = `objects[${i}]`;
      if (!isRecord(object)) {
        problems.push({ path, message: "object must be a JSON object" });
        return;
      }
      if (typeof object.type !== "string" || !OBJECT_TYPE.test(object.type)) {
        problems.push({ path: `${path}.type`, message: "type must be a STIX object type" });
        return;
      }
      if (object.type !== "indicator") {
        result.skipped++;
        return;
      }
      const indicator = parseIndicator(object, path, problems);
      if (!indicator) return;
      const previous = byId.get(indicator.stixId);
      if (previous === undefined) {
        byId.set(indicator.stixId, result.indicators.length);
        result.indicators.push(indicator);
      } else if (compareTimestamps(indicator.modified, result.indicators[previous].modified) > 0) {
        result.indicators[previous] = indicator;
      }
    });
  } catch (e) {
    // Defensive: hostile inputs (getters, proxies) must not escape as exceptions.
    problems.push({
      path: "$",
      message: `bundle could not be read: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
  return result;
}

function parseIndicator(
  o: Record<string, unknown>,
  path: string,
  problems: BundleProblem[],
): ParsedIndicator | null {
  const before = problems.length;
  const problem = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });

  const stixId = o.id;
  if (typeof stixId !== "string" || !INDICATOR_ID.test(stixId)) problem("id", "id must be indicator--<uuid>");
  if (o.spec_version !== undefined && o.spec_version !== "2.1") {
    problem("spec_version", 'spec_version must be "2.1"');
  }

  const timestamp = (field: string, required: boolean): string | null => {
    const value = o[field];
    if (value === undefined || value === null) {
      if (required) problem(field, `${field} is required`);
      return null;
    }
    if (typeof value !== "string" || !isStixTimestamp(value)) {
      problem(field, `${field} must be a UTC timestamp like 2024-01-31T12:00:00Z`);
      return null;
    }
    return value;
  };
  const created = timestamp("created", true);
  const modified = timestamp("modified", true);
  if (created && modified && compareTimestamps(modified, created) < 0) {
    problem("modified", "modified must not be earlier than created");
  }
  const validFrom = timestamp("valid_from", true);
  const validUntil = timestamp("valid_until", false);
  if (validFrom && validUntil && compareTimestamps(validUntil, validFrom) <= 0) {
    problem("valid_until", "valid_until must be later than valid_from");
  }

  const optionalString = (field: string): string | null => {
    const value = o[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== "string") {
      problem(field, `${field} must be a string`);
      return null;
    }
    return value;
  };
  const name = optionalString("name");
  const description = optionalString("description");

  const stringList = (field: string): string[] => {
    const value = o[field];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
      problem(field, `${field} must be a list of strings`);
      return [];
    }
    return value as string[];
  };
  const labels = stringList("labels");
  const indicatorTypes = stringList("indicator_types");

  const killChainPhases: ParsedIndicator["killChainPhases"] = [];
  if (o.kill_chain_phases !== undefined && o.kill_chain_phases !== null) {
    if (!Array.isArray(o.kill_chain_phases)) {
      problem("kill_chain_phases", "kill_chain_phases must be a list");
    } else {
      o.kill_chain_phases.forEach((phase: unknown, k: number) => {
        if (
          !isRecord(phase) ||
          typeof phase.kill_chain_name !== "string" ||
          typeof phase.phase_name !== "string" ||
          phase.kill_chain_name === "" ||
          phase.phase_name === ""
        ) {
          problem(`kill_chain_phases[${k}]`, "a kill chain phase needs kill_chain_name and phase_name");
        } else {
          killChainPhases.push({ killChainName: phase.kill_chain_name, phaseName: phase.phase_name });
        }
      });
    }
  }

  let confidence: number | null = null;
  if (o.confidence !== undefined && o.confidence !== null) {
    if (
      typeof o.confidence !== "number" ||
      !Number.isInteger(o.confidence) ||
      o.confidence < 0 ||
      o.confidence > 100
    ) {
      problem("confidence", "confidence must be an integer from 0 to 100");
    } else {
      confidence = o.confidence;
    }
  }

  let revoked = false;
  if (o.revoked !== undefined && o.revoked !== null) {
    if (typeof o.revoked !== "boolean") problem("revoked", "revoked must be a boolean");
    else revoked = o.revoked;
  }

  let createdByRef: string | null = null;
  if (o.created_by_ref !== undefined && o.created_by_ref !== null) {
    if (typeof o.created_by_ref !== "string" || !IDENTITY_ID.test(o.created_by_ref)) {
      problem("created_by_ref", "created_by_ref must be identity--<uuid>");
    } else {
      createdByRef = o.created_by_ref;
    }
  }

  let parsed: { groups: Observable[][]; partial: boolean } | null = null;
  const pattern = o.pattern;
  if (o.pattern_type === undefined || o.pattern_type === null) {
    problem("pattern_type", "pattern_type is required");
  } else if (o.pattern_type !== "stix") {
    problem("pattern_type", `unsupported pattern_type ${JSON.stringify(o.pattern_type)} (only "stix")`);
  } else if (typeof pattern !== "string" || pattern.trim() === "") {
    problem("pattern", "pattern is required");
  } else {
    const outcome = parseStixPattern(pattern);
    if ("error" in outcome) problem("pattern", outcome.error);
    else parsed = outcome;
  }

  // Stored as Postgres text and jsonb, which hold no NUL and no unpaired surrogate.
  const texts: Array<[string, string | null]> = [
    ["name", name],
    ["description", description],
    ["pattern", parsed ? (pattern as string) : null],
    ...labels.map((label, k): [string, string] => [`labels[${k}]`, label]),
    ...indicatorTypes.map((type, k): [string, string] => [`indicator_types[${k}]`, type]),
  ];
  for (const [field, value] of texts) {
    const fault = value === null ? null : textProblem(value);
    if (fault) problem(field, `${field.replace(/\[\d+\]$/, "")} ${fault}`);
  }

  if (problems.length > before || !parsed) return null;
  return {
    path,
    stixId: stixId as string,
    name,
    description,
    pattern: pattern as string,
    patternType: "stix",
    validFrom: validFrom as string,
    validUntil,
    confidence,
    revoked,
    labels,
    indicatorTypes,
    killChainPhases,
    created: created as string,
    modified: modified as string,
    createdByRef,
    groups: parsed.groups,
    partial: parsed.partial,
  };
}
