/**
 * Watchlist CSV: a header row naming the columns, then one item per record (RFC 4180 quoting, multi-line quoted
 * fields, an optional UTF-8 BOM, LF or CRLF line ends). Like the event ingest, a bad record is reported by its line
 * with the reason and the good records are kept; only a bad header or an oversize file refuses the whole upload.
 *
 * Fields are read by csv-parse, a well-kept parser, one record at a time. Records are cut here first (a line break
 * outside quotes ends one) because csv-parse does not find its feet again after a malformed quote: with
 * `skip_records_with_error` it reports the first fault and then drops or merges the records after it. A record
 * that spans lines and does not parse (an unclosed quote, most likely) is reported at its first line, and reading
 * resumes on the next line, so one stray quote costs one record.
 */
import { parse } from "csv-parse/sync";
import { MAX_INDEXED_TEXT_BYTES, textProblem, utf8LongerThan } from "../../../../common/src";
import { normalizeIp } from "../connectors/normalizers/common";
import { asciiLower } from "./kql-compiler";

/** Size limits of a watchlist. */
export const WATCHLIST_LIMITS = {
  /** Characters of one CSV upload. */
  maxCsvLength: 4_000_000,
  /** Items of one watchlist (and records of one upload). */
  maxItems: 10_000,
  /** Columns of a watchlist. */
  maxColumns: 50,
  /** Characters of a column name. */
  maxColumnName: 128,
  /** Characters of a field. */
  maxFieldLength: 4096,
} as const;

/** A record the upload could not keep: its 1-based line (where the record starts) and why. */
export interface CsvRejection {
  line: number;
  reason: string;
}

/** A good record: its line, search key and fields by column. */
export interface CsvItem {
  line: number;
  searchKey: string;
  data: Record<string, string>;
}

/** A parsed upload, or why the whole of it is refused. */
export type ParsedCsv =
  | { columns: string[]; items: CsvItem[]; rejected: CsvRejection[] }
  | { problem: string; field: "csv" | "searchKey" };

/** The form rules and `in~` compare search keys in: an IP address canonical, anything else ASCII lower case. */
export function foldKey(key: string): string {
  return normalizeIp(key) ?? asciiLower(key);
}

/** Longest record (characters). */
const MAX_RECORD_LENGTH = 64 * 1024;

const CSV_ERRORS: Record<string, string> = {
  CSV_INVALID_CLOSING_QUOTE: "a quoted field must end at a comma or at the end of the line",
  CSV_QUOTE_NOT_CLOSED: "a quoted field is never closed",
  INVALID_OPENING_QUOTE: "a quote inside an unquoted field (quote the field and double the quote)",
  CSV_MAX_RECORD_SIZE: `a record is longer than ${MAX_RECORD_LENGTH} characters`,
};

/** Checks the header: 1–maxColumns distinct (ignoring case), non-empty, storable names. */
function headerProblem(header: string[]): string | null {
  if (header.length === 0 || header.every((h) => h === "")) return "the first line must name the columns";
  if (header.length > WATCHLIST_LIMITS.maxColumns)
    return `a watchlist has at most ${WATCHLIST_LIMITS.maxColumns} columns (got ${header.length})`;
  const seen = new Set<string>();
  for (const [index, name] of header.entries()) {
    if (name === "") return `column ${index + 1} of the header has no name`;
    if (name.length > WATCHLIST_LIMITS.maxColumnName)
      return `column names are at most ${WATCHLIST_LIMITS.maxColumnName} characters`;
    const problem = textProblem(name);
    if (problem) return `column ${index + 1} of the header ${problem}`;
    if (seen.has(name.toLowerCase())) return `the header names the column "${name}" twice`;
    seen.add(name.toLowerCase());
  }
  return null;
}

/** One record's text and the line it starts on; `next` is where the following record starts. */
interface RawRecord {
  line: number;
  text: string;
  /** Offset and line just after this record. */
  next: number;
  nextLine: number;
  /** The offset and line after the record's first physical line (for resuming after a bad multi-line record). */
  firstLineEnd: number;
}

/** The record starting at `offset` (on `line`): up to the first line break outside double quotes. */
function recordAt(text: string, offset: number, line: number): RawRecord {
  let quoted = false;
  let breaks = 0;
  let firstLineEnd = -1;
  let i = offset;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === "\n") {
      if (!quoted) break;
      breaks++;
      if (firstLineEnd < 0) firstLineEnd = i + 1;
    }
  }
  return {
    line,
    text: text.slice(offset, i),
    next: i + 1,
    nextLine: line + breaks + 1,
    firstLineEnd: firstLineEnd < 0 ? i + 1 : firstLineEnd,
  };
}

/** The fields of one record, or why it is not CSV. */
function fieldsOf(record: string): string[] | { reason: string } {
  try {
    const rows = parse(record, { trim: true, relax_column_count: true, max_record_size: MAX_RECORD_LENGTH });
    return rows.length === 1 ? rows[0] : { reason: "is not one CSV record" };
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    return { reason: CSV_ERRORS[code] ?? (err instanceof Error ? err.message : String(err)) };
  }
}

/**
 * Every record of a well-formed upload with its first line, in one pass of csv-parse; null at the first fault (the
 * caller then cuts the records itself).
 */
