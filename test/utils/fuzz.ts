/**
 * Fuzzing helpers shared by the normaliser fuzz (beside the normalisers) and the end-to-end ingest fuzz: hostile
 * values, structural mutations of real records, and the check that an event is what the ingest may store. Runs
 * are seeded and counted so CI repeats them exactly; `FUZZ_RUNS` / `FUZZ_SEED` run more (or other) cases locally.
 */
import fc from "fast-check";
import { isIP } from "node:net";
import { jsonProblem, MAX_INDEXED_TEXT_BYTES, textProblem } from "../../subgraphs/common/src/validation";
import { binaryCopyChunks } from "../../subgraphs/common/src/db/copy-binary";
import type { NormalizedEvent } from "../../subgraphs/siem/src/modules/events/event.model";
import {
  eventRow,
  STORED_EVENT_SCHEMA,
  type StoredEvent,
} from "../../subgraphs/siem/src/modules/events/event-ingest";

/** The seed of every fuzz run (fixed, so a failure in CI is the same failure locally). */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261129);

/** Cases per property: `base` in CI, `FUZZ_RUNS` when set (e.g. `FUZZ_RUNS=20000` for a long local run). */
export const fuzzRuns = (base: number): number =>
  process.env.FUZZ_RUNS ? Math.max(1, Number(process.env.FUZZ_RUNS)) : base;

/** `fc.assert` options: the fixed seed and the run count. */
export const fuzzOptions = (base: number): fc.Parameters<unknown> => ({
  seed: FUZZ_SEED,
  numRuns: fuzzRuns(base),
});

/** `[[[…]]]` and `{"a":{"a":…}}` nested `depth` levels (built iteratively: no recursion to overflow). */
export function nestedArray(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}
export function nestedObject(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** Characters that text columns, jsonb, indexes or readers have trouble with, alone or mid-string. */
export const HOSTILE_CHARS = [
  "\u0000",
  "\ud800",
  "\udfff",
  "\udc00\ud800",
  "\u202e",
  "\u200f",
  "\u0001\u001f\u007f",
  "\r\n",
  "\t",
  "\\",
  '"',
  "\ufeff",
  "\uffff",
  "😀",
  "%",
  "=",
  "|",
];

/** Scalar and structural values that are the wrong type, out of range or malformed for some field. */
export const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -0.000001,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53 + 2,
  1e21,
  1e308,
  -1e308,
  8.64e15 + 1,
  "",
  " ",
  "NaN",
  "Infinity",
  "-Infinity",
  "-0",
  "1e400",
  "0x50",
  "null",
  "undefined",
  "__proto__",
  "constructor",
  "toString",
  [],
  [null],
  [1, "a", {}],
  {},
  { value: null },
  JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}}') as unknown,
  nestedArray(60),
  nestedObject(60),
  nestedArray(150),
  nestedObject(150),
  "x".repeat(3000),
  "é".repeat(1500),
  "a".repeat(100_000),
  "😀".repeat(2000),
  ...HOSTILE_CHARS,
  ...HOSTILE_CHARS.map((c) => `admin${c}@contoso.com`),
  "0000-01-01T00:00:00Z",
  "0001-01-01T00:00:00Z",
  "1969-12-31T23:59:59.999Z",
  "9999-12-31T23:59:59Z",
  "10000-01-01T00:00:00Z",
  "+275760-09-13T00:00:00.000Z",
  "-271821-04-20T00:00:00.000Z",
  "2026-02-30T00:00:00Z",
  "2026-11-20T25:61:61Z",
  "2026-11-20T09:00:00+99:99",
  "2026-11-20T09:00:00.1234567890123Z",
  "2026-11-20 09:00:00",
  "Nov 31 09:00:00",
  -62_135_596_800_001,
  253_402_300_800_000,
  99_999_999_999,
  "99999999999999999999",
  "999.1.1.1",
  "1.2.3",
  "1.2.3.4.5",
  "01.02.03.04",
  "1.2.3.4:99999",
  "1.2.3.4:-1",
  "[::1]:0",
  "[::1",
  "::ffff:1.2.3.4",
  "::ffff:999.1.1.1",
  "fe80::1%eth0",
  "fe80::1%",
  "1::2::3",
  ":::",
  "2001:db8::/32",
  "10.0.0.0/8",
  "localhost",
  65536,
  -1,
  "65535",
  "0065535",
  "80.0",
];

