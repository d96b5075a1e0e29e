/**
 * Compiles a parsed hunting query (kql-parser.ts) to one parameterised, read-only SQL statement over the event
 * store, type-checking it on the way.
 *
 * Safety, by construction:
 * - No text from the query ever reaches the SQL: every literal (strings, numbers, times, attribute paths,
 *   watchlist ids, regular expressions, row counts) is a positional parameter with an explicit cast, and every
 *   identifier is ours — table and column names come from the whitelist below, and the query's own column names
 *   (`extend risk = …`) only name generated aliases (`c7`), never SQL identifiers.
 * - Every table read — the query's, a `let`'s, either side of a `join`, each table of a `union` — is
 *   `events e WHERE e.tenant_id = $1 AND e.time >= $from AND e.time < $to` (or a watchlist's items
 *   `WHERE wi.tenant_id = $1`), and every watchlist subquery or join also filters on `$1`, so the tenant is in the
 *   SQL itself (row-level security is the second lock) and the time range lets Postgres prune the day partitions.
 *   Tabular `let`s are common table expressions of the one statement.
 * - The outermost statement has `LIMIT maxRows + 1`: the caller knows when a result was cut.
 *
 * Semantics follow Kusto where the subset overlaps: `==` is case-sensitive and `=~` is not; `has`, `contains`,
 * `startswith` and `endswith` ignore case unless written `_cs`; case folding is ASCII-only (`A`–`Z`), like the
 * analytics rules' filter, so results never depend on the database locale. The negative operators (`!=`, `!in`,
 * `!has`, `!between`, `not()`…) are the exact negation of the positive ones, so they hold on a missing value.
 * Each `|` stage becomes a subquery; Postgres flattens the simple ones, so filters written after an `extend`
 * still reach the events scan.
 */
import { EVENT_COLUMNS, OCSF_CLASS, type EventColumn } from "../events/event.model";
import {
  KQL_LIMITS,
  KqlError,
  type Expr,
  type FunctionParam,
  type JoinKind,
  type JsonValue,
  type LetStatement,
  type Name,
  type NamedExpr,
  type Operator,
  type ParsePart,
  type Pipeline,
  type Position,
  type Query,
  type SortKey,
  type Source,
  type UnionSpec,
  type WatchlistRef,
} from "./kql-parser";

/** The types of hunting values (Kusto's names). */
export const KQL_TYPES = ["string", "long", "real", "bool", "datetime", "timespan", "dynamic"] as const;
/** A hunting value's type. */
export type KqlType = (typeof KQL_TYPES)[number];

/** A result column: its name and type. */
export interface KqlColumn {
  name: string;
  type: KqlType;
}

/** What a hunt needs to know of a watchlist it names. */
export interface WatchlistSchema {
  id: string;
  alias: string;
  /** The CSV's columns, in order. */
  columns: string[];
  /** The column whose values are the items' search keys. */
  searchKey: string;
}

/** What a compile is bound to. */
export interface CompileOptions {
  tenantId: string;
  /** The hunt's time range [from, to): every event read lies in it. */
  from: Date;
  to: Date;
  /** `now()` and `ago()` of the query. */
  now: Date;
  /** Most rows returned; the statement asks for one more, to tell that the result was cut. */
  maxRows: number;
  /** The watchlists the query names, by lower-case alias. */
  watchlists: ReadonlyMap<string, WatchlistSchema>;
}

/** A regular expression of a query as Postgres receives it (`regexp_match(text, pattern, flags)`). */
export interface CompiledRegex {
  pattern: string;
  flags: string;
  /** Where the query writes it (Postgres reports a bad one without saying which). */
  position: Position;
}

/** A compiled hunt: the statement, its parameters, and the columns of each row (by alias, in order). */
export interface CompiledHunt {
  sql: string;
  params: unknown[];
  columns: Array<KqlColumn & { alias: string }>;
  /**
   * The query's regular expressions (`matches regex`, `parse kind=regex`): the runner has Postgres compile each
   * before the hunt, so a bad one is refused even when no row would reach it.
   */
  regexes: CompiledRegex[];
  /** What the hunt left out and why, as Kusto's query status warns: the tables a `union isfuzzy=true` skipped. */
  warnings: string[];
}

/** Limits the compiler enforces on what a query asks for. */
export const COMPILE_LIMITS = {
  /** Characters of a `matches regex` pattern. */
  maxRegexLength: 512,
  /** Default and largest size of a `make_set` / `make_list`. */
  defaultSetSize: 100,
  maxSetSize: 1000,
  /** Tables and watchlists a query reads (each `union` table, each side of a `join`, each `let` read once). */
  maxTableReads: 16,
  /** Uses of scalar `let`s, counting those inside other `let`s each time (stops `let b = a + a; let c = b + b…`). */
  maxLetExpansions: 1000,
  /** Bins of one `make-series` (each group gets an array of this many elements per aggregation). */
  maxSeriesBins: 10_000,
} as const;

/** Most values of one `in (…)`, a `dynamic([…])` array's included. */
const KQL_LIST_LIMIT = KQL_LIMITS.maxListLength;

/** The SQL type of each hunting type (what `union` casts its tables' columns to). */
const SQL_TYPES: Record<KqlType, string> = {
  string: "text",
  long: "bigint",
  real: "float8",
  bool: "boolean",
  datetime: "timestamptz",
  timespan: "interval",
  dynamic: "jsonb",
};

// ---------------------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------------------

/** The types of the events columns that rules filter on (the same vocabulary, rule-filter.ts). */
const EVENT_COLUMN_TYPES = {
  time: "datetime",
  class_uid: "long",
  activity_id: "long",
  severity_id: "long",
  status: "string",
  message: "string",
  actor_user: "string",
  src_ip: "string",
  src_port: "long",
  dst_ip: "string",
  dst_port: "long",
  device: "string",
  resource_id: "string",
  operation: "string",
  src_country: "string",
  connector: "string",
} as const satisfies Record<EventColumn, KqlType>;

/** SQL of a stored column as its hunting type (addresses as plain text, integers as bigint). */
function eventColumnSql(name: EventColumn): string {
  if (name === "src_ip" || name === "dst_ip") return `host(e.${name})`;
  if (EVENT_COLUMN_TYPES[name] === "long") return `e.${name}::bigint`;
  return `e.${name}`;
}

/** The columns of `Events`, in output order: the id, the rules' columns, the source id and the attributes. */
const EVENT_FIELDS: ReadonlyArray<{ name: string; type: KqlType; sql: string }> = [
  { name: "id", type: "string", sql: "e.id::text" },
  ...EVENT_COLUMNS.map((name) => ({ name, type: EVENT_COLUMN_TYPES[name], sql: eventColumnSql(name) })),
  { name: "source_event_id", type: "string", sql: "e.source_event_id" },
  { name: "attributes", type: "dynamic", sql: "e.attributes" },
];

/** OCSF class tables: `Authentication`, `NetworkActivity`, `ProcessActivity`… (Events of one class_uid). */
const CLASS_TABLES: ReadonlyMap<string, number> = new Map(
  Object.entries(OCSF_CLASS).map(([key, uid]) => [
    key
      .toLowerCase()
      .split("_")
      .map((word) => word[0].toUpperCase() + word.slice(1))
      .join(""),
    uid,
  ]),
);

/** The tables a query may start with. */
export const KQL_TABLES: readonly string[] = ["Events", ...CLASS_TABLES.keys()];

/** The columns of the `Events` table (also every class table). */
export const EVENT_TABLE_COLUMNS: readonly KqlColumn[] = EVENT_FIELDS.map(({ name, type }) => ({
  name,
  type,
}));

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

/** ISO 8601 with an offset, as `todatetime` accepts text (checked before the cast, so bad text is null). */
const ISO_TIMESTAMP_SQL = `'^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?)?(Z|[+-]\\d{2}:\\d{2})?$'`;

/** Lower-cases A–Z only, like Postgres `lower(x COLLATE "C")`. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** Escapes a literal for a Postgres regular expression (ARE). */
function regexLiteral(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, (c) => `\\${c}`);
}

/**
 * The index of the `]` that closes the bracket expression of a regular expression opening at `i`: a `]` first in
 * it (after a `^`) is a member, as are `[:alpha:]`, `[.x.]` and `[=x=]`, and a `\` escapes the next character.
 */
function bracketEnd(text: string, i: number, pos: Position): number {
  let j = i + 1;
  if (text[j] === "^") j++;
  if (text[j] === "]") j++;
  while (j < text.length && text[j] !== "]") {
    if (text[j] === "[" && [":", ".", "="].includes(text[j + 1])) {
      const close = text.indexOf(`${text[j + 1]}]`, j + 2);
      if (close < 0) break;
      j = close + 2;
    } else {
      j += text[j] === "\\" ? 2 : 1;
    }
  }
  if (j >= text.length) fail("a `[` of the regular expression is not closed", pos);
  return j;
}

/**
 * A regular expression of `parse kind=regex`, made a part of the operator's one pattern: its groups become
 * non-capturing (the pattern's columns are its only groups), and with `flags=U` every quantifier changes
 * greediness. Refuses what would break the whole (unbalanced parentheses or brackets, a trailing `\`), what
 * depends on group numbers (back references, which RE2 lacks too), and embedded options (`(?i)`: use `flags=`).
 * Anything else Postgres checks before the hunt runs.
 */
export function embeddedRegex(text: string, ungreedy: boolean, pos: Position): string {
  let out = "";
  let depth = 0;
  let i = 0;
  const quantifier = (end: number) => {
    let q = text.slice(i, end);
    let lazy = text[end] === "?";
    if (lazy) end++;
    if (ungreedy) lazy = !lazy;
    q += lazy ? "?" : "";
    out += q;
    i = end;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === "\\") {
      const next = text[i + 1];
      if (next === undefined) fail("a regular expression cannot end with `\\`", pos);
      if (/[1-9]/.test(next))
        fail(`back references (\`\\${next}\`) are not supported in \`parse kind=regex\``, pos);
      out += c + next;
      i += 2;
    } else if (c === "[") {
      const j = bracketEnd(text, i, pos);
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "(") {
      if (text[i + 1] === "?") {
        const form = /^\(\?(?::|=|!|<=|<!)/.exec(text.slice(i));
        if (!form)
          fail("embedded options such as `(?i)` are not supported in `parse kind=regex`: use flags=", pos);
        out += form![0];
        i += form![0].length;
      } else {
        out += "(?:";
        i++;
      }
      depth++;
    } else if (c === ")") {
      if (depth === 0) fail("the regular expression has a `)` without its `(`", pos);
      depth--;
      out += c;
      i++;
    } else if (c === "*" || c === "+" || c === "?") {
      quantifier(i + 1);
    } else if (c === "{" && /^\{[0-9]+(,[0-9]*)?\}/.test(text.slice(i))) {
      quantifier(text.indexOf("}", i) + 1);
    } else {
      out += c;
      i++;
    }
  }
  if (depth > 0) fail("a `(` of the regular expression is not closed", pos);
  return out;
}

/**
 * Postgres's flags for Kusto's (RE2's) `i`, `m` and `s`: by default `.` matches no line break and `^`/`$` only
 * the text's ends (Postgres's `p`); `s` lets `.` match one, `m` makes `^`/`$` match at line breaks (`n`, or `w`
 * with both). `U` is applied to the pattern itself.
 */
function postgresFlags(flags: string): string {
  const lines = flags.includes("m");
  const dotAll = flags.includes("s");
  const newline = lines ? (dotAll ? "w" : "n") : dotAll ? "s" : "p";
  return `${flags.includes("i") ? "i" : ""}${newline}`;
}

/** A regular expression of a function's argument, as Postgres receives it, and its capturing groups. */
interface FunctionRegex {
  pattern: string;
  flags: string;
  groups: number;
}

/** A function's regular expression and where the query writes it. */
type ArgumentRegex = FunctionRegex & { pos: Position };

/**
 * The regular expression of `extract`, `replace_regex`, `trim…` and `countof(…, "regex")`, RE2's syntax made
 * Postgres's where they differ in common patterns: the word boundaries `\b` and `\B` become `\y` and `\Y` (`\b` is a
 * backspace in Postgres), `\z` becomes `\Z`, and leading options (`(?i)`, `(?s)`, `(?m)`) become flags, since the
 * functions wrap the pattern in a group and Postgres takes embedded options only at its very start. Refuses what
 * would break the wrapped whole (unbalanced parentheses or brackets, a trailing `\`), back references (which RE2
 * lacks too) and options elsewhere; anything else Postgres checks before the hunt runs.
 */
export function functionRegex(text: string, pos: Position): FunctionRegex {
  let options = "";
  const leading = /^\(\?([a-zA-Z]+)\)/.exec(text);
  if (leading) {
    if (/[^ims]/.test(leading[1]))
      fail(`a regular expression's options are i, m and s, not \`(?${leading[1]})\``, pos);
    options = leading[1];
  }
  let out = "";
  let depth = 0;
  let groups = 0;
  let i = leading ? leading[0].length : 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\") {
      const next = text[i + 1];
      if (next === undefined) fail("a regular expression cannot end with `\\`", pos);
      if (/[1-9]/.test(next)) fail(`back references (\`\\${next}\`) are not supported`, pos);
      out += next === "b" ? "\\y" : next === "B" ? "\\Y" : next === "z" ? "\\Z" : c + next;
      i += 2;
    } else if (c === "[") {
      const j = bracketEnd(text, i, pos);
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "(") {
      if (text[i + 1] === "?") {
        const form = /^\(\?(?::|=|!|<=|<!)/.exec(text.slice(i));
        if (!form)
          fail(
            "a regular expression takes options such as `(?i)` at its start only, and no named groups (use a numbered group)",
            pos,
          );
        out += form![0];
        i += form![0].length;
      } else {
        groups++;
        out += c;
        i++;
      }
      depth++;
    } else if (c === ")") {
      if (depth === 0) fail("the regular expression has a `)` without its `(`", pos);
      depth--;
      out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  if (depth > 0) fail("a `(` of the regular expression is not closed", pos);
  return { pattern: out, flags: postgresFlags(options), groups };
}

/** Microseconds since the epoch of 0001-01-01 and 10000-01-01, Kusto's datetime range (beyond it, null). */
const KUSTO_MIN_US = -62_135_596_800_000_000;
const KUSTO_END_US = 253_402_300_800_000_000;
/** The same as SQL numeric literals (exact: the numbers above are past 2^53, so not written from them). */
const KUSTO_MIN_MICROS = "-62135596800000000";
const KUSTO_END_MICROS = "253402300800000000";

/** The periods of `datetime_add` and `datetime_diff`: months for the calendar ones, else microseconds. */
const DATETIME_PARTS: Record<string, { months: number } | { micros: number }> = {
  year: { months: 12 },
  quarter: { months: 3 },
  month: { months: 1 },
  week: { micros: 604_800_000_000 },
  day: { micros: 86_400_000_000 },
  hour: { micros: 3_600_000_000 },
  minute: { micros: 60_000_000 },
  second: { micros: 1_000_000 },
  millisecond: { micros: 1000 },
  microsecond: { micros: 1 },
  nanosecond: { micros: 0.001 },
};

/**
 * Kusto's format_datetime specifiers as Postgres's to_char patterns (`FM` drops the leading zero). `F…` (a
 * fraction shown only when not zero) has no to_char pattern; the seventh fractional digit is always 0 (Postgres
 * keeps microseconds).
 */
const DATETIME_FORMATS: Record<string, string> = {
  d: "FMDD",
  dd: "DD",
  f: "FF1",
  ff: "FF2",
  fff: "FF3",
  ffff: "FF4",
  fffff: "FF5",
  ffffff: "FF6",
  fffffff: 'FF6"0"',
  h: "FMHH12",
  hh: "HH12",
  H: "FMHH24",
  HH: "HH24",
  m: "FMMI",
  mm: "MI",
  M: "FMMM",
  MM: "MM",
  s: "FMSS",
  ss: "SS",
  y: "FMYY",
  yy: "YY",
  yyyy: "YYYY",
  tt: "AM",
};

/** The separators Kusto's format_datetime takes between specifiers. */
const DATETIME_SEPARATORS = " /-:,._[]";

/** A Kusto format_datetime format as a to_char pattern, or a compile error naming what is not supported. */
export function datetimeFormat(format: string, pos: Position): string {
  let out = "";
  for (let i = 0; i < format.length;) {
    const c = format[i];
    let j = i;
    while (format[j] === c) j++;
    const run = format.slice(i, j);
    if (DATETIME_SEPARATORS.includes(c)) {
      out += `"${run}"`;
    } else if (DATETIME_FORMATS[run]) {
      out += DATETIME_FORMATS[run];
    } else {
      fail(
        c === "F"
          ? "`F…` (a fraction shown when not zero) is not supported in `format_datetime`: use `f…`"
          : `\`format_datetime\` takes the specifiers ${Object.keys(DATETIME_FORMATS).join(", ")} and the separators \`${DATETIME_SEPARATORS}\`, not \`${run}\``,
        pos,
      );
    }
    i = j;
  }
  return out;
}

/**
 * Drops the parameters the statement does not use and numbers the others in order. A function's argument is
 * compiled where it is called, and its SQL is left out when the body never names the parameter; Postgres refuses
 * a statement with a parameter it cannot type. No text of the query is in the SQL, so `$n` is always ours.
 */
function compactParams(sql: string, params: unknown[]): { sql: string; params: unknown[] } {
  const used = new Set([...sql.matchAll(/\$([0-9]+)\b/g)].map((m) => Number(m[1])));
  if (used.size === params.length) return { sql, params };
  const renumbered = new Map<number, number>();
  const kept: unknown[] = [];
  params.forEach((value, i) => {
    if (!used.has(i + 1)) return;
    kept.push(value);
    renumbered.set(i + 1, kept.length);
  });
  return {
    sql: sql.replace(/\$([0-9]+)\b/g, (_, n: string) => `$${renumbered.get(Number(n))}`),
    params: kept,
  };
}

const AGGREGATIONS = new Set([
  "arg_max",
  "arg_min",
  "count",
  "countif",
  "dcount",
  "min",
  "max",
  "sum",
  "avg",
  "make_set",
  "make_list",
  "dcountif",
  "sumif",
  "avgif",
  "minif",
  "maxif",
  "take_any",
  "any",
  "stdev",
  "stdevp",
  "variance",
  "variancep",
  "percentile",
  "percentiles",
  "make_bag",
]);

/** The aggregations of `make-series`: those of `summarize` that give one value per bin (Kusto's list). */
const SERIES_AGGREGATIONS = new Set([
  "count",
  "countif",
  "dcount",
  "dcountif",
  "sum",
  "sumif",
  "avg",
  "avgif",
  "min",
  "minif",
  "max",
  "maxif",
  "take_any",
  "stdev",
  "variance",
  "percentile",
]);

/** Most percentiles of one `percentiles(x, p1, p2, …)`. */
const MAX_PERCENTILES = 16;

/** The functions of strings, datetimes, dynamic values, numbers and IPv4 addresses (Compiler.scalarFunction). */
const SCALAR_FUNCTIONS = new Set([
  "extract",
  "split",
  "replace_string",
  "replace_regex",
  "trim",
  "trim_start",
  "trim_end",
  "indexof",
  "countof",
  "strcat_array",
  "case",
  "datetime_diff",
  "datetime_add",
  "format_datetime",
  "hourofday",
  "dayofweek",
  "dayofmonth",
  "getmonth",
  "getyear",
  "startofweek",
  "startofmonth",
  "startofyear",
  "endofday",
  "endofweek",
  "endofmonth",
  "endofyear",
  "dayofyear",
  "monthofyear",
  "weekofyear",
  "week_of_year",
  "parse_json",
  "todynamic",
  "bag_keys",
  "array_index_of",
  "pack_array",
  "bag_pack",
  "pack",
  "abs",
  "sqrt",
  "log",
  "log10",
  "log2",
  "exp",
  "pow",
  "ipv4_is_private",
  "ipv4_is_in_range",
  "ipv4_is_match",
]);

/** A value known before the hunt runs (a bound or step of `make-series`): times and timespans in microseconds. */
interface Constant {
  type: "datetime" | "timespan" | "long" | "real";
  value: number;
}

/** Where bin() of a datetime starts counting (`date_bin`'s origin): 2000-01-01T00:00:00Z, in microseconds. */
const BIN_ORIGIN_MICROS = Date.UTC(2000, 0, 1) * 1000;

/** Microseconds since the epoch of a datetime literal's ISO text (JavaScript dates keep milliseconds). */
function microsOf(iso: string): number {
  const fraction = /\.(\d{1,6})/.exec(iso)?.[1] ?? "";
  return Date.parse(iso) * 1000 + Number(fraction.padEnd(6, "0").slice(3));
}

/** ISO 8601 text of microseconds since the epoch. */
function isoOfMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  return new Date(ms).toISOString().replace("Z", `${String(us - ms * 1000).padStart(3, "0")}Z`);
}

/** The scope of `make-series`'s bounds and step. */
const SERIES_SCOPE: Scope = {
  sub: "",
  cols: [],
  noRow: "the bounds and step of `make-series` are constants and `let`s, not columns",
};

/** A compiled scalar: SQL and type. */
interface Typed {
  sql: string;
  type: KqlType;
}

/** A column of a stage's relation: its name in the query, type and SQL alias. */
interface Col {
  name: string;
  type: KqlType;
  alias: string;
  /** Kept only because the pending order sorts by it (projected away, or an expression `order by` added). */
  hidden?: boolean;
}

/** A pending sort: applied by the next `take` and by the final statement, carried through order-keeping stages. */
interface Sort {
  alias: string;
  type: KqlType;
  desc: boolean;
  nullsFirst: boolean;
}

/** A stage: a SELECT statement and its columns. */
interface Relation {
  sql: string;
  cols: Col[];
  order: Sort[] | null;
  /** The table (or `let`) the rows come from, for `union withsource=`. */
  label?: string;
}

/** The columns an expression can name: the visible ones of the relation, under its subquery alias. */
interface Scope {
  sub: string;
  cols: Col[];
  /** No row: why an unknown name cannot be a column here (a scalar `let`'s value, a function's body…). */
  noRow?: string;
  /**
   * An expression over aggregations in `summarize`: each aggregation call is a column its first stage computed
   * (this gives it), and `rows` are the columns only an aggregation may read.
   */
  aggregated?: { of: (call: Extract<Expr, { kind: "call" }>) => Typed; rows: Col[] };
}

/** A tabular `let` (or a tabular parameter's argument): the common table expression that holds it and its columns. */
interface LetTable {
  cte: string;
  cols: Col[];
  order: Sort[] | null;
  /** Bound by a function's call (a tabular parameter, a `let` of its body): another call reads another table. */
  perCall?: boolean;
}

/**
 * A `let` function: its parameters, its body and the body's own `let`s, and the `let`s it was defined after (all
 * its body may name besides).
 */
interface LetFunction {
  name: string;
  params: FunctionParam[];
  bodyLets: LetStatement[];
  body: Extract<LetStatement["value"], { kind: "function" }>["body"];
  lets: Lets;
}

/** A call's arguments: the values of its scalar parameters and the tables of its tabular ones. */
interface Bound {
  values: Map<string, Binding>;
  tables: Map<string, LetTable>;
}

/**
 * A parameter of a function being inlined, bound to its argument: compiled once where the call is, used as that
 * SQL wherever the body names it.
 */
interface Binding {
  type: KqlType;
  sql: string;
  /** The argument as a literal (or `dynamic`), for the places that need one (`take n`, `has term`). */
  literal: Expr | null;
  /** Scalar `let` and function uses the argument itself cost: each use of the parameter costs them again. */
  cost: number;
  /** The argument names no column of the caller's row. */
  rowFree: boolean;
  /** How many `toscalar` queries deep the call is: a row's value means nothing inside a deeper one. */
  depth: number;
}

/** The `let`s of a query so far, shared by the compiler that checks a scalar one. */
interface Lets {
  scalars: Map<string, Expr>;
  tables: Map<string, LetTable>;
  functions: Map<string, LetFunction>;
  /** The parameters of the function whose body is being compiled. */
  params: Map<string, Binding>;
}

/** An empty set of `let`s. */
const noLets = (): Lets => ({
  scalars: new Map(),
  tables: new Map(),
  functions: new Map(),
  params: new Map(),
});

/** A parameter as the function's signature shows it: `ip: string`, `n: long = 10`, `T: (*)`, `T: (ip: string)`. */
function signature(param: FunctionParam): string {
  if (param.kind === "scalar")
    return `${param.name}: ${param.type}${param.default ? ` = ${param.default.text}` : ""}`;
  const columns = param.columns
    ? [...param.columns.map((c) => `${c.name}: ${c.type}`), ...(param.star ? ["*"] : [])].join(", ")
    : "*";
  return `${param.name}: (${columns})`;
}

