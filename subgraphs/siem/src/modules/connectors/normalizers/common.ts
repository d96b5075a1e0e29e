/**
 * Helpers shared by the connector normalisers: safe field access, IP/port/time parsing, and the
 * event builder. Everything here is pure and total (no clock, no I/O, no throwing on bad input).
 */
import { createHash } from "node:crypto";
import { normalizeIp, splitHostPort } from "../../../../../common/src/ip";
import {
  jsonProblem,
  MAX_INDEXED_TEXT_BYTES,
  MAX_JSON_DEPTH,
  textProblem,
  utf8LongerThan,
} from "../../../../../common/src/validation";
import type {
  NormalizedEvent,
  NormalizeRejection,
  Normalizer,
  OcsfSeverityId,
} from "../../events/event.model";

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function rejection(reason: string): NormalizeRejection {
  return { reason };
}

export function isRejection(result: NormalizedEvent | NormalizeRejection): result is NormalizeRejection {
  return "reason" in result;
}

/** The value at a path of object keys, or undefined when any step is not an object. */
export function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** A trimmed non-empty string (numbers are stringified), else null. */
export function text(value: unknown): string | null {
  if (typeof value === "string") {
    const trimmed = value.trim();
    return trimmed === "" ? null : trimmed;
  }
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

/** `{ value: "x", localizedValue: … }` (Azure's localizable strings) or a plain string. */
export function localizable(value: unknown): string | null {
  return isRecord(value) ? text(value.value) : text(value);
}

/** A finite integer from a number or an integer string, else null. */
export function integer(value: unknown): number | null {
  if (typeof value === "number") return Number.isInteger(value) ? value : null;
  if (typeof value === "string" && /^\s*-?\d{1,15}\s*$/.test(value)) return Number(value);
  return null;
}

/** "true"/"yes"/true → true, "false"/"no"/false → false, else null. */
export function bool(value: unknown): boolean | null {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const v = value.trim().toLowerCase();
    if (v === "true" || v === "yes") return true;
    if (v === "false" || v === "no") return false;
  }
  return null;
}

/** A copy of `obj` without undefined/null values (nested objects are kept as they are). */
export function compact(obj: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(obj)) if (value !== undefined && value !== null) out[key] = value;
  return out;
}

/** `compact`, or undefined when nothing is left (so the key disappears from the parent). */
export function compactOrUndefined(obj: Json): Json | undefined {
  const out = compact(obj);
  return Object.keys(out).length ? out : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// IP addresses and ports
// ---------------------------------------------------------------------------------------------------------

export { normalizeIp, splitHostPort };

/** The port of `host:port` / `[v6]:port`, when it has one. */
export function portOfAddress(value: unknown): number | null {
  if (typeof value !== "string") return null;
  return normalizePort(splitHostPort(value).port);
}

/** A port as an integer 0–65535 (from a number or a digit string), else null. */
export function normalizePort(value: unknown): number | null {
  let n: number | null = null;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && /^\s*\d{1,5}\s*$/.test(value)) n = Number(value);
  if (n === null || !Number.isInteger(n) || n < 0 || n > 65535) return null;
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------------------

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/;

export const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

/** Minutes east of UTC for `Z`, `UTC`, `GMT`, `+hh`, `+hh:mm`, `+hhmm`; undefined (means UTC) when absent. */
export function zoneOffsetMinutes(zone: string | undefined): number | null {
  if (zone === undefined || /^(z|utc|gmt)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!m) return null;
  const hours = Number(m[2]);
  const minutes = Number(m[3] ?? "0");
  if (hours > 23 || minutes > 59) return null;
  return (m[1] === "-" ? -1 : 1) * (hours * 60 + minutes);
}

/** Epoch ms of calendar fields in a zone, or null when a field is out of range (e.g. 31 February). */
export function utcMillis(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  fraction: string | undefined,
  offsetMinutes: number,
): number | null {
  if (month < 0 || month > 11 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  const ms = fraction ? Number(`0.${fraction}`) * 1000 : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hour, minute, Math.min(second, 59), Math.floor(ms));
  const value = date.getTime() - offsetMinutes * 60_000;
  return Number.isFinite(value) ? value : null;
}

/** 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, in epoch ms (Date.UTC maps years 0–99 to 1900–1999). */
const FIRST_YEAR_MS = -62_135_596_800_000;
const PAST_LAST_YEAR_MS = 253_402_300_800_000;

/**
 * ISO 8601 UTC text of epoch ms, or null outside the years 1–9999: ISO text has no other four-digit years
 * (`0000-…`, `+010000-…`), and Postgres refuses year 0 ("date/time field value out of range").
 */
export function isoOfMillis(ms: number): string | null {
  if (!Number.isFinite(ms) || ms < FIRST_YEAR_MS || ms >= PAST_LAST_YEAR_MS) return null;
  return new Date(ms).toISOString();
}

/**
 * An event time as ISO 8601 UTC (`2026-11-20T09:00:00.000Z`), from:
 * - epoch milliseconds (number or digit string); values below 1e11 are taken as epoch seconds;
 * - ISO 8601 text with `Z`/offset, or without a zone (taken as UTC, e.g. M365 `CreationTime`); any number of
 *   fractional digits (Azure writes 7).
 * Anything else (including local-time formats whose meaning depends on the machine) gives null.
 */
export function toIsoTime(value: unknown): string | null {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null;
    return isoOfMillis(Math.abs(value) < 1e11 ? value * 1000 : value);
  }
  if (typeof value !== "string") return null;
  const s = value.trim();
  if (/^-?\d+(?:\.\d+)?$/.test(s)) return toIsoTime(Number(s));
  const m = ISO_TIME.exec(s);
  if (!m) return null;
  const offset = zoneOffsetMinutes(m[8]);
  if (offset === null) return null;
  const ms = utcMillis(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? "0"),
    Number(m[5] ?? "0"),
    Number(m[6] ?? "0"),
    m[7],
    offset,
  );
  return ms === null ? null : isoOfMillis(ms);
}