/** One hostile value (a listed one, or any JSON value). */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_VALUES) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
);

type Path = Array<string | number>;

/** Every path to a value inside `value` (objects and arrays, not the root), down to `maxDepth`. */
export function pathsOf(value: unknown, maxDepth = 8): Path[] {
  const out: Path[] = [];
  const walk = (v: unknown, path: Path) => {
    if (path.length >= maxDepth || v === null || typeof v !== "object") return;
    for (const key of Array.isArray(v) ? v.keys() : Object.keys(v)) {
      const child = [...path, key];
      out.push(child);
      walk((v as Record<string | number, unknown>)[key], child);
    }
  };
  walk(value, []);
  return out;
}

/** One structural change of a record: delete a field, replace it, splice a hostile string into it, rename it. */
export type Mutation =
  | { op: "delete" | "replace" | "splice" | "rename" | "repeat"; pick: number; value: unknown; at: number }
  | { op: "root"; value: unknown };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constantFrom("delete", "replace", "replace", "splice", "rename", "repeat") as fc.Arbitrary<
        "delete" | "replace" | "splice" | "rename" | "repeat"
      >,
      pick: fc.nat(),
      value: hostileValue,
      at: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("root" as const), value: hostileValue }) },
);

/** `text` with `insert` at a position chosen by `at` (text records, e.g. CEF lines, are mutated this way). */
export function spliceText(text: string, insert: string, at: number): string {
  const i = at % (text.length + 1);
  return text.slice(0, i) + insert + text.slice(i);
}

/** A string for splicing into text: a hostile character, a hostile value's text, or a CEF/syslog delimiter run. */
function spliceOf(value: unknown, at: number): string {
  if (typeof value === "string") return value.length > 5000 ? value.slice(0, 5000) : value;
  return HOSTILE_CHARS[at % HOSTILE_CHARS.length];
}

/** The longest string a repeat makes (repeats of repeats would make gigabytes). */
const MAX_REPEATED = 200_000;

/** `text` repeated `times` times, or as often as keeps it within MAX_REPEATED (at least once). */
const repeated = (text: string, times: number) =>
  text.repeat(Math.max(1, Math.min(times, Math.floor(MAX_REPEATED / Math.max(1, text.length)))));