/** Kusto's parameter type names as the compiler's types. */
const PARAMETER_TYPE: Record<string, KqlType> = {
  string: "string",
  long: "long",
  int: "long",
  real: "real",
  double: "real",
  bool: "bool",
  boolean: "bool",
  datetime: "datetime",
  date: "datetime",
  timespan: "timespan",
  time: "timespan",
  dynamic: "dynamic",
};

/** The element-wise series functions and their operator (a fixed string of this file, never the query's). */
const SERIES_ARITHMETIC: Record<string, string> = {
  series_add: "+",
  series_subtract: "-",
  series_multiply: "*",
  series_divide: "/",
};

/**
 * ` OFFSET 0` after a select that computes a series function, else nothing. Postgres otherwise pulls such a select
 * up into the query reading it and computes the call again wherever its column is read: `mv-expand` reads a column
 * several times per element, so a `series_decompose_anomalies` (a period search) ran hundreds of times per series.
 * OFFSET 0 keeps the select as it is, so each call runs once per row.
 */
function seriesFence(sql: string): string {
  return /\bkql_series_/.test(sql) ? " OFFSET 0" : "";
}

/** At most this many periods from `series_periods_detect` (Kusto sets no bound; the arrays are this long). */
const MAX_PERIODS = 100;

/** `series_periods_validate` takes at most this many periods, as Kusto does. */
const MAX_VALIDATED_PERIODS = 16;

/** The series functions, over the arrays `make-series` makes (SQL functions of the siem schema). */
const SERIES_FUNCTIONS = new Set([
  "series_fill_const",
  "series_fill_forward",
  "series_fill_backward",
  "series_fill_linear",
  "series_stats_dynamic",
  "series_outliers",
  "series_decompose_anomalies",
  "series_decompose_forecast",
  "series_fit_line_dynamic",
  ...Object.keys(SERIES_ARITHMETIC),
]);

/**
 * The series functions that return several columns, each a key of the bag their SQL function returns, in Kusto's
 * order: `extend (a, b, …) = series_fit_line(x)` names the first ones.
 */
const SERIES_COLUMNS: Record<string, ReadonlyArray<readonly [string, KqlType]>> = {
  series_fit_line: [
    ["rsquare", "real"],
    ["slope", "real"],
    ["variance", "real"],
    ["rvariance", "real"],
    ["interception", "real"],
    ["line_fit", "dynamic"],
  ],
  series_decompose: [
    ["baseline", "dynamic"],
    ["seasonal", "dynamic"],
    ["trend", "dynamic"],
    ["residual", "dynamic"],
  ],
  series_stats: [
    ["min", "real"],
    ["min_idx", "long"],
    ["max", "real"],
    ["max_idx", "long"],
    ["avg", "real"],
    ["stdev", "real"],
    ["variance", "real"],
  ],
  series_periods_detect: [
    ["periods", "dynamic"],
    ["scores", "dynamic"],
  ],
  series_periods_validate: [
    ["periods", "dynamic"],
    ["scores", "dynamic"],
  ],
};
for (const name of Object.keys(SERIES_COLUMNS)) SERIES_FUNCTIONS.add(name);

/** The built-in functions and aggregations: a `let` function may not take one's name. */
const BUILT_INS = new Set([
  "now",
  "ago",
  "bin",
  "floor",
  "round",
  "startofday",
  "tostring",
  "tolower",
  "toupper",
  "strcat",
  "strlen",
  "substring",
  "array_length",
  "toint",
  "tolong",
  "todouble",
  "toreal",
  "todatetime",
  "iff",
  "iif",
  "coalesce",
  "isnull",
  "isnotnull",
  "isempty",
  "isnotempty",
  "not",
  "dynamic",
  "toscalar",
  "materialize",
  "_GetWatchlist",
  ...SERIES_FUNCTIONS,
  ...SCALAR_FUNCTIONS,
]);

/** The text of a typed `parse` column (a regular expression of this file, never the query's). */
const TYPED_TEXT: Record<string, string> = {
  long: "[+-]?[0-9]+",
  int: "[+-]?[0-9]+",
  real: "[+-]?(?:[0-9]+(?:[.][0-9]*)?|[.][0-9]+)(?:[eE][+-]?[0-9]+)?",
  double: "[+-]?(?:[0-9]+(?:[.][0-9]*)?|[.][0-9]+)(?:[eE][+-]?[0-9]+)?",
  bool: "true|false|True|False|TRUE|FALSE",
  boolean: "true|false|True|False|TRUE|FALSE",
};

/** The operators of `mv-apply`'s subquery: those of one row's sub-table, reading no table. */
const MV_APPLY_OPERATORS: ReadonlySet<Operator["kind"]> = new Set<Operator["kind"]>([
  "where",
  "project",
  "project-away",
  "project-rename",
  "extend",
  "summarize",
  "order",
  "take",
  "top",
  "count",
  "distinct",
  "parse",
  "mv-expand",
]);

/** The SQL of Kusto's outer joins (the others are inner joins or EXISTS). */
const OUTER_JOINS: Partial<Record<JoinKind, string>> = {
  leftouter: "LEFT JOIN",
  rightouter: "RIGHT JOIN",
  fullouter: "FULL JOIN",
};

/** The scope of a scalar `let`'s value. */
const LET_SCOPE: Scope = {
  sub: "",
  cols: [],
  noRow: "a scalar `let` holds a value and may name earlier `let`s, not columns",
};

/** The scope of the arguments of a function called in a table's place. */
const ARGUMENT_SCOPE: Scope = {
  sub: "",
  cols: [],
  noRow: "the arguments of a function in a table's place are values and `let`s, not columns",
};

const fail = (message: string, pos: Position): never => {
  throw new KqlError(message, pos);
};

const isNumeric = (type: KqlType) => type === "long" || type === "real";

/**
 * Puts a computed column into `cols` as Kusto does: in place of the visible column of the same name, which stays,
 * hidden, for the SQL that still reads it, or else at the end.
 */
function setColumn(cols: Col[], column: Col): void {
  const index = cols.findIndex((c) => !c.hidden && c.name === column.name);
  if (index < 0) {
    cols.push(column);
    return;
  }
  cols.push({ ...cols[index], hidden: true });
  cols.splice(index, 1, column);
}

/** `x`'s Kusto-style column name: a column's name, a member path joined with `_`, or the column a call is on. */
function autoName(expr: Expr): string | null {
  switch (expr.kind) {
    case "column":
      return expr.name;
    case "member": {
      const base = autoName(expr.target);
      return base === null ? null : [base, ...expr.path].join("_");
    }
    case "call":
      return expr.args.length && (expr.name === "bin" || expr.name === "floor" || expr.name === "startofday")
        ? autoName(expr.args[0])
        : null;
    default:
      return null;
  }
}

/** Whether an item of `summarize` is one aggregation call (not an expression over some). */
function isAggregation(expr: Expr): boolean {
  return expr.kind === "call" && AGGREGATIONS.has(expr.name);
}

/** The expressions directly inside `expr` (not the queries of `toscalar` and tabular arguments). */
function subExpressions(expr: Expr | WatchlistRef): Array<Expr | WatchlistRef> {
  switch (expr.kind) {
    case "member":
      return [expr.target];
    case "call":
      return expr.args;
    case "unary":
      return [expr.operand];
    case "binary":
      return [expr.left, expr.right];
    case "in":
      return [expr.left, ...expr.items];
    case "between":
      return [expr.left, expr.low, expr.high];
    default:
      return [];
  }
}

/** The aggregation calls in an expression, outermost only (not those inside another's arguments), in order. */
function aggregationCalls(expr: Expr): Array<Extract<Expr, { kind: "call" }>> {
  const found: Array<Extract<Expr, { kind: "call" }>> = [];
  const visit = (e: Expr | WatchlistRef): void => {
    if (e.kind === "call" && AGGREGATIONS.has(e.name)) found.push(e);
    else subExpressions(e).forEach(visit);
  };
  visit(expr);
  return found;
}

/** The watchlist aliases a query names (lower case, once each): the hunt loads them before compiling. */
export function watchlistAliasesOf(query: Query): string[] {
  const aliases = new Set<string>();
  const visit = (expr: Expr | WatchlistRef): void => {
    if (expr.kind === "watchlist") aliases.add(expr.alias.toLowerCase());
    else if (expr.kind === "toscalar" || expr.kind === "table") pipeline(expr.query);
    else subExpressions(expr).forEach(visit);
  };
  const source = (src: Source): void => {
    if (src.kind === "watchlist") visit(src);
    else if (src.kind === "subquery") pipeline(src.query);
    else if (src.kind === "union") src.tables.forEach(source);
    else if (src.kind === "call") src.args.forEach(visit);
  };
  const pipeline = (p: Pipeline): void => {
    source(p.source);
    p.operators.forEach(operator);
  };
  const operator = (op: Operator): void => {
    switch (op.kind) {
      case "where":
        visit(op.predicate);
        break;
      case "project":
      case "extend":
      case "distinct":
        op.items.forEach((item) => visit(item.expr));
        break;
      case "summarize":
        [...op.aggregates, ...op.by].forEach((item) => visit(item.expr));
        break;
      case "order":
        op.keys.forEach((key) => visit(key.expr));
        break;
      case "top":
        visit(op.key.expr);
        break;
      case "lookup":
        visit(op.watchlist);
        visit(op.left);
        break;
      case "join":
        source(op.right);
        break;
      case "union":
        op.tables.forEach(source);
        break;
      case "mv-expand":
        op.items.forEach((item) => visit(item.expr));
        break;
      case "mv-apply":
        op.items.forEach((item) => visit(item.expr));
        op.operators.forEach(operator);
        break;
      case "make-series":
        op.aggregates.forEach((item) => [item.expr, item.default].forEach((e) => e && visit(e)));
        [op.axis, op.from, op.to, op.step, ...op.by.map((item) => item.expr)].forEach((e) => e && visit(e));
        break;
      case "parse":
        visit(op.expr);
        break;
      default:
        break;
    }
  };
  const statement = ({ value }: LetStatement): void => {
    if (value.kind === "scalar") return visit(value.expr);
    if (value.kind === "tabular") return pipeline(value.query);
    value.lets.forEach(statement);
    if (value.body.kind === "scalar") visit(value.body.expr);
    else pipeline(value.body.query);
  };
  query.lets.forEach(statement);
  pipeline(query);
  return [...aliases];
}

// ---------------------------------------------------------------------------------------------------------
// Compiler
// ---------------------------------------------------------------------------------------------------------

class Compiler {
  readonly params: unknown[];
  readonly regexes: CompiledRegex[] = [];
  readonly warnings = new Set<string>();
  private aliases = 0;
  private subqueries = 0;
  /** The parameter of `now()`, once a query uses it (Postgres refuses a parameter no statement types). */
  private nowParam: string | null = null;
  /** `name AS (…)` of each tabular `let`, in order (each reads only earlier ones). */
  private readonly ctes: string[] = [];
  private reads = 0;
  private expansions = 0;
  /** Each `toscalar(…)` compiled once, by its node: a scalar `let` holding one reads its tables once. */
  private readonly scalarQueries = new Map<Expr, Typed>();
  /** Names resolved to a column of the row, and to a parameter: what an argument or a query depended on. */
  private columnRefs = 0;
  private paramRefs = 0;
  /** `toscalar` queries being compiled, one inside another. */
  private depth = 0;
  /** Function bodies being inlined, one inside another. */
  private bodies = 0;

  constructor(
    private readonly options: CompileOptions,
    /** Swapped for a function's own `let`s and parameters while its body is inlined. */
    private lets: Lets = noLets(),
  ) {
    this.params = [options.tenantId];
  }

  private now(): string {
    return (this.nowParam ??= this.param(this.options.now.toISOString(), "timestamptz"));
  }

  /** `$n::type` for a new parameter; `type` is always one of ours. */
  private param(value: unknown, type: string): string {
    this.params.push(value);
    return `$${this.params.length}::${type}`;
  }

  private alias(): string {
    return `c${this.aliases++}`;
  }

  private sub(): string {
    return `s${this.subqueries++}`;
  }

  private watchlist(ref: WatchlistRef): WatchlistSchema {
    const found = this.options.watchlists.get(ref.alias.toLowerCase());
    return found ?? fail(`unknown watchlist \`${ref.alias}\``, ref.pos);
  }

  compile(query: Query): CompiledHunt {
    for (const statement of query.lets) this.let(statement);
    const rel = this.pipeline(query);
    const visible = rel.cols.filter((c) => !c.hidden);
    if (visible.length === 0) {
      const last = query.operators[query.operators.length - 1];
      fail("the query keeps no column", last?.pos ?? query.source.pos);
    }
    const s = this.sub();
    const select = visible.map((c) =>
      c.type === "timespan"
        ? `(extract(epoch FROM ${s}.${c.alias}) * 1000)::float8 AS ${c.alias}`
        : `${s}.${c.alias}`,
    );
    const limit = this.param(this.options.maxRows + 1, "bigint");
    // Every tabular `let` is a common table expression, used or not: Postgres skips one no statement reads, and
    // its parameters stay typed. One read twice (a self-join) is computed once.
    const withs = this.ctes.length ? `WITH ${this.ctes.join(", ")} ` : "";
    const sql = `${withs}SELECT ${select.join(", ")} FROM (${rel.sql}) AS ${s}${this.orderBy(rel.order, s)} LIMIT ${limit}`;
    return {
      ...compactParams(sql, this.params),
      columns: visible.map(({ name, type, alias }) => ({ name, type, alias })),
      regexes: this.regexes,
      warnings: [...this.warnings],
    };
  }

  // -- stages -----------------------------------------------------------------------------------------------

  /**
   * A `let`. A scalar one is type-checked here, with no columns in scope, and compiled again where it is used (so an
   * unused one leaves no untyped parameter); a tabular one becomes a common table expression of the statement.
   * Names are visible from the next statement on, so a `let` cannot refer to itself.
   */
  private let(statement: LetStatement): void {
    const { name, pos } = statement;
    if (name === "Events" || CLASS_TABLES.has(name))
      fail(`\`${name}\` is a table: give the \`let\` another name`, pos);
    if (statement.value.kind === "scalar") {
      // Checked by a compiler of its own (its SQL is made where it is used), as deep in `toscalar`s as this one.
      const checker = new Compiler(this.options, this.lets);
      checker.depth = this.depth;
      checker.expr(statement.value.expr, LET_SCOPE);
      checker.warnings.forEach((warning) => this.warnings.add(warning));
      this.lets.scalars.set(name, statement.value.expr);
      return;
    }
    if (statement.value.kind === "function") {
      if (BUILT_INS.has(name) || AGGREGATIONS.has(name))
        fail(`\`${name}\` is a built-in function: give the \`let\` another name`, pos);
      // Type-checked and compiled where it is called (inlined), with the `let`s it was defined after.
      const { params, lets: bodyLets, body } = statement.value;
      params.forEach((param) => this.checkParam(name, param));
      const lets = {
        scalars: new Map(this.lets.scalars),
        tables: new Map(this.lets.tables),
        functions: new Map(this.lets.functions),
        params: new Map(),
      };
      this.lets.functions.set(name, { name, params, bodyLets, body, lets });
      return;
    }
    const table = this.cteOf(this.pipeline(statement.value.query), statement.value.materialized);
    // A `let` of a function's body holds what this call's arguments make of it.
    this.lets.tables.set(name, this.bodies > 0 ? { ...table, perCall: true } : table);
  }

  /**
   * A query as a common table expression of the statement, read wherever its name is. `materialize()`: Postgres
   * computes it once even when it would inline one read only once (into a `toscalar`, say), as Kusto caches a
   * materialized value for the query's lifetime.
   */
  private cteOf(query: Relation, materialized = false): LetTable {
    const rel = this.trim(query);
    const cte = `l${this.ctes.length}`;
    this.ctes.push(`${cte} AS ${materialized ? "MATERIALIZED " : ""}(${rel.sql})`);
    return { cte, cols: rel.cols, order: rel.order };
  }

  /**
   * A function's parameter, when the function is defined: its name is no table's, and a default value is a constant
   * of its type (a whole number for a `real` too), as in Kusto.
   */
  private checkParam(fn: string, param: FunctionParam): void {
    if (param.name === "Events" || CLASS_TABLES.has(param.name))
      fail(`\`${param.name}\` is a table: give the parameter another name`, param.pos);
    if (param.kind === "tabular" || !param.default) return;
    const value = param.default.expr;
    const type = PARAMETER_TYPE[param.type];
    const constant = value.kind === "literal" || value.kind === "dynamic";
    const valueType: KqlType | null =
      value.kind === "literal" ? value.type : value.kind === "dynamic" ? "dynamic" : null;
    if (!constant)
      fail(
        `the default value of \`${param.name}\` in \`${fn}\` is a constant (a literal such as 10, "text", 1h or dynamic([…]))`,
        value.pos,
      );
    if (valueType !== type && !(type === "real" && valueType === "long"))
      fail(
        `the default value of \`${param.name}: ${param.type}\` in \`${fn}\` is a ${valueType}, not a ${type}`,
        value.pos,
      );
  }

  private pipeline(pipeline: Pipeline): Relation {
    let rel = this.source(pipeline.source);
    for (const op of pipeline.operators) rel = this.operator(rel, op);
    return rel;
  }

  /** Counts a table or watchlist read against maxTableReads. */
  private read(pos: Position): void {
    if (++this.reads > COMPILE_LIMITS.maxTableReads)
      fail(`a query reads at most ${COMPILE_LIMITS.maxTableReads} tables`, pos);
  }

  private source(source: Source): Relation {
    if (source.kind === "subquery") return this.pipeline(source.query);
    if (source.kind === "union") return this.union(null, source, source.pos);
    if (source.kind === "call") return this.tabularCall(source);
    if (source.kind === "watchlist") {
      const w = this.watchlist(source);
      this.read(source.pos);
      const cols: Col[] = [];
      const select: string[] = [];
      if (!w.columns.includes("SearchKey")) {
        const alias = this.alias();
        cols.push({ name: "SearchKey", type: "string", alias });
        select.push(`wi.search_key AS ${alias}`);
      }
      for (const column of w.columns) {
        const alias = this.alias();
        cols.push({ name: column, type: "string", alias });
        select.push(`(wi.data ->> ${this.param(column, "text")}) AS ${alias}`);
      }
      return {
        sql: `SELECT ${select.join(", ")} FROM watchlist_items wi WHERE wi.tenant_id = $1 AND wi.watchlist_id = ${this.param(w.id, "uuid")}`,
        cols,
        order: null,
        label: w.alias,
      };
    }
    const table = this.lets.tables.get(source.name);
    // What differs from call to call counts as a parameter's use (a `toscalar` reading it is not reused).
    if (table?.perCall) this.paramRefs++;
    if (table)
      return {
        sql: `SELECT ${table.cols.map((c) => c.alias).join(", ")} FROM ${table.cte}`,
        cols: table.cols,
        order: table.order,
        label: source.name,
      };
    if (this.lets.scalars.has(source.name) || this.lets.params.has(source.name))
      fail(`\`${source.name}\` is a scalar \`let\` (a value), not a table`, source.pos);
    if (this.lets.functions.has(source.name))
      fail(`\`${source.name}\` is a function: call it, \`${source.name}(…)\``, source.pos);
    const classUid = CLASS_TABLES.get(source.name);
    if (source.name !== "Events" && classUid === undefined)
      fail(
        `unknown table \`${source.name}\` (use ${KQL_TABLES.join(", ")}, a tabular \`let\`, or _GetWatchlist('alias'))`,
        source.pos,
      );
    this.read(source.pos);
    const from = this.param(this.options.from.toISOString(), "timestamptz");
    const to = this.param(this.options.to.toISOString(), "timestamptz");
    const cols = EVENT_FIELDS.map((f) => ({ name: f.name, type: f.type, alias: this.alias() }));
    const select = EVENT_FIELDS.map((f, i) => `${f.sql} AS ${cols[i].alias}`);
    const byClass = classUid === undefined ? "" : ` AND e.class_uid = ${this.param(classUid, "int")}`;
    return {
      sql: `SELECT ${select.join(", ")} FROM events e WHERE e.tenant_id = $1 AND e.time >= ${from} AND e.time < ${to}${byClass}`,
      cols,
      order: null,
      label: source.name,
    };
  }

  // -- `let` functions: inlined where they are called -------------------------------------------------------

