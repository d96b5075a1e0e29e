/**
 * The structured event filter of analytics rules: a small JSON language over the normalised event
 * (`EVENT_COLUMNS` plus `attributes.<path>`), validated once and compiled two ways with identical semantics:
 * to a SQL boolean expression over the events table (alias `e`, scheduled rules) and to a JS predicate over an
 * in-memory event (near-real-time rules).
 *
 * ```json
 * { "all": [ { "field": "class_uid", "op": "eq", "value": 3002 },
 *            { "any": [ { "field": "status", "op": "eq", "value": "Failure" },
 *                       { "not": { "field": "attributes.mfa", "op": "eq", "value": true } } ] },
 *            { "field": "src_ip", "op": "inCidr", "value": ["0.0.0.0/0"] } ] }
 * ```
 *
 * Semantics (the same in SQL and JS; the tests run both over the same events and compare):
 * - Every condition is two-valued. A missing attribute, a JSON `null` and a NULL column are all "absent": every
 *   positive operator (`eq`, `in`, `contains`, `startsWith`, `endsWith`, `matches`, `gt`, `gte`, `lt`, `lte`,
 *   `inCidr`) is false on an absent value, and the negative operators are their exact negations, so `neq`,
 *   `notIn` and `notInCidr` are TRUE on an absent value (SQL: `NOT (e.col IS NOT NULL AND …)`; JS: `!positive`).
 *   `{ "not": … }` is likewise the exact negation of its child. `exists: true` holds when the value is present
 *   and not null; `exists: false` is its negation.
 * - String comparisons (`eq`, `neq`, `in`, `notIn`, `contains`, `startsWith`, `endsWith`, `matches`) are
 *   case-insensitive for ASCII letters only (`A`–`Z`), so the result never depends on the database locale:
 *   SQL lower-cases with `lower(x COLLATE "C")`, JS with an ASCII-only fold. Other characters compare exactly.
 * - `matches` is a glob where `*` matches any run of characters (newlines included); every other character,
 *   including `?`, `%`, `_` and `\`, is literal. It is not a regular expression.
 * - Attributes are JSON and typed: a string value compares only with a JSON string, a number only with a JSON
 *   number, a boolean only with a JSON boolean (`"true"` is not `true`, `"5"` is not `5`); `gt`/`gte`/`lt`/`lte`
 *   on attributes compare JSON numbers only; `inCidr` on an attribute needs a JSON string holding a plain IPv4 or
 *   IPv6 address (no prefix, no zone); anything else is "absent" for that operator. Attribute paths follow
 *   Postgres `#>`: object keys, or array indexes (`attributes.list.0`, negative from the end).
 * - Columns are typed as in `siem.events`: integers (`class_uid`, `activity_id`, `severity_id`, `src_port`,
 *   `dst_port`) compare numerically; `time` compares as an instant (values are ISO 8601 timestamps with an offset
 *   and at most millisecond precision); `src_ip`/`dst_ip` are `inet`: `eq`/`in` compare address and prefix,
 *   `inCidr` is Postgres `<<=` (same family, prefix at least as long, leading bits equal). IPv4 and IPv6 are
 *   distinct families: `::ffff:10.0.0.1` is not in `10.0.0.0/8`.
 * - JS numbers are doubles and Postgres compares exact decimals; both agree for the integers and decimals events
 *   carry (JS also reads event times to the millisecond).
 * - `inWatchlist` / `notInWatchlist` take a watchlist alias and match when the value is one of the watchlist's
 *   search keys, resolved when the filter runs (an unknown alias is an empty list): text ignoring ASCII case,
 *   `src_ip`/`dst_ip` in canonical address form, integers as decimal text, attributes only when a JSON string.
 *   SQL reads the tenant's `watchlists`/`watchlist_items` in a subquery on `e.tenant_id`; JS asks the
 *   `WatchlistLookup` given to the predicate (the near-real-time rules' cache, reloaded when a watchlist changes).
 */
import { likeLiteral } from "../../../../common/src";
import { normalizeIp } from "../connectors/normalizers/common";
import { EVENT_COLUMNS, type EventColumn } from "../events/event.model";

// ---------------------------------------------------------------------------------------------------------
// Public types and constants
// ---------------------------------------------------------------------------------------------------------

/** The operators of a condition. */
export const FILTER_OPS = [
  "eq",
  "neq",
  "in",
  "notIn",
  "contains",
  "startsWith",
  "endsWith",
  "matches",
  "gt",
  "gte",
  "lt",
  "lte",
  "exists",
  "inCidr",
  "notInCidr",
  "inWatchlist",
  "notInWatchlist",
] as const;
/** One operator of a condition. */
export type FilterOp = (typeof FILTER_OPS)[number];

/** A leaf of a filter: `{ field, op, value }`. */
export interface FilterCondition {
  field: string;
  op: FilterOp;
  value: unknown;
}

/** A filter (the shape validateFilter accepts): a condition or a combinator over filters. */
export type EventFilter =
  FilterCondition | { all: EventFilter[] } | { any: EventFilter[] } | { not: EventFilter };

/** A fault in a filter: a JSON path (`$.all[1].any[0].op`) and what is wrong there. */
export interface FilterProblem {
  path: string;
  message: string;
}

