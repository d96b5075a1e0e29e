import { Client, type PoolClient } from "pg";
import {
  binaryCopyChunks,
  copyBinaryRows,
  copyRows,
  ipBytes,
  type CopyColumn,
} from "../subgraphs/common/src";
import { createTestDatabase, type TestDatabase } from "./utils/database";

const COLUMNS: CopyColumn[] = [
  { name: "t", type: "text" },
  { name: "u", type: "uuid" },
  { name: "at", type: "timestamptz" },
  { name: "small", type: "int2" },
  { name: "n", type: "int4" },
  { name: "ip", type: "inet" },
  { name: "doc", type: "jsonb" },
  { name: "ok", type: "bool" },
];

/** Values a bulk ingest meets: escapes, non-ASCII text, fractions of seconds, offsets, both IP families, nulls. */
const ROWS: unknown[][] = [
  [
    "plain",
    "01a223d1-e35e-772c-80ba-0e9b3639a18f",
    "2026-11-28T19:59:47.201Z",
    1,
    4001,
    "10.4.56.31",
    '{"a":1}',
  ],
  [
    'tab\there, new\nline, back\\slash, "quote", \r',
    "01A223D1-E35E-772C-80BA-0E9B3639A18F",
    "2026-11-28T10:00:00.123456Z",
    -32768,
    2147483647,
    "2001:db8::1",
    '{"emoji":"🛡️","cjk":"防火墙","esc":"a\\\\b\\"c\\n","nested":{"list":[1,2.5,null,true]}}',
  ],
  [
    "Zoë — ünïcode ✓",
    "00000000-0000-0000-0000-000000000000",
    "2026-11-28T12:00:00+02:00",
    0,
    -1,
    "::ffff:1.2.3.4",
    "[]",
  ],
  [
    "before 2000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "1999-12-31T23:59:59.999Z",
    32767,
    -2147483648,
    "::1",
    '"s"',
  ],
  [null, null, null, null, null, null, null],
  ["", "12345678123456781234567812345678", "2026-11-28T10:00:00Z", 6, 0, "fe80::abcd:12:0:1", "{}"],
  [
    "big ".repeat(800_000),
    "01a223d1-e35e-772c-80ba-0e9b3639a18f",
    new Date("2026-11-28T10:00:00.5Z"),
    1,
    1,
    "0.0.0.0",
    "null",
  ],
];

// The bool column: true, false and null in turn.
for (const [i, row] of ROWS.entries()) row.push(i === 4 ? null : i % 2 === 0);

describe("binary COPY", () => {
  let db: TestDatabase;
  let client: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new Client({ connectionString: db.url });
    await client.connect();
    for (const table of ["by_text", "by_binary"])
      await client.query(
        `CREATE TABLE ${table} (seq serial, t text, u uuid, at timestamptz, small smallint, n int, ip inet, doc jsonb, ok boolean)`,
      );
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it("stores exactly what a text COPY of the same values stores", async () => {
    const pg = client as unknown as PoolClient;
    // Text COPY takes a Date as its ISO text (what the ingest passes).
    const textRows = ROWS.map((r) => r.map((v) => (v instanceof Date ? v.toISOString() : v)));
    await copyRows(
      pg,
      "by_text",
      COLUMNS.map((c) => c.name),
      textRows,
    );
    await copyBinaryRows(pg, "by_binary", COLUMNS, ROWS);
    const read = async (table: string) =>
      (
        await client.query(
          `SELECT seq, t, u::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS at, small, n,
                  ip::text, doc::text, ok FROM ${table} ORDER BY seq`,
        )
      ).rows;
    const [byText, byBinary] = [await read("by_text"), await read("by_binary")];
    expect(byBinary).toHaveLength(ROWS.length);
    expect(byBinary).toEqual(byText);
    // Spot checks against known values, not only against the text path (a host address: /128, /32).
    expect(byBinary[1]).toMatchObject({
      at: "2026-11-28 10:00:00.123456",
      ip: "2001:db8::1/128",
      small: -32768,
    });
    expect(byBinary[2]).toMatchObject({ at: "2026-11-28 10:00:00.000000", ip: "::ffff:1.2.3.4/128" });
    expect(byBinary[3]).toMatchObject({ at: "1999-12-31 23:59:59.999000", ip: "::1/128" });
    expect(byBinary.map((r: { ok: boolean | null }) => r.ok)).toEqual([
      true,
      false,
      true,
      false,
      null,
      false,
      true,
    ]);
    expect(byBinary[4]).toEqual({
      seq: 5,
      t: null,
      u: null,
      at: null,
      small: null,
      n: null,
      ip: null,
      doc: null,
      ok: null,
    });
    expect(byBinary[6].t).toHaveLength(3_200_000);
  });

  it("refuses a value its column's type cannot hold, before sending the row", () => {
    const encode = (column: CopyColumn, value: unknown) => [...binaryCopyChunks([column.type], [[value]])];
    expect(() => encode(COLUMNS[1], "not-a-uuid")).toThrow(/not a uuid/);
    expect(() => encode(COLUMNS[2], "yesterday")).toThrow(/not a timestamp/);
    expect(() => encode(COLUMNS[2], "20x6-11-28T10:00:00.000Z")).toThrow(/not a timestamp/);
    // Date.parse would take these as 2 March and 1 May.
    expect(() => encode(COLUMNS[2], "2026-02-30T00:00:00.000Z")).toThrow(/not a timestamp/);
    expect(() => encode(COLUMNS[2], "2026-04-31T10:00:00+02:00")).toThrow(/not a timestamp/);
    // No zone: the local time of whichever process reads it. Refused rather than guessed.
    expect(() => encode(COLUMNS[2], "2026-11-28T10:00:00")).toThrow(/with a time zone/);
    expect(() => encode(COLUMNS[7], "true")).toThrow(/not a boolean/);
    expect(() => encode(COLUMNS[5], "999.1.1.1")).toThrow(/not an IP address/);
    expect(() => encode(COLUMNS[3], 40_000)).toThrow(/out of range/);
    expect(() => [...binaryCopyChunks(["text", "int4"], [["only one"]])]).toThrow(/1 values for 2 columns/);
  });

  it("reads IPv6 addresses in every written form", () => {
    const hex = (a: string) => Buffer.from(ipBytes(a)).toString("hex");
    expect(hex("2001:db8::1")).toBe("20010db8000000000000000000000001");
    expect(hex("::")).toBe("00000000000000000000000000000000");
    expect(hex("1::")).toBe("00010000000000000000000000000000");
    expect(hex("::ffff:192.0.2.1")).toBe("00000000000000000000ffffc0000201");
    expect(hex("fe80::1%eth0")).toBe("fe800000000000000000000000000001");
    expect(hex("2001:0DB8:0:0:1:0:0:1")).toBe("20010db8000000000001000000000001");
    expect(hex("192.0.2.1")).toBe("c0000201");
  });
});