/** A deep copy of `record` with the mutations applied (the record itself is left as it is). */
export function mutate(record: unknown, mutations: Mutation[]): unknown {
  let out: unknown = structuredClone(record);
  for (const m of mutations) {
    if (m.op === "root") {
      out = m.value;
      continue;
    }
    if (typeof out === "string") {
      out =
        m.op === "delete"
          ? out.slice(0, m.at % (out.length + 1)) + out.slice((m.at % (out.length + 1)) + (m.pick % 40))
          : m.op === "repeat"
            ? repeated(out, 2 + (m.pick % 3))
            : spliceText(out, spliceOf(m.value, m.at), m.at);
      continue;
    }
    const paths = pathsOf(out);
    if (paths.length === 0) {
      out = m.value;
      continue;
    }
    const path = paths[m.pick % paths.length];
    const parent = path
      .slice(0, -1)
      .reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], out) as Record<string | number, unknown>;
    const key = path[path.length - 1];
    const current = parent[key];
    switch (m.op) {
      case "delete":
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
        break;
      case "replace":
        parent[key] = structuredClone(m.value);
        break;
      case "splice":
        parent[key] =
          typeof current === "string"
            ? spliceText(current, spliceOf(m.value, m.at), m.at)
            : structuredClone(m.value);
        break;
      case "repeat":
        parent[key] =
          typeof current === "string" ? repeated(current, 2 + (m.pick % 600)) : [current, current];
        break;
      case "rename":
        if (!Array.isArray(parent)) {
          delete parent[key];
          // Sometimes the whole key becomes the hostile string (`__proto__`, `constructor`, "", a NUL…), defined as
          // an own property as JSON.parse would.
          const name =
            m.at % 4 === 0 && typeof m.value === "string"
              ? m.value.slice(0, 100)
              : spliceText(String(key), spliceOf(m.value, m.at), m.at);
          Object.defineProperty(parent, name, {
            value: current,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        break;
    }
  }
  return out;
}

const INT4 = [-(2 ** 31), 2 ** 31 - 1] as const;
const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Why a normaliser's event would be stored broken or fail its batch, or null: each column of its type and within
 * its limits (the ones the events table, its indexes and the readers hold it to), `attributes` storable as jsonb,
 * `raw` JSON that the API can parse back, and the row encodable by the COPY encoder the ingest uses.
 */
export function storedEventProblem(event: NormalizedEvent): string | null {
  const e = event as unknown as Record<string, unknown>;
  const keys = Object.keys(e).sort();
  const expected = [
    "activity_id",
    "actor_user",
    "attributes",
    "class_uid",
    "device",
    "dst_ip",
    "dst_port",
    "message",
    "operation",
    "raw",
    "resource_id",
    "severity_id",
    "source_event_id",
    "src_country",
    "src_ip",
    "src_port",
    "status",
    "time",
  ];
  if (keys.join() !== expected.sort().join()) return `fields ${keys.join()}`;
  for (const column of ["class_uid", "activity_id"]) {
    const v = e[column];
    if (typeof v !== "number" || !Number.isInteger(v) || v < INT4[0] || v > INT4[1])
      return `${column} ${String(v)}`;
  }
  if (![0, 1, 2, 3, 4, 5, 6].includes(e.severity_id as number)) return `severity_id ${String(e.severity_id)}`;
  if (!["Success", "Failure", "Unknown"].includes(e.status as string)) return `status ${String(e.status)}`;
  if (
    typeof e.time !== "string" ||
    !CANONICAL_TIME.test(e.time) ||
    e.time < "0001" ||
    e.time > "9999-12-31T23:59:59.999Z"
  )
    return `time ${JSON.stringify(e.time)}`;
  if (new Date(e.time).toISOString() !== e.time) return `time ${e.time} is not on the calendar`;
  if (typeof e.source_event_id !== "string" || e.source_event_id.trim() === "")
    return "source_event_id is empty";
  for (const column of [
    "source_event_id",
    "message",
    "actor_user",
    "device",
    "resource_id",
    "operation",
    "src_country",
  ]) {
    const v = e[column];
    if (v === null && column !== "source_event_id") continue;
    if (typeof v !== "string") return `${column} is ${typeof v}`;
    const problem = textProblem(v);
    if (problem) return `${column} ${problem}`;
  }
  for (const column of ["source_event_id", "actor_user", "device", "resource_id"]) {
    const v = e[column];
    if (typeof v === "string" && Buffer.byteLength(v) > MAX_INDEXED_TEXT_BYTES)
      return `${column} is too long`;
  }
  if (e.src_country !== null && !/^[A-Z]{2}$/.test(e.src_country as string))
    return `src_country ${JSON.stringify(e.src_country)}`;
  for (const column of ["src_ip", "dst_ip"]) {
    const v = e[column];
    if (v !== null && (typeof v !== "string" || isIP(v) === 0 || v !== v.toLowerCase() || v.includes("%")))
      return `${column} ${JSON.stringify(v)}`;
  }
  for (const column of ["src_port", "dst_port"]) {
    const v = e[column];
    if (v !== null && (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535))
      return `${column} ${String(v)}`;
  }
  if (e.attributes === null || typeof e.attributes !== "object" || Array.isArray(e.attributes))
    return "attributes is not an object";
  const json = jsonProblem(e.attributes);
  if (json) return `attributes.${json.path} ${json.message}`;
  const row = eventRow("tenant-fuzz", {
    ...event,
    id: "0190a8f0-0000-7000-8000-000000000000",
    connector: "OCSF",
  } as StoredEvent);
  const [attributes, raw] = row.slice(-2) as [string, string | null];
  try {
    JSON.parse(attributes);
    if (raw !== null) JSON.parse(raw);
  } catch (err) {
    return `attributes or raw is not JSON: ${(err as Error).message}`;
  }
  if (raw !== null && textProblem(raw)) return `raw ${textProblem(raw)}`;
  try {
    for (const _ of binaryCopyChunks(
      STORED_EVENT_SCHEMA.map((c) => c.type),
      [row],
    ));
  } catch (err) {
    return `the COPY encoder refuses the row: ${(err as Error).message}`;
  }
  return null;
}