  /**
   * Binds a call's arguments to the function's parameters, checking their number, names and types; an omitted
   * argument takes its parameter's default value. As in Kusto, arguments are given in order, then by name in any
   * order (`f(1, n = 3)`, `f(n = 3, a = 1)`); each parameter once, and each without a default value given. Each
   * scalar argument is compiled once, in the caller's scope; the body uses that SQL wherever it names the parameter,
   * and each such use costs what the argument cost (so functions calling functions cannot grow the SQL
   * exponentially). Each tabular argument is compiled once too, as a common table expression the body reads (with its
   * own tenant and time filters, like any table read).
   */
  private bind(
    fn: LetFunction,
    call: { args: Expr[]; names?: Array<Name | null> },
    scope: Scope,
    pos: Position,
  ): Bound {
    const { args, names } = call;
    const required = fn.params.filter((p) => p.kind === "tabular" || !p.default).length;
    const takes = () => {
      const n = fn.params.length;
      const count = required === n ? `${n} argument${n === 1 ? "" : "s"}` : `${required} to ${n} arguments`;
      return `\`${fn.name}\` takes ${count} (${fn.params.map(signature).join(", ")})`;
    };
    if (!names && (args.length < required || args.length > fn.params.length))
      fail(`${takes()}, got ${args.length}`, pos);
    // Each parameter's argument and how the call gives it: by position (its number) or by name.
    const given = new Map<string, { arg: Expr; label: string; named: boolean }>();
    args.forEach((arg, k) => {
      const name = names?.[k];
      if (!name) {
        if (k >= fn.params.length) fail(`${takes()}, got ${k + 1} by position`, arg.pos);
        given.set(fn.params[k].name, { arg, label: `argument ${k + 1}`, named: false });
        return;
      }
      if (!fn.params.some((p) => p.name === name.name))
        fail(
          `\`${fn.name}\` has no parameter \`${name.name}\` (${fn.params.map(signature).join(", ") || "it takes none"})`,
          name.pos,
        );
      const before = given.get(name.name);
      if (before)
        fail(
          `\`${name.name}\` of \`${fn.name}\` is given twice: ${before.named ? "named twice" : `by position (${before.label}) and by name`}`,
          name.pos,
        );
      given.set(name.name, { arg, label: `the argument \`${name.name}\``, named: true });
    });
    const missing = fn.params.filter((p) => !given.has(p.name) && (p.kind === "tabular" || !p.default));
    if (missing.length)
      fail(
        `the call of \`${fn.name}\` leaves out ${missing.map((p) => `\`${p.name}\``).join(", ")}, which ${missing.length === 1 ? "has" : "have"} no default value: ${takes()}`,
        pos,
      );
    const bound: Bound = { values: new Map(), tables: new Map() };
    fn.params.forEach((param) => {
      const { arg, label } = given.get(param.name) ?? { arg: undefined, label: "" };
      if (param.kind === "tabular") {
        bound.tables.set(param.name, this.tableArgument(fn, param, label, arg!));
        return;
      }
      const valueExpr = arg ?? param.default!.expr;
      const [expansions, columns] = [this.expansions, this.columnRefs];
      const value = this.expr(valueExpr, arg ? scope : ARGUMENT_SCOPE);
      const [cost, rowFree] = [this.expansions - expansions, this.columnRefs === columns];
      const type = PARAMETER_TYPE[param.type];
      let sql = value.sql;
      if (type === "real" && value.type === "long") sql = this.asFloat(value);
      else if (value.type !== type)
        fail(
          `${label} of \`${fn.name}\` is \`${param.name}: ${param.type}\`, not a ${value.type}${type === "string" ? " (convert it with tostring(…))" : ""}`,
          valueExpr.pos,
        );
      const literal = this.resolved(valueExpr, scope);
      bound.values.set(param.name, {
        type,
        sql,
        literal: literal.kind === "literal" || literal.kind === "dynamic" ? literal : null,
        cost,
        rowFree,
        depth: this.depth,
      });
    });
    return bound;
  }

  /**
   * The argument of a tabular parameter: a query compiled where the call is, checked against the parameter's columns
   * (each present, of its type or, for a `real`, a `long`, which is converted), held in a common table expression.
   */
  private tableArgument(
    fn: LetFunction,
    param: Extract<FunctionParam, { kind: "tabular" }>,
    label: string,
    arg: Expr,
  ): LetTable {
    if (arg.kind !== "table")
      return fail(`${label} of \`${fn.name}\` is \`${signature(param)}\`: pass a table`, arg.pos);
    // The argument's own columns are not the caller's row.
    const columns = this.columnRefs;
    let rel = this.pipeline(arg.query);
    this.columnRefs = columns;
    for (const declared of param.columns ?? []) {
      const column = rel.cols.find((c) => !c.hidden && c.name === declared.name);
      const type = PARAMETER_TYPE[declared.type];
      const where = `${label} of \`${fn.name}\` (\`${signature(param)}\`)`;
      if (!column)
        fail(
          `${where} has no column \`${declared.name}\` (its columns: ${this.columnList(rel.cols)})`,
          arg.pos,
        );
      else if (column.type === "long" && type === "real") rel = this.retype(rel, column, "real");
      else if (column.type !== type)
        fail(`${where}: its column \`${declared.name}\` is a ${column.type}, not a ${type}`, arg.pos);
    }
    return { ...this.cteOf(rel), perCall: true };
  }

  /** `rel` with `column` converted to `type` (the old column kept hidden, for a pending sort on it). */
  private retype(rel: Relation, column: Col, type: KqlType): Relation {
    const s = this.sub();
    const alias = this.alias();
    const cols = rel.cols.map((c) => (c === column ? { ...c, type, alias } : c));
    cols.push({ ...column, hidden: true });
    return this.trim({
      ...rel,
      sql: `SELECT ${this.pass(rel, s)}, (${s}.${column.alias})::${SQL_TYPES[type]} AS ${alias} FROM (${rel.sql}) AS ${s}`,
      cols,
    });
  }

  /**
   * Compiles `body` with the function's `let`s, its parameters bound and then its body's own `let`s; counts the call
   * as a `let` use.
   */
  private inline<T>(fn: LetFunction, bound: Bound, pos: Position, body: () => T): T {
    this.expand(pos);
    const caller = this.lets;
    this.lets = {
      scalars: new Map(fn.lets.scalars),
      tables: new Map([...fn.lets.tables, ...bound.tables]),
      functions: fn.lets.functions,
      params: bound.values,
    };
    this.bodies++;
    try {
      for (const statement of fn.bodyLets) this.let(statement);
      return body();
    } finally {
      this.bodies--;
      this.lets = caller;
    }
  }

  /** A call of a function in a table's place: its body's query, with the arguments (values, no columns). */
  private tabularCall(call: Extract<Source, { kind: "call" }>): Relation {
    const fn = this.lets.functions.get(call.name);
    if (!fn) {
      if (this.lets.tables.has(call.name) || CLASS_TABLES.has(call.name) || call.name === "Events")
        fail(`\`${call.name}\` is a table, not a function: write it without \`(…)\``, call.pos);
      return fail(`unknown function \`${call.name}\``, call.pos);
    }
    if (fn.body.kind !== "tabular") return fail(`\`${call.name}\` returns a value, not a table`, call.pos);
    const query = fn.body.query;
    const bound = this.bind(fn, call, ARGUMENT_SCOPE, call.pos);
    const rel = this.inline(fn, bound, call.pos, () => this.pipeline(query));
    return { ...rel, label: call.name };
  }

  /** A call of a function in a value's place: its body's value, with the arguments (which may name columns). */
  private scalarCall(fn: LetFunction, call: Extract<Expr, { kind: "call" }>, scope: Scope): Typed {
    if (fn.body.kind !== "scalar")
      return fail(
        `\`${fn.name}\` returns a table: use it where a table goes (\`${fn.name}(…) | …\`, \`join ${fn.name}(…)\`)`,
        call.pos,
      );
    const expr = fn.body.expr;
    const bound = this.bind(fn, call, scope, call.pos);
    const body: Scope = {
      sub: "",
      cols: [],
      noRow: `the body of \`${fn.name}\` sees its parameters and the \`let\`s before it, not the caller's columns`,
    };
    return this.inline(fn, bound, call.pos, () => this.expr(expr, body));
  }

  /** A parameter named in a function's body: its argument's SQL. */
  private parameter(name: string, binding: Binding, pos: Position): Typed {
    if (!binding.rowFree && binding.depth !== this.depth)
      fail(
        `\`${name}\` holds a value of the row here, and \`toscalar()\` is computed once for the whole query: pass a value that names no column`,
        pos,
      );
    this.expand(pos, 1 + binding.cost);
    this.paramRefs++;
    if (!binding.rowFree) this.columnRefs++;
    return { sql: binding.sql, type: binding.type };
  }

  private operator(rel: Relation, op: Operator): Relation {
    switch (op.kind) {
      case "where": {
        const s = this.sub();
        const predicate = this.condition(op.predicate, { sub: s, cols: rel.cols }, "where");
        return { ...rel, sql: `SELECT ${this.pass(rel, s)} FROM (${rel.sql}) AS ${s} WHERE ${predicate}` };
      }
      case "extend":
        return op.items.reduce((current, item) => this.extend(current, item), rel);
      case "project":
        return this.project(rel, op.items);
      case "project-away": {
        const cols = [...rel.cols];
        for (const { name, pos } of op.names) {
          const index = cols.findIndex((c) => !c.hidden && c.name === name);
          if (index < 0) fail(this.unknownColumn(name, rel.cols), pos);
          cols[index] = { ...cols[index], hidden: true };
        }
        return this.trim({ ...rel, cols });
      }
      case "project-rename": {
        const cols = [...rel.cols];
        for (const { name, from, pos } of op.items) {
          const index = cols.findIndex((c) => !c.hidden && c.name === from);
          if (index < 0) fail(this.unknownColumn(from, rel.cols), pos);
          if (cols.some((c, i) => i !== index && !c.hidden && c.name === name))
            fail(`a column named \`${name}\` exists already`, pos);
          cols[index] = { ...cols[index], name };
        }
        return { ...rel, cols };
      }
      case "summarize":
        return this.summarize(rel, op.aggregates, op.by);
      case "order":
        return this.order(rel, op.keys);
      case "take": {
        const s = this.sub();
        const limit = this.param(this.rowCount(op.count), "bigint");
        return {
          ...rel,
          sql: `SELECT ${this.pass(rel, s)} FROM (${rel.sql}) AS ${s}${this.orderBy(rel.order, s)} LIMIT ${limit}`,
        };
      }
      case "top": {
        const sorted = this.order(rel, [op.key]);
        return this.operator(sorted, { kind: "take", count: op.count, pos: op.pos });
      }
      case "count": {
        const s = this.sub();
        const alias = this.alias();
        return {
          sql: `SELECT count(*) AS ${alias} FROM (${rel.sql}) AS ${s}`,
          cols: [{ name: "Count", type: "long", alias }],
          order: null,
        };
      }
      case "distinct": {
        const s = this.sub();
        const scope = { sub: s, cols: rel.cols };
        const items = this.named(op.items, scope, "distinct");
        return {
          sql: `SELECT DISTINCT ${items.map((i) => `${i.sql} AS ${i.alias}`).join(", ")} FROM (${rel.sql}) AS ${s}`,
          cols: items.map(({ name, type, alias }) => ({ name, type, alias })),
          order: null,
        };
      }
      case "lookup":
        return this.lookup(rel, op);
      case "join":
        return this.join(rel, op);
      case "union":
        return this.union(rel, op, op.pos);
      case "mv-expand":
        return this.mvExpand(rel, op);
      case "mv-apply":
        return this.mvApply(rel, op);
      case "make-series":
        return this.makeSeries(rel, op);
      case "parse":
        return this.parse(rel, op);
    }
  }

  /** The row count of `take`/`top`: a whole number ≥ 0, written or held by a scalar `let`. */
  private rowCount(count: Expr): number {
    const value = this.resolved(count, null);
    if (value.kind === "literal" && value.type === "long" && value.value >= 0) return value.value;
    return fail("`take` and `top` take a whole number of rows ≥ 0 (or a `let` holding one)", count.pos);
  }

  /** The columns of `rel` as a select list of the subquery `s` (same aliases). */
  private pass(rel: Relation, s: string): string {
    return rel.cols.map((c) => `${s}.${c.alias}`).join(", ");
  }

  /** Drops hidden columns no pending sort needs (they cost nothing more to carry but would confuse reading). */
  private trim(rel: Relation): Relation {
    const needed = new Set((rel.order ?? []).map((o) => o.alias));
    return { ...rel, cols: rel.cols.filter((c) => !c.hidden || needed.has(c.alias)) };
  }

  private orderBy(order: Sort[] | null, s: string): string {
    if (!order?.length) return "";
    const keys = order.map(
      (o) =>
        `${s}.${o.alias}${o.type === "string" ? ' COLLATE "C"' : ""} ${o.desc ? "DESC" : "ASC"} NULLS ${o.nullsFirst ? "FIRST" : "LAST"}`,
    );
    return ` ORDER BY ${keys.join(", ")}`;
  }

  private extend(rel: Relation, item: NamedExpr): Relation {
    if (item.names) return this.extendColumns(rel, item.names, item.expr);
    const s = this.sub();
    const name = item.name ?? autoName(item.expr);
    if (name === null) fail("name the new column: `extend name = expression`", item.expr.pos);
    const value = this.expr(item.expr, { sub: s, cols: rel.cols });
    const alias = this.alias();
    const column: Col = { name: name!, type: value.type, alias };
    const cols = [...rel.cols];
    setColumn(cols, column);
    return this.trim({
      sql: `SELECT ${this.pass(rel, s)}, ${value.sql} AS ${alias} FROM (${rel.sql}) AS ${s}${seriesFence(value.sql)}`,
      cols,
      order: rel.order,
    });
  }

  /**
   * `extend (a, b, …) = f(x)`: the first columns of a series function that returns several (`series_fit_line`,
   * `series_decompose`, `series_stats`), taken out of the one bag its SQL function returns (computed once per row).
   * A name that exists is replaced, as `extend` replaces it.
   */
  private extendColumns(rel: Relation, names: Name[], expr: Expr): Relation {
    const outputs = expr.kind === "call" ? SERIES_COLUMNS[expr.name] : undefined;
    if (expr.kind !== "call" || !outputs)
      return fail(
        `\`extend (…) =\` takes a function of several columns: ${Object.keys(SERIES_COLUMNS).join(", ")}`,
        expr.pos,
      );
    if (names.length > outputs.length)
      fail(
        `\`${expr.name}\` returns ${outputs.length} columns (${outputs.map(([key]) => key).join(", ")}), not ${names.length}`,
        names[outputs.length].pos,
      );
    const s = this.sub();
    const bag = this.seriesCall(expr, { sub: s, cols: rel.cols }, true);
    const bagAlias = this.alias();
    const inner = `SELECT ${this.pass(rel, s)}, ${bag.sql} AS ${bagAlias} FROM (${rel.sql}) AS ${s}${seriesFence(bag.sql)}`;
    const t = this.sub();
    const cols = [...rel.cols];
    const select = [this.pass(rel, t)];
    names.forEach(({ name }, i) => {
      const [key, type] = outputs[i];
      const value =
        type === "dynamic"
          ? `(${t}.${bagAlias} -> '${key}')`
          : `((${t}.${bagAlias} ->> '${key}')::${type === "long" ? "bigint" : "float8"})`;
      const alias = this.alias();
      const column: Col = { name, type, alias };
      setColumn(cols, column);
      select.push(`${value} AS ${alias}`);
    });
    return this.trim({ sql: `SELECT ${select.join(", ")} FROM (${inner}) AS ${t}`, cols, order: rel.order });
  }

  /** Compiles named items (`project`, `distinct`, `summarize … by`), checking the names are unique. */
  private named(
    items: NamedExpr[],
    scope: Scope,
    operator: string,
  ): Array<Typed & { name: string; alias: string; column?: Col }> {
    const out: Array<Typed & { name: string; alias: string; column?: Col }> = [];
    let unnamed = 0;
    for (const item of items) {
      const value = this.expr(item.expr, scope);
      let name = item.name ?? autoName(item.expr);
      if (name === null) {
        if (operator !== "summarize")
          fail(`name this column: \`${operator} name = expression\``, item.expr.pos);
        name = `Column${++unnamed}`;
      }
      if (out.some((o) => o.name === name))
        fail(
          `the column \`${name}\` appears twice; name one of them (name = …)`,
          item.namePos ?? item.expr.pos,
        );
      out.push({ ...value, name, alias: this.alias() });
    }
    return out;
  }

  private project(rel: Relation, items: NamedExpr[]): Relation {
    const s = this.sub();
    const compiled = this.named(items, { sub: s, cols: rel.cols }, "project");
    const cols: Col[] = compiled.map(({ name, type, alias }) => ({ name, type, alias }));
    const select = compiled.map((c) => `${c.sql} AS ${c.alias}`);
    for (const sort of rel.order ?? []) {
      const kept = rel.cols.find((c) => c.alias === sort.alias)!;
      cols.push({ ...kept, hidden: true });
      select.push(`${s}.${kept.alias}`);
    }
    const fence = seriesFence(compiled.map((c) => c.sql).join(" "));
    return { sql: `SELECT ${select.join(", ")} FROM (${rel.sql}) AS ${s}${fence}`, cols, order: rel.order };
  }

  private order(rel: Relation, keys: SortKey[]): Relation {
    const s = this.sub();
    const scope = { sub: s, cols: rel.cols };
    const added: Array<{ sql: string; alias: string }> = [];
    const order: Sort[] = [];
    const cols = [...rel.cols];
    for (const key of keys) {
      const value = this.expr(key.expr, scope);
      if (value.type === "dynamic")
        fail("convert a dynamic value to sort by it: tostring(x), tolong(x), todouble(x)", key.expr.pos);
      const column =
        key.expr.kind === "column"
          ? rel.cols.find((c) => !c.hidden && c.name === (key.expr as { name: string }).name)
          : undefined;
      let alias = column?.alias;
      if (!alias) {
        alias = this.alias();
        added.push({ sql: value.sql, alias });
        cols.push({ name: `(sort ${alias})`, type: value.type, alias, hidden: true });
      }
      order.push({ alias, type: value.type, desc: key.desc, nullsFirst: key.nullsFirst ?? !key.desc });
    }
    const sql = added.length
      ? `SELECT ${this.pass(rel, s)}, ${added.map((a) => `${a.sql} AS ${a.alias}`).join(", ")} FROM (${rel.sql}) AS ${s}`
      : rel.sql;
    return this.trim({ sql, cols, order });
  }

  private summarize(rel: Relation, aggregates: NamedExpr[], by: NamedExpr[]): Relation {
    if (aggregates.some((a) => !isAggregation(a.expr))) return this.summarizeComputed(rel, aggregates, by);
    const picks = aggregates.filter((a) => a.expr.kind === "call" && /^arg_(max|min)$/.test(a.expr.name));
    if (picks.length) return this.summarizeArgs(rel, aggregates, by);
    const s = this.sub();
    const scope = { sub: s, cols: rel.cols };
    const groups = this.named(by, scope, "summarize");
    const aggs = this.aggregates(aggregates, groups, scope);
    const select = [...groups, ...aggs].map((c) => `${c.sql} AS ${c.alias}`);
    const groupBy = groups.length ? ` GROUP BY ${groups.map((_, i) => i + 1).join(", ")}` : "";
    return {
      sql: `SELECT ${select.join(", ")} FROM (${rel.sql}) AS ${s}${groupBy}`,
      cols: [...groups, ...aggs].map(({ name, type, alias }) => ({ name, type, alias })),
      order: null,
    };
  }

  /**
   * `summarize` with expressions over aggregations (`d = max(time) - min(time)`, `pct = 100.0 * countif(p) / count()`),
   * in two stages. The first is a plain `summarize` of the groups, the plain aggregations, each aggregation inside an
   * expression (as a column of its own, named so no query can name it), and a slot for each expression where it
   * stands (so that `arg_max(…, *)`'s columns keep their place); the second computes the expressions over those
   * columns and the `by` columns, and drops the rest. A column of the rows outside an aggregation is an error, as in
   * Kusto.
   */
  private summarizeComputed(rel: Relation, aggregates: NamedExpr[], by: NamedExpr[]): Relation {
    const inner = new Map<Extract<Expr, { kind: "call" }>, string>();
    /** Each expression's slot column, by the slot's name. */
    const slots = new Map<string, NamedExpr>();
    const first: NamedExpr[] = [];
    for (const item of aggregates) {
      if (isAggregation(item.expr)) {
        first.push(item);
        continue;
      }
      const calls = aggregationCalls(item.expr);
      if (!calls.length)
        fail(
          `expected an aggregation (${[...AGGREGATIONS].join(", ")}), or an expression over aggregations`,
          item.expr.pos,
        );
      for (const call of calls) {
        if (/^arg_(max|min)$|^percentiles$/.test(call.name))
          fail(`\`${call.name}\` returns columns: it cannot be part of an expression`, call.pos);
        const name = `\u0000agg${inner.size}`;
        inner.set(call, name);
        first.push({ name, expr: call });
      }
      const slot = `\u0000slot${slots.size}`;
      slots.set(slot, item);
      first.push({ name: slot, expr: { kind: "call", name: "count", args: [], pos: item.expr.pos } });
    }
    const grouped = this.summarize(rel, first, by);
    const s = this.sub();
    const column = (name: string) => grouped.cols.find((c) => c.name === name)!;
    const scope: Scope = {
      sub: s,
      // Both kinds of `summarize` put the groups first.
      cols: grouped.cols.slice(0, by.length),
      aggregated: {
        of: (call) => {
          const name = inner.get(call);
          if (name === undefined)
            return fail(`\`${call.name}()\` inside an aggregation: aggregations do not nest`, call.pos);
          const col = column(name);
          return { sql: `${s}.${col.alias}`, type: col.type };
        },
        rows: rel.cols,
      },
    };
    const taken = grouped.cols.filter((c) => !c.name.startsWith("\u0000"));
    const cols: Col[] = [];
    const select: string[] = [];
    for (const col of grouped.cols) {
      if (col.name.startsWith("\u0000agg")) continue;
      const item = slots.get(col.name);
      if (!item) {
        cols.push({ name: col.name, type: col.type, alias: col.alias });
        select.push(`${s}.${col.alias}`);
        continue;
      }
      const value = this.expr(item.expr, scope);
      const used = (name: string) => [...taken, ...cols].some((c) => c.name === name);
      let name = item.name ?? autoName(item.expr);
      for (let n = 1; name === null; n++) if (!used(`Column${n}`)) name = `Column${n}`;
      if (used(name))
        fail(
          `the column \`${name}\` appears twice; name one of them (name = …)`,
          item.namePos ?? item.expr.pos,
        );
      const alias = this.alias();
      cols.push({ name, type: value.type, alias });
      select.push(`${value.sql} AS ${alias}`);
    }
    return { sql: `SELECT ${select.join(", ")} FROM (${grouped.sql}) AS ${s}`, cols, order: null };
  }

  /** The aggregations of `summarize` other than arg_max/arg_min, named, each name once. */
  private aggregates(
    aggregates: NamedExpr[],
    taken: Array<{ name: string }>,
    scope: Scope,
  ): Array<Typed & { name: string; alias: string }> {
    const aggs: Array<Typed & { name: string; alias: string }> = [];
    for (const item of aggregates) {
      const call = item.expr;
      if (call.kind !== "call" || !AGGREGATIONS.has(call.name))
        fail(
          `expected an aggregation (${[...AGGREGATIONS].join(", ")})${call.kind === "call" ? `, found \`${call.name}()\`` : ""}`,
          call.pos,
        );
      if ((call as Extract<Expr, { kind: "call" }>).name === "percentiles") {
        aggs.push(
          ...this.percentiles(item, call as Extract<Expr, { kind: "call" }>, [...taken, ...aggs], scope),
        );
        continue;
      }
      const name = item.name ?? this.aggregateName(call as Extract<Expr, { kind: "call" }>);
      if ([...taken, ...aggs].some((o) => o.name === name))
        fail(`the column \`${name}\` appears twice; name one of them (name = …)`, item.namePos ?? call.pos);
      aggs.push({
        ...this.aggregate(call as Extract<Expr, { kind: "call" }>, scope),
        name,
        alias: this.alias(),
      });
    }
    return aggs;
  }

  /**
   * `summarize` with `arg_max(x, cols…)` / `arg_min(x, cols…)`: per group, the columns of the row with the largest
   * (smallest) `x`, ties broken arbitrarily as in Kusto; `*` is every column. One scan: the rows are numbered
   * within their group by `x` (a window), and the group keeps the values of its row number 1, next to any other
   * aggregation. A group whose `x` is always null gets nulls.
   */
  private summarizeArgs(rel: Relation, aggregates: NamedExpr[], by: NamedExpr[]): Relation {
    // Stage 1 (x): the group keys and each arg_max's value, as columns.
    const x = this.sub();
    const groups = this.named(by, { sub: x, cols: rel.cols }, "summarize");
    const inner: string[] = [this.pass(rel, x), ...groups.map((g) => `${g.sql} AS ${g.alias}`)];
    const picks: Array<{
      call: Extract<Expr, { kind: "call" }>;
      item: NamedExpr;
      value: Typed;
      alias: string;
      rank: string;
    }> = [];
    for (const item of aggregates) {
      const call = item.expr;
      if (call.kind !== "call" || !/^arg_(max|min)$/.test(call.name)) continue;
      this.args(call, 2, 65);
      if (call.args[0].kind === "star")
        fail(`the first argument of \`${call.name}\` is the value to compare`, call.pos);
      const value = this.expr(call.args[0], { sub: x, cols: rel.cols });
      if (value.type === "dynamic" || value.type === "bool")
        fail(
          `convert the value for \`${call.name}\`: tolong(x), todouble(x), tostring(x) or todatetime(x)`,
          call.args[0].pos,
        );
      const alias = this.alias();
      inner.push(`${value.sql} AS ${alias}`);
      picks.push({ call, item, value, alias, rank: this.alias() });
    }
    // Stage 2 (y): each row's rank in its group by each value.
    const y = this.sub();
    const partition = groups.length ? `PARTITION BY ${groups.map((g) => `${y}.${g.alias}`).join(", ")} ` : "";
    const ranks = picks.map(({ call, value, alias, rank }) => {
      const collate = value.type === "string" ? ' COLLATE "C"' : "";
      const direction = call.name === "arg_max" ? "DESC" : "ASC";
      return `row_number() OVER (${partition}ORDER BY ${y}.${alias}${collate} ${direction} NULLS LAST) AS ${rank}`;
    });
    const ranked = `SELECT ${y}.*, ${ranks.join(", ")} FROM (SELECT ${inner.join(", ")} FROM (${rel.sql}) AS ${x}) AS ${y}`;
    // Stage 3 (s): one row per group.
    const s = this.sub();
    const scope = { sub: s, cols: rel.cols };
    const out: Array<{ name: string; type: KqlType; alias: string; sql: string }> = groups.map((g) => ({
      name: g.name,
      type: g.type,
      alias: this.alias(),
      sql: `${s}.${g.alias}`,
    }));
    const visible = rel.cols.filter((c) => !c.hidden);
    const groupColumns = new Set(
      by.filter((b) => !b.name && b.expr.kind === "column").map((b) => (b.expr as { name: string }).name),
    );
    for (const item of aggregates) {
      const pick = picks.find((p) => p.item === item);
      if (!pick) {
        out.push(...this.aggregates([item], out, scope));
        continue;
      }
      const chosen = (sql: string) =>
        `(array_agg(${sql}) FILTER (WHERE ${s}.${pick.rank} = 1 AND ${s}.${pick.alias} IS NOT NULL))[1]`;
      const first = pick.call.args[0];
      const valueName = item.name ?? autoName(first);
      if (valueName === null) fail(`name the value: \`v = ${pick.call.name}(expression, …)\``, first.pos);
      const add = (name: string, type: KqlType, sql: string, pos: Position, exact: boolean) => {
        if (out.some((o) => o.name === name)) {
          if (exact) fail(`the column \`${name}\` appears twice; name one of them (name = …)`, pos);
          name = this.freeName(
            name,
            out.map((o) => ({ ...o, hidden: false })),
          );
        }
        out.push({ name, type, alias: this.alias(), sql: chosen(sql) });
      };
      add(
        valueName!,
        pick.value.type,
        `${s}.${pick.alias}`,
        item.namePos ?? first.pos,
        item.name !== undefined,
      );
      for (const arg of pick.call.args.slice(1)) {
        if (arg.kind === "star") {
          // Every column, less the group keys and the value (when they are columns of the same name).
          for (const c of visible) {
            if (groupColumns.has(c.name)) continue;
            if (!item.name && first.kind === "column" && first.name === c.name) continue;
            add(c.name, c.type, `${s}.${c.alias}`, arg.pos, false);
          }
          continue;
        }
        const value = this.expr(arg, scope);
        const name = autoName(arg);
        if (name === null)
          fail(`\`${pick.call.name}\` returns columns: name an expression with \`extend\` first`, arg.pos);
        add(name!, value.type, value.sql, arg.pos, false);
      }
    }
    const groupBy = groups.length ? ` GROUP BY ${groups.map((g) => `${s}.${g.alias}`).join(", ")}` : "";
    return {
      sql: `SELECT ${out.map((o) => `${o.sql} AS ${o.alias}`).join(", ")} FROM (${ranked}) AS ${s}${groupBy}`,
      cols: out.map(({ name, type, alias }) => ({ name, type, alias })),
      order: null,
    };
  }

  /**
   * `percentiles(x, p1, p2, …)`: a column per percentile, named as Kusto names them (`percentile_x_95`,
   * `percentile_x_99_9`); `percentile(x, p)` is each one's value.
   */
  private percentiles(
    item: NamedExpr,
    call: Extract<Expr, { kind: "call" }>,
    taken: Array<{ name: string }>,
    scope: Scope,
  ): Array<Typed & { name: string; alias: string }> {
    if (item.name !== undefined)
      fail(
        "`percentiles` returns a column per percentile (percentile_x_50, …): to name one, write `name = percentile(x, 50)`",
        item.namePos ?? call.pos,
      );
    this.args(call, 2, 1 + MAX_PERCENTILES);
    const on = autoName(call.args[0]);
    if (on === null)
      fail("name the value with `extend` first: `percentiles` names its columns after it", call.args[0].pos);
    return call.args.slice(1).map((p, i) => {
      const value = this.percentileArg(call, i + 1, scope);
      const name = `percentile_${on}_${String(value).replace(".", "_")}`;
      if (taken.some((o) => o.name === name))
        fail(`the column \`${name}\` appears twice; name one of them (name = …)`, p.pos);
      taken = [...taken, { name }];
      const single: Extract<Expr, { kind: "call" }> = {
        ...call,
        name: "percentile",
        args: [call.args[0], p],
      };
      return { ...this.aggregate(single, scope), name, alias: this.alias() };
    });
  }

  private aggregateName(call: Extract<Expr, { kind: "call" }>): string {
    const on = call.args.length ? (autoName(call.args[0]) ?? "") : "";
    switch (call.name) {
      case "count":
        return "count_";
      case "countif":
        return "countif_";
      case "make_set":
        return `set_${on}`;
      case "make_list":
        return `list_${on}`;
      case "make_bag":
        return `bag_${on}`;
      case "take_any":
        return on || "take_any_";
      case "percentile": {
        const p = call.args.length === 2 ? this.resolved(call.args[1], null) : null;
        return `percentile_${on}_${p?.kind === "literal" ? String(p.value).replace(".", "_") : ""}`;
      }
      default:
        return `${call.name}_${on}`;
    }
  }

  private lookup(rel: Relation, op: Extract<Operator, { kind: "lookup" }>): Relation {
    const w = this.watchlist(op.watchlist);
    const s = this.sub();
    const key = this.expr(op.left, { sub: s, cols: rel.cols });
    const rightName = op.right.name;
    const byKey = rightName === "SearchKey" || rightName === w.searchKey;
    if (!byKey && !w.columns.includes(rightName))
      fail(
        `the watchlist \`${w.alias}\` has no column \`${rightName}\` (it has SearchKey, ${w.columns.join(", ")})`,
        op.right.pos,
      );
    const joinOn = byKey
      ? `w.search_key = ${this.text(key)}`
      : `(w.data ->> ${this.param(rightName, "text")}) = ${this.text(key)}`;
    const sameName = op.left.kind === "column" && op.left.name === rightName;
    const cols = [...rel.cols];
    const select = [this.pass(rel, s)];
    for (const column of w.columns) {
      if (sameName && column === rightName) continue;
      let name = column;
      for (let n = 1; cols.some((c) => !c.hidden && c.name === name); n++) name = `${column}${n}`;
      const alias = this.alias();
      cols.push({ name, type: "string", alias });
      select.push(`(w.data ->> ${this.param(column, "text")}) AS ${alias}`);
    }
    const join = op.inner ? "JOIN" : "LEFT JOIN";
    return {
      sql: `SELECT ${select.join(", ")} FROM (${rel.sql}) AS ${s} ${join} watchlist_items w ON w.tenant_id = $1 AND w.watchlist_id = ${this.param(w.id, "uuid")} AND ${joinOn}`,
      cols,
      order: rel.order,
    };
  }

  /** A name for a new column that no visible column has: `name`, else `name1`, `name2`… (Kusto's suffixes). */
  private freeName(name: string, cols: Col[]): string {
    let free = name;
    for (let n = 1; cols.some((c) => !c.hidden && c.name === free); n++) free = `${name}${n}`;
    return free;
  }

  /**
   * `join`: the rows of both sides whose keys are equal, as Kusto's kinds say. `innerunique` (the default) keeps
   * one left row per key value first; `inner` and the outer kinds return the columns of both sides (a right
   * column whose name the left has gets a suffix: `time1`), the outer ones adding the rows of one side
   * (`leftouter`, `rightouter`) or both (`fullouter`) that match nothing, with nulls for the other side's
   * columns; the semi and anti kinds return one side's rows, those with (or without) a match. A null key matches
   * nothing, so a row with one is unmatched (kept by the outer kinds).
   */
  private join(rel: Relation, op: Extract<Operator, { kind: "join" }>): Relation {
    const right = this.source(op.right);
    const sl = this.sub();
    const sr = this.sub();
    const keys = op.keys.map((key) => {
      const find = (side: Relation, which: string, name: string, pos: Position): Col => {
        const column = side.cols.find((c) => !c.hidden && c.name === name);
        if (!column)
          fail(
            `the ${which} side of \`join\` has no column \`${name}\` (its columns: ${this.columnList(side.cols)})`,
            pos,
          );
        return column!;
      };
      const l = find(rel, "left", key.left.name, key.left.pos);
      const r = find(right, "right", key.right.name, key.right.pos);
      if (l.type === "dynamic" || r.type === "dynamic")
        fail("convert a dynamic `join` key first: extend k = tostring(x)", key.left.pos);
      return {
        l,
        r,
        on: this.unify(
          { sql: `${sl}.${l.alias}`, type: l.type },
          { sql: `${sr}.${r.alias}`, type: r.type },
          "join",
          key.left.pos,
        ),
      };
    });
    const on = keys.map(({ on: [l, r] }) => `${l} = ${r}`).join(" AND ");
    const exists = (
      negate: boolean,
      outer: Relation,
      outerSub: string,
      inner: Relation,
      innerSub: string,
    ) => ({
      sql: `SELECT ${this.pass(outer, outerSub)} FROM (${outer.sql}) AS ${outerSub} WHERE ${negate ? "NOT " : ""}EXISTS (SELECT 1 FROM (${inner.sql}) AS ${innerSub} WHERE ${on})`,
      cols: outer.cols,
      order: outer.order,
    });
    switch (op.joinKind) {
      case "leftsemi":
      case "leftanti":
        return exists(op.joinKind === "leftanti", rel, sl, right, sr);
      case "rightsemi":
      case "rightanti":
        return exists(op.joinKind === "rightanti", right, sr, rel, sl);
      default:
        break;
    }
    let leftSql = rel.sql;
    if (op.joinKind === "innerunique") {
      // One arbitrary left row per key value, as Kusto's default join (its left side is deduplicated on the key).
      const d = this.sub();
      const distinct = keys.map(({ l }) => `${d}.${l.alias}`).join(", ");
      leftSql = `SELECT DISTINCT ON (${distinct}) ${this.pass(rel, d)} FROM (${rel.sql}) AS ${d} ORDER BY ${distinct}`;
    }
    const cols: Col[] = rel.cols.filter((c) => !c.hidden);
    const select = cols.map((c) => `${sl}.${c.alias}`);
    for (const column of right.cols.filter((c) => !c.hidden)) {
      const alias = this.alias();
      cols.push({ name: this.freeName(column.name, cols), type: column.type, alias });
      select.push(`${sr}.${column.alias} AS ${alias}`);
    }
    const join = OUTER_JOINS[op.joinKind] ?? "JOIN";
    return {
      sql: `SELECT ${select.join(", ")} FROM (${leftSql}) AS ${sl} ${join} (${right.sql}) AS ${sr} ON ${on}`,
      cols,
      order: null,
    };
  }

  /**
   * `union`: the rows of every table, with the columns of all (null where a table has none of that name); a name
   * two tables give different types becomes one column per type (`port_long`, `port_string`), as in Kusto.
   * `kind=inner` keeps only the columns (name and type) every table has. `withsource=Name` adds a first column
   * naming each row's table (`union_arg1` for a query in parentheses).
   */
  private union(input: Relation | null, spec: UnionSpec, pos: Position): Relation {
    const tables: Array<{ rel: Relation; label: string }> = [];
    if (input) tables.push({ rel: input, label: input.label ?? "union_arg0" });
    const missing: Source[] = [];
    spec.tables.forEach((source, i) => {
      // `isfuzzy=true`: a table that does not exist is left out, as Kusto leaves out what it cannot resolve.
      if (spec.fuzzy && !this.resolves(source)) {
        missing.push(source);
        return;
      }
      const rel = this.source(source);
      tables.push({
        rel,
        label: source.kind === "subquery" ? `union_arg${i + (input ? 1 : 0)}` : (rel.label ?? ""),
      });
    });
    if (tables.length === 0)
      fail(
        `no table of \`union isfuzzy=true\` exists (${missing.map((m) => this.describe(m)).join(", ")})`,
        pos,
      );
    for (const source of missing)
      this.warnings.add(
        `line ${source.pos.line}, column ${source.pos.column}: \`union isfuzzy=true\` left out ${this.describe(source)}`,
      );
    let merged: Array<{ name: string; type: KqlType }> = [];
    for (const { rel } of tables)
      for (const c of rel.cols)
        if (!c.hidden && !merged.some((m) => m.name === c.name && m.type === c.type))
          merged.push({ name: c.name, type: c.type });
    if (spec.inner) {
      merged = merged.filter((m) =>
        tables.every(({ rel }) => rel.cols.some((c) => !c.hidden && c.name === m.name && c.type === m.type)),
      );
      if (merged.length === 0)
        fail("the tables of `union kind=inner` have no column in common (of the same name and type)", pos);
    }
    const cols: Col[] = [];
    const withSource = spec.withSource;
    if (withSource) cols.push({ name: withSource.name, type: "string", alias: this.alias() });
    for (const m of merged) {
      const typed = merged.filter((other) => other.name === m.name).length > 1;
      const name = typed ? `${m.name}_${m.type}` : m.name;
      if (cols.some((c) => c.name === name))
        fail(
          `\`union\` makes two columns named \`${name}\`: rename one (project-rename)`,
          withSource?.pos ?? pos,
        );
      cols.push({ name, type: m.type, alias: this.alias() });
    }
    if (merged.length === 0) fail("the tables of `union` have no column", pos);
    const selects = tables.map(({ rel, label }) => {
      const s = this.sub();
      const values = merged.map((m, i) => {
        const column = rel.cols.find((c) => !c.hidden && c.name === m.name && c.type === m.type);
        const value = column ? `${s}.${column.alias}` : "NULL";
        return `${value}::${SQL_TYPES[m.type]} AS ${cols[i + (withSource ? 1 : 0)].alias}`;
      });
      if (withSource) values.unshift(`${this.param(label, "text")} AS ${cols[0].alias}`);
      return `SELECT ${values.join(", ")} FROM (${rel.sql}) AS ${s}`;
    });
    return { sql: selects.join(" UNION ALL "), cols, order: null };
  }

  /**
   * Whether a table of a `union` exists: a table, a tabular `let`, a function, a watchlist of the tenant, or a query
   * starting with one (a `union` in it decides for itself). A name that exists but is no table (a scalar `let`) is
   * still refused where it is read.
   */
  private resolves(source: Source): boolean {
    switch (source.kind) {
      case "subquery":
        return this.resolves(source.query.source);
      case "union":
        return true;
      case "watchlist":
        return this.options.watchlists.has(source.alias.toLowerCase());
      case "call":
        return this.lets.functions.has(source.name);
      case "table":
        return (
          source.name === "Events" ||
          CLASS_TABLES.has(source.name) ||
          this.lets.tables.has(source.name) ||
          this.lets.scalars.has(source.name) ||
          this.lets.params.has(source.name) ||
          this.lets.functions.has(source.name)
        );
    }
  }

  /** What a table of a `union` that does not exist names: `table \`X\``, `function \`f\``, `watchlist 'w'`. */
  private describe(source: Source): string {
    switch (source.kind) {
      case "subquery":
        return this.describe(source.query.source);
      case "watchlist":
        return `the unknown watchlist \`${source.alias}\``;
      case "call":
        return `the unknown function \`${source.name}\``;
      case "table":
        return `the unknown table \`${source.name}\``;
      default:
        return "a table";
    }
  }

  /**
   * `mv-expand`: a row per element of an array (per key of a property bag, as `{key: value}`); a null or scalar
   * value gives one row holding it and an empty array or bag none, as in Kusto. Several values are expanded in
   * parallel, as Kusto zips them: as many rows as the longest has elements, the shorter ones null past their end. Each
   * column replaces the one it expands, or is added under its `name =`. With `kind=array` a bag's keys are
   * `[key, value]` arrays instead.
   */
  private mvExpand(rel: Relation, op: Extract<Operator, { kind: "mv-expand" }>): Relation {
    const s = this.sub();
    const m = this.sub();
    const expansion = this.expansion(op, { sub: s, cols: rel.cols }, m, "mv-expand");
    const cols = [...rel.cols];
    const select = [this.pass(rel, s)];
    for (const { name, type, sql } of expansion.columns) {
      const alias = this.alias();
      const column: Col = { name, type, alias };
      setColumn(cols, column);
      select.push(`${sql} AS ${alias}`);
    }
    if (op.itemIndex) {
      if (cols.some((c) => !c.hidden && c.name === op.itemIndex!.name))
        fail(`a column named \`${op.itemIndex.name}\` exists already`, op.itemIndex.pos);
      const indexAlias = this.alias();
      cols.push({ name: op.itemIndex.name, type: "long", alias: indexAlias });
      select.push(`(${m}.ord - 1) AS ${indexAlias}`);
    }
    return this.trim({
      sql: `SELECT ${select.join(", ")} FROM (${rel.sql}) AS ${s} CROSS JOIN LATERAL ${expansion.from}`,
      cols,
      order: rel.order,
    });
  }

  /**
   * The values of `mv-expand` and `mv-apply` read from the row of `scope`: the ROWS FROM (with its `limit`) that
   * zips their elements, as `m(e0, e1…, ord)`, and each value's typed column over it.
   */
  private expansion(
    op: { items: Extract<Operator, { kind: "mv-expand" }>["items"]; bagAsArray?: boolean; limit?: number },
    scope: Scope,
    m: string,
    operator: string,
  ): { from: string; columns: Array<{ name: string; type: KqlType; sql: string }> } {
    const arrays: string[] = [];
    const columns: Array<{ name: string; type: KqlType; sql: string }> = [];
    op.items.forEach((item, i) => {
      const value = this.expr(item.expr, scope);
      if (value.type !== "dynamic")
        fail(
          `\`${operator}\` expands dynamic values (arrays, property bags), not a ${value.type}`,
          item.expr.pos,
        );
      const name = item.name?.name ?? autoName(item.expr);
      if (name === null)
        return fail(`name the expanded column: \`${operator} name = expression\``, item.expr.pos);
      if (columns.some((c) => c.name === name))
        fail(
          `\`${operator}\` makes two columns named \`${name}\`: name one (\`other = …\`)`,
          item.name?.pos ?? item.expr.pos,
        );
      const v = value.sql;
      const isA = (json: string, x: string) => `jsonb_typeof(${x}) = '${json}'`;
      // The elements as one array, which ROWS FROM zips with the others': a bag's keys as one-key bags (or
      // [key, value] arrays), a null or scalar value as itself (SQL null stays null), an empty array or bag as no
      // element.
      const entry = op.bagAsArray
        ? "jsonb_build_array(x.key, x.value)"
        : "jsonb_build_object(x.key, x.value)";
      arrays.push(
        `jsonb_array_elements(CASE WHEN ${isA("array", v)} THEN ${v} WHEN ${isA("object", v)} THEN (SELECT jsonb_agg(${entry} ORDER BY x.ord) FROM jsonb_each(${v}) WITH ORDINALITY AS x(key, value, ord)) ELSE jsonb_build_array(${v}) END)`,
      );
      const element = `(CASE WHEN jsonb_typeof(${v}) IN ('array', 'object') THEN ${m}.e${i} WHEN ${m}.ord = 1 THEN ${v} END)`;
      const typed = this.elementAs(element, item.toType);
      columns.push({ name, type: typed.type, sql: typed.sql });
    });
    const elements = op.items.map((_, i) => `e${i}`).join(", ");
    const limit = op.limit === undefined ? "" : ` WHERE ${m}.ord <= ${this.param(op.limit, "bigint")}`;
    return {
      from: `ROWS FROM (${arrays.join(", ")}) WITH ORDINALITY AS ${m}(${elements}, ord)${limit}`,
      columns,
    };
  }

  /**
   * `mv-apply x = arr to typeof(long) on (subquery)`: per row, the subquery over the row's sub-table — its expanded
   * values (zipped as `mv-expand` zips them, in array order, which `take` keeps) and `with_itemindex`, no other
   * column — then the row's other columns beside each row the subquery returns (a column the subquery returns
   * replaces the row's of that name; a column a value expands, named as the value, is left out). A row whose
   * subquery returns nothing is dropped, as in Kusto. In SQL, a LATERAL subquery per row: the subquery's operators
   * read only the sub-table (no table, so no tenant scoping to keep), and those that read a table are refused.
   */
  private mvApply(rel: Relation, op: Extract<Operator, { kind: "mv-apply" }>): Relation {
    const s = this.sub();
    const m = this.sub();
    const expansion = this.expansion(op, { sub: s, cols: rel.cols }, m, "mv-apply");
    const ord = this.alias();
    const inner: Col[] = expansion.columns.map(({ name, type }) => ({ name, type, alias: this.alias() }));
    const select = expansion.columns.map((c, i) => `${c.sql} AS ${inner[i].alias}`);
    if (op.itemIndex) {
      if (inner.some((c) => c.name === op.itemIndex!.name))
        fail(`a column named \`${op.itemIndex.name}\` exists already`, op.itemIndex.pos);
      const alias = this.alias();
      inner.push({ name: op.itemIndex.name, type: "long", alias });
      select.push(`(${m}.ord - 1) AS ${alias}`);
    }
    select.push(`${m}.ord AS ${ord}`);
    let sub: Relation = {
      sql: `SELECT ${select.join(", ")} FROM ${expansion.from}`,
      cols: [...inner, { name: `(order ${ord})`, type: "long", alias: ord, hidden: true }],
      order: [{ alias: ord, type: "long", desc: false, nullsFirst: false }],
    };
    for (const inside of op.operators) {
      if (!MV_APPLY_OPERATORS.has(inside.kind))
        fail(
          `\`${inside.kind}\` is not supported in the subquery of \`mv-apply\` (it takes ${[...MV_APPLY_OPERATORS].join(", ")})`,
          inside.pos,
        );
      sub = this.operator(sub, inside);
    }
    const results = sub.cols.filter((c) => !c.hidden);
    if (!results.length)
      fail("the subquery of `mv-apply` keeps no column", op.operators[op.operators.length - 1].pos);
    const expanded = new Set(
      op.items.flatMap((item) => (item.expr.kind === "column" ? [item.expr.name] : [])),
    );
    const names = new Set(results.map((c) => c.name));
    const cols: Col[] = rel.cols.map((c) =>
      !c.hidden && (expanded.has(c.name) || names.has(c.name)) ? { ...c, hidden: true } : c,
    );
    const a = this.sub();
    return this.trim({
      sql: `SELECT ${this.pass(rel, s)}, ${results.map((c) => `${a}.${c.alias}`).join(", ")} FROM (${rel.sql}) AS ${s} CROSS JOIN LATERAL (${sub.sql}) AS ${a}`,
      cols: [...cols, ...results],
      order: rel.order,
    });
  }

  /**
   * `make-series`: per group, an array per aggregation with one element per bin of `step` from `from` up to (not
   * including) `to` (each the hunt's own bound when left out, datetime axis only), the bins without rows holding
   * the aggregation's `default` (0 unless given; null for a time or a string), and the axis column as the array of
   * the bins' starts, as Kusto makes them. The bounds and step are constants, so the number of bins is checked
   * before the hunt runs. In SQL: the rows of the range aggregated per
   * group and bin, each group numbered (a common table expression of the stage); every group crossed with every bin
   * (generate_series) and left-joined to its aggregates by number and bin, then gathered in bin order by array_agg.
   */
  private makeSeries(rel: Relation, op: Extract<Operator, { kind: "make-series" }>): Relation {
    const s = this.sub();
    const scope = { sub: s, cols: rel.cols };
    const axis = this.expr(op.axis, scope);
    const time = axis.type === "datetime";
    if (!time && !isNumeric(axis.type))
      fail(`\`make-series\` bins a datetime or a number, not a ${axis.type}`, op.axis.pos);
    const axisName = autoName(op.axis);
    if (axisName === null) return fail("`make-series … on` takes a column (`extend` one first)", op.axis.pos);
    const constant = (expr: Expr, what: string, wanted: "datetime" | "timespan" | "number"): Constant => {
      const type = this.expr(expr, SERIES_SCOPE).type;
      const value = this.constant(expr);
      if (!value)
        return fail(
          `\`${what}\` of \`make-series\` is a constant: a literal, now(), ago(…), startofday(…), a \`let\` holding one, or + and - of those`,
          expr.pos,
        );
      if (wanted === "number" ? !isNumeric(type) : type !== wanted)
        fail(`\`${what}\` of \`make-series\` on a ${axis.type} is a ${wanted}, not a ${type}`, expr.pos);
      return value;
    };
    // A bound left out is the hunt's: Kusto takes the data's min or max, which would leave the number of bins
    // unknown until the rows are read; the hunt's range bounds them before it runs.
    const bound = (expr: Expr | null, what: "from" | "to", hunt: Date): Constant => {
      if (expr) return constant(expr, what, time ? "datetime" : "number");
      if (!time)
        fail(
          `\`make-series\` on a number needs \`from\` and \`to\` (only a datetime axis defaults to the hunt's time range)`,
          op.axis.pos,
        );
      return { type: "datetime", value: hunt.getTime() * 1000 };
    };
    let from: Constant;
    let to: Constant;
    let step: Constant;
    if (op.range && op.from && op.to) {
      // `in range(start, stop, step)`: Kusto bins with bin() rather than bin_at(), and `stop` is inclusive, so the
      // bins are bin()'s (aligned as Rampart's bin() aligns them: datetimes on 2000-01-01T00:00Z, numbers on 0),
      // from the one holding `start` to the one holding `stop`: the same as `from bin(start) to bin(stop) + step`.
      const start = constant(op.from, "start", time ? "datetime" : "number");
      const stop = constant(op.to, "stop", time ? "datetime" : "number");
      step = constant(op.step, "step", time ? "timespan" : "number");
      if (!(step.value > 0)) fail("`step` of `make-series … in range()` is more than zero", op.step.pos);
      if (stop.value < start.value)
        fail("`stop` of `make-series … in range()` is at or after `start`", op.to.pos);
      const origin = time ? BIN_ORIGIN_MICROS : 0;
      const binOfValue = (v: number) => origin + Math.floor((v - origin) / step.value) * step.value;
      const real = (c: Constant) => (c.type === "real" || step.type === "real" ? "real" : c.type);
      from = { type: real(start), value: binOfValue(start.value) };
      to = { type: real(stop), value: binOfValue(stop.value) + step.value };
    } else {
      from = bound(op.from, "from", this.options.from);
      to = bound(op.to, "to", this.options.to);
      step = constant(op.step, "step", time ? "timespan" : "number");
      if (!(step.value > 0)) fail("`step` of `make-series` is more than zero", op.step.pos);
      if (to.value <= from.value)
        fail("`to` of `make-series` comes after `from`", (op.to ?? op.from ?? op.axis).pos);
    }
    // range()'s bins are whole steps by construction (rounded against floating-point error); from/to may end in part of one.
    const bins = op.range
      ? Math.round((to.value - from.value) / step.value)
      : Math.ceil((to.value - from.value) / step.value);
    if (bins > COMPILE_LIMITS.maxSeriesBins)
      fail(
        op.range
          ? `\`make-series\` makes at most ${COMPILE_LIMITS.maxSeriesBins} bins, and this range() makes ${bins}: take a larger step or a shorter range`
          : `\`make-series\` makes at most ${COMPILE_LIMITS.maxSeriesBins} bins, and this step makes ${bins} from \`from\` to \`to\`${op.from && op.to ? "" : " (the hunt's time range where left out)"}: take a larger step or a shorter range`,
        op.step.pos,
      );

    const groups = this.named(op.by, scope, "make-series");
    const taken: string[] = groups.map((g) => g.name);
    const series = op.aggregates.map((item) => {
      const call = item.expr;
      if (call.kind !== "call" || !SERIES_AGGREGATIONS.has(call.name))
        return fail(
          `\`make-series\` takes the aggregations ${[...SERIES_AGGREGATIONS].join(", ")}${call.kind === "call" ? `, not \`${call.name}()\`` : ""}`,
          call.pos,
        );
      const name = item.name ?? this.aggregateName(call);
      if (taken.includes(name))
        fail(`the column \`${name}\` appears twice; name one of them (name = …)`, item.namePos ?? call.pos);
      taken.push(name);
      const value = this.aggregate(call, scope);
      let fill: Typed | null = isNumeric(value.type) ? { sql: "0", type: value.type } : null;
      if (item.default) {
        fill = this.expr(item.default, SERIES_SCOPE);
        if (fill.type !== value.type && !(isNumeric(fill.type) && isNumeric(value.type)))
          fail(
            `the \`default\` of \`${call.name}\` here is a ${value.type}, not a ${fill.type}`,
            item.default.pos,
          );
      }
      const type: KqlType = fill?.type === "real" ? "real" : value.type;
      return { name, value, fill, type, alias: this.alias() };
    });
    if (taken.includes(axisName))
      fail(`the column \`${axisName}\` appears twice; name one of them (name = …)`, op.axis.pos);

    // Each group's aggregates per bin (`bin`), the group numbered (`gid`) so the join below is on plain numbers.
    const k = this.sub();
    const x = this.sub();
    const bin = this.alias();
    const gid = this.alias();
    let where: string;
    let binOf: string;
    let start: (i: string) => string;
    if (time) {
      const fromAt = this.param(isoOfMicros(from.value), "timestamptz");
      const fromUs = this.param(from.value, "numeric");
      const stepUs = this.param(step.value, "numeric");
      where = `${axis.sql} >= ${fromAt} AND ${axis.sql} < ${this.param(isoOfMicros(to.value), "timestamptz")}`;
      binOf = `floor((extract(epoch FROM ${axis.sql}) * 1000000 - ${fromUs}) / ${stepUs})::bigint`;
      start = (i) =>
        this.text({
          sql: `(${fromAt} + interval '1 microsecond' * (${i} * ${stepUs})::float8)`,
          type: "datetime",
        });
    } else {
      const value = this.asFloat(axis);
      const fromValue = this.param(from.value, "float8");
      const stepValue = this.param(step.value, "float8");
      where = `${value} >= ${fromValue} AND ${value} < ${this.param(to.value, "float8")}`;
      binOf = `floor((${value} - ${fromValue}) / ${stepValue})::bigint`;
      // Whole bounds and step make whole bin starts.
      const whole = from.type === "long" && step.type === "long";
      start = (i) =>
        whole ? `(${fromValue} + ${i} * ${stepValue})::bigint` : `(${fromValue} + ${i} * ${stepValue})`;
    }
    const inner = [
      ...groups.map((g) => `${g.sql} AS ${g.alias}`),
      `${binOf} AS ${bin}`,
      ...series.map((c) => `${c.value.sql} AS ${c.alias}`),
    ];
    const numbered = groups.length ? `ORDER BY ${groups.map((g) => `${x}.${g.alias}`).join(", ")}` : "";
    const cte = `${k} AS (SELECT ${x}.*, dense_rank() OVER (${numbered}) AS ${gid} FROM (SELECT ${inner.join(", ")} FROM (${rel.sql}) AS ${s} WHERE ${where} GROUP BY ${inner
      .slice(0, groups.length + 1)
      .map((_, i) => i + 1)
      .join(", ")}) AS ${x})`;

    // Every group crossed with every bin, its aggregates (or the default) gathered in bin order.
    const g = this.sub();
    const b = this.sub();
    const element = (v: Typed, type: KqlType): string =>
      type === "datetime" || type === "timespan" ? this.text(v) : type === "real" ? this.asFloat(v) : v.sql;
    const out = [
      ...groups.map((c) => ({ name: c.name, type: c.type, alias: this.alias(), sql: `${g}.${c.alias}` })),
      ...series.map((c) => {
        const value = element({ sql: `${k}.${c.alias}`, type: c.value.type }, c.type);
        const fill = c.fill ? element(c.fill, c.type) : "NULL";
        return {
          name: c.name,
          type: "dynamic" as const,
          alias: this.alias(),
          sql: `to_jsonb(array_agg(CASE WHEN ${k}.${bin} IS NULL THEN ${fill} ELSE ${value} END ORDER BY ${b}.i))`,
        };
      }),
      {
        name: axisName,
        type: "dynamic" as const,
        alias: this.alias(),
        sql: `to_jsonb(array_agg(${start(`${b}.i`)} ORDER BY ${b}.i))`,
      },
    ];
    const groupCols = [gid, ...groups.map((c) => c.alias)];
    const sql = `WITH ${cte} SELECT ${out.map((o) => `${o.sql} AS ${o.alias}`).join(", ")} FROM (SELECT DISTINCT ${groupCols.map((c) => `${k}.${c}`).join(", ")} FROM ${k}) AS ${g} CROSS JOIN generate_series(0, ${this.param(bins - 1, "bigint")}) AS ${b}(i) LEFT JOIN ${k} ON ${k}.${gid} = ${g}.${gid} AND ${k}.${bin} = ${b}.i GROUP BY ${groupCols.map((c) => `${g}.${c}`).join(", ")}`;
    return { sql, cols: out.map(({ name, type, alias }) => ({ name, type, alias })), order: null };
  }

  /**
   * The value of a constant expression (`make-series`'s bounds and step), or null when it is not one: literals,
   * `now()`, `ago()`, `startofday()`, scalar `let`s and parameters holding them, and `+`, `-` and `*` of those.
   */
  private constant(expr: Expr): Constant | null {
    const e = this.resolved(expr, null);
    const num = (c: Constant) => c.type === "long" || c.type === "real";
    switch (e.kind) {
      case "literal":
        if (e.type === "datetime") return { type: "datetime", value: microsOf(e.value) };
        return e.type === "string" || e.type === "bool" ? null : { type: e.type, value: e.value };
      case "column": {
        const value = this.lets.scalars.get(e.name);
        return value && !this.lets.params.has(e.name) ? this.constant(value) : null;
      }
      case "unary": {
        const operand = this.constant(e.operand);
        return operand && operand.type !== "datetime" ? { ...operand, value: -operand.value } : null;
      }
      case "binary": {
        const left = this.constant(e.left);
        const right = this.constant(e.right);
        if (!left || !right) return null;
        if (e.op === "+" || e.op === "-") {
          const value = e.op === "+" ? left.value + right.value : left.value - right.value;
          if (num(left) && num(right))
            return { type: left.type === "real" || right.type === "real" ? "real" : "long", value };
          if (right.type === "timespan" && (left.type === "datetime" || left.type === "timespan"))
            return { type: left.type, value };
          return e.op === "+" && left.type === "timespan" && right.type === "datetime"
            ? { type: "datetime", value }
            : null;
        }
        if (e.op !== "*") return null;
        if (num(left) && num(right))
          return {
            type: left.type === "real" || right.type === "real" ? "real" : "long",
            value: left.value * right.value,
          };
        if ((left.type === "timespan" && num(right)) || (num(left) && right.type === "timespan"))
          return { type: "timespan", value: Math.round(left.value * right.value) };
        return null;
      }
      case "call": {
        if (this.lets.functions.has(e.name)) return null;
        const now = this.options.now.getTime() * 1000;
        const arg = e.args.length === 1 ? this.constant(e.args[0]) : null;
        if (e.name === "now" && !e.args.length) return { type: "datetime", value: now };
        if ((e.name === "now" || e.name === "ago") && arg?.type === "timespan")
          return { type: "datetime", value: e.name === "now" ? now + arg.value : now - arg.value };
        // startofday(d[, offset]): whole days, so the offset moves it by days (no calendar to consult).
        const day = e.name === "startofday" && e.args.length ? this.constant(e.args[0]) : null;
        const offset = e.name === "startofday" && e.args.length === 2 ? this.constant(e.args[1]) : null;
        if (day?.type === "datetime" && (e.args.length === 1 || offset?.type === "long")) {
          const value =
            day.value -
            (((day.value % 86_400_000_000) + 86_400_000_000) % 86_400_000_000) +
            (offset?.value ?? 0) * 86_400_000_000;
          // Beyond Kusto's years 1 to 9999 the SQL value is null: no constant.
          return value >= KUSTO_MIN_US && value < KUSTO_END_US ? { type: "datetime", value } : null;
        }
        return null;
      }
      default:
        return null;
    }
  }

  /** An expanded element (jsonb) as `to typeof(type)` says: elements of another type are null. */
  private elementAs(element: string, toType: Name | undefined): Typed {
    const isA = (json: string) => `jsonb_typeof(${element}) = '${json}'`;
    switch (toType?.name) {
      case undefined:
        return { sql: element, type: "dynamic" };
      case "string":
        return { sql: `(CASE WHEN ${isA("string")} THEN ${element} #>> '{}' END)`, type: "string" };
      case "long":
      case "int":
        return {
          sql: `(CASE WHEN ${isA("number")} AND (${element})::numeric = trunc((${element})::numeric) AND abs((${element})::numeric) < 9.2e18 THEN (${element})::numeric::bigint END)`,
          type: "long",
        };
      case "real":
      case "double":
        return { sql: `(CASE WHEN ${isA("number")} THEN (${element})::float8 END)`, type: "real" };
      case "bool":
      case "boolean":
        return { sql: `(CASE WHEN ${isA("boolean")} THEN (${element})::boolean END)`, type: "bool" };
      case "datetime":
        return {
          sql: this.datetimeOfText(`(CASE WHEN ${isA("string")} THEN ${element} #>> '{}' END)`),
          type: "datetime",
        };
      default:
        return fail(`\`mv-expand\` casts to string, long, real, bool or datetime`, toType!.pos);
    }
  }

  /**
   * `parse x with * "user=" user " port=" port:long *`: the text must match the whole pattern — `*` any text, a
   * string itself, a column the shortest text up to what follows (a long or real column: a number) — or every
   * column it extracts is null. One Postgres regular expression of escaped literals, so the text cannot inject
   * a pattern.
   *
   * `parse kind=regex` (Kusto's regex mode): the strings are regular expressions, `*` and text columns match
   * greedily (`flags=U` makes every quantifier lazy), and the first match anywhere in the text counts (write `^`
   * and `$` to anchor). The pattern is still one bind parameter: the query's regular expressions are checked
   * (parentheses balanced, no back references) and their groups made non-capturing, so the columns are the
   * match's groups in order.
   */
  private parse(rel: Relation, op: Extract<Operator, { kind: "parse" }>): Relation {
    const s = this.sub();
    const value = this.expr(op.expr, { sub: s, cols: rel.cols });
    const pattern: string[] = [];
    const columns: Array<{ name: string; type: string; pos: Position }> = [];
    const regex = op.regex;
    const lazy = regex?.flags.includes("U") ?? false;
    // Simple mode: the shortest text; regex mode: the longest, unless `flags=U`.
    const anything = regex ? (lazy ? ".*?" : ".*") : ".*?";
    if (regex) {
      const written = op.parts.reduce((n, part) => n + (part.kind === "text" ? part.value.length : 0), 0);
      if (written > COMPILE_LIMITS.maxRegexLength)
        fail(
          `the regular expressions of a \`parse\` pattern are at most ${COMPILE_LIMITS.maxRegexLength} characters together`,
          op.pos,
        );
    }
    const relaxed = op.relaxed ?? false;
    const typed = (part: ParsePart | undefined) =>
      part?.kind === "column" && part.type !== "string" && part.type !== "datetime";
    // Text up to what follows: `*`, and string and datetime columns (relaxed: every column but a typed one before a
    // `*`, which takes its type's text or none). Two in a row would split text arbitrarily.
    const anyText = (part: ParsePart | undefined) =>
      part?.kind === "any" ||
      (part?.kind === "column" && (relaxed || part.type === "string" || part.type === "datetime"));
    op.parts.forEach((part, i) => {
      const previous = op.parts[i - 1];
      if (anyText(part) && anyText(previous) && !(relaxed && part.kind === "any" && typed(previous)))
        fail("put a string between two parts of a `parse` pattern that match any text", part.pos);
      if (part.kind === "any") {
        pattern.push(anything);
      } else if (part.kind === "text") {
        pattern.push(regex ? embeddedRegex(part.value, lazy, part.pos) : regexLiteral(part.value));
      } else {
        if (columns.some((c) => c.name === part.name))
          fail(`the column \`${part.name}\` appears twice in the pattern`, part.pos);
        columns.push(part);
        const starNext = op.parts[i + 1]?.kind === "any";
        pattern.push(
          relaxed && typed(part)
            ? starNext
              ? `((?:${TYPED_TEXT[part.type]})?)`
              : `(${anything})`
            : part.type === "long" || part.type === "int"
              ? "([+-]?[0-9]+)"
              : part.type === "real" || part.type === "double"
                ? "([+-]?(?:[0-9]+(?:[.][0-9]*)?|[.][0-9]+)(?:[eE][+-]?[0-9]+)?)"
                : part.type === "bool" || part.type === "boolean"
                  ? "(true|false|True|False|TRUE|FALSE)"
                  : `(${anything})`,
        );
      }
    });
    if (!columns.length) fail("a `parse` pattern extracts at least one column (name or name:type)", op.pos);
    const match = this.alias();
    let matching: string;
    if (regex) {
      // Postgres names the fault but not where it is: point at the pattern's first regular expression.
      const position = op.parts.find((part) => part.kind === "text")?.pos ?? regex.pos;
      const compiled = { pattern: pattern.join(""), flags: postgresFlags(regex.flags), position };
      this.regexes.push(compiled);
      matching = `regexp_match(${this.text(value)}, ${this.param(compiled.pattern, "text")}, ${this.param(compiled.flags, "text")})`;
    } else {
      matching = `regexp_match(${this.text(value)}, ${this.param(`^${pattern.join("")}$`, "text")})`;
    }
    const inner = `SELECT ${this.pass(rel, s)}, ${matching} AS ${match} FROM (${rel.sql}) AS ${s}`;
    const p = this.sub();
    const cols = [...rel.cols];
    const select = [this.pass(rel, p)];
    columns.forEach((column, i) => {
      const text = `(${p}.${match})[${i + 1}]`;
      let value: Typed;
      switch (column.type) {
        case "long":
        case "int":
          value = {
            sql: `(CASE WHEN ${text} ~ '^[+-]?[0-9]{1,18}$' THEN ${text}::bigint END)`,
            type: "long",
          };
          break;
        case "real":
        case "double":
          value = {
            sql: relaxed
              ? `(CASE WHEN char_length(${text}) <= 40 AND ${text} ~ '^${TYPED_TEXT.real}$' THEN ${text}::float8 END)`
              : `(CASE WHEN char_length(${text}) <= 40 THEN ${text}::float8 END)`,
            type: "real",
          };
          break;
        case "bool":
        case "boolean":
          value = {
            sql: relaxed
              ? `(CASE WHEN lower(${text}) IN ('true', 'false') THEN lower(${text}) = 'true' END)`
              : `(lower(${text}) = 'true')`,
            type: "bool",
          };
          break;
        case "datetime":
          value = { sql: this.datetimeOfText(text), type: "datetime" };
          break;
        default:
          value = { sql: text, type: "string" };
      }
      const alias = this.alias();
      const col: Col = { name: column.name, type: value.type, alias };
      setColumn(cols, col);
      select.push(`${value.sql} AS ${alias}`);
    });
    return this.trim({ sql: `SELECT ${select.join(", ")} FROM (${inner}) AS ${p}`, cols, order: rel.order });
  }

  // -- expressions ----------------------------------------------------------------------------------------

  /** The visible column names, the first 25. */
  private columnList(cols: Col[]): string {
    const names = cols.filter((c) => !c.hidden).map((c) => c.name);
    return names.slice(0, 25).join(", ") + (names.length > 25 ? ", …" : "") || "none";
  }

  private unknownColumn(name: string, cols: Col[]): string {
    return `unknown column \`${name}\` (columns here: ${this.columnList(cols)})`;
  }

  private isNotAColumn(name: string, scope: Scope): boolean {
    return !scope.cols.some((c) => !c.hidden && c.name === name);
  }

  /** Counts a use of a scalar `let` (or a function, or a parameter: `n` uses) against maxLetExpansions. */
  private expand(pos: Position, n = 1): void {
    if ((this.expansions += n) > COMPILE_LIMITS.maxLetExpansions)
      fail(
        `a query uses scalar \`let\`s and calls functions at most ${COMPILE_LIMITS.maxLetExpansions} times (counting those inside others)`,
        pos,
      );
  }

  /**
   * Where a literal is needed (`take N`, bin sizes, `has` terms, patterns, `in (…)` values): a name that is no
   * column of `scope` but a scalar `let` holding a literal or `dynamic(…)` stands for it; anything else as given.
   */
  private resolved(expr: Expr, scope: Scope | null): Expr {
    if (expr.kind !== "column" || scope?.cols.some((c) => !c.hidden && c.name === expr.name)) return expr;
    const binding = this.lets.params.get(expr.name);
    if (binding) {
      this.expand(expr.pos, 1 + binding.cost);
      return binding.literal ? { ...binding.literal, pos: expr.pos } : expr;
    }
    const value = this.lets.scalars.get(expr.name);
    if (!value) return expr;
    this.expand(expr.pos);
    const inner = this.resolved(value, null);
    return inner.kind === "literal" || inner.kind === "dynamic" ? { ...inner, pos: expr.pos } : expr;
  }

  /** A boolean condition (`where`, `countif`, `iff`), or a type error naming what it is instead. */
  private condition(expr: Expr, scope: Scope, what: string): string {
    const value = this.expr(expr, scope);
    const bool = this.bool(value);
    return bool ?? fail(`\`${what}\` needs a true/false condition, not a ${value.type}`, expr.pos);
  }

  /** Text of any value (Kusto's `tostring`): numbers and booleans as written, times in ISO 8601, JSON strings unquoted. */
  private text(v: Typed): string {
    switch (v.type) {
      case "string":
        return v.sql;
      case "datetime":
        return `to_char((${v.sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
      case "dynamic":
        return `(${v.sql} #>> '{}')`;
      default:
        return `(${v.sql})::text`;
    }
  }

  /** A number (dynamic: a JSON number, else null), or null when `v` cannot be one. */
  private number(v: Typed): Typed | null {
    if (isNumeric(v.type)) return v;
    if (v.type === "dynamic")
      return {
        sql: `(CASE WHEN jsonb_typeof(${v.sql}) = 'number' THEN (${v.sql})::float8 END)`,
        type: "real",
      };
    return null;
  }

  private bool(v: Typed): string | null {
    if (v.type === "bool") return v.sql;
    if (v.type === "dynamic")
      return `(CASE WHEN jsonb_typeof(${v.sql}) = 'boolean' THEN (${v.sql})::boolean END)`;
    return null;
  }

  /** A datetime from text: ISO 8601 text casts, anything else is null. */
  private datetimeOfText(text: string): string {
    return `(CASE WHEN ${text} ~ ${ISO_TIMESTAMP_SQL} THEN (${text})::timestamptz END)`;
  }

  private asFloat(v: Typed): string {
    return v.type === "long" ? `(${v.sql})::float8` : v.sql;
  }

  /** Both sides of a comparison in one type, or a type error. */
  private unify(left: Typed, right: Typed, op: string, pos: Position): [string, string, KqlType] {
    if (left.type === right.type) return [left.sql, right.sql, left.type];
    if (isNumeric(left.type) && isNumeric(right.type))
      return [this.asFloat(left), this.asFloat(right), "real"];
    const [dyn, other, flipped] =
      left.type === "dynamic"
        ? [left, right, false]
        : right.type === "dynamic"
          ? [right, left, true]
          : [null, null, false];
    if (dyn && other) {
      let converted: string | null = null;
      if (other.type === "string") converted = this.text(dyn);
      else if (isNumeric(other.type)) converted = this.number(dyn)!.sql;
      else if (other.type === "bool") converted = this.bool(dyn);
      else if (other.type === "datetime") converted = this.datetimeOfText(this.text(dyn));
      if (converted !== null) {
        const otherSql = isNumeric(other.type) ? this.asFloat(other) : other.sql;
        const type: KqlType = isNumeric(other.type) ? "real" : other.type;
        return flipped ? [otherSql, converted, type] : [converted, otherSql, type];
      }
    }
    return fail(`cannot compare ${left.type} with ${right.type} using \`${op}\``, pos);
  }

  expr(expr: Expr, scope: Scope): Typed {
    switch (expr.kind) {
      case "literal":
        return this.literal(expr);
      case "column": {
        const column = scope.cols.find((c) => !c.hidden && c.name === expr.name);
        if (column) {
          this.columnRefs++;
          return { sql: `${scope.sub}.${column.alias}`, type: column.type };
        }
        // A column of the row comes first; then a function's parameters and the scalar `let`s, compiled where
        // they are used.
        const binding = this.lets.params.get(expr.name);
        if (binding) return this.parameter(expr.name, binding, expr.pos);
        if (this.lets.functions.has(expr.name))
          fail(`\`${expr.name}\` is a function: call it, \`${expr.name}(…)\``, expr.pos);
        const value = this.lets.scalars.get(expr.name);
        if (value) {
          this.expand(expr.pos);
          return this.expr(value, LET_SCOPE);
        }
        if (this.lets.tables.has(expr.name))
          fail(
            `\`${expr.name}\` is a tabular \`let\`: read it as a table (\`${expr.name} | …\`, \`join ${expr.name}\`, \`union ${expr.name}\`)`,
            expr.pos,
          );
        if (scope.noRow) fail(`unknown name \`${expr.name}\`: ${scope.noRow}`, expr.pos);
        if (scope.aggregated?.rows.some((c) => !c.hidden && c.name === expr.name))
          fail(
            `\`${expr.name}\` is a column of the rows: outside an aggregation, \`summarize\` sees only its \`by\` columns (aggregate it, e.g. max(${expr.name}), or add it to \`by\`)`,
            expr.pos,
          );
        return fail(this.unknownColumn(expr.name, scope.cols), expr.pos);
      }
      case "dynamic":
        return { sql: this.param(JSON.stringify(expr.value), "jsonb"), type: "dynamic" };
      case "star":
        return fail("`*` stands for all columns in `arg_max(x, *)` and `arg_min(x, *)` only", expr.pos);
      case "member": {
        const target = this.expr(expr.target, scope);
        if (target.type !== "dynamic")
          fail(
            `\`.\` and \`[…]\` read into dynamic values (such as attributes), not a ${target.type}`,
            expr.pos,
          );
        return { sql: `(${target.sql} #> ${this.param(expr.path, "text[]")})`, type: "dynamic" };
      }
      case "unary": {
        const operand = this.expr(expr.operand, scope);
        if (operand.type === "timespan") return { sql: `(-${operand.sql})`, type: "timespan" };
        const n = this.number(operand);
        if (!n) fail(`\`-\` applies to numbers and timespans, not a ${operand.type}`, expr.pos);
        return { sql: `(-${n!.sql})`, type: n!.type };
      }
      case "binary":
        return this.binary(expr, scope);
      case "in":
        return this.inList(expr, scope);
      case "between": {
        const left = this.expr(expr.left, scope);
        const low = this.expr(expr.low, scope);
        let high = this.expr(expr.high, scope);
        if (left.type === "datetime" && low.type === "datetime" && high.type === "timespan")
          high = { sql: `(${low.sql} + ${high.sql})`, type: "datetime" };
        if (!["long", "real", "datetime", "timespan", "dynamic"].includes(left.type))
          fail(`\`between\` compares numbers, datetimes or timespans, not a ${left.type}`, expr.pos);
        const [l, lo] = this.unify(left, low, "between", expr.pos);
        const [l2, hi] = this.unify(left, high, "between", expr.pos);
        const positive = `(${l} >= ${lo} AND ${l2} <= ${hi})`;
        return { sql: expr.negate ? `(NOT coalesce(${positive}, false))` : positive, type: "bool" };
      }
      case "call":
        return this.call(expr, scope);
      case "toscalar":
        return this.toscalar(expr);
      case "table":
        return fail("a query is not a value: it stands where a table goes", expr.pos);
    }
  }

  /**
   * `toscalar(query)`: the first column of the query's first row (in its order, if it has one), or null. The query
   * is a common table expression read by an uncorrelated scalar subquery, so Postgres runs it once for the whole
   * statement, as Kusto evaluates it once; its tables count against the limit like any others, once per
   * `toscalar` written (a scalar `let` holding one reads them once however often it is used).
   */
  private toscalar(expr: Extract<Expr, { kind: "toscalar" }>): Typed {
    const known = this.scalarQueries.get(expr);
    if (known) return known;
    const [params, columns] = [this.paramRefs, this.columnRefs];
    this.depth++;
    let rel: Relation;
    try {
      rel = this.trim(this.pipeline(expr.query));
    } finally {
      // The query's own columns are not the row's: a value holding it may be used anywhere.
      this.depth--;
      this.columnRefs = columns;
    }
    const first = rel.cols.find((c) => !c.hidden);
    if (!first) return fail("the query of `toscalar` keeps no column", expr.pos);
    const cte = `l${this.ctes.length}`;
    this.ctes.push(`${cte} AS (${rel.sql})`);
    const s = this.sub();
    const typed: Typed = {
      sql: `(SELECT ${s}.${first.alias} FROM ${cte} AS ${s}${this.orderBy(rel.order, s)} LIMIT 1)`,
      type: first.type,
    };
    // One inside a function's body that names a parameter differs from call to call.
    if (this.paramRefs === params) this.scalarQueries.set(expr, typed);
    return typed;
  }

  private literal(expr: Extract<Expr, { kind: "literal" }>): Typed {
    switch (expr.type) {
      case "string":
        return { sql: this.param(expr.value, "text"), type: "string" };
      case "long":
        return { sql: this.param(expr.value, "bigint"), type: "long" };
      case "real":
        return { sql: this.param(expr.value, "float8"), type: "real" };
      case "bool":
        return { sql: this.param(expr.value, "boolean"), type: "bool" };
      case "timespan":
        return { sql: `(${this.param(expr.value, "bigint")} * interval '1 microsecond')`, type: "timespan" };
      case "datetime":
        return { sql: this.param(expr.value, "timestamptz"), type: "datetime" };
    }
  }

  private binary(expr: Extract<Expr, { kind: "binary" }>, scope: Scope): Typed {
    const { op, pos } = expr;
    if (op === "and" || op === "or") {
      const left = this.condition(expr.left, scope, op);
      const right = this.condition(expr.right, scope, op);
      return { sql: `(${left} ${op === "and" ? "AND" : "OR"} ${right})`, type: "bool" };
    }
    const left = this.expr(expr.left, scope);
    // Regular expressions and `has` terms are literals only: their length is capped and they become one pattern.
    if (op === "matches regex") return this.regex(left, this.resolved(expr.right, scope));
    if (/^!?has(_cs)?$/.test(op)) return this.has(op, left, this.resolved(expr.right, scope));
    const right = this.expr(expr.right, scope);
    switch (op) {
      case "==":
      case "!=": {
        const [l, r] = this.unify(left, right, op, pos);
        const equal = `(${l} = ${r})`;
        return { sql: op === "==" ? equal : `(NOT coalesce(${equal}, false))`, type: "bool" };
      }
      case "<":
      case "<=":
      case ">":
      case ">=": {
        const [l, r, type] = this.unify(left, right, op, pos);
        if (type === "bool" || type === "dynamic")
          fail(
            `\`${op}\` compares numbers, strings, datetimes or timespans, not ${left.type} with ${right.type}`,
            pos,
          );
        const collate = type === "string" ? ' COLLATE "C"' : "";
        return { sql: `(${l}${collate} ${op} ${r})`, type: "bool" };
      }
      case "=~":
      case "!~": {
        const equal = `(lower(${this.text(left)} COLLATE "C") = lower(${this.text(right)} COLLATE "C"))`;
        return { sql: op === "=~" ? equal : `(NOT coalesce(${equal}, false))`, type: "bool" };
      }
      case "+":
      case "-":
      case "*":
      case "/":
      case "%":
        return this.arithmetic(op, left, right, pos);
      default:
        return this.stringOperator(expr, left, right);
    }
  }

  /** `x matches regex "…"`: a Postgres regular expression (ARE), at most maxRegexLength characters. */
  private regex(left: Typed, right: Expr): Typed {
    if (right.kind !== "literal" || right.type !== "string")
      return fail("`matches regex` takes a string literal pattern", right.pos);
    if (right.value.length > COMPILE_LIMITS.maxRegexLength)
      fail(`a regular expression is at most ${COMPILE_LIMITS.maxRegexLength} characters`, right.pos);
    this.regexes.push({ pattern: right.value, flags: "", position: right.pos });
    return { sql: `(${this.text(left)} ~ ${this.param(right.value, "text")})`, type: "bool" };
  }

  /**
   * `has`: the term appears as a whole word, i.e. not preceded or followed by an ASCII letter or digit (Kusto's
   * terms are runs of alphanumerics). The escaped term goes into a pattern parameter.
   */
  private has(op: string, left: Typed, right: Expr): Typed {
    if (right.kind !== "literal" || right.type !== "string")
      return fail(`\`${op}\` takes a string literal term`, right.pos);
    const cs = op.endsWith("_cs");
    const term = regexLiteral(cs ? right.value : asciiLower(right.value));
    const text = cs ? this.text(left) : `lower(${this.text(left)} COLLATE "C")`;
    const pattern = this.param(`(^|[^[:alnum:]])${term}($|[^[:alnum:]])`, "text");
    const positive = `((${text}) COLLATE "C" ~ ${pattern})`;
    return { sql: op.startsWith("!") ? `(NOT coalesce(${positive}, false))` : positive, type: "bool" };
  }

  private stringOperator(expr: Extract<Expr, { kind: "binary" }>, left: Typed, right: Typed): Typed {
    const negate = expr.op.startsWith("!");
    const word = negate ? expr.op.slice(1) : expr.op;
    const cs = word.endsWith("_cs");
    const base = cs ? word.slice(0, -3) : word;
    const fold = (sql: string) => (cs ? sql : `lower(${sql} COLLATE "C")`);
    const l = fold(this.text(left));
    let positive: string;
    switch (base) {
      case "contains":
        positive = `(strpos(${l}, ${fold(this.text(right))}) > 0)`;
        break;
      case "startswith":
        positive = `starts_with(${l}, ${fold(this.text(right))})`;
        break;
      case "endswith": {
        const r = fold(this.text(right));
        positive = `(right(${l}, char_length(${r})) = ${r})`;
        break;
      }
      default:
        return fail(`unknown operator \`${expr.op}\``, expr.pos);
    }
    return { sql: negate ? `(NOT coalesce(${positive}, false))` : positive, type: "bool" };
  }

  private arithmetic(op: string, left: Typed, right: Typed, pos: Position): Typed {
    const l = left.type === "dynamic" ? this.number(left)! : left;
    const r = right.type === "dynamic" ? this.number(right)! : right;
    const types = `${l.type},${r.type}`;
    if (isNumeric(l.type) && isNumeric(r.type)) {
      const type: KqlType = l.type === "long" && r.type === "long" ? "long" : "real";
      const [a, b] = type === "long" ? [l.sql, r.sql] : [this.asFloat(l), this.asFloat(r)];
      if (op === "/") return { sql: `(${a} / NULLIF(${b}, 0))`, type };
      if (op === "%") {
        if (type !== "long") fail("`%` applies to whole numbers (long)", pos);
        return { sql: `(${a} % NULLIF(${b}, 0))`, type };
      }
      return { sql: `(${a} ${op} ${b})`, type };
    }
    switch (`${op} ${types}`) {
      case "+ datetime,timespan":
      case "- datetime,timespan":
        return { sql: `(${l.sql} ${op} ${r.sql})`, type: "datetime" };
      case "+ timespan,datetime":
        return { sql: `(${r.sql} + ${l.sql})`, type: "datetime" };
      case "- datetime,datetime":
        return { sql: `(${l.sql} - ${r.sql})`, type: "timespan" };
      case "+ timespan,timespan":
      case "- timespan,timespan":
        return { sql: `(${l.sql} ${op} ${r.sql})`, type: "timespan" };
      case "/ timespan,timespan":
        return {
          sql: `(extract(epoch FROM ${l.sql})::float8 / NULLIF(extract(epoch FROM ${r.sql})::float8, 0))`,
          type: "real",
        };
      default:
        break;
    }
    if (op === "*" && l.type === "timespan" && isNumeric(r.type))
      return { sql: `(${l.sql} * ${this.asFloat(r)})`, type: "timespan" };
    if (op === "*" && r.type === "timespan" && isNumeric(l.type))
      return { sql: `(${r.sql} * ${this.asFloat(l)})`, type: "timespan" };
    if (op === "/" && l.type === "timespan" && isNumeric(r.type))
      return { sql: `(${l.sql} / NULLIF(${this.asFloat(r)}, 0))`, type: "timespan" };
    const hint = op === "+" && left.type === "string" ? " (join strings with strcat(a, b))" : "";
    return fail(`\`${op}\` does not apply to ${left.type} and ${right.type}${hint}`, pos);
  }

  private inList(expr: Extract<Expr, { kind: "in" }>, scope: Scope): Typed {
    if (expr.has) return this.hasTerms(expr, scope);
    const left = this.expr(expr.left, scope);
    const literals: Array<Extract<Expr, { kind: "literal" }>> = [];
    const watchlists: WatchlistRef[] = [];
    for (const given of expr.items) {
      const item = given.kind === "watchlist" ? given : this.resolved(given, scope);
      if (item.kind === "watchlist") watchlists.push(item);
      else if (item.kind === "literal") literals.push(item);
      else if (item.kind === "dynamic" && Array.isArray(item.value))
        literals.push(...this.arrayLiterals(item));
      else {
        // A name that is no column: say what it is instead (a tabular `let`, nothing known) when it is not a value.
        if (item.kind === "column" && this.isNotAColumn(item.name, scope)) this.expr(item, scope);
        fail("`in (…)` takes literal values, dynamic([…]) arrays and _GetWatchlist('alias')", item.pos);
      }
    }
    if (literals.length > KQL_LIST_LIMIT) fail(`\`in (…)\` takes at most ${KQL_LIST_LIMIT} values`, expr.pos);
    if (literals.length + watchlists.length === 0)
      return { sql: expr.negate ? "true" : "false", type: "bool" };
    const parts: string[] = [];
    const ci = expr.caseInsensitive;
    if (literals.length) {
      const kinds = new Set(
        literals.map((l) => (l.type === "long" || l.type === "real" ? "number" : l.type)),
      );
      if (kinds.size > 1) fail("the values of `in (…)` must all be of one type", literals[0].pos);
      const kind = [...kinds][0];
      if (kind === "string") {
        if (left.type !== "string" && left.type !== "dynamic")
          fail(`\`in\` compares a ${left.type} with strings: convert it with tostring(…)`, expr.pos);
        const values = literals.map((l) => l.value as string);
        parts.push(
          ci
            ? `(lower(${this.text(left)} COLLATE "C") = ANY(${this.param(values.map(asciiLower), "text[]")}))`
            : `(${this.text(left)} = ANY(${this.param(values, "text[]")}))`,
        );
      } else if (kind === "number") {
        const n = this.number(left);
        if (!n) fail(`\`in\` compares a ${left.type} with numbers`, expr.pos);
        const values = literals.map((l) => l.value as number);
        parts.push(
          n!.type === "long" && literals.every((l) => l.type === "long")
            ? `(${n!.sql} = ANY(${this.param(values, "bigint[]")}))`
            : `(${this.asFloat(n!)} = ANY(${this.param(values, "float8[]")}))`,
        );
      } else if (kind === "bool") {
        const b = this.bool(left) ?? fail(`\`in\` compares a ${left.type} with true/false`, expr.pos);
        parts.push(
          `(${b} = ANY(${this.param(
            literals.map((l) => l.value),
            "boolean[]",
          )}))`,
        );
      } else if (kind === "datetime") {
        if (left.type !== "datetime") fail(`\`in\` compares a ${left.type} with datetimes`, expr.pos);
        parts.push(
          `(${left.sql} = ANY(${this.param(
            literals.map((l) => l.value),
            "timestamptz[]",
          )}))`,
        );
      } else {
        fail(`\`in (…)\` does not take ${kind} values`, literals[0].pos);
      }
    }
    for (const ref of watchlists) {
      const w = this.watchlist(ref);
      const id = this.param(w.id, "uuid");
      parts.push(
        ci
          ? `(lower(${this.text(left)} COLLATE "C") IN (SELECT wi.key_folded FROM watchlist_items wi WHERE wi.tenant_id = $1 AND wi.watchlist_id = ${id}))`
          : `(${this.text(left)} IN (SELECT wi.search_key FROM watchlist_items wi WHERE wi.tenant_id = $1 AND wi.watchlist_id = ${id}))`,
      );
    }
    const positive = parts.length === 1 ? parts[0] : `(${parts.join(" OR ")})`;
    return { sql: expr.negate ? `(NOT coalesce(${positive}, false))` : positive, type: "bool" };
  }

  /**
   * `x has_any ("a", "b")` / `has_all`: `has` of each term (a whole term, ignoring case), any or all of them, as one
   * array parameter of escaped patterns. The terms are string literals (or `dynamic([…])` arrays of them), as
   * `has`'s are; none at all is refused, as in Kusto.
   */
  private hasTerms(expr: Extract<Expr, { kind: "in" }>, scope: Scope): Typed {
    const op = `has_${expr.has}`;
    const left = this.expr(expr.left, scope);
    const terms: string[] = [];
    for (const given of expr.items) {
      const item = given.kind === "watchlist" ? given : this.resolved(given, scope);
      const literals =
        item.kind === "literal"
          ? [item]
          : item.kind === "dynamic" && Array.isArray(item.value)
            ? this.arrayLiterals(item)
            : null;
      if (!literals || literals.some((l) => l.type !== "string"))
        fail(`\`${op}\` takes string literal terms and dynamic([…]) arrays of them`, item.pos);
      terms.push(...literals!.map((l) => l.value as string));
    }
    if (!terms.length) fail(`\`${op}\` takes at least one term`, expr.pos);
    if (terms.length > KQL_LIST_LIMIT) fail(`\`${op}\` takes at most ${KQL_LIST_LIMIT} terms`, expr.pos);
    const patterns = terms.map((t) => `(^|[^[:alnum:]])${regexLiteral(asciiLower(t))}($|[^[:alnum:]])`);
    const text = `lower(${this.text(left)} COLLATE "C")`;
    const quantifier = expr.has === "any" ? "ANY" : "ALL";
    return {
      sql: `((${text}) COLLATE "C" ~ ${quantifier}(${this.param(patterns, "text[]")}))`,
      type: "bool",
    };
  }

  /** The values of a `dynamic([…])` in `in (…)`: strings, numbers and booleans. */
  private arrayLiterals(item: Extract<Expr, { kind: "dynamic" }>): Array<Extract<Expr, { kind: "literal" }>> {
    return (item.value as JsonValue[]).map((value) => {
      const pos = item.pos;
      if (typeof value === "string") return { kind: "literal", type: "string", value, pos };
      if (typeof value === "boolean") return { kind: "literal", type: "bool", value, pos };
      if (typeof value === "number")
        return { kind: "literal", type: Number.isInteger(value) ? "long" : "real", value, pos };
      return fail("the array of `in (…)` holds strings, numbers or booleans only", pos);
    });
  }

  private args(call: Extract<Expr, { kind: "call" }>, min: number, max = min): void {
    const n = call.args.length;
    if (n < min || n > max) {
      const count = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      fail(
        `\`${call.name}\` takes ${count} argument${min === 1 && max === 1 ? "" : "s"}, got ${n}`,
        call.pos,
      );
    }
  }

  /** A whole-number or timespan literal argument (bin sizes, set sizes). */
  private literalArg(
    call: Extract<Expr, { kind: "call" }>,
    index: number,
    scope: Scope,
  ): Extract<Expr, { kind: "literal" }> {
    const arg = this.resolved(call.args[index], scope);
    if (arg.kind !== "literal")
      return fail(`argument ${index + 1} of \`${call.name}\` must be a literal`, arg.pos);
    return arg;
  }

  private call(call: Extract<Expr, { kind: "call" }>, scope: Scope): Typed {
    const arg = (i: number) => this.expr(call.args[i], scope);
    const fn = this.lets.functions.get(call.name);
    if (fn) return this.scalarCall(fn, call, scope);
    if (AGGREGATIONS.has(call.name)) {
      if (scope.aggregated) return scope.aggregated.of(call);
      fail(`\`${call.name}()\` is an aggregation: use it in \`summarize\``, call.pos);
    }
    switch (call.name) {
      case "now": {
        this.args(call, 0, 1);
        if (!call.args.length) return { sql: this.now(), type: "datetime" };
        const offset = arg(0);
        if (offset.type !== "timespan") fail("`now(offset)` takes a timespan", call.args[0].pos);
        return { sql: `(${this.now()} + ${offset.sql})`, type: "datetime" };
      }
      case "ago": {
        this.args(call, 1);
        const span = arg(0);
        if (span.type !== "timespan") fail("`ago` takes a timespan such as 1h or 7d", call.args[0].pos);
        return { sql: `(${this.now()} - ${span.sql})`, type: "datetime" };
      }
      case "bin":
      case "floor": {
        this.args(call, 2);
        const value = arg(0);
        const size = this.literalArg(call, 1, scope);
        if (value.type === "datetime") {
          if (size.type !== "timespan" || size.value <= 0)
            fail(`\`${call.name}\` of a datetime takes a positive timespan such as 1h`, size.pos);
          const stride = `(${this.param(size.value, "bigint")} * interval '1 microsecond')`;
          return {
            sql: `date_bin(${stride}, ${value.sql}, timestamptz '2000-01-01T00:00:00Z')`,
            type: "datetime",
          };
        }
        const n = this.number(value);
        if (!n) fail(`\`${call.name}\` rounds numbers and datetimes, not a ${value.type}`, call.args[0].pos);
        if ((size.type !== "long" && size.type !== "real") || (size.value as number) <= 0)
          fail(`\`${call.name}\` of a number takes a positive number`, size.pos);
        if (n!.type === "long" && size.type === "long") {
          const step = this.param(size.value, "bigint");
          return { sql: `(floor(${n!.sql}::numeric / ${step}) * ${step})::bigint`, type: "long" };
        }
        const step = this.param(size.value, "float8");
        return { sql: `(floor(${this.asFloat(n!)} / ${step}) * ${step})`, type: "real" };
      }
      case "round": {
        // Half away from zero, as Kusto rounds; a long stays a long (rounded to tens, hundreds… by a negative precision).
        this.args(call, 1, 2);
        const n = this.number(arg(0));
        if (!n) fail(`\`round\` rounds numbers, not a ${arg(0).type}`, call.args[0].pos);
        let digits = "0";
        if (call.args.length === 2) {
          const given = arg(1);
          if (given.type !== "long")
            fail("the precision of `round` is a whole number of digits", call.args[1].pos);
          digits = `least(greatest(${given.sql}, -1000), 1000)::int`;
        }
        return n!.type === "long"
          ? { sql: `round(${n!.sql}::numeric, ${digits})::bigint`, type: "long" }
          : { sql: `round(${this.asFloat(n!)}::numeric, ${digits})::float8`, type: "real" };
      }
      case "startofday": {
        this.args(call, 1, 2);
        const value = arg(0);
        if (value.type !== "datetime") fail("`startofday` takes a datetime", call.args[0].pos);
        return {
          sql: this.offsetBy(call, scope, "day", `date_trunc('day', ${value.sql}, 'UTC')`),
          type: "datetime",
        };
      }
      case "tostring":
        this.args(call, 1);
        return { sql: this.text(arg(0)), type: "string" };
      case "tolower":
      case "toupper": {
        this.args(call, 1);
        return {
          sql: `${call.name === "tolower" ? "lower" : "upper"}(${this.text(arg(0))})`,
          type: "string",
        };
      }
      case "strcat": {
        this.args(call, 1, 64);
        return { sql: `concat(${call.args.map((_, i) => this.text(arg(i))).join(", ")})`, type: "string" };
      }
      case "strlen":
        this.args(call, 1);
        return { sql: `char_length(${this.text(arg(0))})::bigint`, type: "long" };
      case "array_length": {
        this.args(call, 1);
        const value = arg(0);
        if (value.type !== "dynamic")
          fail(`\`array_length\` takes a dynamic array, not a ${value.type}`, call.args[0].pos);
        // As in Kusto, null for anything but an array.
        return {
          sql: `(CASE WHEN jsonb_typeof(${value.sql}) = 'array' THEN jsonb_array_length(${value.sql})::bigint END)`,
          type: "long",
        };
      }
      case "substring": {
        this.args(call, 2, 3);
        const text = this.text(arg(0));
        const start = this.number(arg(1));
        if (!start || start.type !== "long") fail("`substring` takes a whole-number start", call.args[1].pos);
        const from = `(GREATEST(${start!.sql}, 0) + 1)`;
        if (call.args.length === 2) return { sql: `substr(${text}, ${from}::int)`, type: "string" };
        const length = this.number(arg(2));
        if (!length || length.type !== "long")
          fail("`substring` takes a whole-number length", call.args[2].pos);
        return { sql: `substr(${text}, ${from}::int, GREATEST(${length!.sql}, 0)::int)`, type: "string" };
      }
      case "toint":
      case "tolong": {
        this.args(call, 1);
        const value = arg(0);
        if (value.type === "long") return value;
        if (value.type === "bool") return { sql: `(${value.sql})::int::bigint`, type: "long" };
        const real = isNumeric(value.type) ? value : value.type === "dynamic" ? this.number(value) : null;
        const fromText = (t: string) =>
          `(CASE WHEN btrim(${t}) ~ '^[+-]?[0-9]{1,18}$' THEN btrim(${t})::bigint END)`;
        if (value.type === "string") return { sql: fromText(value.sql), type: "long" };
        if (value.type === "dynamic") {
          const asText = this.text(value);
          return {
            sql: `COALESCE(${fromText(`(CASE WHEN jsonb_typeof(${value.sql}) = 'string' THEN ${asText} END)`)}, (CASE WHEN abs(${real!.sql}) < 9.2e18 THEN trunc(${real!.sql})::bigint END))`,
            type: "long",
          };
        }
        if (real)
          return {
            sql: `(CASE WHEN abs(${real.sql}) < 9.2e18 THEN trunc(${real.sql})::bigint END)`,
            type: "long",
          };
        return fail(
          `\`${call.name}\` converts strings, numbers and dynamic values, not a ${value.type}`,
          call.pos,
        );
      }
      case "todouble":
      case "toreal": {
        this.args(call, 1);
        const value = arg(0);
        if (isNumeric(value.type)) return { sql: this.asFloat(value), type: "real" };
        const fromText = (t: string) =>
          `(CASE WHEN char_length(btrim(${t})) <= 40 AND btrim(${t}) ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,2})?$' THEN btrim(${t})::float8 END)`;
        if (value.type === "string") return { sql: fromText(value.sql), type: "real" };
        if (value.type === "dynamic")
          return {
            sql: `COALESCE(${this.number(value)!.sql}, ${fromText(`(CASE WHEN jsonb_typeof(${value.sql}) = 'string' THEN ${this.text(value)} END)`)})`,
            type: "real",
          };
        return fail(
          `\`${call.name}\` converts strings, numbers and dynamic values, not a ${value.type}`,
          call.pos,
        );
      }
      case "todatetime": {
        this.args(call, 1);
        const value = arg(0);
        if (value.type === "datetime") return value;
        if (value.type !== "string" && value.type !== "dynamic")
          fail(`\`todatetime\` converts strings and dynamic values, not a ${value.type}`, call.pos);
        return { sql: this.datetimeOfText(this.text(value)), type: "datetime" };
      }
      case "iff":
      case "iif": {
        this.args(call, 3);
        const condition = this.condition(call.args[0], scope, call.name);
        const [a, b, type] = this.unify(arg(1), arg(2), call.name, call.args[2].pos);
        return { sql: `(CASE WHEN ${condition} THEN ${a} ELSE ${b} END)`, type };
      }
      case "coalesce": {
        this.args(call, 2, 64);
        const values = call.args.map((_, i) => arg(i));
        if (values.some((v) => v.type !== values[0].type))
          fail("the arguments of `coalesce` must all be of one type", call.pos);
        return { sql: `COALESCE(${values.map((v) => v.sql).join(", ")})`, type: values[0].type };
      }
      case "isnull":
      case "isnotnull": {
        this.args(call, 1);
        const value = arg(0);
        const isNull =
          value.type === "dynamic"
            ? `(${value.sql} IS NULL OR jsonb_typeof(${value.sql}) = 'null')`
            : `(${value.sql} IS NULL)`;
        return { sql: call.name === "isnull" ? isNull : `(NOT ${isNull})`, type: "bool" };
      }
      case "isempty":
      case "isnotempty": {
        this.args(call, 1);
        const empty = `(COALESCE(${this.text(arg(0))}, '') = '')`;
        return { sql: call.name === "isempty" ? empty : `(NOT ${empty})`, type: "bool" };
      }
      case "not": {
        this.args(call, 1);
        return { sql: `(NOT coalesce(${this.condition(call.args[0], scope, "not")}, false))`, type: "bool" };
      }
      default:
        if (SCALAR_FUNCTIONS.has(call.name)) return this.scalarFunction(call, scope);
        if (SERIES_FUNCTIONS.has(call.name)) return this.seriesCall(call, scope);
        if (this.lets.tables.has(call.name) || this.lets.scalars.has(call.name))
          fail(`\`${call.name}\` is a \`let\`, not a function: write it without \`(…)\``, call.pos);
        return fail(`unknown function \`${call.name}\``, call.pos);
    }
  }

  /**
   * `(SELECT body FROM (SELECT a AS v0, b AS v1…) AS sN)`: the arguments computed once, for a function whose SQL
   * names one several times (nesting such functions would otherwise grow the statement exponentially).
   */
  private once(values: string[], body: (refs: string[]) => string): string {
    const s = this.sub();
    const refs = values.map((_, i) => `${s}.v${i}`);
    return `(SELECT ${body(refs)} FROM (SELECT ${values.map((v, i) => `${v} AS v${i}`).join(", ")}) AS ${s})`;
  }

  /** A regular expression argument: a string literal (or a `let` of one), checked, and kept for the pre-check. */
  private regexArg(call: Extract<Expr, { kind: "call" }>, index: number, scope: Scope): ArgumentRegex {
    const arg = this.resolved(call.args[index], scope);
    if (arg.kind !== "literal" || arg.type !== "string")
      return fail(
        `the regular expression of \`${call.name}\` is a string literal (a column's text cannot be a pattern)`,
        arg.pos,
      );
    const text = arg.value as string;
    if (text.length > COMPILE_LIMITS.maxRegexLength)
      fail(`a regular expression is at most ${COMPILE_LIMITS.maxRegexLength} characters`, arg.pos);
    return { ...functionRegex(text, arg.pos), pos: arg.pos };
  }

  /**
   * Registers a pattern the runner has Postgres compile before the hunt, and returns its and its flags' SQL (`g`,
   * replace every match, is for regexp_replace only: the pre-check's regexp_match refuses it).
   */
  private pattern(regex: ArgumentRegex, pattern: string, global = false): [string, string] {
    this.regexes.push({ pattern, flags: regex.flags, position: regex.pos });
    return [this.param(pattern, "text"), this.param(`${global ? "g" : ""}${regex.flags}`, "text")];
  }

  /** A string argument (a dynamic value as its text), or an error naming the conversion. */
  private stringArg(
    call: Extract<Expr, { kind: "call" }>,
    index: number,
    scope: Scope,
    what: string,
  ): string {
    const value = this.expr(call.args[index], scope);
    if (value.type !== "string" && value.type !== "dynamic")
      fail(
        `${what} of \`${call.name}\` is a string, not a ${value.type}: convert it with tostring(…)`,
        call.args[index].pos,
      );
    return this.text(value);
  }

  /** A whole-number argument, or an error. */
  private longArg(call: Extract<Expr, { kind: "call" }>, index: number, scope: Scope, what: string): string {
    const value = this.expr(call.args[index], scope);
    if (value.type !== "long")
      fail(
        `${what} of \`${call.name}\` is a whole number (long), not a ${value.type}${value.type === "real" ? ": convert it with tolong(…)" : ""}`,
        call.args[index].pos,
      );
    return value.sql;
  }

  /** A datetime argument, or an error. */
  private datetimeArg(call: Extract<Expr, { kind: "call" }>, index: number, scope: Scope): string {
    const value = this.expr(call.args[index], scope);
    if (value.type !== "datetime")
      fail(
        `\`${call.name}\` takes a datetime, not a ${value.type}${value.type === "string" || value.type === "dynamic" ? ": convert it with todatetime(…)" : ""}`,
        call.args[index].pos,
      );
    return value.sql;
  }

  /** A number argument as float8 (a dynamic value's JSON number), or an error. */
  private realArg(call: Extract<Expr, { kind: "call" }>, index: number, scope: Scope): string {
    const value = this.expr(call.args[index], scope);
    const n = this.number(value);
    if (!n)
      fail(
        `\`${call.name}\` takes numbers, not a ${value.type}${value.type === "string" ? ": convert it with todouble(…)" : ""}`,
        call.args[index].pos,
      );
    return `(${this.asFloat(n!)})::float8`;
  }

  /** The period of `datetime_add`/`datetime_diff`: a string literal, any case. */
  private periodArg(call: Extract<Expr, { kind: "call" }>, scope: Scope): string {
    const arg = this.resolved(call.args[0], scope);
    const period = arg.kind === "literal" && arg.type === "string" ? asciiLower(arg.value as string) : null;
    if (period === null || !DATETIME_PARTS[period])
      fail(
        `the period of \`${call.name}\` is one of ${Object.keys(DATETIME_PARTS)
          .map((p) => `"${p}"`)
          .join(", ")}`,
        arg.pos,
      );
    return period!;
  }

  /**
   * `datetime_add`: `n` periods after `d`, or null outside Kusto's range (years 1 to 9999), checked on numbers
   * before any datetime is computed, so no value makes Postgres overflow. Months are calendar months in UTC (the
   * 31st plus a month is the last day of the next); the other periods are fixed lengths; nanoseconds are truncated
   * to microseconds.
   */
  private datetimeAdd(period: string, n: string, d: string): string {
    const part = DATETIME_PARTS[period];
    if ("months" in part)
      return this.once([d, `(${n})::numeric * ${part.months}`], ([at, months]) => {
        const utc = `(${at} AT TIME ZONE 'UTC')`;
        const index = `(extract(year FROM ${utc}) * 12 + extract(month FROM ${utc}) - 1 + ${months})`;
        return `CASE WHEN ${index} >= 12 AND ${index} < 120000 THEN (${utc} + make_interval(months => least(greatest(${months}, -120000), 120000)::int)) AT TIME ZONE 'UTC' END`;
      });
    const delta = part.micros < 1 ? `trunc((${n})::numeric / 1000)` : `(${n})::numeric * ${part.micros}`;
    return this.once([`extract(epoch FROM ${d}) * 1000000 + ${delta}`], ([target]) => {
      const clamped = `least(greatest(${target}, ${KUSTO_MIN_MICROS}), ${KUSTO_END_MICROS})`;
      return `CASE WHEN ${target} >= ${KUSTO_MIN_MICROS} AND ${target} < ${KUSTO_END_MICROS} THEN timestamptz 'epoch' + trunc(${clamped} / 1000000)::bigint * interval '1 second' + (${clamped} - trunc(${clamped} / 1000000) * 1000000)::bigint * interval '1 microsecond' END`;
    });
  }

  /** A long from a numeric, null beyond bigint's range (never a cast error). */
  private longOfNumeric(numeric: string): string {
    return this.once([numeric], ([v]) => `CASE WHEN abs(${v}) < 9.2e18 THEN ${v}::bigint END`);
  }

  /** A datetime moved by a whole number of periods (the `offset` of startofday, startofweek…), when given. */
  private offsetBy(
    call: Extract<Expr, { kind: "call" }>,
    scope: Scope,
    period: string,
    start: string,
  ): string {
    if (call.args.length < 2) return start;
    return this.datetimeAdd(period, this.longArg(call, 1, scope, "the offset"), start);
  }

  /**
   * The functions of strings, datetimes, dynamic values, numbers and IPv4 addresses Sentinel's hunting queries use
   * most, with Kusto's semantics where Postgres allows (docs/hunting.md lists the differences). Every argument is
   * type-checked; patterns, formats and periods are literals checked here; and no input makes the SQL fail at run
   * time: out-of-range values are null, as Kusto's are.
   */
  private scalarFunction(call: Extract<Expr, { kind: "call" }>, scope: Scope): Typed {
    const arg = (i: number) => this.expr(call.args[i], scope);
    const str = (i: number, what: string) => this.stringArg(call, i, scope, what);
    const long = (sql: string): Typed => ({ sql, type: "long" });
    const real = (sql: string): Typed => ({ sql, type: "real" });
    const bool = (sql: string): Typed => ({ sql, type: "bool" });
    const string = (sql: string): Typed => ({ sql, type: "string" });
    const dynamic = (sql: string): Typed => ({ sql, type: "dynamic" });
    const datetime = (sql: string): Typed => ({ sql, type: "datetime" });
    switch (call.name) {
      // -- strings
      case "extract": {
        this.args(call, 3, 4);
        const re = this.regexArg(call, 0, scope);
        const group = this.literalArg(call, 1, scope);
        if (group.type !== "long" || (group.value as number) < 0 || (group.value as number) > re.groups)
          fail(
            `the group of \`extract\` is a whole number from 0 (the whole match) to ${re.groups} (the pattern's groups)`,
            group.pos,
          );
        const text = this.text(arg(2));
        const [pattern, flags] = this.pattern(re, `(${re.pattern})`);
        const match = string(`(regexp_match(${text}, ${pattern}, ${flags}))[${(group.value as number) + 1}]`);
        return call.args.length === 4 ? this.convertText(match, call.args[3]) : match;
      }
      case "split": {
        this.args(call, 2, 3);
        const text = str(0, "the text");
        const delimiter = str(1, "the delimiter");
        // Kusto splits "" into [""]; string_to_array gives no element.
        const parts = this.once(
          [text],
          ([t]) =>
            `CASE WHEN ${t} = '' THEN '[""]'::jsonb ELSE to_jsonb(string_to_array(${t}, coalesce(${delimiter}, ''))) END`,
        );
        if (call.args.length === 2) return dynamic(parts);
        const index = this.longArg(call, 2, scope, "the index");
        return dynamic(
          this.once(
            [parts, `(CASE WHEN ${index} >= 0 THEN least(${index}, 2147483647) ELSE 2147483647 END)::int`],
            ([a, i]) =>
              `CASE WHEN ${a} IS NULL THEN NULL WHEN ${a} -> ${i} IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(${a} -> ${i}) END`,
          ),
        );
      }
      case "replace_string": {
        this.args(call, 3);
        return string(`replace(${str(0, "the text")}, ${str(1, "the lookup")}, ${str(2, "the rewrite")})`);
      }
      case "replace_regex": {
        this.args(call, 3);
        const text = str(0, "the text");
        const re = this.regexArg(call, 1, scope);
        const rewriteArg = this.resolved(call.args[2], scope);
        if (rewriteArg.kind !== "literal" || rewriteArg.type !== "string")
          return fail("the rewrite of `replace_regex` is a string literal", rewriteArg.pos);
        const rewrite = this.rewrite(rewriteArg.value as string, re.groups, rewriteArg.pos);
        const [pattern, flags] = this.pattern(re, re.pattern, true);
        return string(`regexp_replace(${text}, ${pattern}, ${this.param(rewrite, "text")}, ${flags})`);
      }
      case "trim":
      case "trim_start":
      case "trim_end": {
        this.args(call, 2);
        const re = this.regexArg(call, 0, scope);
        let text = str(1, "the text");
        if (call.name !== "trim_end") {
          const [pattern, flags] = this.pattern(re, `^(?:${re.pattern})+`);
          text = `regexp_replace(${text}, ${pattern}, '', ${flags})`;
        }
        if (call.name !== "trim_start") {
          const [pattern, flags] = this.pattern(re, `(?:${re.pattern})+$`);
          text = `regexp_replace(${text}, ${pattern}, '', ${flags})`;
        }
        return string(text);
      }
      case "indexof": {
        this.args(call, 2, 4);
        const text = this.text(arg(0));
        const lookup = this.text(arg(1));
        if (call.args.length === 2) return long(`(strpos(${text}, ${lookup}) - 1)::bigint`);
        const start = this.longArg(call, 2, scope, "the start");
        const length = call.args.length === 4 ? this.longArg(call, 3, scope, "the length") : "(-1)::bigint";
        // A negative start counts from the end; a length of -1 is no limit, below -1 null.
        return long(
          this.once([text, lookup, start, length], ([t, l, st, len]) => {
            const from = `(CASE WHEN ${st} < 0 THEN greatest(char_length(${t}) + ${st}, 0) ELSE least(${st}, 2147483646) END)::int`;
            const window = `substr(${t}, ${from} + 1, (CASE WHEN ${len} = -1 THEN 2147483647 ELSE least(greatest(${len}, 0), 2147483647) END)::int)`;
            return `CASE WHEN ${len} < -1 THEN NULL ELSE (CASE strpos(${window}, ${l}) WHEN 0 THEN -1 ELSE strpos(${window}, ${l}) - 1 + ${from} END)::bigint END`;
          }),
        );
      }
      case "countof": {
        this.args(call, 2, 3);
        const kind =
          call.args.length === 3 ? this.resolved(call.args[2], scope) : ({ kind: "default" } as const);
        const regex = kind.kind === "literal" && kind.type === "string" && kind.value === "regex";
        if (kind.kind !== "default" && !regex && !(kind.kind === "literal" && kind.value === "normal"))
          fail('the kind of `countof` is "normal" or "regex"', call.args[2].pos);
        const text = str(0, "the text");
        if (!regex) return long(`kql_countof(${text}, ${str(1, "the search text")})`);
        const re = this.regexArg(call, 1, scope);
        const [pattern, flags] = this.pattern(re, re.pattern);
        return long(`regexp_count(${text}, ${pattern}, 1, ${flags})::bigint`);
      }
      case "strcat_array": {
        this.args(call, 2);
        const array = arg(0);
        if (array.type !== "dynamic")
          fail(`\`strcat_array\` joins a dynamic array, not a ${array.type}`, call.args[0].pos);
        const delimiter = str(1, "the delimiter");
        return string(
          this.once(
            [array.sql],
            ([a]) =>
              `CASE WHEN jsonb_typeof(${a}) = 'array' THEN coalesce((SELECT string_agg(coalesce(x.e #>> '{}', ''), ${delimiter} ORDER BY x.i) FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${a}) = 'array' THEN ${a} ELSE '[]'::jsonb END) WITH ORDINALITY AS x(e, i)), '') END`,
          ),
        );
      }
      // -- conditional
      case "case": {
        this.args(call, 3, 129);
        if (call.args.length % 2 === 0)
          fail("`case` takes pairs of a condition and a value, then the value otherwise", call.pos);
        const values: Typed[] = [];
        const conditions: string[] = [];
        for (let i = 0; i + 1 < call.args.length; i += 2) {
          conditions.push(this.condition(call.args[i], scope, "case"));
          values.push(arg(i + 1));
        }
        values.push(arg(call.args.length - 1));
        const numeric = values.every((v) => isNumeric(v.type));
        const type: KqlType = numeric && values.some((v) => v.type === "real") ? "real" : values[0].type;
        values.forEach((v, i) => {
          if (v.type !== values[0].type && !numeric)
            fail(
              `the values of \`case\` are of one type: this one is a ${v.type}, the first a ${values[0].type}`,
              call.args[i === values.length - 1 ? call.args.length - 1 : 2 * i + 1].pos,
            );
        });
        const sql = (v: Typed) => (type === "real" ? this.asFloat(v) : v.sql);
        const arms = conditions.map((c, i) => `WHEN ${c} THEN ${sql(values[i])}`).join(" ");
        return { sql: `(CASE ${arms} ELSE ${sql(values[values.length - 1])} END)`, type };
      }
      // -- datetimes
      case "datetime_diff": {
        this.args(call, 3);
        const period = this.periodArg(call, scope);
        const [a, b] = [this.datetimeArg(call, 1, scope), this.datetimeArg(call, 2, scope)];
        const utc = (d: string) => `(${d} AT TIME ZONE 'UTC')`;
        const epoch = (d: string) => `extract(epoch FROM ${d})`;
        // Boundaries crossed, as Kusto counts: calendar years, quarters and months, weeks from Sunday, days at
        // midnight UTC; the clock's units on the time since the epoch.
        const index: Record<string, (d: string) => string> = {
          year: (d) => `extract(year FROM ${utc(d)})`,
          quarter: (d) => `(extract(year FROM ${utc(d)}) * 4 + extract(quarter FROM ${utc(d)}))`,
          month: (d) => `(extract(year FROM ${utc(d)}) * 12 + extract(month FROM ${utc(d)}))`,
          week: (d) => `floor((floor(${epoch(d)} / 86400) + 4) / 7)`,
          day: (d) => `floor(${epoch(d)} / 86400)`,
          hour: (d) => `floor(${epoch(d)} / 3600)`,
          minute: (d) => `floor(${epoch(d)} / 60)`,
          second: (d) => `floor(${epoch(d)})`,
          millisecond: (d) => `floor(${epoch(d)} * 1000)`,
          microsecond: (d) => `(${epoch(d)} * 1000000)`,
          nanosecond: (d) => `(${epoch(d)} * 1000000000)`,
        };
        return long(this.longOfNumeric(`(${index[period](a)} - ${index[period](b)})`));
      }
      case "datetime_add": {
        this.args(call, 3);
        const period = this.periodArg(call, scope);
        const amount = this.longArg(call, 1, scope, "the amount");
        return datetime(this.datetimeAdd(period, amount, this.datetimeArg(call, 2, scope)));
      }
      case "format_datetime": {
        this.args(call, 2);
        const value = this.datetimeArg(call, 0, scope);
        const format = this.resolved(call.args[1], scope);
        if (format.kind !== "literal" || format.type !== "string")
          return fail(
            'the format of `format_datetime` is a string literal such as "yyyy-MM-dd HH:mm"',
            format.pos,
          );
        const pattern = datetimeFormat(format.value as string, format.pos);
        return string(`to_char(${value} AT TIME ZONE 'UTC', ${this.param(pattern, "text")})`);
      }
      case "hourofday":
      case "dayofmonth":
      case "dayofyear":
      case "getmonth":
      case "monthofyear":
      case "getyear":
      case "weekofyear":
      case "week_of_year": {
        // weekofyear / week_of_year: ISO 8601's week (the one holding the year's first Thursday is week 1).
        this.args(call, 1);
        const field = {
          hourofday: "hour",
          dayofmonth: "day",
          dayofyear: "doy",
          getmonth: "month",
          monthofyear: "month",
          getyear: "year",
          weekofyear: "week",
          week_of_year: "week",
        }[call.name];
        return long(
          this.longOfNumeric(`extract(${field} FROM ${this.datetimeArg(call, 0, scope)} AT TIME ZONE 'UTC')`),
        );
      }
      case "dayofweek": {
        // A timespan, as in Kusto: the days since the last Sunday (0d to 6d).
        this.args(call, 1);
        const dow = `extract(dow FROM ${this.datetimeArg(call, 0, scope)} AT TIME ZONE 'UTC')`;
        return { sql: `((${dow})::float8 * interval '24 hours')`, type: "timespan" };
      }
      case "startofweek":
      case "startofmonth":
      case "startofyear":
      case "endofday":
      case "endofweek":
      case "endofmonth":
      case "endofyear": {
        this.args(call, 1, 2);
        const utc = `(${this.datetimeArg(call, 0, scope)} AT TIME ZONE 'UTC')`;
        const week = `((date_trunc('week', ${utc} + interval '1 day') - interval '1 day') AT TIME ZONE 'UTC')`;
        const month = `(date_trunc('month', ${utc}) AT TIME ZONE 'UTC')`;
        const year = `(date_trunc('year', ${utc}) AT TIME ZONE 'UTC')`;
        if (call.name === "startofweek") return datetime(this.offsetBy(call, scope, "week", week));
        if (call.name === "startofmonth") return datetime(this.offsetBy(call, scope, "month", month));
        if (call.name === "startofyear") return datetime(this.offsetBy(call, scope, "year", year));
        // The last microsecond of the week, month or year (Kusto's last tick is 100 ns later): a week is fixed; a
        // month or year is moved by `offset` first (the end of January plus a month is the end of February).
        if (call.name === "endofweek")
          return datetime(this.offsetBy(call, scope, "week", `(${week} + interval '604799.999999 seconds')`));
        if (call.name === "endofmonth" || call.name === "endofyear") {
          const period = call.name === "endofmonth" ? "month" : "year";
          const start = this.offsetBy(call, scope, period, period === "month" ? month : year);
          return datetime(
            `(((${start}) AT TIME ZONE 'UTC') + interval '1 ${period}' - interval '1 microsecond') AT TIME ZONE 'UTC'`,
          );
        }
        // The day's last microsecond (Kusto's last tick is 100 ns later).
        return datetime(
          this.offsetBy(
            call,
            scope,
            "day",
            `((date_trunc('day', ${utc}) + interval '86399.999999 seconds') AT TIME ZONE 'UTC')`,
          ),
        );
      }
      // -- dynamic values
      case "parse_json":
      case "todynamic": {
        this.args(call, 1);
        const value = arg(0);
        if (value.type === "dynamic") return value;
        if (value.type === "string") return dynamic(`kql_parse_json(${value.sql})`);
        return dynamic(this.jsonValue(value));
      }
      case "bag_keys": {
        this.args(call, 1);
        const bag = arg(0);
        if (bag.type !== "dynamic")
          fail(`\`bag_keys\` takes a dynamic property bag, not a ${bag.type}`, call.args[0].pos);
        return dynamic(
          this.once(
            [bag.sql],
            ([b]) =>
              `CASE WHEN jsonb_typeof(${b}) = 'object' THEN (SELECT coalesce(jsonb_agg(x.k ORDER BY x.i), '[]'::jsonb) FROM jsonb_object_keys(CASE WHEN jsonb_typeof(${b}) = 'object' THEN ${b} ELSE '{}'::jsonb END) WITH ORDINALITY AS x(k, i)) END`,
          ),
        );
      }
      case "array_index_of": {
        this.args(call, 2);
        const array = arg(0);
        if (array.type !== "dynamic")
          fail(`\`array_index_of\` searches a dynamic array, not a ${array.type}`, call.args[0].pos);
        const value = this.jsonValue(arg(1));
        return long(
          this.once(
            [array.sql, value],
            ([a, v]) =>
              `CASE WHEN jsonb_typeof(${a}) = 'array' THEN (SELECT coalesce(min(x.i) - 1, -1) FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${a}) = 'array' THEN ${a} ELSE '[]'::jsonb END) WITH ORDINALITY AS x(e, i) WHERE x.e = ${v})::bigint END`,
          ),
        );
      }
      case "pack_array": {
        this.args(call, 1, 64);
        return dynamic(`jsonb_build_array(${call.args.map((_, i) => this.jsonValue(arg(i))).join(", ")})`);
      }
      case "bag_pack":
      case "pack": {
        this.args(call, 2, 64);
        if (call.args.length % 2 === 1)
          fail(`\`${call.name}\` takes pairs of a key and a value`, call.args[call.args.length - 1].pos);
        const pairs: string[] = [];
        for (let i = 0; i < call.args.length; i += 2)
          pairs.push(`coalesce(${str(i, "a key")}, '')`, this.jsonValue(arg(i + 1)));
        return dynamic(`jsonb_build_object(${pairs.join(", ")})`);
      }
      // -- numbers
      case "abs": {
        this.args(call, 1);
        const value = arg(0);
        const n = this.number(value);
        if (!n) fail(`\`abs\` takes a number, not a ${value.type}`, call.args[0].pos);
        if (n!.type === "real") return real(`abs(${n!.sql})`);
        // abs() of the smallest long overflows: null instead.
        return long(
          this.once([n!.sql], ([v]) => `CASE WHEN ${v} < -9223372036854775807 THEN NULL ELSE abs(${v}) END`),
        );
      }
      case "sqrt":
        this.args(call, 1);
        return real(
          this.once([this.realArg(call, 0, scope)], ([v]) => `CASE WHEN ${v} >= 0 THEN sqrt(${v}) END`),
        );
      case "log":
      case "log10":
      case "log2": {
        this.args(call, 1);
        const of = (v: string) =>
          call.name === "log"
            ? `ln(${v})`
            : call.name === "log10"
              ? `log(${v})`
              : `(ln(${v}) / ln(2::float8))`;
        return real(
          this.once([this.realArg(call, 0, scope)], ([v]) => `CASE WHEN ${v} > 0 THEN ${of(v)} END`),
        );
      }
      case "exp":
        // Beyond e^709 a float8 overflows (null, where Kusto gives infinity); below e^-708 it is 0.
        this.args(call, 1);
        return real(
          this.once(
            [this.realArg(call, 0, scope)],
            ([v]) => `CASE WHEN ${v} > 709 THEN NULL WHEN ${v} < -708 THEN 0::float8 ELSE exp(${v}) END`,
          ),
        );
      case "pow": {
        // The result's size is checked on its logarithm first: an overflow is null (Kusto: infinity), an underflow
        // 0, a negative base to a fraction null (Kusto: NaN), 0 to a negative power null (Kusto: infinity).
        this.args(call, 2);
        return real(
          this.once([this.realArg(call, 0, scope), this.realArg(call, 1, scope)], ([x, y]) => {
            const size = `(ln(abs(${x}))::numeric * ${y}::numeric)`;
            return `CASE WHEN ${y} = 0 THEN 1::float8 WHEN ${x} = 0 THEN (CASE WHEN ${y} > 0 THEN 0::float8 END) WHEN ${x} < 0 AND ${y} <> trunc(${y}) THEN NULL WHEN ${size} > 709 THEN NULL WHEN ${size} < -708 THEN 0::float8 ELSE power(${x}, ${y}) END`;
          }),
        );
      }
      // -- IPv4
      case "ipv4_is_private":
        this.args(call, 1);
        return bool(`kql_ipv4_is_private(${str(0, "the address")})`);
      case "ipv4_is_in_range":
        this.args(call, 2);
        return bool(`kql_ipv4_in_range(${str(0, "the address")}, ${str(1, "the range")})`);
      case "ipv4_is_match": {
        this.args(call, 2, 3);
        const prefix = call.args.length === 3 ? this.longArg(call, 2, scope, "the prefix") : "32::bigint";
        return bool(
          `kql_ipv4_match(${str(0, "the first address")}, ${str(1, "the second address")}, ${prefix})`,
        );
      }
      default:
        return fail(`unknown function \`${call.name}\``, call.pos);
    }
  }

  /**
   * `replace_regex`'s rewrite (RE2's: `\0` the match, `\1`–`\9` its groups, `\\` a backslash) as Postgres's
   * (`\&`, `\1`–`\9`, `\\`); any other text is literal.
   */
  private rewrite(text: string, groups: number, pos: Position): string {
    let out = "";
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c !== "\\") {
        out += c;
        continue;
      }
      const next = text[++i];
      if (next === "\\") out += "\\\\";
      else if (next === "0") out += "\\&";
      else if (next !== undefined && /[1-9]/.test(next)) {
        if (Number(next) > groups)
          fail(
            `the rewrite names group \\${next}, and the pattern has ${groups} group${groups === 1 ? "" : "s"}`,
            pos,
          );
        out += `\\${next}`;
      } else
        fail("in the rewrite of `replace_regex`, `\\` starts \\0–\\9 (a group) or \\\\ (a backslash)", pos);
    }
    return out;
  }

  /** A value as a JSON value (jsonb): times and timespans as their text, as `make_list` keeps them. */
  private jsonValue(v: Typed): string {
    switch (v.type) {
      case "dynamic":
        return v.sql;
      case "datetime":
      case "timespan":
        return `to_jsonb(${this.text(v)})`;
      default:
        return `to_jsonb(${v.sql})`;
    }
  }

  /** Extracted text as `typeof(T)` says (`extract`'s fourth argument): text that is not a T is null. */
  private convertText(text: Typed, typeArg: Expr): Typed {
    const name =
      typeArg.kind === "call" &&
      typeArg.name === "typeof" &&
      typeArg.args.length === 1 &&
      typeArg.args[0].kind === "column"
        ? typeArg.args[0].name
        : null;
    const t = text.sql;
    switch (name) {
      case "string":
        return text;
      case "long":
      case "int":
        return {
          sql: `(CASE WHEN btrim(${t}) ~ '^[+-]?[0-9]{1,18}$' THEN btrim(${t})::bigint END)`,
          type: "long",
        };
      case "real":
      case "double":
        return {
          sql: `(CASE WHEN char_length(btrim(${t})) <= 40 AND btrim(${t}) ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,2})?$' THEN btrim(${t})::float8 END)`,
          type: "real",
        };
      case "bool":
      case "boolean":
        return {
          sql: `(CASE WHEN lower(${t}) IN ('true', 'false') THEN lower(${t}) = 'true' END)`,
          type: "bool",
        };
      case "datetime":
        return { sql: this.datetimeOfText(t), type: "datetime" };
      case "dynamic":
        return { sql: `kql_parse_json(${t})`, type: "dynamic" };
      default:
        return fail(
          "the type of `extract` is typeof(string), typeof(long), typeof(real), typeof(bool), typeof(datetime) or typeof(dynamic)",
          typeArg.pos,
        );
    }
  }

  /**
   * The series functions (`series_fill_forward(s)`, `series_decompose_anomalies(s)`…): calls of the siem schema's
   * SQL functions of migrations 1767240000000, 1767270000000, 1767280000000, 1767310000000 and 1767311000000 (fixed
   * names, never the query's text), the series as jsonb and the other arguments as typed values. Options Kusto takes
   * as strings (`kind`, `trend`, `ad_method`) must be literals of the supported values, and the arguments checked
   * against each other or a range (`min_period`, `num_periods`, the percentiles, `test_points`, `points`)
   * constants, so a bad one is refused at its position before the hunt runs.
   */
  private seriesCall(call: Extract<Expr, { kind: "call" }>, scope: Scope, columns = false): Typed {
    const several = SERIES_COLUMNS[call.name];
    if (several && !columns)
      fail(
        `\`${call.name}\` returns several columns: write \`extend (${several.map(([key]) => key).join(", ")}) = ${call.name}(…)\`${call.name === "series_fit_line" ? " (or take the bag of series_fit_line_dynamic(…))" : call.name === "series_stats" ? " (or take the bag of series_stats_dynamic(…))" : ""}`,
        call.pos,
      );
    const series = (i: number): string => {
      const value = this.expr(call.args[i], scope);
      if (value.type !== "dynamic")
        fail(
          `argument ${i + 1} of \`${call.name}\` is a series (a dynamic array), not a ${value.type}`,
          call.args[i].pos,
        );
      return value.sql;
    };
    const number = (i: number, what: string): string => {
      const value = this.expr(call.args[i], scope);
      if (!isNumeric(value.type))
        fail(`\`${what}\` of \`${call.name}\` is a number, not a ${value.type}`, call.args[i].pos);
      return `(${this.asFloat(value)})::float8`;
    };
    const option = (i: number, what: string, allowed: string[]): string => {
      const arg = this.resolved(call.args[i], scope);
      const value = arg.kind === "literal" && arg.type === "string" ? String(arg.value) : null;
      if (value === null || !allowed.includes(value))
        fail(`\`${what}\` of \`${call.name}\` is one of ${allowed.map((a) => `"${a}"`).join(", ")}`, arg.pos);
      return this.param(value, "text");
    };
    const dynamic = (sql: string): Typed => ({ sql, type: "dynamic" });
    const seasonality = (i: number): string => {
      const value = this.expr(call.args[i], scope);
      if (value.type !== "long")
        fail(
          `\`seasonality\` of \`${call.name}\` is a whole number of bins, not a ${value.type}`,
          call.args[i].pos,
        );
      return `(${value.sql})::int`;
    };
    // A number the query must write as a constant (a literal or a `let` of one), so it can be checked here.
    const constant = (i: number, what: string, whole = false): number => {
      const arg = this.resolved(call.args[i], scope);
      if (arg.kind !== "literal" || !(arg.type === "long" || (arg.type === "real" && !whole)))
        return fail(
          `\`${what}\` of \`${call.name}\` is a constant ${whole ? "whole number" : "number"}`,
          call.args[i].pos,
        );
      return arg.value as number;
    };
    // A number, or Kusto's typed null (`double(null)`, `real(null)`, `long(null)`, `int(null)`): no value.
    const nullOrNumber = (i: number, what: string): string => {
      const arg = call.args[i];
      const isNull =
        arg.kind === "call" &&
        ["double", "real", "long", "int"].includes(arg.name) &&
        arg.args.length === 1 &&
        arg.args[0].kind === "column" &&
        arg.args[0].name === "null";
      return isNull ? "NULL::float8" : number(i, what);
    };
    // The series with Kusto's missing_value_placeholder (argument i, if given) made missing.
    const missing = (i: number): string =>
      call.args.length > i
        ? `kql_series_missing(${series(0)}, ${nullOrNumber(i, "missing_value_placeholder")})`
        : series(0);
    const flag = (i: number, what: string, fallback: boolean): string => {
      const value = this.expr(call.args[i], scope);
      if (value.type !== "bool")
        fail(`\`${what}\` of \`${call.name}\` is a bool, not a ${value.type}`, call.args[i].pos);
      return `coalesce(${value.sql}, ${fallback})`;
    };
    // Kusto's test_points (series_decompose_forecast's points): how many elements at the end are left out of the
    // learning, a constant of at least 0.
    const testPoints = (i: number, what = "test_points"): string => {
      const points = constant(i, what, true);
      if (points < 0) fail(`\`${what}\` of \`${call.name}\` is 0 or more`, call.args[i].pos);
      // More than the series has leaves nothing to learn from; past an int, the same.
      return this.param(Math.min(points, 2 ** 31 - 1), "int");
    };
    const ignoreNonfinite = (i: number): string => {
      const flag = this.expr(call.args[i], scope);
      if (flag.type !== "bool")
        fail(`\`ignore_nonfinite\` of \`${call.name}\` is a bool, not a ${flag.type}`, call.args[i].pos);
      return `coalesce(${flag.sql}, false)`;
    };
    switch (call.name) {
      case "series_fill_const":
        this.args(call, 2, 3);
        return dynamic(`kql_series_fill_const(${missing(2)}, ${nullOrNumber(1, "constant_value")})`);
      case "series_fill_forward":
      case "series_fill_backward":
        this.args(call, 1, 2);
        return dynamic(`kql_${call.name}(${missing(1)})`);
      case "series_fill_linear": {
        this.args(call, 1, 4);
        const edges = call.args.length >= 3 ? flag(2, "fill_edges", true) : "true";
        const constantValue = call.args.length === 4 ? nullOrNumber(3, "constant_value") : "0::float8";
        return dynamic(`kql_series_fill_linear(${missing(1)}, ${edges}, ${constantValue})`);
      }
      case "series_stats_dynamic":
        this.args(call, 1, 2);
        return dynamic(
          `kql_series_stats(${series(0)}, ${call.args.length === 2 ? ignoreNonfinite(1) : "false"})`,
        );
      case "series_outliers": {
        // Kusto's order: kind, ignore_val, min_percentile, max_percentile (the last two for "ctukey" only).
        this.args(call, 1, 5);
        const given = call.args.length;
        const kind = given >= 2 ? option(1, "kind", ["ctukey", "tukey"]) : "'ctukey'";
        const percentile = (i: number, what: string, fallback: number): number => {
          if (given <= i) return fallback;
          const value = constant(i, what);
          if (value < 2 || value > 98)
            fail(`\`${what}\` of \`series_outliers\` is from 2 to 98`, call.args[i].pos);
          return value;
        };
        const lo = percentile(3, "min_percentile", 10);
        const hi = percentile(4, "max_percentile", 90);
        if (lo >= hi)
          fail("`min_percentile` of `series_outliers` is below `max_percentile`", call.args[3].pos);
        const values =
          given >= 3 ? `kql_series_missing(${series(0)}, ${nullOrNumber(2, "ignore_val")})` : series(0);
        return dynamic(
          `kql_series_outliers(${values}, ${kind}, ${this.param(lo, "float8")}, ${this.param(hi, "float8")})`,
        );
      }
      case "series_decompose_anomalies": {
        // Kusto's order: threshold, seasonality, trend, test_points, ad_method, seasonality_threshold.
        this.args(call, 1, 7);
        const given = call.args.length;
        const threshold = given >= 2 ? number(1, "threshold") : "1.5::float8";
        const period = given >= 3 ? seasonality(2) : "-1";
        const trend = given >= 4 ? option(3, "trend", ["linefit", "avg", "none"]) : "'linefit'";
        const test = given >= 5 ? testPoints(4) : "0";
        const method = given >= 6 ? option(5, "ad_method", ["ctukey", "tukey"]) : "'ctukey'";
        const detect = given === 7 ? number(6, "seasonality_threshold") : "0.6::float8";
        return dynamic(
          `kql_series_decompose_anomalies(${series(0)}, ${threshold}, ${period}, ${trend}, ${test}, ${method}, ${detect})`,
        );
      }
      case "series_decompose": {
        // Kusto's order: seasonality, trend, test_points, seasonality_threshold.
        this.args(call, 1, 5);
        const given = call.args.length;
        const period = given >= 2 ? seasonality(1) : "-1";
        // Kusto's defaults differ here: series_decompose's trend is "avg", series_decompose_anomalies' "linefit".
        const trend = given >= 3 ? option(2, "trend", ["linefit", "avg", "none"]) : "'avg'";
        const test = given >= 4 ? testPoints(3) : "0";
        const detect = given === 5 ? number(4, "seasonality_threshold") : "0.6::float8";
        return dynamic(`kql_series_decompose(${series(0)}, ${period}, ${trend}, ${test}, ${detect})`);
      }
      case "series_decompose_forecast": {
        // Kusto's order: points, seasonality, trend, seasonality_threshold. The trend defaults to "linefit", as
        // Kusto's reference for this function gives it (some versions of the page give series_decompose's "avg").
        this.args(call, 2, 5);
        const given = call.args.length;
        const points = testPoints(1, "points");
        const period = given >= 3 ? seasonality(2) : "-1";
        const trend = given >= 4 ? option(3, "trend", ["linefit", "avg", "none"]) : "'linefit'";
        const detect = given === 5 ? number(4, "seasonality_threshold") : "0.6::float8";
        return dynamic(
          `kql_series_decompose_forecast(${series(0)}, ${points}, ${period}, ${trend}, ${detect})`,
        );
      }
      case "series_fit_line":
      case "series_fit_line_dynamic":
        this.args(call, 1);
        return dynamic(`kql_series_fit_line(${series(0)})`);
      case "series_periods_detect": {
        this.args(call, 4);
        const lo = constant(1, "min_period");
        const hi = constant(2, "max_period");
        if (lo > hi)
          fail(`\`min_period\` of \`series_periods_detect\` is more than \`max_period\``, call.args[1].pos);
        const count = constant(3, "num_periods", true);
        if (count < 1 || count > MAX_PERIODS)
          fail(`\`num_periods\` of \`series_periods_detect\` is from 1 to ${MAX_PERIODS}`, call.args[3].pos);
        return dynamic(
          `kql_series_periods_detect(${series(0)}, ${this.param(lo, "float8")}, ${this.param(hi, "float8")}, ${this.param(count, "int")})`,
        );
      }
      case "series_periods_validate": {
        this.args(call, 2, 1 + MAX_VALIDATED_PERIODS);
        const periods = call.args.slice(1).map((arg, i) => {
          const period = constant(i + 1, `period${i + 1}`);
          if (period <= 0) fail(`\`period${i + 1}\` of \`series_periods_validate\` is more than 0`, arg.pos);
          return period;
        });
        return dynamic(`kql_series_periods_validate(${series(0)}, ${this.param(periods, "float8[]")})`);
      }
      case "series_stats":
        this.args(call, 1, 2);
        return dynamic(
          `kql_series_stats(${series(0)}, ${call.args.length === 2 ? ignoreNonfinite(1) : "false"})`,
        );
      default: {
        // series_add, series_subtract, series_multiply, series_divide: series or numbers on either side.
        this.args(call, 2);
        const side = (i: number): string => {
          const value = this.expr(call.args[i], scope);
          if (value.type === "dynamic") return value.sql;
          if (isNumeric(value.type)) return `to_jsonb((${this.asFloat(value)})::float8)`;
          return fail(
            `argument ${i + 1} of \`${call.name}\` is a series or a number, not a ${value.type}`,
            call.args[i].pos,
          );
        };
        const op = SERIES_ARITHMETIC[call.name];
        return dynamic(`kql_series_arith(${side(0)}, ${side(1)}, '${op}')`);
      }
    }
  }

  /** The size of `make_set`, `make_list` or `make_bag` (its second argument): a whole number from 1 to maxSetSize. */
  private setSize(call: Extract<Expr, { kind: "call" }>, scope: Scope): number {
    const given = this.literalArg(call, 1, scope);
    if (given.type !== "long" || given.value < 1 || given.value > COMPILE_LIMITS.maxSetSize)
      fail(
        `the size of \`${call.name}\` is a whole number from 1 to ${COMPILE_LIMITS.maxSetSize}`,
        given.pos,
      );
    return given.value as number;
  }

  /** A percentile: a number literal from 0 to 100. */
  private percentileArg(call: Extract<Expr, { kind: "call" }>, index: number, scope: Scope): number {
    const p = this.resolved(call.args[index], scope);
    if (
      p.kind !== "literal" ||
      (p.type !== "long" && p.type !== "real") ||
      (p.value as number) < 0 ||
      (p.value as number) > 100
    )
      fail(`the percentile of \`${call.name}\` is a number from 0 to 100`, p.pos);
    return (p as { value: number }).value;
  }

  private aggregate(call: Extract<Expr, { kind: "call" }>, scope: Scope): Typed {
    const arg = (i: number) => this.expr(call.args[i], scope);
    // The condition of the `…if` aggregations (the last argument), as a FILTER clause.
    const filter = () =>
      call.name.endsWith("if") && call.name !== "countif"
        ? ` FILTER (WHERE ${this.condition(call.args[call.args.length - 1], scope, call.name)})`
        : "";
    switch (call.name) {
      case "count":
        this.args(call, 0);
        return { sql: "count(*)", type: "long" };
      case "countif":
        this.args(call, 1);
        return {
          sql: `count(*) FILTER (WHERE ${this.condition(call.args[0], scope, "countif")})`,
          type: "long",
        };
      case "dcount":
      case "dcountif": {
        this.args(call, call.name === "dcount" ? 1 : 2);
        return { sql: `count(DISTINCT ${arg(0).sql})${filter()}`, type: "long" };
      }
      case "min":
      case "max":
      case "minif":
      case "maxif": {
        this.args(call, call.name.endsWith("if") ? 2 : 1);
        const value = arg(0);
        if (value.type === "dynamic" || value.type === "bool")
          fail(
            `convert the value for \`${call.name}\`: tolong(x), todouble(x), tostring(x) or todatetime(x)`,
            call.args[0].pos,
          );
        const collate = value.type === "string" ? ' COLLATE "C"' : "";
        return { sql: `${call.name.slice(0, 3)}(${value.sql}${collate})${filter()}`, type: value.type };
      }
      case "sum":
      case "avg":
      case "sumif":
      case "avgif": {
        this.args(call, call.name.endsWith("if") ? 2 : 1);
        const fn = call.name.slice(0, 3);
        const value = arg(0);
        if (value.type === "timespan") return { sql: `${fn}(${value.sql})${filter()}`, type: "timespan" };
        const n = this.number(value);
        if (!n) fail(`\`${call.name}\` adds numbers or timespans, not a ${value.type}`, call.args[0].pos);
        if (fn === "avg") return { sql: `(avg(${this.asFloat(n!)})${filter()})::float8`, type: "real" };
        return n!.type === "long"
          ? { sql: `(sum(${n!.sql})${filter()})::bigint`, type: "long" }
          : { sql: `(sum(${n!.sql})${filter()})::float8`, type: "real" };
      }
      case "take_any":
      case "any": {
        // One value of the group's rows, Kusto's choice being arbitrary: the smallest, a non-empty string rather
        // than "" and a value rather than null, as Kusto prefers for one column.
        this.args(call, 1);
        const value = arg(0);
        switch (value.type) {
          case "dynamic":
            return {
              sql: `(array_agg(${value.sql}) FILTER (WHERE ${value.sql} IS NOT NULL AND jsonb_typeof(${value.sql}) <> 'null'))[1]`,
              type: "dynamic",
            };
          case "bool":
            return { sql: `bool_or(${value.sql})`, type: "bool" };
          case "string":
            return {
              sql: `coalesce(min(${value.sql} COLLATE "C") FILTER (WHERE ${value.sql} <> ''), min(${value.sql} COLLATE "C"))`,
              type: "string",
            };
          default:
            return { sql: `min(${value.sql})`, type: value.type };
        }
      }
      case "stdev":
      case "stdevp":
      case "variance":
      case "variancep": {
        // Over numeric, so no sum of squares overflows a float8; a result beyond float8's range is null.
        this.args(call, 1);
        const value = arg(0);
        const n = this.number(value);
        if (!n) fail(`\`${call.name}\` takes numbers, not a ${value.type}`, call.args[0].pos);
        const fn = { stdev: "stddev_samp", stdevp: "stddev_pop", variance: "var_samp", variancep: "var_pop" }[
          call.name
        ];
        const agg = `${fn}((${this.asFloat(n!)})::numeric)`;
        return { sql: `(CASE WHEN abs(${agg}) <= 1e308 THEN (${agg})::float8 END)`, type: "real" };
      }
      case "percentile": {
        // The nearest rank (the smallest value with at least p% of the values at or below it), exactly, where
        // Kusto estimates it.
        this.args(call, 2);
        const p = this.percentileArg(call, 1, scope);
        const value = arg(0);
        const v = value.type === "datetime" || value.type === "timespan" ? value : this.number(value);
        if (!v)
          fail(`\`percentile\` takes numbers, datetimes or timespans, not a ${value.type}`, call.args[0].pos);
        return {
          sql: `percentile_disc(${this.param(p / 100, "float8")}) WITHIN GROUP (ORDER BY ${v!.sql})`,
          type: v!.type,
        };
      }
      case "make_bag": {
        // The union of the group's property bags (migration 1767330000000's aggregate), of at most max keys.
        this.args(call, 1, 2);
        const bag = arg(0);
        if (bag.type !== "dynamic")
          fail(`\`make_bag\` merges dynamic property bags, not a ${bag.type}`, call.args[0].pos);
        const size = call.args.length === 2 ? this.setSize(call, scope) : COMPILE_LIMITS.maxSetSize;
        return { sql: `kql_make_bag(${bag.sql}, ${this.param(size, "int")})`, type: "dynamic" };
      }
      case "make_set":
      case "make_list": {
        this.args(call, 1, 2);
        const size = call.args.length === 2 ? this.setSize(call, scope) : COMPILE_LIMITS.defaultSetSize;
        const value = arg(0);
        const element =
          value.type === "datetime" || value.type === "timespan"
            ? this.text(value)
            : value.type === "string"
              ? `(${value.sql} COLLATE "C")`
              : value.sql;
        const distinct = call.name === "make_set" ? "DISTINCT " : "";
        return {
          sql: `COALESCE(to_jsonb((array_agg(${distinct}${element}) FILTER (WHERE ${element} IS NOT NULL))[1:${this.param(size, "int")}]), '[]'::jsonb)`,
          type: "dynamic",
        };
      }
      default:
        return fail(`unknown aggregation \`${call.name}\``, call.pos);
    }
  }
}

/**
 * Type-checks and compiles a parsed query to one SQL statement (see the module comment for what makes it safe).
 * Throws KqlError with the position of the first fault; never emits SQL for a query that does not check.
 */
export function compileKql(query: Query, options: CompileOptions): CompiledHunt {
  return new Compiler(options).compile(query);
}
