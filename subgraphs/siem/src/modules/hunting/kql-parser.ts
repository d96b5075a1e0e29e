/**
 * The hunting language: a subset of Kusto (KQL), parsed by hand.
 *
 * Why a hand-written recursive-descent parser rather than a parser library: the language is small and LL(1)
 * (`let` statements, then a table and `| operator …` stages whose first word settles the grammar; a subquery is
 * the same in parentheses), and what users need from the
 * parser is mostly the quality of its errors — a line and column on every fault, wording in the language's own
 * terms ("expected `by` after `summarize count()`"), and hard limits on size and nesting that stop a hostile
 * query before it costs anything. Microsoft's own KQL parser for JavaScript (`@kusto/language-service-next`) is
 * a multi-megabyte transpiled .NET bundle made for editors, and a generator (peggy, chevrotain) would add a
 * build step or a runtime dependency for ~600 lines that read plainly. Nothing here evaluates or emits SQL:
 * the parser only builds the tree that kql-compiler.ts type-checks and compiles.
 *
 * ```kql
 * Events
 * | where time > ago(1h) and status == "Failure" and actor_user in~ (_GetWatchlist('vip'))
 * | summarize failures = count(), ips = dcount(src_ip) by actor_user, bin(time, 5m)
 * | order by failures desc
 * | take 20
 * ```
 */

/** Hard limits of a query text (the compiler adds its own on what the query asks for). */
export const KQL_LIMITS = {
  /** Characters of the whole query. */
  maxQueryLength: 10_000,
  /** Nesting of expressions (parentheses, calls, operators on operators). */
  maxDepth: 32,
  /** `| operator` stages after the table. */
  maxOperators: 40,
  /** Characters of one string literal. */
  maxStringLength: 4096,
  /** Entries of one `in (…)` list. */
  maxListLength: 1000,
  /** Items of one `project`, `extend`, `summarize`, `order by`… */
  maxItems: 100,
  /** Characters of a column name. */
  maxNameLength: 128,
  /** `let` statements before the query. */
  maxLets: 20,
} as const;

/** Where something is in the query: 0-based offset, 1-based line and column (UTF-16 code units). */
export interface Position {
  offset: number;
  line: number;
  column: number;
}

