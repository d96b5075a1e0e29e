import { isIP } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";

/** The Postgres types `copyBinaryRows` writes (what the bulk ingest tables hold). */
export type CopyType = "text" | "uuid" | "timestamptz" | "int2" | "int4" | "bool" | "inet" | "jsonb";

/** A column of a binary COPY: its name and Postgres type (the table's, exactly: binary input is not cast). */
export interface CopyColumn {
  name: string;
  type: CopyType;
}

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
/** 2000-01-01T00:00:00Z, Postgres's timestamp epoch, in Unix milliseconds. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const FRACTION = /[.,](\d+)/;
/** An explicit zone: without one, Date.parse would take the local time and Postgres its session's zone. */
const ZONED = /(?:z|[+-]\d{2}(?::?\d{2})?)$/i;

/** Whether year-month-day is on the calendar (Date.parse takes 30 February as 2 March). */
function isCalendarDate(year: number, month: number, day: number): boolean {
  return (
    month >= 1 && month <= 12 && day >= 1 && new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day
  );
}

/** Whether a time's leading `YYYY-MM-DD`, when it has one, is on the calendar. */
function realDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  return !m || isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

/**
 * Microseconds since Postgres's epoch of a Date or an ISO 8601 time with a zone (`Z` or an offset;
 * fraction digits kept to the microsecond).
 */
function pgMicros(value: unknown): number {
  if (value instanceof Date) return (value.getTime() - PG_EPOCH_MS) * 1000;
  const text = String(value).trim();
  const ms = ZONED.test(text) && realDate(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw new TypeError(`not a timestamp with a time zone: ${JSON.stringify(text)}`);
  // Date.parse keeps milliseconds; a 4th to 6th fraction digit adds microseconds.
  const digits = FRACTION.exec(text)?.[1] ?? "";
  const extra = digits.length > 3 ? Number(digits.slice(3, 6).padEnd(3, "0")) : 0;
  return (ms - PG_EPOCH_MS) * 1000 + extra;
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address (IPv6 with `::` and an IPv4 tail), else a TypeError. */
export function ipBytes(address: string): Uint8Array {
  const kind = isIP(address);
  if (kind === 4) return Uint8Array.from(address.split(".").map(Number));
  if (kind !== 6) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  let text = address.split("%")[0];
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4[1].split(".").map(Number));
    text = text.slice(0, -v4[1].length) + "0:0";
  }
  const [head, rest] = text.split("::");
  const groups = (s: string | undefined) => (s ? s.split(":").filter((g) => g !== "") : []);
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const zeros = 8 - left.length - right.length;
  const all = [...left, ...Array<string>(rest === undefined ? 0 : zeros).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 255;
  });
  if (tail.length) bytes.set(tail, 12);
  return bytes;
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++)
  HEX["0123456789abcdef".charCodeAt(i)] = HEX["0123456789ABCDEF".charCodeAt(i)] = i;

/** The canonical ISO time, `YYYY-MM-DDTHH:MM:SS.sssZ` (what toISOString writes), character by character. */
const CANONICAL = "dddd-dd-ddTdd:dd:dd.dddZ";

/** Unix milliseconds of a canonical ISO time on a real calendar date, else NaN (the general parser decides). */
function canonicalMillis(t: string): number {
  if (t.length !== CANONICAL.length) return NaN;
  for (let i = 0; i < CANONICAL.length; i++) {
    const c = t.charCodeAt(i);
    const want = CANONICAL.charCodeAt(i);
    if (want === 100 /* d */ ? c < 48 || c > 57 : c !== want) return NaN;
  }
  const n = (from: number, to: number) => Number(t.slice(from, to));
  const [year, month, day, hour, minute, second] = [
    n(0, 4),
    n(5, 7),
    n(8, 10),
    n(11, 13),
    n(14, 16),
    n(17, 19),
  ];
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, n(20, 23));
}

/**
 * Rows encoded in Postgres's binary COPY format, as buffers of about `chunkBytes` (a row is never
 * split): no text escaping here, and no text parsing of times, addresses, ids and numbers in Postgres.
 * A value that does not fit its type (a malformed uuid, time or address, an out-of-range integer)
 * throws before anything is sent for it.
 */
