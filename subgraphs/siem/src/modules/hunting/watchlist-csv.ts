/**
 * Watchlist CSV: a header row naming the columns, then one item per record (RFC 4180 quoting, multi-line quoted
 * fields, an optional UTF-8 BOM). Parsed with csv-parse, a well-kept parser, rather than by hand: quoting and
 * record boundaries are where hand-written CSV readers go wrong. Like the event ingest, a bad record is reported
 * by its line with the reason and the good records are kept; only a bad header or an oversize file refuses the
 * whole upload.
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

const CSV_ERRORS: Record<string, string> = {
  CSV_INVALID_CLOSING_QUOTE: "a quoted field must end at a comma or at the end of the line",
  CSV_QUOTE_NOT_CLOSED: "a quoted field is never closed",
  INVALID_OPENING_QUOTE: "a quote inside an unquoted field (quote the field and double the quote)",
  CSV_MAX_RECORD_SIZE: `a record is longer than ${WATCHLIST_LIMITS.maxFieldLength * 4} characters`,
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
  const rejected: CsvRejection[] = [];
  let records: Array<{ record: string[]; info: { lines: number }; raw: string }>;
  try {
    records = parse(csv, {
      bom: true,
      info: true,
      raw: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      skip_records_with_error: true,
      max_record_size: WATCHLIST_LIMITS.maxFieldLength * 4,
      on_skip: (err) => {
        if (err) rejected.push({ line: Number(err.lines), reason: CSV_ERRORS[err.code] ?? err.message });
        return undefined;
      },
    }) as unknown as Array<{ record: string[]; info: { lines: number }; raw: string }>;
  } catch (err) {
    return { problem: `is not CSV: ${err instanceof Error ? err.message : String(err)}`, field: "csv" };
  }
  if (records.length === 0)
    return { problem: "is empty: the first line must name the columns", field: "csv" };
  const [head, ...body] = records;
  const columns = head.record;
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
  for (const { record, info, raw } of body) {
    // The record ends on info.lines; it starts as many lines earlier as it holds line breaks.
    const line = info.lines - (raw.trimEnd().match(/\r\n|\n|\r/g)?.length ?? 0);
    const reject = (reason: string) => rejected.push({ line, reason });
    if (record.length !== columns.length) {
      reject(`has ${record.length} field${record.length === 1 ? "" : "s"}, the header has ${columns.length}`);
      continue;
    }
    const key = record[keyIndex];
    if (key === "") {
      reject(`the search key (${searchKey}) is empty`);
      continue;
    }
    if (utf8LongerThan(key, MAX_INDEXED_TEXT_BYTES)) {
      reject(`the search key is longer than ${MAX_INDEXED_TEXT_BYTES} bytes`);
      continue;
    }
    const unstorable = record.map(textProblem).find((p) => p !== null);
    if (unstorable) {
      reject(`a field ${unstorable}`);
      continue;
    }
    if (record.some((field) => field.length > WATCHLIST_LIMITS.maxFieldLength)) {
      reject(`a field is longer than ${WATCHLIST_LIMITS.maxFieldLength} characters`);
      continue;
    }
    const earlier = firstLine.get(key);
    if (earlier !== undefined) {
      reject(`duplicate search key "${key.slice(0, 80)}" (first on line ${earlier})`);
      continue;
    }
    firstLine.set(key, line);
    items.push({ line, searchKey: key, data: Object.fromEntries(columns.map((c, i) => [c, record[i]])) });
  }
  rejected.sort((a, b) => a.line - b.line);
  return { columns, items, rejected };
}