/** A fault of the query text or of what it asks for, at a position. */
export class KqlError extends Error {
  constructor(
    message: string,
    readonly position: Position,
  ) {
    super(message);
    this.name = "KqlError";
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tree
// ---------------------------------------------------------------------------------------------------------

/** A literal's type (the compiler's types, less `dynamic`). */
export type LiteralType = "string" | "long" | "real" | "bool" | "timespan" | "datetime";

/** A scalar expression. `pos` is where it starts (for operators: the operator). */
export type Expr =
  | { kind: "literal"; type: "string"; value: string; pos: Position }
  | { kind: "literal"; type: "long" | "real"; value: number; pos: Position }
  | { kind: "literal"; type: "bool"; value: boolean; pos: Position }
  /** A timespan in microseconds. */
  | { kind: "literal"; type: "timespan"; value: number; pos: Position }
  /** A datetime as validated ISO 8601 text with an offset. */
  | { kind: "literal"; type: "datetime"; value: string; pos: Position }
  | { kind: "column"; name: string; pos: Position }
  /** Member access into a dynamic value: `attributes.process.name`, `attributes["a-b"]`, `list[0]`. */
  | { kind: "member"; target: Expr; path: string[]; pos: Position }
  /**
   * A call. `names` is there when some arguments are named (`f(1, n = 3)`, only for `let` functions): one entry per
   * argument, the name and where it is, or null for an argument given by position (they all come first).
   */
  | { kind: "call"; name: string; args: Expr[]; names?: Array<Name | null>; pos: Position }
  | { kind: "unary"; op: "-"; operand: Expr; pos: Position }
  | { kind: "binary"; op: string; left: Expr; right: Expr; pos: Position }
  | {
      kind: "in";
      negate: boolean;
      caseInsensitive: boolean;
      left: Expr;
      items: Array<Expr | WatchlistRef>;
      /** `has_any (…)` / `has_all (…)`: the items are terms `left` has (any or all of them), not values it equals. */
      has?: "any" | "all";
      pos: Position;
    }
  | { kind: "between"; negate: boolean; left: Expr; low: Expr; high: Expr; pos: Position }
  /** `dynamic([…])`, `dynamic({…})`, `dynamic(null)`: a JSON value. */
  | { kind: "dynamic"; value: JsonValue; pos: Position }
  /** `*` as an argument of `arg_max(x, *)` / `arg_min(x, *)`: all the other columns. */
  | { kind: "star"; pos: Position }
  /** `toscalar(query)`: the first column of the query's first row (null when it has none). */
  | { kind: "toscalar"; query: Pipeline; pos: Position }
  /** A query given to a function's tabular parameter: `f(Authentication | where …)`. */
  | { kind: "table"; query: Pipeline; pos: Position };

/** A JSON value of a `dynamic(…)` literal. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** `_GetWatchlist('alias')`. */
export interface WatchlistRef {
  kind: "watchlist";
  alias: string;
  pos: Position;
}

/** An output column: an optional explicit name and its expression. */
export interface NamedExpr {
  name?: string;
  namePos?: Position;
  /** `extend (a, b, …) = f(x)`: the columns of a function that returns several (`series_fit_line`…). */
  names?: Name[];
  expr: Expr;
}

/** A sort key of `order by` / `top`. */
export interface SortKey {
  expr: Expr;
  desc: boolean;
  /** Explicit `nulls first|last`, else KQL's default (first when ascending, last when descending). */
  nullsFirst?: boolean;
}

/** The kinds of `join`: Kusto's, with its default `innerunique`. */
export const JOIN_KINDS = [
  "innerunique",
  "inner",
  "leftouter",
  "leftanti",
  "leftsemi",
  "rightanti",
  "rightsemi",
  "rightouter",
  "fullouter",
] as const;
/** A kind of `join`. */
export type JoinKind = (typeof JOIN_KINDS)[number];

/** A column name in the query and where it is. */
export interface Name {
  name: string;
  pos: Position;
}

/** One equality of `join … on`: `$left.a == $right.b`, or `col` for a column both sides call `col`. */
export interface JoinKey {
  left: Name;
  right: Name;
}

/**
 * `union [kind=inner|outer] [withsource=Name] [isfuzzy=true|false] a, b…` (as the query's table, or `| union b…` after
 * one).
 */
export interface UnionSpec {
  /** `kind=inner`: only the columns every table has (the default, outer, keeps them all). */
  inner?: boolean;
  /** `isfuzzy=true`: a table that does not exist is left out (with a warning) rather than refused. */
  fuzzy?: boolean;
  /** The column that names each row's table. */
  withSource?: Name;
  tables: Source[];
}

/** An element of a `parse … with` pattern: `*`, a string to find, or a column to extract. */
export type ParsePart =
  | { kind: "any"; pos: Position }
  | { kind: "text"; value: string; pos: Position }
  | { kind: "column"; name: string; type: string; pos: Position };

/** One value of `mv-expand`: `[name =] expr [to typeof(type)]`. */
export interface MvExpandItem {
  /** `name = expr`; without a name, `expr` is a column (or member path) and keeps its name. */
  name?: Name;
  expr: Expr;
  /** `to typeof(type)`: the elements' type (others become null); dynamic without it. */
  toType?: Name;
}

/** One series of `make-series`: `[name =] aggregation [default = value]`. */
export interface SeriesAggregate extends NamedExpr {
  /** The value of a bin without rows (0 when not given). */
  default?: Expr;
}

/** One `| operator` stage. */
export type Operator =
  | { kind: "where"; predicate: Expr; pos: Position }
  | { kind: "project"; items: NamedExpr[]; pos: Position }
  | { kind: "project-away"; names: Array<{ name: string; pos: Position }>; pos: Position }
  | { kind: "project-rename"; items: Array<{ name: string; from: string; pos: Position }>; pos: Position }
  | { kind: "extend"; items: NamedExpr[]; pos: Position }
  | { kind: "summarize"; aggregates: NamedExpr[]; by: NamedExpr[]; pos: Position }
  | { kind: "order"; keys: SortKey[]; pos: Position }
  /** The count is a whole-number literal or the name of a scalar `let` holding one. */
  | { kind: "take"; count: Expr; pos: Position }
  | { kind: "top"; count: Expr; key: SortKey; pos: Position }
  | { kind: "count"; pos: Position }
  | { kind: "distinct"; items: NamedExpr[]; pos: Position }
  | {
      kind: "lookup";
      inner: boolean;
      watchlist: WatchlistRef;
      /** The left side's key expression and the watchlist column it must equal. */
      left: Expr;
      right: { name: string; pos: Position };
      pos: Position;
    }
  | { kind: "join"; joinKind: JoinKind; right: Source; keys: JoinKey[]; pos: Position }
  | ({ kind: "union"; pos: Position } & UnionSpec)
  | {
      kind: "mv-expand";
      /** `kind=array` (or `bagexpansion=array`): a property bag expands to `[key, value]` arrays, not one-key bags. */
      bagAsArray?: boolean;
      /** The values expanded, in parallel (zipped, as in Kusto): at least one. */
      items: MvExpandItem[];
      /** `with_itemindex=Name`: a column holding each element's index (from 0). */
      itemIndex?: Name;
      /** `limit N`: at most N rows from one row. */
      limit?: number;
      pos: Position;
    }
  | {
      kind: "mv-apply";
      /** The values expanded into each row's sub-table, in parallel as `mv-expand` zips them. */
      items: MvExpandItem[];
      itemIndex?: Name;
      limit?: number;
      /** `on (…)`: the subquery run over each row's sub-table (its operators; the sub-table is its table). */
      operators: Operator[];
      pos: Position;
    }
  | {
      kind: "make-series";
      aggregates: SeriesAggregate[];
      /** The column the bins are of (`on time`). */
      axis: Expr;
      /** The bins: `from`, up to but excluding `to`, each `step` wide; a bound left out is the hunt's (datetime only). */
      from: Expr | null;
      to: Expr | null;
      step: Expr;
      /**
       * Kusto's alternate form `on axis in range(start, stop, step)`, where it was written (`range`'s position):
       * `from` and `to` hold `start` and `stop`, and the bins are `bin()`'s, from the one holding `start` to the one
       * holding `stop` (inclusive).
       */
      range?: Position;
      by: NamedExpr[];
      pos: Position;
    }
  | {
      kind: "parse";
      expr: Expr;
      parts: ParsePart[];
      /** `kind=regex`: the pattern's strings are regular expressions, with `flags=` (U, i, m, s). */
      regex?: { flags: string; pos: Position };
      /** `kind=relaxed`: a typed column whose text is not of its type is null, the row's other columns kept. */
      relaxed?: boolean;
      pos: Position;
    };

/**
 * What a query reads: the event store (all of it or one OCSF class) or a tabular `let` (by name), a watchlist, a
 * query in parentheses, or a `union` of those.
 */
export type Source =
  | { kind: "table"; name: string; pos: Position }
  | WatchlistRef
  | { kind: "subquery"; query: Pipeline; pos: Position }
  | ({ kind: "union"; pos: Position } & UnionSpec)
  /** A call of a tabular `let` function: `failuresFrom("203.0.113.7")`, `failuresFrom(n = 3, ip = "…")`. */
  | { kind: "call"; name: string; args: Expr[]; names?: Array<Name | null>; pos: Position };

/** A tabular expression: a source and its `| operator` stages. */
export interface Pipeline {
  source: Source;
  operators: Operator[];
}

/** A column a tabular parameter requires of its argument: `name: type`. */
export interface ColumnDecl {
  name: string;
  type: string;
  pos: Position;
}

/**
 * A parameter of a `let` function: a value, `name: type [= constant]` (the types `parse` takes, plus timespan and
 * dynamic), or a table, `name: (*)` (any) or `name: (column: type, …)` (one with at least those columns), which may
 * end with `*` (`name: (column: type, *)`: the same, saying that other columns pass through).
 */
export type FunctionParam =
  | {
      kind: "scalar";
      name: string;
      type: string;
      /** The constant an omitted argument takes, and how the query writes it (for the function's signature). */
      default?: { expr: Expr; text: string };
      pos: Position;
    }
  | {
      kind: "tabular";
      name: string;
      /** The columns the argument must have; null for `(*)`. */
      columns: ColumnDecl[] | null;
      /** Written with a last `*` after the columns: `(ip: string, *)`. */
      star?: boolean;
      pos: Position;
    };

/**
 * `let name = value;`: a scalar (a value) or tabular (a query, `materialize(query)`) name, or a function
 * (`let f = (x: string) { … };`), for the statements after it.
 */
export interface LetStatement {
  name: string;
  pos: Position;
  value:
    | { kind: "scalar"; expr: Expr }
    | { kind: "tabular"; query: Pipeline; materialized?: boolean }
    | {
        kind: "function";
        params: FunctionParam[];
        /** The scalar and tabular `let`s of the body, seen by the body only. */
        lets: LetStatement[];
        body: { kind: "scalar"; expr: Expr } | { kind: "tabular"; query: Pipeline };
      };
}

/** A parsed query: its `let` statements, then the query they serve. */
export interface Query extends Pipeline {
  lets: LetStatement[];
}

// ---------------------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------------------

type TokenKind = "ident" | "string" | "number" | "timespan" | "datetime" | "punct" | "eof";

interface Token {
  kind: TokenKind;
  /** The identifier, punctuation, or the literal's source text. */
  text: string;
  /** A string's value, a number, a timespan in microseconds, a datetime's ISO text. */
  value?: string | number;
  /** Real (has a fraction or exponent) rather than long. */
  real?: boolean;
  pos: Position;
  /** Offset just after the token: compound words (`!in`, `in~`, `project-away`) are written without blanks. */
  end: number;
}

const PUNCTUATION = [
  "==",
  "!=",
  "=~",
  "!~",
  "<=",
  ">=",
  "..",
  "<",
  ">",
  "=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "(",
  ")",
  "[",
  "]",
  ",",
  ".",
  "|",
  "!",
  "~",
  "{",
  "}",
  ":",
  ";",
];

/** Timespan units in microseconds (KQL: `2d`, `1.5h`, `30m`, `10s`, `100ms`). */
const TIMESPAN_UNITS: Record<string, number> = {
  d: 86_400_000_000,
  h: 3_600_000_000,
  m: 60_000_000,
  min: 60_000_000,
  s: 1_000_000,
  ms: 1_000,
};

/** Longest timespan literal: 3,650 days (no hunt looks further back than the retention). */
const MAX_TIMESPAN_US = 3650 * 86_400_000_000;

const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:\d{2})?$/;

/** A KQL datetime text as strict ISO 8601 with an offset (UTC when none is written), or null. */
export function parseDatetime(text: string): string | null {
  const m = DATETIME.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour = 0, minute = 0, second = 0] = [1, 2, 3, 4, 5, 6].map((i) =>
    m[i] === undefined ? undefined : Number(m[i]),
  ) as number[];
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59)
    return null;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  const offset = m[8] ?? "Z";
  if (offset !== "Z" && (Number(offset.slice(1, 3)) > 14 || Number(offset.slice(4, 6)) > 59)) return null;
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const fraction = m[7] ? `.${m[7]}` : "";
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}${offset}`;
}

class Lexer {
  private offset = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  private position(offset = this.offset): Position {
    return { offset, line: this.line, column: offset - this.lineStart + 1 };
  }

  private fail(message: string, pos = this.position()): never {
    throw new KqlError(message, pos);
  }

  tokens(): Token[] {
    const out: Token[] = [];
    for (;;) {
      const token = this.next();
      out.push(token);
      if (token.kind === "eof") return out;
    }
  }

  private skipBlanks(): void {
    const text = this.text;
    while (this.offset < text.length) {
      const c = text[this.offset];
      if (c === "\n") {
        this.offset++;
        this.line++;
        this.lineStart = this.offset;
      } else if (c === " " || c === "\t" || c === "\r") {
        this.offset++;
      } else if (c === "/" && text[this.offset + 1] === "/") {
        while (this.offset < text.length && text[this.offset] !== "\n") this.offset++;
      } else {
        return;
      }
    }
  }

  private next(): Token {
    this.skipBlanks();
    const text = this.text;
    const start = this.offset;
    const pos = this.position();
    if (start >= text.length) return { kind: "eof", text: "", pos, end: start };
    const c = text[start];
    if (/[A-Za-z_$]/.test(c)) {
      let end = start + 1;
      while (end < text.length && /[A-Za-z0-9_]/.test(text[end])) end++;
      const word = text.slice(start, end);
      this.offset = end;
      if (word === "datetime") {
        const literal = this.datetimeLiteral(pos);
        if (literal !== null) return { kind: "datetime", text: word, value: literal, pos, end: this.offset };
      }
      return { kind: "ident", text: word, pos, end };
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(text[start + 1] ?? ""))) return this.number(pos);
    if (c === '"' || c === "'") return this.string(pos, c, false);
    if (c === "@" && (text[start + 1] === '"' || text[start + 1] === "'")) {
      this.offset++;
      return this.string(pos, text[start + 1], true);
    }
    for (const p of PUNCTUATION) {
      if (text.startsWith(p, start)) {
        this.offset += p.length;
        return { kind: "punct", text: p, pos, end: this.offset };
      }
    }
    const code = text.codePointAt(start)!;
    const shown = code < 0x20 || code === 0x7f ? `U+${code.toString(16).toUpperCase().padStart(4, "0")}` : c;
    return this.fail(`unexpected character \`${shown}\``);
  }

  /** After `datetime`: `(…)` holding an ISO 8601 date/time, quoted or not; null when no `(` follows. */
  private datetimeLiteral(open: Position): string | null {
    let i = this.offset;
    while (this.text[i] === " " || this.text[i] === "\t") i++;
    if (this.text[i] !== "(") return null;
    const close = this.text.indexOf(")", i);
    const newline = this.text.indexOf("\n", i);
    if (close < 0 || (newline >= 0 && newline < close)) this.fail("unterminated `datetime(`", open);
    let inner = this.text.slice(i + 1, close).trim();
    if (/^(['"]).*\1$/.test(inner)) inner = inner.slice(1, -1);
    const value = parseDatetime(inner);
    if (value === null)
      this.fail(
        `invalid datetime \`${inner.slice(0, 40)}\`: use ISO 8601, e.g. datetime(2024-05-01T12:00:00Z)`,
        open,
      );
    this.offset = close + 1;
    return value;
  }

  private number(pos: Position): Token {
    const text = this.text;
    const start = this.offset;
    let end = start;
    while (/[0-9]/.test(text[end] ?? "")) end++;
    let real = false;
    if (text[end] === "." && /[0-9]/.test(text[end + 1] ?? "")) {
      real = true;
      end++;
      while (/[0-9]/.test(text[end] ?? "")) end++;
    }
    const exponent = /^[eE][+-]?[0-9]+/.exec(text.slice(end, end + 8));
    if (exponent) {
      real = true;
      end += exponent[0].length;
    }
    const digits = text.slice(start, end);
    const unit = /^(ms|min|d|h|m|s)(?![A-Za-z0-9_])/.exec(text.slice(end));
    this.offset = end + (unit ? unit[0].length : 0);
    const value = Number(digits);
    if (unit) {
      const us = Math.round(value * TIMESPAN_UNITS[unit[1]]);
      if (!Number.isFinite(us) || us > MAX_TIMESPAN_US) this.fail("timespan too long (at most 3650d)", pos);
      return { kind: "timespan", text: digits + unit[1], value: us, pos, end: this.offset };
    }
    if (/^[A-Za-z_]/.test(text[end] ?? "")) this.fail(`invalid number \`${digits}${text[end]}\``, pos);
    if (!Number.isFinite(value) || (!real && !Number.isSafeInteger(value)))
      this.fail(`number \`${digits.slice(0, 30)}\` is out of range`, pos);
    return { kind: "number", text: digits, value, real, pos, end: this.offset };
  }

  private string(pos: Position, quote: string, verbatim: boolean): Token {
    const text = this.text;
    let i = this.offset + 1;
    let value = "";
    for (;;) {
      if (i >= text.length || text[i] === "\n") this.fail("unterminated string", pos);
      const c = text[i];
      if (c === quote) {
        if (verbatim && text[i + 1] === quote) {
          value += quote;
          i += 2;
          continue;
        }
        i++;
        break;
      }
      if (c === "\\" && !verbatim) {
        const e = text[i + 1];
        const simple: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r" };
        if (e !== undefined && e in simple) {
          value += simple[e];
          i += 2;
          continue;
        }
        if (e === "u" && /^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) {
          value += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        this.fail(
          `invalid escape \`\\${e ?? ""}\` in a string (use \\\\, \\', \\", \\n, \\t, \\r or \\uXXXX)`,
          {
            offset: i,
            line: this.line,
            column: i - this.lineStart + 1,
          },
        );
      }
      value += c;
      i++;
    }
    this.offset = i;
    if (value.length > KQL_LIMITS.maxStringLength)
      this.fail(`a string is at most ${KQL_LIMITS.maxStringLength} characters`, pos);
    if (value.includes("\u0000")) this.fail("a string cannot hold a NUL character (U+0000)", pos);
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value))
      this.fail("a string must be valid Unicode (an unpaired surrogate)", pos);
    return { kind: "string", text: text.slice(pos.offset, i), value, pos, end: i };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------------------

/** Comparison words after an operand (`has`, `!contains`, `startswith_cs`…). */
const STRING_OPERATORS = new Set([
  "has",
  "has_cs",
  "contains",
  "contains_cs",
  "startswith",
  "startswith_cs",
  "endswith",
  "endswith_cs",
]);

/** Operators after `|`, for the error that lists them. */
const OPERATOR_NAMES =
  "where, project, project-away, project-rename, extend, summarize, order by, sort by, take, limit, top, count, distinct, lookup, join, union, mv-expand, mv-apply, make-series, parse";

/** The types of a `let` function's parameters. */
export const PARAMETER_TYPES = [
  "string",
  "long",
  "int",
  "real",
  "double",
  "bool",
  "boolean",
  "datetime",
  "date",
  "timespan",
  "time",
  "dynamic",
] as const;

/** The `flags=` of `parse kind=regex`: U (ungreedy), i (ignore case), m (multi-line), s (`.` matches `\n`). */
const REGEX_FLAGS = /^[Uims]+$/;

/** The types `parse` extracts and `mv-expand … to typeof()` casts to. */
export const PARSE_TYPES = [
  "string",
  "long",
  "int",
  "real",
  "double",
  "bool",
  "boolean",
  "datetime",
] as const;

/** The spelling of a token in an error message. */
function shown(token: Token): string {
  if (token.kind === "eof") return "the end of the query";
  const text = token.text.length > 30 ? `${token.text.slice(0, 30)}…` : token.text;
  return `\`${text}\``;
}

class Parser {
  private index = 0;
  private depth = 0;
  /** `| operator` stages so far, in every statement and subquery: the limit is the query's. */
  private operators = 0;
  /** The `let` names so far: a name that is a scalar one starts a value, any other a table. */
  private readonly scalarLets = new Set<string>();
  private readonly lets = new Set<string>();
  /** The `let` functions whose body is a query: a call of one starts a table. */
  private readonly tabularFunctions = new Set<string>();
  /** The parameters of each `let` function: an argument for a tabular one is read as a query. */
  private readonly functions = new Map<string, FunctionParam[]>();
  /** `let` statements so far, a function's body's included: the limit is the query's. */
  private letCount = 0;
  /**
   * The function whose body is being read (a call of it is recursion), its scalar parameters (names of values)
   * and its tabular ones (names of tables).
   */
  private defining: { name: string; params: Set<string>; tables: Set<string> } | null = null;

  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
  ) {}

  private get token(): Token {
    return this.tokens[this.index];
  }

  private peek(ahead = 1): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)];
  }

  private advance(): Token {
    const token = this.tokens[this.index];
    if (token.kind !== "eof") this.index++;
    return token;
  }

  private fail(message: string, pos: Position = this.token.pos): never {
    throw new KqlError(message, pos);
  }

  private isPunct(text: string, token = this.token): boolean {
    return token.kind === "punct" && token.text === text;
  }

  private isWord(word: string, token = this.token): boolean {
    return token.kind === "ident" && token.text === word;
  }

  private expectPunct(text: string, what: string): Token {
    if (!this.isPunct(text)) this.fail(`expected \`${text}\` ${what}, found ${shown(this.token)}`);
    return this.advance();
  }

  private expectWord(word: string, what: string): Token {
    if (!this.isWord(word)) this.fail(`expected \`${word}\` ${what}, found ${shown(this.token)}`);
    return this.advance();
  }

  /** True when `b` follows `a` with nothing between them (`!in`, `in~`, `project-away`). */
  private adjacent(a: Token, b: Token): boolean {
    return a.end === b.pos.offset;
  }

  private enter(pos: Position): void {
    if (++this.depth > KQL_LIMITS.maxDepth)
      this.fail(`the query nests more than ${KQL_LIMITS.maxDepth} levels deep`, pos);
  }

  private leave(): void {
    this.depth--;
  }

  /** `let` statements, each ended by `;`, then the query (a last `;` is allowed). */
  query(): Query {
    const lets: LetStatement[] = [];
    while (this.isWord("let")) lets.push(this.letStatement());
    const pipeline = this.pipeline();
    if (this.isPunct(";") && this.peek().kind === "eof") this.advance();
    if (this.isPunct(";"))
      this.fail(
        "unexpected `;`: the query is the last statement, only `let` statements come before it (operators are chained with `|`)",
      );
    if (this.token.kind !== "eof")
      this.fail(`expected \`|\` or the end of the query, found ${shown(this.token)}`);
    return { lets, ...pipeline };
  }

  /**
   * `let name = value;` (the value is a query when it starts with a table, else a scalar). In a function's body
   * (`defining`), a scalar or tabular one, named differently from the function and its parameters.
   */
  private letStatement(): LetStatement {
    if (this.letCount++ >= KQL_LIMITS.maxLets)
      this.fail(`a query has at most ${KQL_LIMITS.maxLets} \`let\` statements`);
    const start = this.advance();
    const name = this.token;
    if (name.kind !== "ident" || name.text.startsWith("$") || ["true", "false"].includes(name.text))
      this.fail(`expected a name after \`let\`, found ${shown(name)}`);
    if (this.lets.has(name.text)) this.fail(`\`${name.text}\` is defined twice`);
    const fn = this.defining;
    if (fn?.name === name.text)
      this.fail(`\`${name.text}\` is the function being defined: give the \`let\` another name`);
    if (fn?.params.has(name.text) || fn?.tables.has(name.text))
      this.fail(`\`${name.text}\` is a parameter of \`${fn.name}\`: give the \`let\` another name`);
    this.advance();
    this.expectPunct("=", `after \`let ${name.text}\``);
    let value: LetStatement["value"];
    if (this.startsFunction()) {
      if (fn)
        this.fail(
          `a function's body holds scalar and tabular \`let\`s, not functions: define \`${name.text}\` before \`${fn.name}\``,
        );
      value = this.functionValue(name.text);
    } else if (this.isWord("materialize") && this.isPunct("(", this.peek())) {
      const call = this.advance();
      this.expectPunct("(", "after `materialize`");
      this.enter(call.pos);
      try {
        value = { kind: "tabular", query: this.pipeline(), materialized: true };
      } finally {
        this.leave();
      }
      this.expectPunct(")", "to close `materialize(`");
      if (!this.isPunct(";"))
        this.fail(
          `\`materialize(…)\` is the whole value of a \`let\`: expected \`;\`, found ${shown(this.token)}`,
        );
    } else {
      value = this.startsTable()
        ? { kind: "tabular", query: this.pipeline() }
        : { kind: "scalar", expr: this.expr() };
    }
    if (!this.isPunct(";"))
      this.fail(`expected \`;\` after \`let ${name.text} = …\`, found ${shown(this.token)}`);
    this.advance();
    // Declared after its value is read: a `let` cannot name itself (no recursion).
    this.lets.add(name.text);
    if (value.kind === "scalar") this.scalarLets.add(name.text);
    if (value.kind === "function") {
      this.functions.set(name.text, value.params);
      if (value.body.kind === "tabular") this.tabularFunctions.add(name.text);
    }
    return { name: name.text, pos: start.pos, value };
  }

  /** `(` `)` `{` or `(` name `:` after `let f =`: a function. */
  private startsFunction(): boolean {
    if (!this.isPunct("(")) return false;
    if (this.isPunct(")", this.peek())) return this.isPunct("{", this.peek(2));
    return this.peek().kind === "ident" && this.isPunct(":", this.peek(2));
  }

  /**
   * `(param, …) { let …; body }`: the body is one value or one query after scalar and tabular `let`s of its own, and
   * sees the parameters, its own `let`s and the `let`s before the function (not the function itself: no
   * recursion). As in Kusto, tabular parameters come first and parameters with default values last.
   */
  private functionValue(name: string): LetStatement["value"] {
    const open = this.expectPunct("(", "");
    const params: FunctionParam[] = [];
    while (!this.isPunct(")")) {
      if (params.length) this.expectPunct(",", "between the parameters");
      if (params.length >= 16) this.fail("a function takes at most 16 parameters");
      params.push(this.functionParam(params));
    }
    this.advance();
    this.expectPunct("{", "to start the body of the function");
    this.enter(open.pos);
    const scalars = params.filter((p) => p.kind === "scalar").map((p) => p.name);
    const tables = params.filter((p) => p.kind === "tabular").map((p) => p.name);
    this.defining = { name, params: new Set(scalars), tables: new Set(tables) };
    const lets: LetStatement[] = [];
    try {
      while (this.isWord("let")) lets.push(this.letStatement());
      const body: Extract<LetStatement["value"], { kind: "function" }>["body"] = this.startsTable()
        ? { kind: "tabular", query: this.pipeline() }
        : { kind: "scalar", expr: this.expr() };
      if (!this.isPunct("}"))
        this.fail(`expected \`}\` to close the body of \`${name}\`, found ${shown(this.token)}`);
      this.advance();
      return { kind: "function", params, lets, body };
    } finally {
      // The body's `let`s are its own: the statements after the function do not see them.
      for (const statement of lets) {
        this.lets.delete(statement.name);
        this.scalarLets.delete(statement.name);
      }
      this.defining = null;
      this.leave();
    }
  }

  /** `name: type [= constant]`, `name: (*)` or `name: (column: type, …)`, after the parameters `before`. */
  private functionParam(before: FunctionParam[]): FunctionParam {
    const param = this.token;
    if (param.kind !== "ident" || param.text.startsWith("$") || ["true", "false"].includes(param.text))
      this.fail(`expected a parameter name, found ${shown(param)}`);
    if (before.some((p) => p.name === param.text)) this.fail(`the parameter \`${param.text}\` appears twice`);
    if (this.lets.has(param.text))
      this.fail(`\`${param.text}\` is a \`let\` already: give the parameter another name`);
    this.advance();
    this.expectPunct(":", `after the parameter \`${param.text}\``);
    if (this.isPunct("(")) {
      this.advance();
      const { columns, star } = this.tableSchema(param.text);
      this.expectPunct(")", `to close the columns of \`${param.text}\``);
      if (this.isPunct("=")) this.fail("a tabular parameter takes no default value");
      const scalar = before.find((p) => p.kind === "scalar");
      if (scalar)
        this.fail(
          `tabular parameters come before the scalar ones: \`${param.text}\` follows \`${scalar.name}\``,
          param.pos,
        );
      if (columns && new Set(columns.map((c) => c.name)).size < columns.length)
        this.fail(`a column appears twice in the columns of \`${param.text}\``, param.pos);
      return { kind: "tabular", name: param.text, columns, ...(star ? { star } : {}), pos: param.pos };
    }
    const type = this.parameterType();
    if (!this.isPunct("=")) {
      const defaulted = before.find((p) => p.kind === "scalar" && p.default);
      if (defaulted)
        this.fail(
          `parameters with a default value come last: \`${param.text}\` has none and follows \`${defaulted.name}\``,
          param.pos,
        );
      return { kind: "scalar", name: param.text, type, pos: param.pos };
    }
    this.advance();
    const first = this.token;
    const expr = this.expr();
    const text = this.text.slice(first.pos.offset, this.tokens[this.index - 1].end);
    return { kind: "scalar", name: param.text, type, default: { expr, text }, pos: param.pos };
  }

  /** A scalar parameter's or a declared column's type. */
  private parameterType(): string {
    const type = this.token;
    if (type.kind !== "ident" || !(PARAMETER_TYPES as readonly string[]).includes(type.text))
      this.fail(`expected a type (${PARAMETER_TYPES.join(", ")}), found ${shown(type)}`);
    this.advance();
    return type.text;
  }

  /**
   * What a tabular parameter `param` requires, inside its parentheses: `*` (any table: no columns), or the columns it
   * needs, `column: type, …`, which may end with `, *` (other columns pass through, as they do without it).
   */
  private tableSchema(param: string): { columns: ColumnDecl[] | null; star: boolean } {
    if (this.isPunct("*")) {
      if (this.isPunct(",", this.peek()))
        this.fail(`\`*\` comes after the columns of \`${param}\`: (column: type, …, *)`);
      this.advance();
      return { columns: null, star: false };
    }
    const columns = [this.columnDecl()];
    while (this.isPunct(",")) {
      const comma = this.advance();
      if (this.isPunct("*")) {
        this.advance();
        if (this.isPunct(","))
          this.fail(`\`*\` comes after the columns of \`${param}\`: (column: type, …, *)`);
        return { columns, star: true };
      }
      if (columns.length >= KQL_LIMITS.maxItems)
        this.fail(`a tabular parameter lists at most ${KQL_LIMITS.maxItems} columns`, comma.pos);
      columns.push(this.columnDecl());
    }
    return { columns, star: false };
  }

  /** `column: type` in the columns of a tabular parameter. */
  private columnDecl(): ColumnDecl {
    const { name, pos } = this.columnName();
    this.expectPunct(":", `after the column \`${name}\``);
    return { name, type: this.parameterType(), pos };
  }

  /** A call of the function being defined: refused (the body cannot see its own name anyway). */
  private noRecursion(name: Token): void {
    if (this.defining?.name === name.text)
      this.fail(`\`${name.text}\` calls itself: recursion is not supported`, name.pos);
  }

  /**
   * Whether a `let` value (a function's body, the argument of `toscalar`) is a query: it starts with `union`,
   * `_GetWatchlist(…)`, a call of a function whose body is a query, or a name followed by `|`, `;`, `)` or `}`
   * that is not a scalar `let` or a parameter (which name no column) — looking through opening parentheses.
   */
  private startsTable(): boolean {
    let ahead = 0;
    while (this.isPunct("(", this.peek(ahead))) ahead++;
    const token = this.peek(ahead);
    if (token.kind !== "ident" || token.text.startsWith("$")) return false;
    if (token.text === "_GetWatchlist" || token.text === "union") return true;
    const next = this.peek(ahead + 1);
    if (this.tabularFunctions.has(token.text) && this.isPunct("(", next)) return true;
    if (["true", "false"].includes(token.text) || this.scalarLets.has(token.text)) return false;
    if (this.defining?.tables.has(token.text)) return true;
    if (this.defining?.params.has(token.text)) return false;
    return (
      next.kind === "eof" ||
      this.isPunct("|", next) ||
      this.isPunct(";", next) ||
      this.isPunct(")", next) ||
      this.isPunct("}", next)
    );
  }

  /** A tabular expression: a source, then `| operator` stages. */
  private pipeline(): Pipeline {
    const source = this.source();
    const operators: Operator[] = [];
    while (this.isPunct("|")) {
      const bar = this.advance();
      if (this.operators >= KQL_LIMITS.maxOperators)
        this.fail(`a query has at most ${KQL_LIMITS.maxOperators} operators`, bar.pos);
      this.operators++;
      operators.push(this.operator());
    }
    return { source, operators };
  }

  private source(): Source {
    const token = this.token;
    if (this.isWord("union") && !this.isPunct("|", this.peek())) {
      this.advance();
      return { kind: "union", ...this.unionSpec(), pos: token.pos };
    }
    return this.tableOperand(
      `a query starts with a table (Events, or an OCSF class such as Authentication), found ${shown(token)}`,
    );
  }

  /** A table, a `let` name, `_GetWatchlist('alias')` or `(query)`: what `join`, `union` and queries read. */
  private tableOperand(expected: string): Source {
    const token = this.token;
    if (this.isWord("_GetWatchlist")) return this.watchlistRef();
    if (this.isPunct("(")) {
      this.advance();
      this.enter(token.pos);
      try {
        const query = this.pipeline();
        this.expectPunct(")", "to close the query in `(…)`");
        return { kind: "subquery", query, pos: token.pos };
      } finally {
        this.leave();
      }
    }
    if (token.kind !== "ident" || token.text.startsWith("$")) this.fail(expected);
    if (this.isPunct("(", this.peek())) {
      if (token.text === "materialize")
        this.fail("`materialize(…)` is the value of a tabular `let`: let t = materialize(query);");
      if (token.text === "toscalar") this.fail("`toscalar(…)` is a value, not a table");
      this.noRecursion(token);
      return { ...this.call(), kind: "call" };
    }
    this.advance();
    return { kind: "table", name: token.text, pos: token.pos };
  }

  /** After `union`: `[kind=inner|outer] [withsource=Name] [isfuzzy=true|false] table, table…` (options in any order). */
  private unionSpec(): UnionSpec {
    let withSource: Name | undefined;
    let inner = false;
    let fuzzy = false;
    for (;;) {
      if (this.isWord("kind") && this.isPunct("=", this.peek())) {
        this.advance();
        this.advance();
        if (!this.isWord("outer") && !this.isWord("inner"))
          this.fail(`\`union\` kinds are outer (the default) and inner, found ${shown(this.token)}`);
        inner = this.advance().text === "inner";
      } else if (this.isWord("withsource") && this.isPunct("=", this.peek())) {
        this.advance();
        this.advance();
        withSource = this.columnName();
      } else if (this.isWord("isfuzzy") && this.isPunct("=", this.peek())) {
        this.advance();
        this.advance();
        if (!this.isWord("true") && !this.isWord("false"))
          this.fail(`\`isfuzzy=\` takes true or false, found ${shown(this.token)}`);
        fuzzy = this.advance().text === "true";
      } else {
        break;
      }
    }
    const tables = this.list(() =>
      this.tableOperand(`\`union\` takes tables, \`let\` names or (queries), found ${shown(this.token)}`),
    );
    return { inner, withSource, ...(fuzzy ? { fuzzy } : {}), tables };
  }

  private watchlistRef(): WatchlistRef {
    const start = this.expectWord("_GetWatchlist", "");
    this.expectPunct("(", "after `_GetWatchlist`");
    const alias = this.token;
    if (alias.kind !== "string") this.fail("`_GetWatchlist` takes the watchlist's alias as a string");
    this.advance();
    this.expectPunct(")", "after the watchlist alias");
    return { kind: "watchlist", alias: alias.value as string, pos: start.pos };
  }

  /** A compound word written without blanks: `project-away`, `project-rename`. */
  private operatorName(): { name: string; pos: Position } {
    const first = this.token;
    if (first.kind !== "ident") this.fail(`expected an operator (${OPERATOR_NAMES}), found ${shown(first)}`);
    this.advance();
    if (first.text === "mv" && this.isPunct("-") && this.adjacent(first, this.token)) {
      const dash = this.advance();
      if (this.isWord("expand") && this.adjacent(dash, this.token)) {
        this.advance();
        return { name: "mv-expand", pos: first.pos };
      }
      if (this.isWord("apply") && this.adjacent(dash, this.token)) {
        this.advance();
        return { name: "mv-apply", pos: first.pos };
      }
      this.fail("expected `mv-expand` or `mv-apply`", first.pos);
    }
    if (first.text === "make" && this.isPunct("-") && this.adjacent(first, this.token)) {
      const dash = this.advance();
      if (this.isWord("series") && this.adjacent(dash, this.token)) {
        this.advance();
        return { name: "make-series", pos: first.pos };
      }
      this.fail("expected `make-series`", first.pos);
    }
    if (first.text === "project" && this.isPunct("-") && this.adjacent(first, this.token)) {
      const dash = this.advance();
      const second = this.token;
      if (second.kind === "ident" && this.adjacent(dash, second)) {
        this.advance();
        return { name: `project-${second.text}`, pos: first.pos };
      }
      this.fail("expected `project-away` or `project-rename`", first.pos);
    }
    return { name: first.text, pos: first.pos };
  }

  private operator(): Operator {
    const { name, pos } = this.operatorName();
    switch (name) {
      case "where":
      case "filter":
        return { kind: "where", predicate: this.expr(), pos };
      case "project":
        return { kind: "project", items: this.list(() => this.namedExpr(false)), pos };
      case "extend":
        return { kind: "extend", items: this.list(() => this.tupleNames() ?? this.namedExpr(false)), pos };
      case "project-away":
        return { kind: "project-away", names: this.list(() => this.columnName()), pos };
      case "project-rename":
        return {
          kind: "project-rename",
          items: this.list(() => {
            const target = this.columnName();
            this.expectPunct("=", "in `project-rename new = old`");
            return { name: target.name, from: this.columnName().name, pos: target.pos };
          }),
          pos,
        };
      case "summarize":
        return this.summarize(pos);
      case "order":
      case "sort":
        this.expectWord("by", `after \`${name}\``);
        return { kind: "order", keys: this.list(() => this.sortKey()), pos };
      case "take":
      case "limit":
        return { kind: "take", count: this.count(name), pos };
      case "top": {
        const count = this.count("top");
        this.expectWord("by", "in `top N by column`");
        return { kind: "top", count, key: this.sortKey(), pos };
      }
      case "count":
        return { kind: "count", pos };
      case "distinct":
        return { kind: "distinct", items: this.list(() => this.namedExpr(false)), pos };
      case "lookup":
        return this.lookup(pos);
      case "join":
        return this.join(pos);
      case "union":
        return { kind: "union", ...this.unionSpec(), pos };
      case "mv-expand":
        return this.mvExpand(pos);
      case "mv-apply":
        return this.mvApply(pos);
      case "make-series":
        return this.makeSeries(pos);
      case "parse":
        return this.parse(pos);
      default:
        return this.fail(`unknown operator \`${name}\` (use ${OPERATOR_NAMES})`, pos);
    }
  }

  /** Comma-separated items, at least one, at most maxItems. */
  private list<T>(item: () => T): T[] {
    const items = [item()];
    while (this.isPunct(",")) {
      const comma = this.advance();
      if (items.length >= KQL_LIMITS.maxItems)
        this.fail(`an operator takes at most ${KQL_LIMITS.maxItems} items`, comma.pos);
      items.push(item());
    }
    return items;
  }

  /** A row count: a whole number, or a name (a scalar `let`, checked by the compiler). */
  private count(operator: string): Expr {
    const token = this.token;
    if (token.kind === "ident" && !token.text.startsWith("$") && !this.isPunct("(", this.peek())) {
      this.advance();
      return { kind: "column", name: token.text, pos: token.pos };
    }
    if (token.kind !== "number" || token.real)
      this.fail(`\`${operator}\` takes a whole number of rows, found ${shown(token)}`);
    this.advance();
    return { kind: "literal", type: "long", value: token.value as number, pos: token.pos };
  }

  /** `kind=word` when it comes next, else null. */
  private kindWord(): Token | null {
    if (!(this.isWord("kind") && this.isPunct("=", this.peek()))) return null;
    this.advance();
    this.advance();
    const word = this.token;
    if (word.kind !== "ident") this.fail(`expected a kind after \`kind=\`, found ${shown(word)}`);
    this.advance();
    return word;
  }

  /** `join [kind=…] right on key, key…`; a key is `col` or `$left.a == $right.b` (keys also joined by `and`). */
  private join(pos: Position): Operator {
    let joinKind: JoinKind = "innerunique";
    const kind = this.kindWord();
    if (kind) {
      if (!(JOIN_KINDS as readonly string[]).includes(kind.text))
        this.fail(`\`join\` kinds are ${JOIN_KINDS.join(", ")}; found ${shown(kind)}`, kind.pos);
      joinKind = kind.text as JoinKind;
    }
    const right = this.tableOperand(
      `\`join\` takes a table, a \`let\` name or a (query) to join with, found ${shown(this.token)}`,
    );
    this.expectWord("on", "after the right side of `join`");
    const keys: JoinKey[] = [this.joinKey()];
    while (this.isPunct(",") || this.isWord("and")) {
      const separator = this.advance();
      if (keys.length >= KQL_LIMITS.maxItems)
        this.fail(`\`join\` takes at most ${KQL_LIMITS.maxItems} keys`, separator.pos);
      keys.push(this.joinKey());
    }
    return { kind: "join", joinKind, right, keys, pos };
  }

  private joinKey(): JoinKey {
    if (!this.isWord("$left") && !this.isWord("$right")) {
      const column = this.columnName();
      return { left: column, right: column };
    }
    const side = (): { side: string; name: Name } => {
      const token = this.token;
      if (!this.isWord("$left") && !this.isWord("$right"))
        this.fail(`expected \`$left.column\` or \`$right.column\`, found ${shown(token)}`);
      this.advance();
      this.expectPunct(".", `after \`${token.text}\``);
      const { name } = this.columnName();
      return { side: token.text, name: { name, pos: token.pos } };
    };
    const first = side();
    this.expectPunct("==", "between `$left.column` and `$right.column`");
    const second = side();
    if (first.side === second.side)
      this.fail("a `join` key compares `$left.column == $right.column`", second.name.pos);
    return first.side === "$left"
      ? { left: first.name, right: second.name }
      : { left: second.name, right: first.name };
  }

  /**
   * `mv-expand [kind=bag|array] [with_itemindex=Name] [name =] expr [to typeof(type)], … [limit N]`: several values
   * are expanded in parallel. `bagexpansion=` is Kusto's other spelling of `kind=`.
   */
  private mvExpand(pos: Position): Operator {
    let bagAsArray = false;
    let expansion = this.kindWord();
    if (!expansion && this.isWord("bagexpansion") && this.isPunct("=", this.peek())) {
      this.advance();
      this.advance();
      expansion = this.advance();
    }
    if (expansion) {
      if (expansion.kind !== "ident" || (expansion.text !== "bag" && expansion.text !== "array"))
        this.fail(
          `\`mv-expand\` kinds are bag (the default: a property bag gives one {key: value} per key) and array ([key, value] per key), found ${shown(expansion)}`,
          expansion.pos,
        );
      bagAsArray = expansion.text === "array";
    }
    const itemIndex = this.itemIndex();
    const items = this.mvItems();
    const limit = this.mvLimit();
    return { kind: "mv-expand", ...(bagAsArray ? { bagAsArray } : {}), items, itemIndex, limit, pos };
  }

  /**
   * `mv-apply [with_itemindex=Name] [name =] expr [to typeof(type)], … [limit N] on (operator | operator …)`: the
   * subquery's first operator has no `|` before it (its table is the row's sub-table). Its operators count against the
   * query's, and the parentheses are a level of nesting.
   */
  private mvApply(pos: Position): Operator {
    const itemIndex = this.itemIndex();
    const items = this.mvItems();
    const limit = this.mvLimit();
    this.expectWord("on", "after the values of `mv-apply`");
    const open = this.expectPunct("(", "after `mv-apply … on`");
    this.enter(open.pos);
    try {
      const operators: Operator[] = [];
      for (;;) {
        if (this.operators >= KQL_LIMITS.maxOperators)
          this.fail(`a query has at most ${KQL_LIMITS.maxOperators} operators`);
        this.operators++;
        operators.push(this.operator());
        if (!this.isPunct("|")) break;
        this.advance();
      }
      this.expectPunct(")", "to close the subquery of `mv-apply`");
      return { kind: "mv-apply", items, itemIndex, limit, operators, pos };
    } finally {
      this.leave();
    }
  }

  /** `with_itemindex=Name` when it comes next. */
  private itemIndex(): Name | undefined {
    if (!(this.isWord("with_itemindex") && this.isPunct("=", this.peek()))) return undefined;
    this.advance();
    this.advance();
    return this.columnName();
  }

  /** The values of `mv-expand` and `mv-apply`: `[name =] expr [to typeof(type)], …`. */
  private mvItems(): MvExpandItem[] {
    return this.list((): MvExpandItem => {
      const item = this.namedExpr(false);
      let toType: Name | undefined;
      if (this.isWord("to")) {
        this.advance();
        this.expectWord("typeof", "after `to`");
        this.expectPunct("(", "after `typeof`");
        toType = this.typeName();
        this.expectPunct(")", "after the type");
      }
      const name = item.name === undefined ? undefined : { name: item.name, pos: item.namePos! };
      return { name, expr: item.expr, toType };
    });
  }

  /** `limit N` when it comes next. */
  private mvLimit(): number | undefined {
    if (!this.isWord("limit")) return undefined;
    this.advance();
    const count = this.token;
    if (count.kind !== "number" || count.real || (count.value as number) < 1)
      this.fail(`\`limit\` takes a whole number of rows ≥ 1, found ${shown(count)}`);
    this.advance();
    return count.value as number;
  }

  private typeName(): Name {
    const token = this.token;
    if (token.kind !== "ident" || !(PARSE_TYPES as readonly string[]).includes(token.text))
      this.fail(`expected a type (${PARSE_TYPES.join(", ")}), found ${shown(token)}`);
    this.advance();
    return { name: token.text, pos: token.pos };
  }

  /** `parse [kind=simple|relaxed|regex [flags=Uims]] expr with * "text" name:type "text" *`. */
  private parse(pos: Position): Operator {
    const kind = this.kindWord();
    if (kind && kind.text !== "simple" && kind.text !== "regex" && kind.text !== "relaxed")
      this.fail(
        `\`parse\` kinds are simple (the default), relaxed and regex, found ${shown(kind)}`,
        kind.pos,
      );
    const relaxed = kind?.text === "relaxed";
    let regex: { flags: string; pos: Position } | undefined;
    if (kind?.text === "regex") {
      regex = { flags: "", pos: kind.pos };
      if (this.isWord("flags") && this.isPunct("=", this.peek())) {
        this.advance();
        this.advance();
        const flags = this.token;
        const text = flags.kind === "string" ? (flags.value as string) : flags.text;
        if ((flags.kind !== "ident" && flags.kind !== "string") || !REGEX_FLAGS.test(text))
          this.fail(
            `\`flags\` of \`parse kind=regex\` are U (ungreedy), i (ignore case), m (^ and $ at line breaks) and s (. matches a line break), found ${shown(flags)}`,
          );
        if (new Set(text).size !== text.length) this.fail(`a flag appears twice in \`${text}\``);
        this.advance();
        regex = { flags: text, pos: flags.pos };
      }
    } else if (this.isWord("flags") && this.isPunct("=", this.peek())) {
      this.fail("`flags` apply to `parse kind=regex`");
    }
    const expr = this.expr();
    this.expectWord("with", "after the value `parse` reads");
    const parts: ParsePart[] = [];
    while (this.token.kind !== "eof" && !this.isPunct("|") && !this.isPunct(")") && !this.isPunct(";")) {
      if (parts.length >= KQL_LIMITS.maxItems)
        this.fail(`a \`parse\` pattern has at most ${KQL_LIMITS.maxItems} parts`);
      const token = this.token;
      if (this.isPunct("*")) {
        this.advance();
        parts.push({ kind: "any", pos: token.pos });
      } else if (token.kind === "string") {
        this.advance();
        parts.push({ kind: "text", value: token.value as string, pos: token.pos });
      } else {
        const { name } = this.columnName();
        let type = "string";
        if (this.isPunct(":")) {
          this.advance();
          type = this.typeName().name;
        }
        parts.push({ kind: "column", name, type, pos: token.pos });
      }
    }
    if (!parts.length) this.fail('expected a pattern after `with`, e.g. * "user=" user " " *');
    return { kind: "parse", expr, parts, regex, ...(relaxed ? { relaxed } : {}), pos };
  }

  /** A column name: an identifier or `['any text']`. */
  private columnName(): { name: string; pos: Position } {
    const token = this.token;
    if (token.kind === "ident" && !token.text.startsWith("$")) {
      this.advance();
      return { name: token.text, pos: token.pos };
    }
    if (this.isPunct("[") && this.peek().kind === "string" && this.isPunct("]", this.peek(2))) {
      this.advance();
      const name = this.advance().value as string;
      this.advance();
      if (name.length === 0 || name.length > KQL_LIMITS.maxNameLength)
        this.fail(`a column name is 1 to ${KQL_LIMITS.maxNameLength} characters`, token.pos);
      return { name, pos: token.pos };
    }
    return this.fail(`expected a column name, found ${shown(token)}`);
  }

  /** `(a, b, …) = expr` when it comes next (`extend`'s form for a function of several columns), else null. */
  private tupleNames(): NamedExpr | null {
    if (!this.isPunct("(")) return null;
    let ahead = 1;
    for (;;) {
      const name = this.peek(ahead);
      if (name.kind !== "ident" || name.text.startsWith("$")) return null;
      const after = this.peek(ahead + 1);
      if (this.isPunct(")", after)) break;
      if (!this.isPunct(",", after)) return null;
      ahead += 2;
    }
    if (!this.isPunct("=", this.peek(ahead + 2))) return null;
    this.advance();
    const names: Name[] = [];
    while (!this.isPunct(")")) {
      if (names.length) this.advance();
      const token = this.advance();
      if (names.some((n) => n.name === token.text))
        this.fail(`the column \`${token.text}\` appears twice in \`(…) =\``, token.pos);
      names.push({ name: token.text, pos: token.pos });
    }
    this.advance();
    this.advance();
    return { names, namePos: names[0].pos, expr: this.expr() };
  }

  /** `name = expr` or `expr`; the name is optional. */
  private namedExpr(aggregate: boolean): NamedExpr {
    const token = this.token;
    const bracketed = this.isPunct("[") && this.peek().kind === "string" && this.isPunct("]", this.peek(2));
    const named =
      (token.kind === "ident" && this.isPunct("=", this.peek())) ||
      (bracketed && this.isPunct("=", this.peek(3)));
    if (named) {
      const { name, pos } = this.columnName();
      this.advance();
      return { name, namePos: pos, expr: aggregate ? this.aggregateCall() : this.expr() };
    }
    return { expr: aggregate ? this.aggregateCall() : this.expr() };
  }

  /** An aggregation: a call (the compiler checks it is one of the aggregation functions). */
  private aggregateCall(): Expr {
    const token = this.token;
    if (token.kind !== "ident" || !this.isPunct("(", this.peek()))
      this.fail(`expected an aggregation such as count(), dcount(x) or max(x), found ${shown(token)}`);
    return this.primary();
  }

  private summarize(pos: Position): Operator {
    // An item is an aggregation or an expression over aggregations (`d = max(time) - min(time)`): the compiler checks.
    const aggregates: NamedExpr[] = this.isWord("by") ? [] : this.list(() => this.namedExpr(false));
    let by: NamedExpr[] = [];
    if (this.isWord("by")) {
      this.advance();
      by = this.list(() => this.namedExpr(false));
    } else if (this.token.kind !== "eof" && !this.isPunct("|") && !this.isPunct(")") && !this.isPunct(";")) {
      this.fail(`expected \`by\`, \`,\`, \`|\` or the end of the query, found ${shown(this.token)}`);
    }
    if (aggregates.length + by.length > KQL_LIMITS.maxItems)
      this.fail(`\`summarize\` takes at most ${KQL_LIMITS.maxItems} items`, pos);
    return { kind: "summarize", aggregates, by, pos };
  }

  /**
   * `make-series [name =] aggregation [default = value], … on axis [from start] [to end] step size [by group, …]`, or
   * Kusto's alternate `… on axis in range(start, stop, step) [by group, …]`.
   * Kusto takes a bound left out from the data's range; Rampart takes it from the hunt's time range instead (the
   * compiler does, for a datetime axis), so the number of bins is still known before the hunt runs.
   */
  private makeSeries(pos: Position): Operator {
    const aggregates = this.list((): SeriesAggregate => {
      const item: SeriesAggregate = this.namedExpr(true);
      if (this.isWord("default") && this.isPunct("=", this.peek())) {
        this.advance();
        this.advance();
        item.default = this.expr();
      }
      return item;
    });
    this.expectWord("on", "after the aggregations of `make-series` (`on time from … to … step …`)");
    // The axis stops before `in`, which starts Kusto's alternate form `in range(start, stop, step)`.
    const axis = this.additive();
    const bound = (word: string): Expr | null => {
      if (!this.isWord(word)) return null;
      this.advance();
      return this.additive();
    };
    let from: Expr | null;
    let to: Expr | null;
    let step: Expr;
    let range: Position | undefined;
    if (this.isWord("in")) {
      this.advance();
      if (!this.isWord("range"))
        this.fail(`expected \`range(start, stop, step)\` after \`in\`, found ${shown(this.token)}`);
      range = this.advance().pos;
      this.expectPunct("(", "after `range`");
      from = this.expr();
      this.expectPunct(",", "in `range(start, stop, step)`");
      to = this.expr();
      this.expectPunct(",", "in `range(start, stop, step)`: `make-series` needs the step");
      step = this.expr();
      this.expectPunct(")", "to close `range(start, stop, step`");
      for (const word of ["from", "to", "step"])
        if (this.isWord(word))
          this.fail(
            `\`make-series\` takes \`in range(start, stop, step)\` or \`from\`/\`to\`/\`step\`, not both`,
          );
    } else {
      from = bound("from");
      to = bound("to");
      if (this.isWord("in"))
        this.fail("`make-series` takes `in range(start, stop, step)` or `from`/`to`/`step`, not both");
      this.expectWord("step", "in `make-series … on time [from start] [to end] step size`");
      // Bounds and step are constants (no comparisons), so they too stop before a misplaced `in`.
      step = this.additive();
      if (this.isWord("in"))
        this.fail("`make-series` takes `in range(start, stop, step)` or `from`/`to`/`step`, not both");
    }
    let by: NamedExpr[] = [];
    if (this.isWord("by")) {
      this.advance();
      by = this.list(() => this.namedExpr(false));
    } else if (this.token.kind !== "eof" && !this.isPunct("|") && !this.isPunct(")") && !this.isPunct(";")) {
      this.fail(`expected \`by\`, \`|\` or the end of the query, found ${shown(this.token)}`);
    }
    if (aggregates.length + by.length > KQL_LIMITS.maxItems)
      this.fail(`\`make-series\` takes at most ${KQL_LIMITS.maxItems} items`, pos);
    return { kind: "make-series", aggregates, axis, from, to, step, by, pos, ...(range ? { range } : {}) };
  }

  private sortKey(): SortKey {
    const expr = this.expr();
    let desc = true;
    if (this.isWord("asc")) {
      this.advance();
      desc = false;
    } else if (this.isWord("desc")) {
      this.advance();
    }
    let nullsFirst: boolean | undefined;
    if (this.isWord("nulls")) {
      this.advance();
      if (this.isWord("first")) nullsFirst = true;
      else if (this.isWord("last")) nullsFirst = false;
      else this.fail(`expected \`first\` or \`last\` after \`nulls\`, found ${shown(this.token)}`);
      this.advance();
    }
    return { expr, desc, nullsFirst };
  }

  /** `lookup [kind=leftouter|inner] _GetWatchlist('alias') on column | on $left.x == $right.Y`. */
  private lookup(pos: Position): Operator {
    let inner = false;
    if (this.isWord("kind")) {
      this.advance();
      this.expectPunct("=", "after `kind`");
      const kind = this.token;
      if (this.isWord("leftouter")) inner = false;
      else if (this.isWord("inner")) inner = true;
      else this.fail(`\`lookup\` kinds are leftouter and inner, found ${shown(kind)}`);
      this.advance();
    }
    if (!this.isWord("_GetWatchlist"))
      this.fail(
        `\`lookup\` reads a watchlist: lookup _GetWatchlist('alias') on column, found ${shown(this.token)}`,
      );
    const watchlist = this.watchlistRef();
    this.expectWord("on", "after the watchlist of `lookup`");
    if (this.isWord("$left")) {
      const leftToken = this.advance();
      this.expectPunct(".", "after `$left`");
      const leftName = this.columnName();
      this.expectPunct("==", "between `$left.column` and `$right.column`");
      this.expectWord("$right", "after `==` in `lookup … on`");
      this.expectPunct(".", "after `$right`");
      const right = this.columnName();
      return {
        kind: "lookup",
        inner,
        watchlist,
        left: { kind: "column", name: leftName.name, pos: leftToken.pos },
        right,
        pos,
      };
    }
    const column = this.columnName();
    return {
      kind: "lookup",
      inner,
      watchlist,
      left: { kind: "column", name: column.name, pos: column.pos },
      right: column,
      pos,
    };
  }

  // -- expressions, lowest precedence first ---------------------------------------------------------------

  expr(): Expr {
    this.enter(this.token.pos);
    try {
      return this.or();
    } finally {
      this.leave();
    }
  }

  private or(): Expr {
    let left = this.and();
    while (this.isWord("or")) {
      const op = this.advance();
      left = { kind: "binary", op: "or", left, right: this.and(), pos: op.pos };
    }
    return left;
  }

  private and(): Expr {
    let left = this.comparison();
    while (this.isWord("and")) {
      const op = this.advance();
      left = { kind: "binary", op: "and", left, right: this.comparison(), pos: op.pos };
    }
    return left;
  }

  /** `!word` written as one word: `!in`, `!has`, `!between`… */
  private negatedWord(): string | null {
    const bang = this.token;
    const word = this.peek();
    if (this.isPunct("!", bang) && word.kind === "ident" && this.adjacent(bang, word)) return word.text;
    return null;
  }

  private comparison(): Expr {
    const left = this.additive();
    const token = this.token;
    if (token.kind === "punct" && ["==", "!=", "<", "<=", ">", ">=", "=~", "!~"].includes(token.text)) {
      this.advance();
      return { kind: "binary", op: token.text, left, right: this.additive(), pos: token.pos };
    }
    const negated = this.negatedWord();
    const word = negated ?? (token.kind === "ident" ? token.text : null);
    if (word === null) return left;
    const negate = negated !== null;
    if (word === "in") {
      const wordToken = negate ? this.peek() : token;
      this.advance();
      if (negate) this.advance();
      let caseInsensitive = false;
      if (this.isPunct("~") && this.adjacent(wordToken, this.token)) {
        this.advance();
        caseInsensitive = true;
      }
      return { kind: "in", negate, caseInsensitive, left, items: this.inList(), pos: token.pos };
    }
    if ((word === "has_any" || word === "has_all") && !negate) {
      this.advance();
      const has = word === "has_any" ? "any" : "all";
      return { kind: "in", negate, caseInsensitive: true, left, items: this.inList(), has, pos: token.pos };
    }
    if (word === "between") {
      this.advance();
      if (negate) this.advance();
      this.expectPunct("(", "after `between`");
      const low = this.additive();
      this.expectPunct("..", "in `between (low .. high)`");
      const high = this.additive();
      this.expectPunct(")", "after `between (low .. high`");
      return { kind: "between", negate, left, low, high, pos: token.pos };
    }
    if (STRING_OPERATORS.has(word)) {
      this.advance();
      if (negate) this.advance();
      return { kind: "binary", op: negate ? `!${word}` : word, left, right: this.additive(), pos: token.pos };
    }
    if (word === "matches" && !negate) {
      this.advance();
      this.expectWord("regex", "after `matches`");
      return { kind: "binary", op: "matches regex", left, right: this.additive(), pos: token.pos };
    }
    if (negate) this.fail(`unknown operator \`!${word}\``);
    return left;
  }

  private inList(): Array<Expr | WatchlistRef> {
    const open = this.expectPunct("(", "after `in`");
    const items: Array<Expr | WatchlistRef> = [];
    if (this.isPunct(")")) this.fail("`in (…)` needs at least one value");
    for (;;) {
      if (items.length >= KQL_LIMITS.maxListLength)
        this.fail(`\`in (…)\` takes at most ${KQL_LIMITS.maxListLength} values`, open.pos);
      items.push(this.isWord("_GetWatchlist") ? this.watchlistRef() : this.additive());
      if (this.isPunct(",")) {
        this.advance();
        continue;
      }
      this.expectPunct(")", "to close `in (…)`");
      return items;
    }
  }

  private additive(): Expr {
    let left = this.multiplicative();
    while (this.isPunct("+") || this.isPunct("-")) {
      const op = this.advance();
      left = { kind: "binary", op: op.text, left, right: this.multiplicative(), pos: op.pos };
    }
    return left;
  }

  private multiplicative(): Expr {
    let left = this.unary();
    while (this.isPunct("*") || this.isPunct("/") || this.isPunct("%")) {
      const op = this.advance();
      left = { kind: "binary", op: op.text, left, right: this.unary(), pos: op.pos };
    }
    return left;
  }

  private unary(): Expr {
    if (this.isPunct("-")) {
      const op = this.advance();
      this.enter(op.pos);
      try {
        const operand = this.unary();
        // A negative literal stays a literal (so `take -1` style checks and `in (-1, 2)` lists see a number).
        if (operand.kind === "literal" && (operand.type === "long" || operand.type === "real"))
          return { ...operand, value: -operand.value, pos: op.pos };
        if (operand.kind === "literal" && operand.type === "timespan")
          return { ...operand, value: -operand.value, pos: op.pos };
        return { kind: "unary", op: "-", operand, pos: op.pos };
      } finally {
        this.leave();
      }
    }
    return this.postfix(this.primary());
  }

  /** Member access on a value: `.name`, `["name"]`, `[0]`. */
  private postfix(target: Expr): Expr {
    let expr = target;
    for (;;) {
      if (this.isPunct(".") && this.peek().kind === "ident") {
        const dot = this.advance();
        const segment = this.advance();
        expr = this.member(expr, segment.text, dot.pos);
      } else if (this.isPunct("[") && (this.peek().kind === "string" || this.peek().kind === "number")) {
        const open = this.advance();
        const key = this.advance();
        if (key.kind === "number" && (key.real || (key.value as number) < 0))
          this.fail("an array index is a whole number ≥ 0", key.pos);
        this.expectPunct("]", "after the key");
        expr = this.member(expr, String(key.value), open.pos);
      } else {
        return expr;
      }
    }
  }

  private member(target: Expr, segment: string, pos: Position): Expr {
    if (segment.length === 0 || segment.length > KQL_LIMITS.maxNameLength)
      this.fail(`a key is 1 to ${KQL_LIMITS.maxNameLength} characters`, pos);
    if (target.kind === "member") {
      if (target.path.length >= 16) this.fail("a member path has at most 16 keys", pos);
      return { ...target, path: [...target.path, segment] };
    }
    return { kind: "member", target, path: [segment], pos: target.pos };
  }

  private primary(): Expr {
    const token = this.token;
    switch (token.kind) {
      case "string":
        this.advance();
        return { kind: "literal", type: "string", value: token.value as string, pos: token.pos };
      case "number":
        this.advance();
        return {
          kind: "literal",
          type: token.real ? "real" : "long",
          value: token.value as number,
          pos: token.pos,
        };
      case "timespan":
        this.advance();
        return { kind: "literal", type: "timespan", value: token.value as number, pos: token.pos };
      case "datetime":
        this.advance();
        return { kind: "literal", type: "datetime", value: token.value as string, pos: token.pos };
      case "ident": {
        if (token.text === "true" || token.text === "false") {
          this.advance();
          return { kind: "literal", type: "bool", value: token.text === "true", pos: token.pos };
        }
        if (token.text === "_GetWatchlist")
          this.fail("`_GetWatchlist('alias')` is used in `in (…)`, in `lookup`, or as the table of a query");
        if (token.text === "dynamic" && this.isPunct("(", this.peek())) return this.dynamic();
        if (token.text === "toscalar" && this.isPunct("(", this.peek())) return this.toscalar();
        if (token.text === "materialize" && this.isPunct("(", this.peek()))
          this.fail("`materialize(…)` is the value of a tabular `let`: let t = materialize(query);");
        if (this.isPunct("(", this.peek())) {
          this.noRecursion(token);
          return this.call();
        }
        if (token.text.startsWith("$")) this.fail(`unexpected ${shown(token)}`);
        this.advance();
        return { kind: "column", name: token.text, pos: token.pos };
      }
      case "punct":
        if (token.text === "(") {
          this.advance();
          const inner = this.expr();
          this.expectPunct(")", "to close `(`");
          return inner;
        }
        if (token.text === "[" && this.peek().kind === "string" && this.isPunct("]", this.peek(2))) {
          const { name, pos } = this.columnName();
          return { kind: "column", name, pos };
        }
        return this.fail(`expected a value, a column or a function, found ${shown(token)}`);
      default:
        return this.fail(`expected a value, a column or a function, found ${shown(token)}`);
    }
  }

  /** `dynamic(json)`: JSON written with the language's strings and numbers (`'single'` quotes too). */
  private dynamic(): Expr {
    const start = this.advance();
    this.expectPunct("(", "after `dynamic`");
    let values = 0;
    const json = (): JsonValue => {
      const token = this.token;
      if (++values > KQL_LIMITS.maxListLength)
        this.fail(`a \`dynamic\` literal holds at most ${KQL_LIMITS.maxListLength} values`, token.pos);
      if (token.kind === "string") {
        this.advance();
        return token.value as string;
      }
      if (token.kind === "number") {
        this.advance();
        return token.value as number;
      }
      if (this.isPunct("-") && this.peek().kind === "number") {
        this.advance();
        return -(this.advance().value as number);
      }
      if (this.isWord("true") || this.isWord("false") || this.isWord("null")) {
        this.advance();
        return token.text === "null" ? null : token.text === "true";
      }
      if (this.isPunct("[") || this.isPunct("{")) {
        this.enter(token.pos);
        try {
          const array = this.isPunct("[");
          this.advance();
          const close = array ? "]" : "}";
          const out: JsonValue[] = [];
          const object: Record<string, JsonValue> = {};
          while (!this.isPunct(close)) {
            if (out.length + Object.keys(object).length > 0)
              this.expectPunct(",", `between the values of \`dynamic(${array ? "[…]" : "{…}"})\``);
            if (array) {
              out.push(json());
            } else {
              const key = this.token;
              if (key.kind !== "string") this.fail(`expected a key in quotes, found ${shown(key)}`);
              this.advance();
              this.expectPunct(":", "after the key");
              Object.defineProperty(object, key.value as string, {
                value: json(),
                enumerable: true,
                writable: true,
                configurable: true,
              });
            }
          }
          this.advance();
          return array ? out : object;
        } finally {
          this.leave();
        }
      }
      return this.fail(
        `expected a JSON value (string, number, true, false, null, […] or {…}), found ${shown(token)}`,
      );
    };
    const value = json();
    this.expectPunct(")", "to close `dynamic(`");
    return { kind: "dynamic", value, pos: start.pos };
  }

  /** The argument of the tabular parameter `param` of `fn`: a table, a tabular `let`, a call or a (query). */
  private tableArgument(fn: string, param: string): Expr {
    const token = this.token;
    if (!this.isPunct("(") && (token.kind !== "ident" || token.text.startsWith("$")))
      this.fail(
        `\`${param}\` of \`${fn}\` is a table: pass a table, a tabular \`let\` or a (query), found ${shown(token)}`,
      );
    return { kind: "table", query: this.pipeline(), pos: token.pos };
  }

  /** `toscalar(query)`: a query in a value's place. */
  private toscalar(): Expr {
    const name = this.advance();
    this.expectPunct("(", "after `toscalar`");
    this.enter(name.pos);
    try {
      if (!this.startsTable())
        this.fail(
          `\`toscalar\` takes a query, e.g. toscalar(Events | summarize count()), found ${shown(this.token)}`,
        );
      const query = this.pipeline();
      this.expectPunct(")", "to close `toscalar(`");
      return { kind: "toscalar", query, pos: name.pos };
    } finally {
      this.leave();
    }
  }

  /**
   * `name(arg, …)`; the argument of a `let` function's tabular parameter is a query. A `let` function's arguments may
   * be named, `f(1, n = 3)` or `f(n = 3, a = 1)`, as in Kusto: in any order, after those given by position.
   */
  private call(): Extract<Expr, { kind: "call" }> {
    const name = this.advance();
    const params = this.functions.get(name.text);
    this.enter(name.pos);
    try {
      this.expectPunct("(", `after \`${name.text}\``);
      const args: Expr[] = [];
      const names: Array<Name | null> = [];
      if (!this.isPunct(")")) {
        for (;;) {
          if (args.length >= 64) this.fail("a function takes at most 64 arguments");
          const label = this.argumentName(name.text, params);
          const param = label ? params?.find((p) => p.name === label.name) : params?.[args.length];
          if (!label && names.some((n) => n !== null))
            this.fail(
              `an argument given by position cannot follow a named one in a call of \`${name.text}\`: name this one too`,
            );
          if (param?.kind === "tabular") {
            args.push(this.tableArgument(name.text, param.name));
          } else if (
            !label &&
            this.isPunct("*") &&
            (this.isPunct(",", this.peek()) || this.isPunct(")", this.peek()))
          ) {
            args.push({ kind: "star", pos: this.advance().pos });
          } else {
            args.push(this.expr());
          }
          names.push(label);
          if (!this.isPunct(",")) break;
          this.advance();
        }
      }
      this.expectPunct(")", `to close \`${name.text}(\``);
      const named = names.some((n) => n !== null);
      return { kind: "call", name: name.text, args, ...(named ? { names } : {}), pos: name.pos };
    } finally {
      this.leave();
    }
  }

  /**
   * `param =` before an argument of `fn` (whose parameters are `params` when it is a `let` function): the name, after
   * checking that `fn` has such a parameter; null for an argument given by position.
   */
  private argumentName(fn: string, params: FunctionParam[] | undefined): Name | null {
    const token = this.token;
    if (token.kind !== "ident" || token.text.startsWith("$") || !this.isPunct("=", this.peek())) return null;
    if (!params)
      this.fail(
        `\`${token.text} = …\`: only functions defined with \`let\` take named arguments (\`${fn}\` takes them in order)`,
      );
    if (!params.some((p) => p.name === token.text))
      this.fail(
        `\`${fn}\` has no parameter \`${token.text}\` (${params.length ? `its parameters: ${params.map((p) => p.name).join(", ")}` : "it takes none"})`,
      );
    this.advance();
    this.advance();
    return { name: token.text, pos: token.pos };
  }
}

/**
 * Parses a hunting query. Throws KqlError (with the line and column) for a query that is too long, does not
 * lex or parse, or exceeds a size or nesting limit; never anything else for any input string.
 */
export function parseKql(text: string): Query {
  if (typeof text !== "string" || text.trim() === "")
    throw new KqlError("the query is empty: start with a table, e.g. `Events | take 10`", {
      offset: 0,
      line: 1,
      column: 1,
    });
  if (text.length > KQL_LIMITS.maxQueryLength)
    throw new KqlError(`a query is at most ${KQL_LIMITS.maxQueryLength} characters (got ${text.length})`, {
      offset: 0,
      line: 1,
      column: 1,
    });
  const tokens = new Lexer(text).tokens();
  return new Parser(tokens, text).query();
}