/** Size limits of a filter. */
export const FILTER_LIMITS = {
  /** Nesting depth: the root is depth 1. */
  maxDepth: 16,
  /** Nodes (conditions and combinators) in the whole filter. */
  maxNodes: 200,
  /** Entries of an `in`/`notIn`/`inCidr`/`notInCidr` list. */
  maxListLength: 1000,
  /** Length of a string value. */
  maxStringLength: 4096,
} as const;

/** An event as the JS predicate reads it: the columns (any may be missing or null) and `attributes`. */
export type EventLike = { readonly [K in EventColumn]?: unknown } & { readonly attributes?: unknown };

/** A watchlist alias as filters name it (the alias rules of watchlists). */
export const WATCHLIST_ALIAS_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * The search keys of a tenant's watchlist by lower-case alias, folded as `inWatchlist` compares them (see the
 * module comment), or undefined when there is no such watchlist.
 */
export type WatchlistLookup = (aliasKey: string) => ReadonlySet<string> | undefined;

/** Thrown by the compilers for an invalid filter; carries every problem. */
export class FilterError extends Error {
  /** Every problem of the filter, in document order. */
  readonly problems: FilterProblem[];

  constructor(problems: FilterProblem[]) {
    const shown = problems.slice(0, 5).map((p) => `${p.path}: ${p.message}`);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    super(`invalid event filter: ${shown.join("; ")}`);
    this.name = "FilterError";
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------------------

type ColumnType = "integer" | "text" | "inet" | "timestamp";
type FieldType = ColumnType | "json";

/** The SQL type of each events column (siem.events). */
const COLUMN_TYPES = {
  time: "timestamp",
  class_uid: "integer",
  activity_id: "integer",
  severity_id: "integer",
  status: "text",
  message: "text",
  actor_user: "text",
  src_ip: "inet",
  src_port: "integer",
  dst_ip: "inet",
  dst_port: "integer",
  device: "text",
  resource_id: "text",
  operation: "text",
  src_country: "text",
  connector: "text",
} as const satisfies Record<EventColumn, ColumnType>;

const OPS_BY_TYPE: Record<FieldType, readonly FilterOp[]> = {
  integer: ["eq", "neq", "in", "notIn", "gt", "gte", "lt", "lte", "exists", "inWatchlist", "notInWatchlist"],
  timestamp: ["eq", "neq", "gt", "gte", "lt", "lte", "exists"],
  text: [
    "eq",
    "neq",
    "in",
    "notIn",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "exists",
    "inWatchlist",
    "notInWatchlist",
  ],
  inet: ["eq", "neq", "in", "notIn", "inCidr", "notInCidr", "exists", "inWatchlist", "notInWatchlist"],
  json: FILTER_OPS,
};

const ATTRIBUTE_SEGMENT = /^[A-Za-z0-9_-]+$/;
const MAX_ATTRIBUTE_SEGMENTS = 16;
const MAX_SEGMENT_LENGTH = 128;

type Field =
  | { kind: "column"; name: EventColumn; type: ColumnType }
  | { kind: "attribute"; name: string; path: readonly string[] };

function isEventColumn(name: string): name is EventColumn {
  return (EVENT_COLUMNS as readonly string[]).includes(name);
}

/** The field named `name`, or a message saying why it is not one. */
function parseField(name: string): Field | string {
  if (isEventColumn(name)) return { kind: "column", name, type: COLUMN_TYPES[name] };
  if (name.startsWith("attributes.")) {
    const path = name.slice("attributes.".length).split(".");
    if (path.length > MAX_ATTRIBUTE_SEGMENTS)
      return `an attribute path has at most ${MAX_ATTRIBUTE_SEGMENTS} segments`;
    for (const segment of path) {
      if (!ATTRIBUTE_SEGMENT.test(segment) || segment.length > MAX_SEGMENT_LENGTH) {
        return `attribute path segments are 1–${MAX_SEGMENT_LENGTH} characters of A-Z, a-z, 0-9, _ and - (got "${name}")`;
      }
    }
    return { kind: "attribute", name, path };
  }
  return `unknown field "${name}": use one of ${EVENT_COLUMNS.join(", ")} or attributes.<path>`;
}

/** True when `name` is a field a filter may use: an events column or `attributes.<a>.<b>…`. */
export function isFilterField(name: string): boolean {
  return typeof name === "string" && typeof parseField(name) !== "string";
}

/**
 * The value of `field` in an event, as the filter reads it: a column as stored on the object, or the attribute
 * at the path (Postgres `#>` rules: object keys, array indexes); `undefined` when absent.
 */
export function readEventField(event: EventLike, field: string): unknown {
  const parsed = parseField(field);
  if (typeof parsed === "string") throw new RangeError(parsed);
  return parsed.kind === "column" ? event[parsed.name] : jsonPath(event.attributes, parsed.path);
}

/** Postgres `jsonb #> text[]`: keys of objects, integer indexes of arrays (negative from the end); else absent. */
function jsonPath(root: unknown, path: readonly string[]): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (Array.isArray(current)) {
      // jsonb_get_element: strtoint of the whole segment, int32 range, negative counts from the end.
      if (!/^-?\d+$/.test(segment)) return undefined;
      const index = Number(segment);
      if (index > 2147483647 || index <= -2147483648) return undefined;
      const position = index < 0 ? current.length + index : index;
      if (position < 0 || position >= current.length) return undefined;
      current = current[position];
    } else if (current !== null && typeof current === "object") {
      if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

// ---------------------------------------------------------------------------------------------------------
// IP addresses (the same grammar guards the SQL cast of attributes and the JS parser)
// ---------------------------------------------------------------------------------------------------------

const V4_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const V4 = `${V4_OCTET}(?:[.]${V4_OCTET}){3}`;
const H = "[0-9A-Fa-f]{1,4}";

function ipAddressPattern(): string {
  const alternatives = [
    V4,
    `(?:${H}:){7}${H}`,
    "::",
    `::(?:${H}:){0,6}${H}`,
    `(?:${H}:){6}${V4}`,
    `::(?:${H}:){0,5}${V4}`,
  ];
  for (let n = 1; n <= 7; n++) alternatives.push(`(?:${H}:){${n}}:`);
  for (let n = 1; n <= 6; n++) alternatives.push(`(?:${H}:){${n}}:(?:${H}:){0,${6 - n}}${H}`);
  for (let n = 1; n <= 5; n++) alternatives.push(`(?:${H}:){${n}}:(?:${H}:){0,${5 - n}}${V4}`);
  return `^(?:${alternatives.join("|")})$`;
}

/**
 * A plain IPv4 (dotted quad, no leading zeros) or IPv6 address (RFC 4291 text forms, no zone, no prefix).
 * The SQL compiler uses the same pattern (Postgres ARE) to guard the `::inet` cast of attribute values.
 */
export const IP_ADDRESS_PATTERN = ipAddressPattern();
const IP_ADDRESS = new RegExp(IP_ADDRESS_PATTERN);
const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;

/** An `inet` value: family, address as a number, prefix length. */
interface Inet {
  family: 4 | 6;
  address: bigint;
  bits: number;
}

function parseV4(text: string): bigint {
  return text.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function parseV6(text: string): bigint {
  let body = text;
  if (text.includes(".")) {
    const cut = text.lastIndexOf(":") + 1;
    const v4 = parseV4(text.slice(cut));
    body = `${text.slice(0, cut)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  let groups: string[];
  const gap = body.indexOf("::");
  if (gap >= 0) {
    const head = body.slice(0, gap) ? body.slice(0, gap).split(":") : [];
    const tail = body.slice(gap + 2) ? body.slice(gap + 2).split(":") : [];
    groups = [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
  } else {
    groups = body.split(":");
  }
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** A plain address (IP_ADDRESS_PATTERN), or null. */
function parseIpAddress(text: string): Inet | null {
  if (text.length > 45 || !IP_ADDRESS.test(text)) return null;
  return text.includes(":")
    ? { family: 6, address: parseV6(text), bits: 128 }
    : { family: 4, address: parseV4(text), bits: 32 };
}

/** `address` or `address/prefix` (a prefix no longer than the family allows), or null. */
function parseInet(text: string): Inet | null {
  const slash = text.indexOf("/");
  if (slash < 0) return parseIpAddress(text);
  const address = parseIpAddress(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (!address || !PREFIX.test(prefix)) return null;
  const bits = Number(prefix);
  if (bits > (address.family === 4 ? 32 : 128)) return null;
  return { ...address, bits };
}

/** Postgres `inet =`: same family, prefix and address. */
function inetEquals(a: Inet, b: Inet): boolean {
  return a.family === b.family && a.bits === b.bits && a.address === b.address;
}

/** Postgres `a <<= b`: same family, a's prefix at least b's, and the first b.bits bits equal. */
function inetWithin(a: Inet, b: Inet): boolean {
  if (a.family !== b.family || a.bits < b.bits) return false;
  const shift = BigInt((a.family === 4 ? 32 : 128) - b.bits);
  return a.address >> shift === b.address >> shift;
}

// ---------------------------------------------------------------------------------------------------------
// Timestamps and strings
// ---------------------------------------------------------------------------------------------------------

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** Epoch milliseconds of a strict ISO 8601 timestamp with an offset (years 1000–9999), or null. */
function parseTimestamp(text: string): number | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59)
    return null;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  if (m[8] !== undefined && (Number(m[9]) > 14 || Number(m[10]) > 59)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/** Lower-cases A–Z only, like Postgres `lower(x COLLATE "C")`. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** `*`-glob match of already-folded strings, linear per segment (no regex, no backtracking blow-up). */
function globMatch(text: string, pattern: string): boolean {
  const parts = pattern.split("*");
  if (parts.length === 1) return text === pattern;
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last))
    return false;
  let position = first.length;
  const end = text.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = text.indexOf(part, position);
    if (found < 0 || found + part.length > end) return false;
    position = found + part.length;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Validation into an internal tree
// ---------------------------------------------------------------------------------------------------------

type Scalar = string | number | boolean;
type ScalarKind = "string" | "number" | "boolean";

/** A condition after validation, always positive; `negate` gives neq/notIn/notInCidr/exists:false. */
type Leaf =
  | { type: "leaf"; field: Field; negate: boolean; op: "exists" }
  | { type: "leaf"; field: Field; negate: boolean; op: "eq" | "in"; kind: ScalarKind; values: Scalar[] }
  | { type: "leaf"; field: Field; negate: boolean; op: "eqInet" | "inInet"; texts: string[]; inets: Inet[] }
  | { type: "leaf"; field: Field; negate: boolean; op: "eqTime"; text: string; ms: number }
  | { type: "leaf"; field: Field; negate: boolean; op: "inCidr"; texts: string[]; inets: Inet[] }
  | { type: "leaf"; field: Field; negate: boolean; op: "inWatchlist"; alias: string }
  | {
      type: "leaf";
      field: Field;
      negate: boolean;
      op: "contains" | "startsWith" | "endsWith" | "matches";
      folded: string;
    }
  | { type: "leaf"; field: Field; negate: boolean; op: "gt" | "gte" | "lt" | "lte"; value: number }
  | {
      type: "leaf";
      field: Field;
      negate: boolean;
      op: "gtTime" | "gteTime" | "ltTime" | "lteTime";
      text: string;
      ms: number;
    };

type Node =
  Leaf | { type: "all"; children: Node[] } | { type: "any"; children: Node[] } | { type: "not"; child: Node };

const COMBINATORS = ["all", "any", "not"] as const;
const LEAF_KEYS = ["field", "op", "value"] as const;

function key(path: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

class Validator {
  readonly problems: FilterProblem[] = [];
  private nodes = 0;
  private tooMany = false;

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  node(value: unknown, path: string, depth: number): Node | null {
    this.nodes += 1;
    if (this.nodes > FILTER_LIMITS.maxNodes) {
      if (!this.tooMany) this.problem("$", `a filter has at most ${FILTER_LIMITS.maxNodes} nodes`);
      this.tooMany = true;
      return null;
    }
    if (depth > FILTER_LIMITS.maxDepth) {
      this.problem(path, `a filter is nested at most ${FILTER_LIMITS.maxDepth} levels deep`);
      return null;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.problem(
        path,
        `must be an object: { all }, { any }, { not } or { field, op, value } (got ${describe(value)})`,
      );
      return null;
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    const combinators = COMBINATORS.filter((name) => keys.includes(name));
    const isLeaf = keys.some((name) => (LEAF_KEYS as readonly string[]).includes(name));
    if (combinators.length + (isLeaf ? 1 : 0) !== 1) {
      this.problem(
        path,
        keys.length === 0 || combinators.length + (isLeaf ? 1 : 0) === 0
          ? "must be one of { all: [...] }, { any: [...] }, { not: {...} } or { field, op, value }"
          : "must be exactly one of { all }, { any }, { not } or { field, op, value }, not a mix",
      );
      return null;
    }
    const allowed: readonly string[] = isLeaf ? LEAF_KEYS : combinators;
    let unknown = false;
    for (const name of keys) {
      if (!allowed.includes(name)) {
        this.problem(key(path, name), `unknown key (a node has ${allowed.join(", ")})`);
        unknown = true;
      }
    }
    if (isLeaf) {
      const leaf = this.leaf(record, path);
      return unknown ? null : leaf;
    }
    const combinator = combinators[0];
    if (combinator === "not") {
      const child = this.node(record.not, `${path}.not`, depth + 1);
      return child && !unknown ? { type: "not", child } : null;
    }
    const list = record[combinator];
    if (!Array.isArray(list) || list.length === 0) {
      this.problem(`${path}.${combinator}`, `must be a non-empty array of filters (got ${describe(list)})`);
      return null;
    }
    const children: Node[] = [];
    let ok = !unknown;
    list.forEach((item: unknown, index) => {
      const child = this.node(item, `${path}.${combinator}[${index}]`, depth + 1);
      if (child) children.push(child);
      else ok = false;
    });
    return ok ? { type: combinator, children } : null;
  }

  private leaf(record: Record<string, unknown>, path: string): Leaf | null {
    const { field: fieldName, op, value } = record;
    let field: Field | null = null;
    if (typeof fieldName !== "string") {
      this.problem(`${path}.field`, `must be a field name string (got ${describe(fieldName)})`);
    } else {
      const parsed = parseField(fieldName);
      if (typeof parsed === "string") this.problem(`${path}.field`, parsed);
      else field = parsed;
    }
    if (typeof op !== "string" || !(FILTER_OPS as readonly string[]).includes(op)) {
      this.problem(`${path}.op`, `must be one of ${FILTER_OPS.join(", ")} (got ${describe(op)})`);
      return null;
    }
    const filterOp = op as FilterOp;
    if (!Object.prototype.hasOwnProperty.call(record, "value")) {
      this.problem(`${path}.value`, "is required");
      return null;
    }
    if (!field) return null;
    const type: FieldType = field.kind === "column" ? field.type : "json";
    if (!OPS_BY_TYPE[type].includes(filterOp)) {
      const what = field.kind === "column" ? `${type} column "${field.name}"` : "attributes";
      this.problem(
        `${path}.op`,
        `"${filterOp}" does not apply to ${what} (use ${OPS_BY_TYPE[type].join(", ")})`,
      );
      return null;
    }
    return this.leafValue(field, type, filterOp, value, `${path}.value`);
  }

  private string(value: unknown, path: string): string | null {
    if (typeof value !== "string") {
      this.problem(path, `must be a string (got ${describe(value)})`);
      return null;
    }
    if (value.length > FILTER_LIMITS.maxStringLength) {
      this.problem(path, `must be at most ${FILTER_LIMITS.maxStringLength} characters`);
      return null;
    }
    if (value.includes("\u0000")) {
      this.problem(path, "must not contain NUL characters");
      return null;
    }
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) {
      this.problem(path, "must be valid Unicode (unpaired surrogate)");
      return null;
    }
    return value;
  }

  private number(value: unknown, path: string): number | null {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.problem(path, `must be a finite number (got ${describe(value)})`);
      return null;
    }
    return value;
  }

  private list(value: unknown, path: string): unknown[] | null {
    if (!Array.isArray(value) || value.length === 0) {
      this.problem(path, `must be a non-empty array (got ${describe(value)})`);
      return null;
    }
    if (value.length > FILTER_LIMITS.maxListLength) {
      this.problem(path, `must have at most ${FILTER_LIMITS.maxListLength} entries`);
      return null;
    }
    return value;
  }

  /** A scalar of the kind a field takes: typed for columns, string/number/boolean for attributes. */
  private scalar(type: FieldType, value: unknown, path: string): { kind: ScalarKind; value: Scalar } | null {
    if (type === "integer") {
      const n = this.number(value, path);
      return n === null ? null : { kind: "number", value: n };
    }
    if (type === "text") {
      const s = this.string(value, path);
      return s === null ? null : { kind: "string", value: s };
    }
    if (typeof value === "boolean") return { kind: "boolean", value };
    if (typeof value === "number") {
      const n = this.number(value, path);
      return n === null ? null : { kind: "number", value: n };
    }
    if (typeof value === "string") {
      const s = this.string(value, path);
      return s === null ? null : { kind: "string", value: s };
    }
    this.problem(path, `must be a string, number or boolean (got ${describe(value)})`);
    return null;
  }

  private timestamp(value: unknown, path: string): number | null {
    const text = this.string(value, path);
    if (text === null) return null;
    const ms = parseTimestamp(text);
    if (ms === null) {
      this.problem(
        path,
        `must be an ISO 8601 timestamp with an offset, e.g. 2024-05-01T12:00:00Z (got "${text}")`,
      );
    }
    return ms;
  }

  private address(value: unknown, path: string, cidr: boolean): Inet | null {
    const text = this.string(value, path);
    if (text === null) return null;
    const parsed = cidr ? parseInet(text) : parseIpAddress(text);
    if (!parsed) {
      this.problem(
        path,
        cidr
          ? `must be an IPv4 or IPv6 address or CIDR block such as 10.0.0.0/8 or fc00::/7 (got "${text}")`
          : `must be an IPv4 or IPv6 address (got "${text}")`,
      );
    }
    return parsed;
  }

  private leafValue(field: Field, type: FieldType, op: FilterOp, value: unknown, path: string): Leaf | null {
    const base = { type: "leaf" as const, field };
    switch (op) {
      case "exists":
        if (typeof value !== "boolean") {
          this.problem(path, `must be true or false (got ${describe(value)})`);
          return null;
        }
        return { ...base, op: "exists", negate: !value };
      case "eq":
      case "neq": {
        const negate = op === "neq";
        if (type === "timestamp") {
          const ms = this.timestamp(value, path);
          return ms === null ? null : { ...base, negate, op: "eqTime", text: value as string, ms };
        }
        if (type === "inet") {
          const inet = this.address(value, path, false);
          return inet ? { ...base, negate, op: "eqInet", texts: [value as string], inets: [inet] } : null;
        }
        const scalar = this.scalar(type, value, path);
        return scalar ? { ...base, negate, op: "eq", kind: scalar.kind, values: [scalar.value] } : null;
      }
      case "in":
      case "notIn": {
        const negate = op === "notIn";
        const list = this.list(value, path);
        if (!list) return null;
        if (type === "inet") {
          const inets = list.map((item, index) => this.address(item, `${path}[${index}]`, false));
          return inets.every((inet): inet is Inet => inet !== null)
            ? { ...base, negate, op: "inInet", texts: list as string[], inets }
            : null;
        }
        const scalars = list.map((item, index) => this.scalar(type, item, `${path}[${index}]`));
        if (!scalars.every((s): s is { kind: ScalarKind; value: Scalar } => s !== null)) return null;
        const kinds = new Set(scalars.map((s) => s.kind));
        if (kinds.size > 1) {
          this.problem(path, "must hold values of one type (all strings, all numbers or all booleans)");
          return null;
        }
        return { ...base, negate, op: "in", kind: scalars[0].kind, values: scalars.map((s) => s.value) };
      }
      case "contains":
      case "startsWith":
      case "endsWith":
      case "matches": {
        const text = this.string(value, path);
        return text === null ? null : { ...base, negate: false, op, folded: asciiLower(text) };
      }
      case "gt":
      case "gte":
      case "lt":
      case "lte": {
        if (type === "timestamp") {
          const ms = this.timestamp(value, path);
          return ms === null ? null : { ...base, negate: false, op: `${op}Time`, text: value as string, ms };
        }
        const n = this.number(value, path);
        return n === null ? null : { ...base, negate: false, op, value: n };
      }
      case "inCidr":
      case "notInCidr": {
        const list = this.list(value, path);
        if (!list) return null;
        const inets = list.map((item, index) => this.address(item, `${path}[${index}]`, true));
        return inets.every((inet): inet is Inet => inet !== null)
          ? { ...base, negate: op === "notInCidr", op: "inCidr", texts: list as string[], inets }
          : null;
      }
      case "inWatchlist":
      case "notInWatchlist": {
        if (typeof value !== "string" || !WATCHLIST_ALIAS_PATTERN.test(value)) {
          this.problem(path, `must be a watchlist alias (got ${describe(value)})`);
          return null;
        }
        return { ...base, negate: op === "notInWatchlist", op: "inWatchlist", alias: value.toLowerCase() };
      }
    }
  }
}

function parse(filter: unknown): { node: Node | null; problems: FilterProblem[] } {
  const validator = new Validator();
  let node: Node | null = null;
  try {
    node = validator.node(filter, "$", 1);
  } catch (error) {
    validator.problem("$", `cannot be read: ${error instanceof Error ? error.message : String(error)}`);
    node = null;
  }
  return { node: validator.problems.length === 0 ? node : null, problems: validator.problems };
}

/**
 * Every problem of a filter (paths like `$.all[1].any[0].op`), in document order; empty when it is valid.
 * Never throws.
 */
export function validateFilter(filter: unknown): FilterProblem[] {
  return parse(filter).problems;
}

function parseOrThrow(filter: unknown): Node {
  const { node, problems } = parse(filter);
  if (!node) throw new FilterError(problems);
  return node;
}

// ---------------------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------------------

const INT4_MIN = -2147483648;
const INT4_MAX = 2147483647;

class Params {
  readonly values: unknown[] = [];
  constructor(private readonly first: number) {}

  /** `$n::type` for a new parameter. */
  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.first + this.values.length - 1}::${type}`;
  }
}

/** `'{"a","b"}'`: segments are [A-Za-z0-9_-]+ (validated), quoted so that `null` stays a key. */
function sqlPath(path: readonly string[]): string {
  return `'{${path.map((segment) => `"${segment}"`).join(",")}}'`;
}

function numericType(values: readonly number[]): string {
  return values.every((v) => Number.isInteger(v) && v >= INT4_MIN && v <= INT4_MAX) ? "int" : "numeric";
}

const COMPARE = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

function timeOp(op: "gtTime" | "gteTime" | "ltTime" | "lteTime"): "gt" | "gte" | "lt" | "lte" {
  return op.slice(0, -4) as "gt" | "gte" | "lt" | "lte";
}

function likePattern(leaf: {
  op: "contains" | "startsWith" | "endsWith" | "matches";
  folded: string;
}): string {
  switch (leaf.op) {
    case "contains":
      return `%${likeLiteral(leaf.folded)}%`;
    case "startsWith":
      return `${likeLiteral(leaf.folded)}%`;
    case "endsWith":
      return `%${likeLiteral(leaf.folded)}`;
    case "matches":
      return leaf.folded.split("*").map(likeLiteral).join("%");
  }
}

/** `value IN (the search keys of the tenant's watchlist with this alias)`; `value` is already folded. */
function watchlistSql(value: string, alias: string, params: Params): string {
  return (
    `${value} IN (SELECT wi.key_folded FROM watchlists w JOIN watchlist_items wi ON wi.tenant_id = w.tenant_id AND wi.watchlist_id = w.id ` +
    `WHERE w.tenant_id = e.tenant_id AND w.alias_key = ${params.add(alias, "text")})`
  );
}

/** The positive form of a leaf over a column: two-valued (`col IS NOT NULL AND …`). */
function columnSql(leaf: Leaf, column: string, type: ColumnType, params: Params): string {
  const guarded = (condition: string) => `(${column} IS NOT NULL AND ${condition})`;
  const folded = `lower(${column} COLLATE "C")`;
  switch (leaf.op) {
    case "inWatchlist": {
      const value = type === "inet" ? `host(${column})` : type === "integer" ? `${column}::text` : folded;
      return guarded(watchlistSql(value, leaf.alias, params));
    }
    case "exists":
      return `(${column} IS NOT NULL)`;
    case "eq":
    case "in": {
      const any = leaf.op === "in";
      if (type === "text") {
        const values = leaf.values.map((v) => asciiLower(v as string));
        return guarded(
          any
            ? `${folded} = ANY(${params.add(values, "text[]")})`
            : `${folded} = ${params.add(values[0], "text")}`,
        );
      }
      const numbers = leaf.values as number[];
      const numeric = numericType(numbers);
      return guarded(
        any
          ? `${column} = ANY(${params.add(numbers, `${numeric}[]`)})`
          : `${column} = ${params.add(numbers[0], numeric)}`,
      );
    }
    case "eqInet":
      return guarded(`${column} = ${params.add(leaf.texts[0], "inet")}`);
    case "inInet":
      return guarded(`${column} = ANY(${params.add(leaf.texts, "inet[]")})`);
    case "inCidr":
      return guarded(`${column} <<= ANY(${params.add(leaf.texts, "inet[]")})`);
    case "eqTime":
      return guarded(`${column} = ${params.add(leaf.text, "timestamptz")}`);
    case "gtTime":
    case "gteTime":
    case "ltTime":
    case "lteTime":
      return guarded(`${column} ${COMPARE[timeOp(leaf.op)]} ${params.add(leaf.text, "timestamptz")}`);
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return guarded(`${column} ${COMPARE[leaf.op]} ${params.add(leaf.value, numericType([leaf.value]))}`);
    case "contains":
    case "startsWith":
    case "endsWith":
    case "matches":
      return guarded(`${folded} LIKE ${params.add(likePattern(leaf), "text")}`);
  }
}

/** The positive form of a leaf over an attribute: two-valued (`CASE WHEN <type guard> THEN … ELSE false END`). */
function attributeSql(leaf: Leaf, path: readonly string[], params: Params): string {
  const json = `(e.attributes #> ${sqlPath(path)})`;
  const text = `(e.attributes #>> ${sqlPath(path)})`;
  const folded = `lower(${text} COLLATE "C")`;
  const when = (jsonType: string, condition: string) =>
    `(CASE WHEN jsonb_typeof(${json}) = '${jsonType}' THEN ${condition} ELSE false END)`;
  switch (leaf.op) {
    case "exists":
      return `COALESCE(jsonb_typeof(${json}) <> 'null', false)`;
    case "eq":
    case "in": {
      const any = leaf.op === "in";
      if (leaf.kind === "string") {
        const values = leaf.values.map((v) => asciiLower(v as string));
        return when(
          "string",
          any
            ? `${folded} = ANY(${params.add(values, "text[]")})`
            : `${folded} = ${params.add(values[0], "text")}`,
        );
      }
      // jsonb equality: numbers compare by value (1 = 1.0), booleans by value, never across types.
      const values = leaf.values.map((v) => JSON.stringify(v));
      return any
        ? `COALESCE(${json} = ANY(${params.add(values, "jsonb[]")}), false)`
        : `COALESCE(${json} = ${params.add(values[0], "jsonb")}, false)`;
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return when("number", `${json}::numeric ${COMPARE[leaf.op]} ${params.add(leaf.value, "numeric")}`);
    case "contains":
    case "startsWith":
    case "endsWith":
    case "matches":
      return when("string", `${folded} LIKE ${params.add(likePattern(leaf), "text")}`);
    case "inWatchlist":
      return when("string", watchlistSql(folded, leaf.alias, params));
    case "inCidr":
      // The cast only runs on strings the address grammar accepts, so a malformed value is false, not an error.
      return (
        `(CASE WHEN jsonb_typeof(${json}) = 'string' AND ${text} ~ '${IP_ADDRESS_PATTERN}' ` +
        `THEN ${text}::inet <<= ANY(${params.add(leaf.texts, "inet[]")}) ELSE false END)`
      );
    case "eqInet":
    case "inInet":
    case "eqTime":
    case "gtTime":
    case "gteTime":
    case "ltTime":
    case "lteTime":
      throw new Error(`internal: ${leaf.op} on attributes`);
  }
}

function nodeSql(node: Node, params: Params): string {
  switch (node.type) {
    case "all":
      return `(${node.children.map((child) => nodeSql(child, params)).join(" AND ")})`;
    case "any":
      return `(${node.children.map((child) => nodeSql(child, params)).join(" OR ")})`;
    case "not":
      return `(NOT ${nodeSql(node.child, params)})`;
    case "leaf": {
      const positive =
        node.field.kind === "column"
          ? columnSql(node, `e.${node.field.name}`, node.field.type, params)
          : attributeSql(node, node.field.path, params);
      return node.negate ? `(NOT ${positive})` : positive;
    }
  }
}

/**
 * Compiles a filter to a two-valued SQL boolean expression over the events table aliased `e`, using only
 * positional parameters `$firstParam`, `$firstParam + 1`, … (each cast to its type); values are never put in the
 * SQL text. Throws FilterError for an invalid filter.
 */
export function compileFilterToSql(filter: unknown, firstParam: number): { sql: string; params: unknown[] } {
  if (!Number.isSafeInteger(firstParam) || firstParam < 1) {
    throw new RangeError(`firstParam must be a positive integer (got ${firstParam})`);
  }
  const node = parseOrThrow(filter);
  const params = new Params(firstParam);
  const sql = nodeSql(node, params);
  return { sql, params: params.values };
}

// ---------------------------------------------------------------------------------------------------------
// JS predicate
// ---------------------------------------------------------------------------------------------------------

type Test = (event: EventLike, watchlists?: WatchlistLookup) => boolean;

/** The column value as its SQL type would hold it, or null (absent, or not of that type). */
function columnReader(name: EventColumn, type: ColumnType): (event: EventLike) => unknown {
  switch (type) {
    case "integer":
      return (event) => {
        const value = event[name];
        return typeof value === "number" && Number.isFinite(value) ? value : null;
      };
    case "text":
      return (event) => {
        const value = event[name];
        return typeof value === "string" ? value : null;
      };
    case "inet":
      return (event) => {
        const value = event[name];
        return typeof value === "string" ? parseInet(value) : null;
      };
    case "timestamp":
      return (event) => {
        const value = event[name];
        const ms =
          value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : NaN;
        return Number.isFinite(ms) ? ms : null;
      };
  }
}

function compare(op: "gt" | "gte" | "lt" | "lte", a: number, b: number): boolean {
  switch (op) {
    case "gt":
      return a > b;
    case "gte":
      return a >= b;
    case "lt":
      return a < b;
    case "lte":
      return a <= b;
  }
}

function stringTest(leaf: { op: "contains" | "startsWith" | "endsWith" | "matches"; folded: string }) {
  const needle = leaf.folded;
  switch (leaf.op) {
    case "contains":
      return (folded: string) => folded.includes(needle);
    case "startsWith":
      return (folded: string) => folded.startsWith(needle);
    case "endsWith":
      return (folded: string) => folded.endsWith(needle);
    case "matches":
      return (folded: string) => globMatch(folded, needle);
  }
}

/** A value as `inWatchlist` compares it (see the module comment), or null when it can match no key. */
function watchlistKey(field: Field, value: unknown): string | null {
  if (field.kind === "attribute") return typeof value === "string" ? asciiLower(value) : null;
  switch (field.type) {
    case "inet":
      return normalizeIp(value);
    case "integer":
      return typeof value === "number" && Number.isInteger(value) ? String(value) : null;
    case "text":
      return typeof value === "string" ? asciiLower(value) : null;
    default:
      return null;
  }
}

/** The positive test of a leaf on a value read from the event (absent values never satisfy it). */
function leafTest(leaf: Leaf): (value: unknown, watchlists?: WatchlistLookup) => boolean {
  const isAttribute = leaf.field.kind === "attribute";
  switch (leaf.op) {
    case "inWatchlist": {
      const { field, alias } = leaf;
      return (value, watchlists) => {
        const key = watchlistKey(field, value);
        return key !== null && watchlists?.(alias)?.has(key) === true;
      };
    }
    case "exists":
      return (value) => value !== undefined && value !== null;
    case "eq":
    case "in": {
      if (leaf.kind === "string") {
        const wanted = new Set(leaf.values.map((v) => asciiLower(v as string)));
        return (value) => typeof value === "string" && wanted.has(asciiLower(value));
      }
      const wanted = leaf.values;
      return (value) => typeof value === leaf.kind && wanted.some((v) => v === value);
    }
    case "eqInet":
    case "inInet": {
      const wanted = leaf.inets;
      return (value) => value !== null && wanted.some((inet) => inetEquals(value as Inet, inet));
    }
    case "inCidr": {
      const blocks = leaf.inets;
      if (isAttribute) {
        return (value) => {
          const address = typeof value === "string" ? parseIpAddress(value) : null;
          return address !== null && blocks.some((block) => inetWithin(address, block));
        };
      }
      return (value) => value !== null && blocks.some((block) => inetWithin(value as Inet, block));
    }
    case "eqTime":
      return (value) => value === leaf.ms;
    case "gtTime":
    case "gteTime":
    case "ltTime":
    case "lteTime": {
      const op = timeOp(leaf.op);
      return (value) => typeof value === "number" && compare(op, value, leaf.ms);
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      const op = leaf.op;
      return (value) => typeof value === "number" && Number.isFinite(value) && compare(op, value, leaf.value);
    }
    case "contains":
    case "startsWith":
    case "endsWith":
    case "matches": {
      const test = stringTest(leaf);
      return (value) => typeof value === "string" && test(asciiLower(value));
    }
  }
}

function nodeTest(node: Node): Test {
  switch (node.type) {
    case "all": {
      const children = node.children.map(nodeTest);
      return (event, watchlists) => children.every((child) => child(event, watchlists));
    }
    case "any": {
      const children = node.children.map(nodeTest);
      return (event, watchlists) => children.some((child) => child(event, watchlists));
    }
    case "not": {
      const child = nodeTest(node.child);
      return (event, watchlists) => !child(event, watchlists);
    }
    case "leaf": {
      const field = node.field;
      // Watchlists compare the value as stored (an address as text), the other operators as the column's type.
      const read =
        field.kind === "attribute"
          ? (event: EventLike) => jsonPath(event.attributes, field.path)
          : node.op === "inWatchlist"
            ? (event: EventLike) => event[field.name]
            : columnReader(field.name, field.type);
      const test = leafTest(node);
      return node.negate
        ? (event, watchlists) => !test(read(event), watchlists)
        : (event, watchlists) => test(read(event), watchlists);
    }
  }
}

/**
 * Compiles a filter to a predicate over an in-memory event with the same semantics as compileFilterToSql; a
 * filter with watchlist conditions asks `options.watchlists` for the search keys each time it runs (none given:
 * every watchlist is empty). The predicate never throws (an event that cannot be read does not match). Throws FilterError for an
 * invalid filter.
 */
export function compileFilterToPredicate(
  filter: unknown,
  options: { watchlists?: WatchlistLookup } = {},
): (event: EventLike) => boolean {
  const test = nodeTest(parseOrThrow(filter));
  const watchlists = options.watchlists;
  return (event) => {
    try {
      return test(event ?? {}, watchlists);
    } catch {
      return false;
    }
  };
}

/**
 * The watchlist aliases (lower case, once each) a filter's `inWatchlist`/`notInWatchlist` conditions name, read
 * from any JSON (an invalid filter names what it names); never throws.
 */
export function watchlistAliasesOfFilter(filter: unknown): string[] {
  const found = new Set<string>();
  const visit = (node: unknown, depth: number): void => {
    if (depth > FILTER_LIMITS.maxDepth || node === null || typeof node !== "object") return;
    if (Array.isArray(node)) return node.forEach((child) => visit(child, depth + 1));
    const record = node as Record<string, unknown>;
    if ((record.op === "inWatchlist" || record.op === "notInWatchlist") && typeof record.value === "string")
      found.add(record.value.toLowerCase());
    for (const key of ["all", "any", "not"]) if (key in record) visit(record[key], depth + 1);
  };
  visit(filter, 1);
  return [...found];
}