export function* binaryCopyChunks(
  types: readonly CopyType[],
  rows: Iterable<readonly unknown[]>,
  chunkBytes = 1 << 20,
): Generator<Buffer> {
  let buf = Buffer.allocUnsafe(chunkBytes);
  let pos = 0;
  /** Room for `n` more bytes: when the buffer is short, a new one, and the filled part to send first. */
  const grow = (n: number): Buffer | undefined => {
    if (pos + n <= buf.length) return undefined;
    const full = pos > 0 ? buf.subarray(0, pos) : undefined;
    buf = Buffer.allocUnsafe(Math.max(chunkBytes, n));
    pos = 0;
    return full;
  };
  const int32 = (v: number) => {
    buf[pos] = v >>> 24;
    buf[pos + 1] = v >>> 16;
    buf[pos + 2] = v >>> 8;
    buf[pos + 3] = v;
    pos += 4;
  };
  /** A string's UTF-8 bytes at `pos` (short ASCII ones byte by byte: cheaper than a native call). */
  const utf8 = (text: string) => {
    const n = text.length;
    if (n <= 48) {
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c > 127) break;
        buf[pos + i] = c;
      }
      if (i === n) return (pos += n);
    }
    return (pos += buf.write(text, pos, "utf8"));
  };
  /** 32 hex digits, with or without a dash at each group boundary (8-4-4-4-12). */
  const uuid = (text: string) => {
    int32(16);
    let k = 0;
    let ok = text.length >= 32;
    for (let i = 0; ok && i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 45 /* - */ && (k === 8 || k === 12 || k === 16 || k === 20) && text.charCodeAt(i - 1) !== 45)
        continue;
      const h = c < 128 ? HEX[c] : -1;
      ok = h >= 0 && k < 32;
      if (!ok) break;
      if (k % 2 === 0) buf[pos + (k >> 1)] = h << 4;
      else buf[pos + (k >> 1)] |= h;
      k++;
    }
    if (!ok || k !== 32) throw new TypeError(`not a uuid: ${JSON.stringify(text)}`);
    pos += 16;
  };
  const inet = (text: string) => {
    const bytes = ipBytes(text);
    const v6 = bytes.length === 16;
    int32(4 + bytes.length);
    buf[pos++] = v6 ? 3 : 2; // PGSQL_AF_INET6 / PGSQL_AF_INET
    buf[pos++] = v6 ? 128 : 32; // prefix bits: a host address
    buf[pos++] = 0; // inet, not cidr
    buf[pos++] = bytes.length;
    buf.set(bytes, pos);
    pos += bytes.length;
  };
  let full: Buffer | undefined;
  pos += SIGNATURE.copy(buf, 0);
  int32(0); // flags
  int32(0); // header extension length
  for (const row of rows) {
    if (row.length !== types.length)
      throw new TypeError(`a row has ${row.length} values for ${types.length} columns`);
    // Fixed-size fields and the field count need at most 24 bytes each; strings are sized as they come.
    if ((full = grow(2 + 24 * types.length))) yield full;
    buf[pos++] = types.length >>> 8;
    buf[pos++] = types.length;
    for (let i = 0; i < types.length; i++) {
      const value = row[i];
      if (value === null || value === undefined) {
        int32(-1);
        continue;
      }
      switch (types[i]) {
        case "text":
        case "jsonb": {
          const jsonb = types[i] === "jsonb";
          const text = typeof value === "string" ? value : jsonb ? JSON.stringify(value) : String(value);
          if ((full = grow(4 + 1 + text.length * 3 + 24 * (types.length - i)))) yield full;
          const at = pos;
          pos += 4;
          if (jsonb) buf[pos++] = 1; // jsonb binary format version
          utf8(text);
          const length = pos - at - 4;
          pos = at;
          int32(length);
          pos += length;
          break;
        }
        case "uuid":
          uuid(String(value));
          break;
        case "timestamptz": {
          const text = typeof value === "string" ? value : undefined;
          const ms = text !== undefined ? canonicalMillis(text) : NaN;
          const micros = Number.isNaN(ms) ? pgMicros(value) : (ms - PG_EPOCH_MS) * 1000;
          // Two 32-bit halves of the int64 (|micros| < 2^53: exact as a double).
          const high = Math.floor(micros / 2 ** 32);
          int32(8);
          int32(high);
          int32(micros - high * 2 ** 32);
          break;
        }
        case "int2":
          int32(2);
          pos = buf.writeInt16BE(Number(value), pos);
          break;
        case "int4":
          int32(4);
          pos = buf.writeInt32BE(Number(value), pos);
          break;
        case "bool":
          if (typeof value !== "boolean") throw new TypeError(`not a boolean: ${JSON.stringify(value)}`);
          int32(1);
          buf[pos++] = value ? 1 : 0;
          break;
        case "inet":
          inet(String(value));
          break;
      }
    }
  }
  if ((full = grow(2))) yield full;
  buf[pos++] = 0xff; // trailer: -1 as int16
  buf[pos++] = 0xff;
  yield buf.subarray(0, pos);
}

/** Streams rows into `table` with a binary COPY, on the caller's connection and transaction. */
export async function copyBinaryRows(
  client: PoolClient,
  table: string,
  columns: readonly CopyColumn[],
  rows: Iterable<readonly unknown[]>,
): Promise<void> {
  const names = columns.map((c) => c.name).join(", ");
  const stream = client.query(copyFrom(`COPY ${table} (${names}) FROM STDIN (FORMAT binary)`));
  await pipeline(
    Readable.from(
      binaryCopyChunks(
        columns.map((c) => c.type),
        rows,
      ),
    ),
    stream,
  );
}