/** Short description of a bad value for rejection reasons. */
export function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}

/**
 * A source event id for a record that carries none: the SHA-256 (hex) of its JSON. Deterministic, so re-sending
 * the same record (a re-read file, a retried batch) is a duplicate rather than a second event; any difference in the
 * record makes it another event.
 */
export function recordDigest(record: unknown): string {
  return createHash("sha256")
    .update(typeof record === "string" ? record : JSON.stringify(record))
    .digest("hex");
}

// ---------------------------------------------------------------------------------------------------------
// Misc mappings
// ---------------------------------------------------------------------------------------------------------

/** ISO 3166 alpha-2 (upper case) or null. */
export function countryCode(value: unknown): string | null {
  const s = text(value);
  return s && /^[A-Za-z]{2}$/.test(s) ? s.toUpperCase() : null;
}

/** Parses a JSON string found inside a record (e.g. Azure `requestbody`); the value itself when not a string. */
export function parseEmbeddedJson(value: unknown): unknown {
  if (typeof value !== "string") return value ?? undefined;
  const s = value.trim();
  if (!s.startsWith("{") && !s.startsWith("[")) return undefined;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

/** A property of an object by case-insensitive name (Azure request bodies mix `Properties`/`properties`). */
export function prop(obj: unknown, name: string): unknown {
  if (!isRecord(obj)) return undefined;
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(obj)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/** OCSF fingerprints (`[{ algorithm_id, algorithm, value }]`) of a bare hex digest, algorithm told by its length. */
export function fingerprints(digest: string | null): Json[] | undefined {
  if (!digest || !/^[0-9a-fA-F]+$/.test(digest)) return undefined;
  const byLength: Record<number, [number, string]> = {
    32: [1, "MD5"],
    40: [2, "SHA-1"],
    64: [3, "SHA-256"],
    128: [4, "SHA-512"],
  };
  const known = byLength[digest.length];
  if (!known) return undefined;
  return [{ algorithm_id: known[0], algorithm: known[1], value: digest.toLowerCase() }];
}

/** Host name of a URL (with or without scheme), lower case; null when unparseable. */
export function hostOfUrl(value: string): string | null {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
    const host = url.hostname.toLowerCase();
    return host === "" ? null : host.replace(/^\[(.*)\]$/, "$1");
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Building events
// ---------------------------------------------------------------------------------------------------------

export type EventFields = Pick<
  NormalizedEvent,
  "source_event_id" | "time" | "class_uid" | "activity_id" | "raw"
> &
  Partial<Omit<NormalizedEvent, "source_event_id" | "time" | "class_uid" | "activity_id" | "raw">>;

/** A NormalizedEvent with every column present (missing ones null, severity Unknown, status Unknown). */
export function makeEvent(fields: EventFields): NormalizedEvent {
  return {
    source_event_id: fields.source_event_id,
    time: fields.time,
    class_uid: fields.class_uid,
    activity_id: fields.activity_id,
    severity_id: fields.severity_id ?? (0 as OcsfSeverityId),
    status: fields.status ?? "Unknown",
    message: fields.message ?? null,
    actor_user: fields.actor_user ?? null,
    src_ip: fields.src_ip ?? null,
    src_port: fields.src_port ?? null,
    dst_ip: fields.dst_ip ?? null,
    dst_port: fields.dst_port ?? null,
    device: fields.device ?? null,
    resource_id: fields.resource_id ?? null,
    operation: fields.operation ?? null,
    src_country: fields.src_country ?? null,
    attributes: compact(fields.attributes ?? {}),
    raw: fields.raw,
  };
}

const INT4_MIN = -2147483648;
const INT4_MAX = 2147483647;
const KEY_COLUMNS = ["source_event_id", "actor_user", "device", "resource_id"] as const;
const TEXT_COLUMNS = [
  ...KEY_COLUMNS,
  "status",
  "message",
  "operation",
  "src_country",
  "src_ip",
  "dst_ip",
] as const;

/**
 * Why a normalised event's columns do not fit the events table, or null: text Postgres cannot hold (NUL, unpaired
 * surrogates), an indexed column over MAX_INDEXED_TEXT_BYTES, an integer column outside int4. Checked here so that
 * such a record is one rejection, not a failed batch (`storedJson` checks the JSON columns).
 */
export function storageProblem(event: NormalizedEvent): string | null {
  for (const column of ["class_uid", "activity_id"] as const) {
    const value = event[column];
    if (!Number.isInteger(value) || value < INT4_MIN || value > INT4_MAX)
      return `${column} ${value} is out of range (a 32-bit integer)`;
  }
  for (const column of TEXT_COLUMNS) {
    const value = event[column];
    if (typeof value !== "string") continue;
    const problem = textProblem(value);
    if (problem) return `${column} ${problem}`;
  }
  for (const column of KEY_COLUMNS) {
    const value = event[column];
    if (typeof value === "string" && utf8LongerThan(value, MAX_INDEXED_TEXT_BYTES))
      return `${column} is longer than ${MAX_INDEXED_TEXT_BYTES} bytes`;
  }
  return null;
}

/**
 * True when JSON text holds fewer `{` and `[` than MAX_JSON_DEPTH: then nothing in it nests that deep, JSON embedded
 * in its strings included, and neither the record nor its event's `attributes` needs a walk for depth.
 */
export function fewBrackets(text: string): boolean {
  let count = 0;
  for (const opening of ["{", "["]) {
    for (let at = text.indexOf(opening); at !== -1; at = text.indexOf(opening, at + 1))
      if (++count >= MAX_JSON_DEPTH) return false;
  }
  return true;
}

/**
 * Why a record is too deeply nested to take, or null. Checked before normalising, so that a hostile depth cannot
 * exhaust the stack of a normaliser or of `JSON.stringify`. (A record whose text has `fewBrackets` needs no walk.)
 */
export function recordDepthProblem(record: unknown): string | null {
  return jsonProblem(record, { strings: false })
    ? `the record is nested deeper than ${MAX_JSON_DEPTH} levels`
    : null;
}

/**
 * Why a normalised event's `attributes` cannot be stored as jsonb, or null: nested deeper than MAX_JSON_DEPTH, or
 * holding a string or key jsonb refuses (NUL, unpaired surrogates). (An event whose record text has `fewBrackets`
 * and is `plainJsonText` needs no walk.)
 */
export function attributesProblem(event: NormalizedEvent): string | null {
  const problem = jsonProblem(event.attributes);
  return problem ? `attributes${problem.path ? `.${problem.path}` : ""} ${problem.message}` : null;
}

/**
 * Wraps a normaliser so that it never throws and only returns events whose columns can be stored: an event that
 * `storageProblem` refuses and an unexpected error become rejections.
 */
export function total(name: string, normalize: Normalizer): Normalizer {
  return (record: unknown) => {
    try {
      const event = normalize(record);
      if (isRejection(event)) return event;
      const problem = storageProblem(event);
      return problem ? rejection(problem) : event;
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      return rejection(`${name}: could not read the record (${detail})`);
    }
  };
}

/** Clamps to an OCSF severity_id. */
export function severity(value: number): OcsfSeverityId {
  return (Number.isInteger(value) && value >= 0 && value <= 6 ? value : 0) as OcsfSeverityId;
}
