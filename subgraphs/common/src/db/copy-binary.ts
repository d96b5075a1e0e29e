import { isIP } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";

/** The Postgres types `copyBinaryRows` writes (what the bulk ingest tables hold). */
export type CopyType = "text" | "uuid" | "timestamptz" | "int2" | "int4" | "inet" | "jsonb";

/** A column of a binary COPY: its name and Postgres type (the table's, exactly: binary input is not cast). */
export interface CopyColumn {
  name: string;
  type: CopyType;
}

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
/** 2000-01-01T00:00:00Z, Postgres's timestamp epoch, in Unix milliseconds. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const FRACTION = /[.,](\d+)/;

/** Microseconds since Postgres's epoch of an ISO 8601 time (any fraction digits kept to the microsecond) or a Date. */
function pgMicros(value: unknown): number {
  if (value instanceof Date) return (value.getTime() - PG_EPOCH_MS) * 1000;
  const text = String(value);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new TypeError(`not a timestamp: ${JSON.stringify(text)}`);
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
  /** Room for `n` more bytes: the filled part goes out first when the buffer is short. */
  function* room(n: number): Generator<Buffer> {
    if (pos + n <= buf.length) return;
    if (pos > 0) yield buf.subarray(0, pos);
    buf = Buffer.allocUnsafe(Math.max(chunkBytes, n));
    pos = 0;
  }
  pos += SIGNATURE.copy(buf, 0);
  pos = buf.writeInt32BE(0, pos); // flags
  pos = buf.writeInt32BE(0, pos); // header extension length
  for (const row of rows) {
    if (row.length !== types.length)
      throw new TypeError(`a row has ${row.length} values for ${types.length} columns`);
    // Fixed-size fields and the field count need at most 24 bytes each; strings are sized as they come.
    yield* room(2 + 24 * types.length);
    pos = buf.writeInt16BE(types.length, pos);
    for (let i = 0; i < types.length; i++) {
      const value = row[i];
      if (value === null || value === undefined) {
        pos = buf.writeInt32BE(-1, pos);
        continue;
      }
      switch (types[i]) {
        case "text":
        case "jsonb": {
          const jsonb = types[i] === "jsonb";
          const text = typeof value === "string" ? value : jsonb ? JSON.stringify(value) : String(value);
          yield* room(4 + 1 + text.length * 3 + 24 * (types.length - i));
          const start = pos + 4;
          let end = start;
          if (jsonb) buf[end++] = 1; // jsonb binary format version
          end += buf.write(text, end, "utf8");
          buf.writeInt32BE(end - start, pos);
          pos = end;
          break;
        }
        case "uuid": {
          const text = String(value);
          if (!UUID.test(text)) throw new TypeError(`not a uuid: ${JSON.stringify(text)}`);
          pos = buf.writeInt32BE(16, pos);
          pos += buf.write(text.replace(/-/g, ""), pos, "hex");
          break;
        }
        case "timestamptz":
          pos = buf.writeInt32BE(8, pos);
          pos = buf.writeBigInt64BE(BigInt(pgMicros(value)), pos);
          break;
        case "int2":
          pos = buf.writeInt32BE(2, pos);
          pos = buf.writeInt16BE(Number(value), pos);
          break;
        case "int4":
          pos = buf.writeInt32BE(4, pos);
          pos = buf.writeInt32BE(Number(value), pos);
          break;
        case "inet": {
          const bytes = ipBytes(String(value));
          const v6 = bytes.length === 16;
          pos = buf.writeInt32BE(4 + bytes.length, pos);
          buf[pos++] = v6 ? 3 : 2; // PGSQL_AF_INET6 / PGSQL_AF_INET
          buf[pos++] = v6 ? 128 : 32; // prefix bits: a host address
          buf[pos++] = 0; // inet, not cidr
          buf[pos++] = bytes.length;
          buf.set(bytes, pos);
          pos += bytes.length;
          break;
        }
      }
    }
  }
  yield* room(2);
  pos = buf.writeInt16BE(-1, pos); // trailer
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