function wellFormed(text: string): Array<{ line: number; fields: string[] }> | null {
  try {
    const rows = parse(text, {
      trim: true,
      info: true,
      raw: true,
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: MAX_RECORD_LENGTH,
    }) as unknown as Array<{ record: string[]; info: { lines: number }; raw: string }>;
    // A record ends on info.lines and starts as many lines earlier as it holds line breaks (its raw text also
    // holds the blank lines before it and its own line end: trimmed away).
    return rows.map(({ record, info, raw }) => ({
      line: info.lines - (raw.trim().match(/\n/g)?.length ?? 0),
      fields: record,
    }));
  } catch {
    return null;
  }
}

/** Every non-empty record of an upload with its first line, or the faults of the ones that are not CSV. */
function recordsOf(csv: string): Array<{ line: number; fields: string[] } | CsvRejection> {
  const text = csv.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const fast = wellFormed(text);
  if (fast) return fast;
  const out: Array<{ line: number; fields: string[] } | CsvRejection> = [];
  let offset = 0;
  let line = 1;
  while (offset < text.length) {
    const record = recordAt(text, offset, line);
    if (record.text.trim() === "") {
      ({ next: offset, nextLine: line } = record);
      continue;
    }
    const fields =
      record.text.length > MAX_RECORD_LENGTH
        ? { reason: CSV_ERRORS.CSV_MAX_RECORD_SIZE }
        : fieldsOf(record.text);
    if ("reason" in fields && record.nextLine - record.line > 1) {
      // A bad record over several lines: its first line is the fault, the next line may start a good one.
      out.push({ line: record.line, reason: fields.reason });
      offset = record.firstLineEnd;
      line = record.line + 1;
      continue;
    }
    out.push(
      "reason" in fields ? { line: record.line, reason: fields.reason } : { line: record.line, fields },
    );
    ({ next: offset, nextLine: line } = record);
  }
  return out;
}

/**
 * Parses an upload whose header must name `searchKey` (and, when `expected` is given, exactly those columns in
 * any order: items added to an existing watchlist). Records with the wrong number of fields, an empty or
 * oversize search key, unstorable text, or a search key already seen earlier in the upload are rejected by line.
 */
export function parseWatchlistCsv(csv: string, searchKey: string, expected?: readonly string[]): ParsedCsv {
  if (csv.length > WATCHLIST_LIMITS.maxCsvLength)
    return {
      problem: `at most ${WATCHLIST_LIMITS.maxCsvLength} characters (got ${csv.length})`,
      field: "csv",
    };
  const records = recordsOf(csv);
  if (records.length === 0)
    return { problem: "is empty: the first line must name the columns", field: "csv" };
  const [head, ...body] = records;
  if ("reason" in head) return { problem: `the header ${head.reason}`, field: "csv" };
  const columns = head.fields;
  const bad = headerProblem(columns);
  if (bad) return { problem: bad, field: "csv" };
  if (!columns.includes(searchKey))
    return {
      problem: `the CSV header has no column "${searchKey}" (it has ${columns.join(", ")})`,
      field: "searchKey",
    };
  if (expected) {
    const missing = expected.filter((c) => !columns.includes(c));
    const extra = columns.filter((c) => !expected.includes(c));
    if (missing.length || extra.length)
      return {
        problem: `the header must name the watchlist's columns ${expected.join(", ")}${missing.length ? `; missing ${missing.join(", ")}` : ""}${extra.length ? `; unknown ${extra.join(", ")}` : ""}`,
        field: "csv",
      };
  }
  if (body.length > WATCHLIST_LIMITS.maxItems)
    return {
      problem: `at most ${WATCHLIST_LIMITS.maxItems} items per upload (got ${body.length})`,
      field: "csv",
    };
  const keyIndex = columns.indexOf(searchKey);
  const firstLine = new Map<string, number>();
  const items: CsvItem[] = [];
  const rejected: CsvRejection[] = [];
  for (const record of body) {
    if ("reason" in record) {
      rejected.push(record);
      continue;
    }
    const { line, fields } = record;
    const reject = (reason: string) => rejected.push({ line, reason });
    if (fields.length !== columns.length) {
      reject(`has ${fields.length} field${fields.length === 1 ? "" : "s"}, the header has ${columns.length}`);
      continue;
    }
    const key = fields[keyIndex];
    if (key === "") {
      reject(`the search key (${searchKey}) is empty`);
      continue;
    }
    if (utf8LongerThan(key, MAX_INDEXED_TEXT_BYTES)) {
      reject(`the search key is longer than ${MAX_INDEXED_TEXT_BYTES} bytes`);
      continue;
    }
    const unstorable = fields.map(textProblem).find((p) => p !== null);
    if (unstorable) {
      reject(`a field ${unstorable}`);
      continue;
    }
    if (fields.some((field) => field.length > WATCHLIST_LIMITS.maxFieldLength)) {
      reject(`a field is longer than ${WATCHLIST_LIMITS.maxFieldLength} characters`);
      continue;
    }
    const earlier = firstLine.get(key);
    if (earlier !== undefined) {
      reject(`duplicate search key "${key.slice(0, 80)}" (first on line ${earlier})`);
      continue;
    }
    firstLine.set(key, line);
    items.push({ line, searchKey: key, data: Object.fromEntries(columns.map((c, i) => [c, fields[i]])) });
  }
  return { columns, items, rejected };
}
