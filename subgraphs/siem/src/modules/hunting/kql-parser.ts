/**
 * The hunting language: a subset of Kusto (KQL), parsed by hand.
 *
 * Why a hand-written recursive-descent parser rather than a parser library: the language is small and LL(1)
 * (a table, then `| operator …` stages whose first word settles the grammar), and what users need from the
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
  | { kind: "call"; name: string; args: Expr[]; pos: Position }
  | { kind: "unary"; op: "-"; operand: Expr; pos: Position }
  | { kind: "binary"; op: string; left: Expr; right: Expr; pos: Position }
  | {
      kind: "in";
      negate: boolean;
      caseInsensitive: boolean;
      left: Expr;
      items: Array<Expr | WatchlistRef>;
      pos: Position;
    }
  | { kind: "between"; negate: boolean; left: Expr; low: Expr; high: Expr; pos: Position };

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
  expr: Expr;
}

/** A sort key of `order by` / `top`. */
export interface SortKey {
  expr: Expr;
  desc: boolean;
  /** Explicit `nulls first|last`, else KQL's default (first when ascending, last when descending). */
  nullsFirst?: boolean;
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
  | { kind: "take"; count: number; pos: Position }
  | { kind: "top"; count: number; key: SortKey; pos: Position }
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
    };

/** What a query reads: the event store (all of it or one OCSF class), or a watchlist. */
export type Source = { kind: "table"; name: string; pos: Position } | WatchlistRef;

/** A parsed query. */
export interface Query {
  source: Source;
  operators: Operator[];
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
    return this.fail(
      c === ";"
        ? "unexpected `;`: a query is one statement (operators are chained with `|`)"
        : `unexpected character \`${shown}\``,
    );
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
  "where, project, project-away, project-rename, extend, summarize, order by, sort by, take, limit, top, count, distinct, lookup";

/** The spelling of a token in an error message. */
function shown(token: Token): string {
  if (token.kind === "eof") return "the end of the query";
  const text = token.text.length > 30 ? `${token.text.slice(0, 30)}…` : token.text;
  return `\`${text}\``;
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

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

  query(): Query {
    const source = this.source();
    const operators: Operator[] = [];
    while (this.isPunct("|")) {
      const bar = this.advance();
      if (operators.length >= KQL_LIMITS.maxOperators)
        this.fail(`a query has at most ${KQL_LIMITS.maxOperators} operators`, bar.pos);
      operators.push(this.operator());
    }
    if (this.token.kind !== "eof")
      this.fail(`expected \`|\` or the end of the query, found ${shown(this.token)}`);
    return { source, operators };
  }

  private source(): Source {
    const token = this.token;
    if (this.isWord("_GetWatchlist")) return this.watchlistRef();
    if (token.kind !== "ident")
      this.fail(
        `a query starts with a table (Events, or an OCSF class such as Authentication), found ${shown(token)}`,
      );
    this.advance();
    return { kind: "table", name: token.text, pos: token.pos };
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
        return { kind: "extend", items: this.list(() => this.namedExpr(false)), pos };
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
        return this.fail(
          "`join` is not supported: look rows up in a watchlist with `lookup _GetWatchlist('alias') on column`",
          pos,
        );
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

  private count(operator: string): number {
    const token = this.token;
    if (token.kind !== "number" || token.real)
      this.fail(`\`${operator}\` takes a whole number of rows, found ${shown(token)}`);
    this.advance();
    return token.value as number;
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
    const aggregates: NamedExpr[] = this.isWord("by") ? [] : this.list(() => this.namedExpr(true));
    let by: NamedExpr[] = [];
    if (this.isWord("by")) {
      this.advance();
      by = this.list(() => this.namedExpr(false));
    } else if (this.token.kind !== "eof" && !this.isPunct("|")) {
      this.fail(`expected \`by\`, \`,\`, \`|\` or the end of the query, found ${shown(this.token)}`);
    }
    if (aggregates.length + by.length > KQL_LIMITS.maxItems)
      this.fail(`\`summarize\` takes at most ${KQL_LIMITS.maxItems} items`, pos);
    return { kind: "summarize", aggregates, by, pos };
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
        if (this.isPunct("(", this.peek())) return this.call();
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

  private call(): Expr {
    const name = this.advance();
    this.enter(name.pos);
    try {
      this.expectPunct("(", `after \`${name.text}\``);
      const args: Expr[] = [];
      if (!this.isPunct(")")) {
        for (;;) {
          if (args.length >= 64) this.fail("a function takes at most 64 arguments");
          args.push(this.expr());
          if (!this.isPunct(",")) break;
          this.advance();
        }
      }
      this.expectPunct(")", `to close \`${name.text}(\``);
      return { kind: "call", name: name.text, args, pos: name.pos };
    } finally {
      this.leave();
    }
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
  return new Parser(tokens).query();
}
