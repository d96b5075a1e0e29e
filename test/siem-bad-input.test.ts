import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { print } from "graphql";
import type { DataSource } from "typeorm";
import {
  AnalyticsRuleByIdDocument,
  CreateRuleTypedDocument,
  ImportStixBundleDocument,
  IngestAlertsDocument,
  IngestEventsDocument,
  UpdateRuleTypedDocument,
  type AlertInput,
} from "./__generated__/graphql";
import { IDENTITY_HEADER, inTenant, Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { codes, problems } from "./utils/errors";
import { ok } from "./utils/seed";

/**
 * Hostile and odd input on the SIEM's write paths, through the gateway on a real database: every bad
 * record is a typed error or a per-record rejection, the good records of the same call are kept, nothing
 * is half-written and nothing answers 500. Row counts are read as the SIEM's own role (RLS applies).
 */

const A = "tenant-a";
const B = "tenant-b";
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** An OCSF authentication event happening now, with `extra` fields merged in. */
const ocsf = (uid: string, extra: Record<string, unknown> = {}) => ({
  class_uid: 3002,
  activity_id: 1,
  time: new Date().toISOString(),
  metadata: { uid },
  ...extra,
});
const line = (value: unknown) => JSON.stringify(value);
/** `n` CJK characters (3 UTF-8 bytes each) that Postgres cannot compress away. */
const incompressible = (n: number, seed = 1) =>
  Array.from({ length: n }, (_, i) =>
    String.fromCharCode(0x4e00 + ((i * 7919 + seed * 104729) % 20000)),
  ).join("");
/** `[[[…1…]]]` nested `depth` levels, as text (JSON.stringify itself would overflow on it). */
const nested = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

const indicatorId = (n: number) => `indicator--8e2e2d2b-17d4-4cbf-938f-${String(n).padStart(12, "0")}`;
const indicator = (n: number, extra: Record<string, unknown> = {}) => ({
  type: "indicator",
  spec_version: "2.1",
  id: indicatorId(n),
  created: "2026-01-01T00:00:00Z",
  modified: "2026-01-01T00:00:00Z",
  name: `indicator ${n}`,
  pattern: `[ipv4-addr:value = '198.51.100.${n % 250}']`,
  pattern_type: "stix",
  valid_from: "2026-01-01T00:00:00Z",
  ...extra,
});
const bundle = (objects: unknown[]) => ({
  type: "bundle",
  id: "bundle--6f1c1c0e-2b0c-4d0a-9a3e-7c1f3b0e9a01",
  objects,
});

/** A valid NRT rule definition (JSON `spec` form) with `extra` fields merged in. */
const nrt = (extra: Record<string, unknown> = {}) => ({
  kind: "NRT",
  displayName: "Failed sign-in",
  description: "",
  severity: "LOW",
  filter: { field: "class_uid", op: "eq", value: 3002 },
  ...extra,
});
/** A valid scheduled rule definition with `extra` fields merged in. */
const scheduled = (extra: Record<string, unknown> = {}) => ({
  ...nrt(),
  kind: "SCHEDULED",
  queryFrequency: "PT5M",
  queryPeriod: "PT1H",
  ...extra,
});

const alert = (sourceId: string, extra: Partial<AlertInput> = {}): AlertInput => ({
  sourceId,
  title: `Alert ${sourceId}`,
  severity: "HIGH",
  ...extra,
});

describe("SIEM write paths under hostile input", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let t: Record<"admin" | "analyst" | "reader" | "responder" | "ingestor" | "adminB" | "ingestorB", string>;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false", MAX_BODY_BYTES: String(MAX_BODY_BYTES) });
    t = await platform.tokens({
      admin: [[Role.ADMIN], A],
      analyst: [[Role.ANALYST], A],
      reader: [[Role.READER], A],
      responder: [[Role.RESPONDER], A],
      ingestor: [[Role.INGESTOR], A],
      adminB: [[Role.ADMIN], B],
      ingestorB: [[Role.INGESTOR], B],
    });
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const origin = () => platform.gateway.url.replace(/\/graphql$/, "");
  /** POST /ingest/events through the gateway; `query` is the raw query string. */
  const ingest = async (
    query: string,
    body: BodyInit,
    options: { token?: string | null; headers?: Record<string, string> } = {},
  ) => {
    const token = options.token === undefined ? t.ingestor : options.token;
    const res = await fetch(`${origin()}/ingest/events${query}`, {
      method: "POST",
      headers: {
        "content-type": "application/x-ndjson",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...options.headers,
      },
      body,
      duplex: "half",
    } as RequestInit);
    const text = await res.text();
    return {
      status: res.status,
      body: JSON.parse(text) as {
        accepted?: number;
        duplicates?: number;
        rejected?: Array<{ line: number; reason: string }>;
        errors?: Array<{ message: string; extensions: { code: string } }>;
      },
    };
  };
  const errorCode = (r: Awaited<ReturnType<typeof ingest>>) => r.body.errors?.[0]?.extensions.code;
  /** Rows of a SIEM table in a tenant (as the SIEM's role, under RLS). */
  const query = <T = Record<string, unknown>>(tenant: string, sql: string, params: unknown[] = []) =>
    inTenant(ds, tenant, (m) => m.query(sql, params) as Promise<T[]>);
  const count = async (tenant: string, table: string, where = "true", params: unknown[] = []) =>
    (await query<{ n: number }>(tenant, `SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params))[0]
      .n;
  const eventIds = async (tenant: string, prefix: string) =>
    (
      await query<{ id: string }>(
        tenant,
        `SELECT source_event_id AS id FROM events WHERE source_event_id LIKE $1 ORDER BY 1`,
        [`${prefix}%`],
      )
    ).map((r) => r.id);
  const rejectedTotal = async (tenant: string, kind: string) =>
    Number(
      (
        await query<{ n: string }>(
          tenant,
          `SELECT rejected_total AS n FROM data_connectors WHERE kind = $1`,
          [kind],
        )
      )[0]?.n ?? 0,
    );

  describe("POST /ingest/events: the request", () => {
    it("refuses a missing, repeated, mis-cased or unknown connector before reading the body", async () => {
      const before = await count(A, "events");
      for (const q of [
        "",
        "?connector=",
        "?connector=ocsf",
        "?connector=Ocsf",
        "?connector=OCSF&connector=OCSF",
        "?connector[]=OCSF",
        "?connector[kind]=OCSF",
        "?connector=__proto__",
        "?connector=constructor",
        "?connector=OCSF%00",
        "?connector=NETFLOW",
      ]) {
        const res = await ingest(q, line(ocsf(`conn-${q}`)));
        expect({ q, status: res.status, code: errorCode(res) }).toEqual({
          q,
          status: 400,
          code: "BAD_USER_INPUT",
        });
      }
      expect(await count(A, "events")).toBe(before);
      expect(await count(A, "data_connectors")).toBe(0);
    });

    it("lets only INGESTOR and ADMIN in, and writes into the caller's tenant only", async () => {
      for (const token of [t.reader, t.analyst, t.responder]) {
        const res = await ingest("?connector=OCSF", line(ocsf("role-denied")), { token });
        expect([res.status, errorCode(res)]).toEqual([403, "FORBIDDEN"]);
      }
      const anonymous = await ingest("?connector=OCSF", line(ocsf("role-denied")), { token: null });
      expect([anonymous.status, errorCode(anonymous)]).toEqual([401, "UNAUTHENTICATED"]);
      const forged = await ingest("?connector=OCSF", line(ocsf("role-denied")), { token: "not.a.jwt" });
      expect([forged.status, errorCode(forged)]).toEqual([401, "UNAUTHENTICATED"]);
      expect(await eventIds(A, "role-")).toEqual([]);

      const byB = await ingest("?connector=OCSF", line(ocsf("role-b")), { token: t.ingestorB });
      expect(byB.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
      expect(await eventIds(B, "role-")).toEqual(["role-b"]);
      expect(await eventIds(A, "role-")).toEqual([]);
      const byAdmin = await ingest("?connector=OCSF", line(ocsf("role-admin")), { token: t.admin });
      expect(byAdmin.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
      expect(await eventIds(A, "role-")).toEqual(["role-admin"]);
    });

    it("takes an empty body, blank lines and a BOM as no records", async () => {
      for (const body of ["", "\n\n", "\r\n   \r\n", "\uFEFF", "\uFEFF\n"]) {
        const res = await ingest("?connector=OCSF", body);
        expect(res).toEqual({ status: 200, body: { accepted: 0, duplicates: 0, rejected: [] } });
      }
    });

    it("reads the body as NDJSON whatever the content type says", async () => {
      for (const [n, type] of ["text/plain", "application/json", "application/octet-stream", ""].entries()) {
        const res = await ingest("?connector=OCSF", line(ocsf(`ctype-${n}`)), {
          headers: { "content-type": type },
        });
        expect({ type, ...res.body }).toEqual({ type, accepted: 1, duplicates: 0, rejected: [] });
      }
    });

    it("refuses an unsupported charset or content encoding as BAD_USER_INPUT (415), storing nothing", async () => {
      const refused: Array<Record<string, string>> = [
        { "content-type": "application/x-ndjson; charset=klingon" },
        { "content-encoding": "compress" },
      ];
      for (const headers of refused) {
        const res = await ingest("?connector=OCSF", line(ocsf("enc-refused")), { headers });
        expect({ headers, status: res.status, code: errorCode(res) }).toEqual({
          headers,
          status: 415,
          code: "BAD_USER_INPUT",
        });
      }
      expect(await eventIds(A, "enc-")).toEqual([]);
    });

    it("inflates a gzip body, and refuses one that only claims to be gzip", async () => {
      const real = await ingest("?connector=OCSF", gzipSync(`${line(ocsf("enc-gzip"))}\n`), {
        headers: { "content-encoding": "gzip" },
      });
      expect(real).toEqual({ status: 200, body: { accepted: 1, duplicates: 0, rejected: [] } });
      const fake = await ingest("?connector=OCSF", line(ocsf("enc-fake-gzip")), {
        headers: { "content-encoding": "gzip" },
      });
      expect([fake.status, errorCode(fake)]).toEqual([400, "BAD_USER_INPUT"]);
      expect(fake.body.errors?.[0].message).toMatch(/Content-Encoding/);
      expect(await eventIds(A, "enc-")).toEqual(["enc-gzip"]);
    });

    it("refuses an oversize body, announced or streamed, with 413 and stores none of it", async () => {
      const good = `${line(ocsf("oversize-1"))}\n`;
      const announced = await ingest("?connector=OCSF", good + "x".repeat(MAX_BODY_BYTES));
      expect([announced.status, errorCode(announced)]).toEqual([413, "BAD_USER_INPUT"]);
      const chunks = async function* () {
        yield Buffer.from(good);
        for (let i = 0; i < 9; i++) yield Buffer.alloc(1024 * 1024, "y");
      };
      const streamed = await ingest("?connector=OCSF", Readable.toWeb(Readable.from(chunks())) as BodyInit);
      expect([streamed.status, errorCode(streamed)]).toEqual([413, "BAD_USER_INPUT"]);
      // A body that inflates past the limit is refused the same way.
      const bomb = await ingest("?connector=OCSF", gzipSync(good + " ".repeat(MAX_BODY_BYTES)), {
        headers: { "content-encoding": "gzip" },
      });
      expect([bomb.status, errorCode(bomb)]).toEqual([413, "BAD_USER_INPUT"]);
      expect(await eventIds(A, "oversize-")).toEqual([]);
    });
  });

  describe("POST /ingest/events: the records", () => {
    it("rejects each bad line with its reason and keeps every good one", async () => {
      const now = Date.now();
      const good = ocsf("mix-good-1");
      const lines = [
        /* 1 */ line(good),
        /* 2 */ "{not json",
        /* 3 */ `{"a":1}\u0000`,
        /* 4 */ "[1,2]",
        /* 5 */ '"just a string"',
        /* 6 */ "null",
        /* 7 */ "42",
        /* 8 */ line(ocsf("mix-y9999", { time: "9999-12-31T00:00:00Z" })),
        /* 9 */ line(ocsf("mix-y1970", { time: "1970-01-01T00:00:00Z" })),
        /* 10 */ line(ocsf("mix-time-object", { time: { iso: "2026-01-01" } })),
        /* 11 */ line(ocsf("mix-time-bool", { time: true })),
        /* 12 */ line(ocsf("mix-time-huge", { time: 1e20 })),
        /* 13 */ line(ocsf("mix-time-epoch-s", { time: Math.floor(now / 1000) })),
        /* 14 */ line(ocsf("mix-class-string", { class_uid: "3002" })),
        /* 15 */ line(ocsf("mix-class-int4", { class_uid: 2 ** 31 })),
        /* 16 */ line(ocsf("mix-activity-int4", { activity_id: -(2 ** 31) - 1 })),
        /* 17 */ line(ocsf("mix-nul-message", { message: "a\u0000b" })),
        /* 18 */ line(ocsf("mix-nul-attribute", { note: "a\u0000b" })),
        /* 19 */ line(ocsf("mix-nul-key", { ["k\u0000"]: 1 })),
        /* 20 */ line(ocsf("mix-surrogate-attribute", { note: "x\ud800y" })),
        /* 21 */ line(ocsf("mix-surrogate-message", { message: "x\udc00y" })),
        /* 22 */ line(ocsf("mix-deep", { x: "@" })).replace('"@"', nested(5000)),
        /* 23 */ line(ocsf("mix-long-actor", { actor: { user: { name: incompressible(1000) } } })),
        /* 24 */ line(ocsf("mix-long-device", { device: { hostname: incompressible(1000, 2) } })),
        /* 25 */ line(ocsf("mix-long-resource", { resource: { uid: incompressible(1000, 3) } })),
        /* 26 */ line(ocsf(`mix-long-id-${incompressible(1000, 4)}`)),
        /* 27 */ line(ocsf("mix-huge-number", { note: "@", other: { n: "@" } })).replaceAll('"@"', "-1e400"),
        /* 28 */ line(ocsf("mix-deep-ok", { x: "@" })).replace('"@"', nested(90)),
        /* 29 */ line(ocsf("mix-pair", { message: "emoji \ud83d\ude00 kept" })).replace(
          /}$/,
          ',"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
        ),
        /* 30 */ line(good),
      ];
      const before = await rejectedTotal(A, "OCSF");
      const res = await ingest("?connector=OCSF", lines.join("\n"));
      expect(res.status).toBe(200);
      expect(res.body.rejected).toEqual([
        { line: 2, reason: expect.stringMatching(/^malformed JSON: /) },
        { line: 3, reason: expect.stringMatching(/^malformed JSON: /) },
        { line: 4, reason: "expected an OCSF event (JSON object), got an array" },
        { line: 5, reason: 'expected an OCSF event (JSON object), got "just a string"' },
        { line: 6, reason: "expected an OCSF event (JSON object), got null" },
        { line: 7, reason: "expected an OCSF event (JSON object), got 42" },
        { line: 8, reason: "time 9999-12-31T00:00:00.000Z is more than a day in the future" },
        { line: 9, reason: "time 1970-01-01T00:00:00.000Z is older than the 90-day retention" },
        { line: 10, reason: "unparseable time an object" },
        { line: 11, reason: "unparseable time true" },
        { line: 12, reason: "unparseable time 100000000000000000000" },
        { line: 14, reason: 'class_uid must be a positive integer, got "3002"' },
        { line: 15, reason: "class_uid 2147483648 is out of range (a 32-bit integer)" },
        { line: 16, reason: "activity_id -2147483649 is out of range (a 32-bit integer)" },
        { line: 17, reason: "message contains a NUL character (U+0000)" },
        { line: 18, reason: "attributes.note contains a NUL character (U+0000)" },
        { line: 19, reason: "attributes has a key that contains a NUL character (U+0000)" },
        { line: 20, reason: "attributes.note is not valid Unicode (an unpaired surrogate)" },
        { line: 21, reason: "message is not valid Unicode (an unpaired surrogate)" },
        { line: 22, reason: "the record is nested deeper than 100 levels" },
        { line: 23, reason: "actor_user is longer than 2048 bytes" },
        { line: 24, reason: "device is longer than 2048 bytes" },
        { line: 25, reason: "resource_id is longer than 2048 bytes" },
        { line: 26, reason: "source_event_id is longer than 2048 bytes" },
      ]);
      expect([res.body.accepted, res.body.duplicates]).toEqual([5, 1]);
      expect(await eventIds(A, "mix-")).toEqual([
        "mix-deep-ok",
        "mix-good-1",
        "mix-huge-number",
        "mix-pair",
        "mix-time-epoch-s",
      ]);
      const [stored] = await query<{ attributes: Record<string, unknown>; message: string }>(
        A,
        `SELECT attributes, message FROM events WHERE source_event_id = ANY($1) ORDER BY source_event_id`,
        [["mix-huge-number"]],
      );
      // -1e400 parses as -Infinity, which JSON has no word for: stored as null, as JSON.stringify writes them.
      expect(stored.attributes).toMatchObject({ note: null, other: { n: null } });
      expect(await rejectedTotal(A, "OCSF")).toBe(before + 24);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it("rejects junk lines of every connector kind one by one", async () => {
      for (const kind of [
        "AZURE_ACTIVITY",
        "ENTRA_SIGNIN",
        "AWS_CLOUDTRAIL",
        "SYSLOG_CEF",
        "M365_AUDIT",
        "OKTA_SYSTEM_LOG",
        "GCP_AUDIT",
        "WINDOWS_SECURITY",
      ]) {
        const body = ["{}", '"\\u0000"', "[]", "null", "-0", '{"records":[{}]}', '{"id":"\\u0000"}'].join(
          "\n",
        );
        const res = await ingest(`?connector=${kind}`, body);
        expect({
          kind,
          status: res.status,
          accepted: res.body.accepted,
          lines: res.body.rejected?.map((r) => r.line),
        }).toEqual({ kind, status: 200, accepted: 0, lines: [1, 2, 3, 4, 5, 6, 7] });
      }
      expect(await count(A, "events", "connector <> 'OCSF'")).toBe(0);
    });

    it("keeps a 5 MB field of a record inside the body limit", async () => {
      const message = "m".repeat(5 * 1024 * 1024);
      const res = await ingest("?connector=OCSF", `${line(ocsf("big-field", { message }))}\n`);
      expect(res.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
      const [row] = await query<{ n: number }>(
        A,
        `SELECT length(message) AS n FROM events WHERE source_event_id = 'big-field'`,
      );
      expect(row.n).toBe(message.length);
    });

    it("rejects non-object records of a CloudTrail envelope one by one, on the envelope's line", async () => {
      const record = (id: string) => ({
        eventVersion: "1.08",
        eventID: id,
        eventTime: new Date().toISOString(),
        eventSource: "iam.amazonaws.com",
        eventName: "ListUsers",
        awsRegion: "us-east-1",
        sourceIPAddress: "203.0.113.9",
        userIdentity: { type: "IAMUser", userName: "alice", arn: "arn:aws:iam::111122223333:user/alice" },
      });
      const body = [
        line({ Records: [record("ct-good-1"), 1, "x", null, [], record("ct-good-2")] }),
        line({ Records: "not a list" }),
        line({ Records: [{ ...record("ct-nul"), eventName: "List\u0000Users" }] }),
      ].join("\n");
      const res = await ingest("?connector=AWS_CLOUDTRAIL", body);
      expect(res.body.rejected).toEqual([
        { line: 1, reason: "expected a CloudTrail record (JSON object), got 1" },
        { line: 1, reason: 'expected a CloudTrail record (JSON object), got "x"' },
        { line: 1, reason: "expected a CloudTrail record (JSON object), got null" },
        { line: 1, reason: "expected a CloudTrail record (JSON object), got an array" },
        { line: 2, reason: expect.any(String) },
        { line: 3, reason: "message contains a NUL character (U+0000)" },
      ]);
      expect(res.body.accepted).toBe(2);
      expect(await eventIds(A, "ct-")).toEqual(["ct-good-1", "ct-good-2"]);
    });

    it("reads CEF escapes and refuses CEF lines it cannot place in time", async () => {
      const rt = Date.now();
      const body = [
        line(
          `CEF:0|Fortinet|FortiGate|7.2|13|traffic\\|deny|5|rt=${rt} externalId=cef-escapes src=10.0.0.5 dst=203.0.113.7 dpt=3389 msg=a\\=b c\\\\d\\nnext cs1Label=x`,
        ),
        line("CEF:0|a\\|b|c\\\\|1|2|n|5|\\=\\"),
        line(`CEF:0|Acme|FW|1|1|n|5|rt=${rt} externalId=cef-nul msg=bad\u0000byte`),
        line("CEF:zero|broken header"),
      ].join("\n");
      const res = await ingest("?connector=SYSLOG_CEF", body);
      expect(res.body.accepted).toBe(1);
      expect(res.body.rejected?.map((r) => r.line)).toEqual([2, 3, 4]);
      expect(res.body.rejected?.[1].reason).toBe("message contains a NUL character (U+0000)");
      const [row] = await query<{ message: string; dst_port: number }>(
        A,
        `SELECT message, dst_port FROM events WHERE connector = 'SYSLOG_CEF'`,
      );
      expect(row).toEqual({ message: "a=b c\\d\nnext", dst_port: 3389 });
    });
  });

  describe("ingestEvents (GraphQL)", () => {
    it("rejects unstorable records one by one and keeps the good ones", async () => {
      const res = ok(
        await platform.request(
          IngestEventsDocument,
          {
            connector: "OCSF",
            records: [
              ocsf("gql-good"),
              ocsf("gql-nul", { message: "\u0000" }),
              ocsf("gql-int4", { class_uid: 2 ** 40 }),
              ocsf("gql-surrogate", { note: { deeper: ["\ud800"] } }),
              [],
              "CEF:0|x",
            ],
          },
          t.ingestor,
        ),
      ).ingestEvents;
      expect(res).toEqual({
        acceptedCount: 1,
        duplicateCount: 0,
        rejected: [
          { line: 2, reason: "message contains a NUL character (U+0000)" },
          { line: 3, reason: "class_uid 1099511627776 is out of range (a 32-bit integer)" },
          { line: 4, reason: "attributes.note.deeper[0] is not valid Unicode (an unpaired surrogate)" },
          { line: 5, reason: "expected an OCSF event (JSON object), got an array" },
          { line: 6, reason: 'expected an OCSF event (JSON object), got "CEF:0|x"' },
        ],
      });
      expect(await eventIds(A, "gql-")).toEqual(["gql-good"]);
    });

    it("refuses variables nested thousands of levels deep at the gateway, and such records at the SIEM", async () => {
      const bodyOf = (depth: number) => {
        const records = `[${line(ocsf("gql-deep-1"))},${line(ocsf("gql-deep-2", { x: "@" })).replace('"@"', nested(depth))}]`;
        return `{"query":${line(print(IngestEventsDocument))},"variables":{"connector":"OCSF","records":${records}}}`;
      };
      const post = (url: string, headers: Record<string, string>, body = bodyOf(5000)) =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body,
        }).then(async (r) => ({ status: r.status, json: (await r.json()) as GqlResponse<unknown> }));
      const viaGateway = await post(platform.gateway.url, { authorization: `Bearer ${t.ingestor}` });
      expect(viaGateway.status).toBe(400);
      expect(codes({ ...viaGateway.json, status: viaGateway.status })).toEqual(["BAD_USER_INPUT"]);
      expect(viaGateway.json.errors?.[0].message).toMatch(/\$records is nested deeper than 2000 levels/);
      expect(await eventIds(A, "gql-deep-")).toEqual([]);
      // Below the gateway's stack guard, the SIEM's own limit answers per record.
      const shallower = await post(
        platform.gateway.url,
        { authorization: `Bearer ${t.ingestor}` },
        bodyOf(500),
      );
      expect(shallower.json.data).toEqual({
        ingestEvents: {
          acceptedCount: 1,
          duplicateCount: 0,
          rejected: [{ line: 2, reason: "the record is nested deeper than 100 levels" }],
        },
      });
      // A subgraph reached directly holds on its own: the deep record is one rejection.
      const direct = await post(platform.subgraphs.siem.url, {
        [IDENTITY_HEADER]: await platform.internalToken([Role.INGESTOR], A),
      });
      expect(direct.json.data).toEqual({
        ingestEvents: {
          acceptedCount: 1,
          duplicateCount: 0,
          rejected: [{ line: 2, reason: "the record is nested deeper than 100 levels" }],
        },
      });
      // Each body carries its own times: the good record is stored once per call.
      expect(await eventIds(A, "gql-deep-")).toEqual(["gql-deep-1", "gql-deep-1"]);
    });

    it("refuses a bad connector, a null record, too many records and the wrong roles, storing nothing", async () => {
      const before = await count(A, "events");
      const raw = (variables: unknown, token = t.ingestor) =>
        postGraphql(
          platform.gateway.url,
          { query: print(IngestEventsDocument), variables },
          { authorization: `Bearer ${token}` },
        );
      for (const variables of [
        { connector: "ocsf", records: [ocsf("gql-refused")] },
        { connector: "NETFLOW", records: [ocsf("gql-refused")] },
        { connector: ["OCSF"], records: [ocsf("gql-refused")] },
        { connector: "OCSF", records: [ocsf("gql-refused"), null] },
        { connector: "OCSF" },
      ]) {
        const res = await raw(variables);
        expect({ variables, status: res.status, codes: codes(res) }).toEqual({
          variables,
          status: 400,
          codes: ["BAD_USER_INPUT"],
        });
      }
      const tooMany = Array.from({ length: 1001 }, (_, i) => ocsf(`gql-refused-${i}`));
      expect(codes(await raw({ connector: "OCSF", records: tooMany }))).toEqual(["BAD_USER_INPUT"]);
      for (const token of [t.reader, t.analyst, t.responder]) {
        const res = await platform.request(
          IngestEventsDocument,
          { connector: "OCSF", records: [ocsf("gql-refused")] },
          token,
        );
        expect(codes(res)).toEqual(["FORBIDDEN"]);
      }
      expect(await count(A, "events")).toBe(before);
    });
  });

  describe("importStixBundle", () => {
    const stixIds = async (tenant: string) =>
      (await query<{ id: string }>(tenant, `SELECT stix_id AS id FROM threat_indicators ORDER BY 1`)).map(
        (r) => r.id,
      );

    it("refuses what is not a bundle as BAD_USER_INPUT and stores nothing", async () => {
      for (const value of [
        null,
        [],
        "bundle",
        42,
        {},
        { type: "Bundle", objects: [indicator(1)] },
        { ...bundle([indicator(1)]), type: "indicator" },
      ]) {
        const res = await postGraphql(
          platform.gateway.url,
          { query: print(ImportStixBundleDocument), variables: { bundle: value } },
          { authorization: `Bearer ${t.admin}` },
        );
        expect({ value, codes: codes(res) }).toEqual({ value, codes: ["BAD_USER_INPUT"] });
      }
      expect(await stixIds(A)).toEqual([]);
    });

    it("reports each invalid object by path and keeps the valid ones", async () => {
      const res = ok(
        await platform.request(
          ImportStixBundleDocument,
          {
            bundle: bundle([
              /* 0 */ indicator(10),
              /* 1 */ indicator(11, { pattern: "[ipv4-addr:value = '198.51.100.1'" }),
              /* 2 */ indicator(12, { pattern: "[ipv4-addr:value = 198.51.100.1]" }),
              /* 3 */ indicator(13, { pattern: "[ipv4-addr:value = 'x\\q']" }),
              /* 4 */ indicator(14, {
                valid_from: "2026-02-01T00:00:00Z",
                valid_until: "2026-01-01T00:00:00Z",
              }),
              /* 5 */ indicator(15, { valid_from: "2026-02-30T00:00:00Z" }),
              /* 6 */ indicator(16, { confidence: 101 }),
              /* 7 */ indicator(17, { revoked: "yes" }),
              /* 8 */ indicator(18, { pattern_type: "sigma" }),
              /* 9 */ indicator(19, { id: "indicator--not-a-uuid" }),
              /* 10 */ indicator(20, { name: "evil\u0000name" }),
              /* 11 */ indicator(21, { labels: ["ok", "bad\u0000label"] }),
              /* 12 */ indicator(22, { description: "half \ud83d" }),
              /* 13 */ indicator(23, { pattern: "[domain-name:value = 'a\u0000.example']" }),
              /* 14 */ indicator(24, { revoked: true }),
              /* 15 */ indicator(25, { pattern: "[x-acme-widget:serial = 'A1']" }),
              /* 16 */ { type: "x-acme-widget", id: "x-acme-widget--1" },
              /* 17 */ { type: "Not A Type" },
              /* 18 */ "indicator",
              /* 19 */ indicator(26, {
                pattern: `${"(".repeat(200)}[ipv4-addr:value = '1.2.3.4']${")".repeat(200)}`,
              }),
              /* 20 */ indicator(27, {
                pattern: Array.from(
                  { length: 12 },
                  (_, i) => `[ipv4-addr:value = '10.0.${i}.1' OR ipv4-addr:value = '10.0.${i}.2']`,
                ).join(" AND "),
              }),
            ]),
          },
          t.admin,
        ),
      ).importStixBundle;
      expect(res.createdCount).toBe(3);
      expect(res.skippedCount).toBe(1);
      expect(res.problems.map((p) => p.path)).toEqual([
        "objects[1].pattern",
        "objects[2].pattern",
        "objects[3].pattern",
        "objects[4].valid_until",
        "objects[5].valid_from",
        "objects[6].confidence",
        "objects[7].revoked",
        "objects[8].pattern_type",
        "objects[9].id",
        "objects[10].name",
        "objects[11].labels[1]",
        "objects[12].description",
        "objects[13].pattern",
        "objects[17].type",
        "objects[18]",
        "objects[19].pattern",
        "objects[20].pattern",
      ]);
      expect(res.problems[9].message).toBe("name contains a NUL character (U+0000)");
      expect(res.problems[10].message).toBe("labels contains a NUL character (U+0000)");
      expect(res.problems[11].message).toBe("description is not valid Unicode (an unpaired surrogate)");
      expect(await stixIds(A)).toEqual([indicatorId(10), indicatorId(24), indicatorId(25)]);
      // Revoked is kept (and never active); a pattern only over an unknown SCO is kept, flagged partial,
      // with nothing to match.
      const rows = await query<{ revoked: boolean; partial: boolean; groups: unknown[] }>(
        A,
        `SELECT revoked, partial, groups FROM threat_indicators WHERE stix_id = ANY($1) ORDER BY stix_id`,
        [[indicatorId(24), indicatorId(25)]],
      );
      expect(rows).toEqual([
        { revoked: true, partial: false, groups: [[{ type: "ipv4-addr", value: "198.51.100.24" }]] },
        { revoked: false, partial: true, groups: [] },
      ]);
    });

    it("keeps the latest version of a repeated id, and refuses an oversized object list whole", async () => {
      const res = ok(
        await platform.request(
          ImportStixBundleDocument,
          {
            bundle: bundle([
              indicator(30, { modified: "2026-01-02T00:00:00Z", name: "newer" }),
              indicator(30, { name: "older" }),
              indicator(30, { modified: "2026-01-02T00:00:00Z", name: "same time, later" }),
            ]),
          },
          t.ingestor,
        ),
      ).importStixBundle;
      expect(res).toMatchObject({ createdCount: 1, problems: [] });
      const [row] = await query<{ name: string }>(
        A,
        `SELECT name FROM threat_indicators WHERE stix_id = $1`,
        [indicatorId(30)],
      );
      expect(row.name).toBe("newer");

      const before = await stixIds(A);
      const huge = ok(
        await platform.request(
          ImportStixBundleDocument,
          { bundle: bundle([indicator(31), ...Array.from({ length: 50_000 }, () => ({ type: "note" }))]) },
          t.admin,
        ),
      ).importStixBundle;
      expect(huge).toMatchObject({ createdCount: 0, problems: [{ path: "objects" }] });
      expect(await stixIds(A)).toEqual(before);
    });

    it("lets only ADMIN and INGESTOR import, each into their own tenant", async () => {
      for (const token of [t.reader, t.analyst, t.responder]) {
        const res = await platform.request(
          ImportStixBundleDocument,
          { bundle: bundle([indicator(40)]) },
          token,
        );
        expect(codes(res)).toEqual(["FORBIDDEN"]);
      }
      const before = await stixIds(A);
      ok(await platform.request(ImportStixBundleDocument, { bundle: bundle([indicator(41)]) }, t.adminB));
      expect(await stixIds(B)).toEqual([indicatorId(41)]);
      expect(await stixIds(A)).toEqual(before);
    });
  });

  describe("createAnalyticsRule / updateAnalyticsRule", () => {
    const create = (spec: unknown, token = t.admin) =>
      postGraphql(
        platform.gateway.url,
        { query: print(CreateRuleTypedDocument), variables: { spec } },
        { authorization: `Bearer ${token}` },
      );

    it("refuses invalid ISO durations, naming the field", async () => {
      const bad: Array<[string, unknown]> = [
        ["queryFrequency", "P0D"],
        ["queryFrequency", "PT0S"],
        ["queryFrequency", "P1Y"],
        ["queryFrequency", "P1M"],
        ["queryFrequency", "-PT5M"],
        ["queryFrequency", "PT0.5H"],
        ["queryFrequency", "PT4M59S"],
        ["queryFrequency", "P15D"],
        ["queryFrequency", "P99999999999999999999D"],
        ["queryFrequency", "pt5m"],
        ["queryFrequency", "PT"],
        ["queryFrequency", ""],
        ["queryFrequency", 300],
        ["queryFrequency", "PT5M\u0000"],
        ["queryPeriod", "PT4M"],
      ];
      for (const [field, value] of bad) {
        const res = await create(scheduled({ [field]: value }));
        expect({ value, problems: problems(res) }).toEqual({
          value,
          problems: [expect.stringMatching(new RegExp(`^${field}: `))],
        });
      }
      expect(problems(await create(scheduled({ queryFrequency: "PT2H", queryPeriod: "PT1H" })))).toEqual([
        expect.stringMatching(/^queryPeriod: must be at least queryFrequency/),
      ]);
      const unknownTemplate = await platform.request(
        CreateRuleTypedDocument,
        { templateId: "nope" },
        t.admin,
      );
      expect(problems(unknownTemplate)).toEqual(['templateId: no template "nope"']);
      expect(problems(await create(nrt({ queryFrequency: "PT5M" })))).toEqual([
        expect.stringMatching(/^queryFrequency: NRT rules have no schedule/),
      ]);
      expect(await count(A, "analytics_rules")).toBe(0);
    });

    it("refuses bad thresholds, unknown fields, deep filters, unmapped entities and long suppression", async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ trigger: { operator: "GT", threshold: -1 } }, "trigger.threshold"],
        [{ trigger: { operator: "GT", threshold: 1.5 } }, "trigger.threshold"],
        [{ trigger: { operator: "GT", threshold: 2 ** 53 } }, "trigger.threshold"],
        [{ trigger: { operator: "GT", threshold: "5" } }, "trigger.threshold"],
        [{ trigger: { operator: "MATCHES", threshold: 1 } }, "trigger.operator"],
        [{ trigger: { operator: "GT", threshold: 0, window: "PT1H" } }, "trigger.window"],
        [{ query: "SigninLogs | take 1" }, "query"],
        [{ entityMappings: [{ entityType: "IP", field: "attributes.a b" }] }, "entityMappings[0].field"],
        [{ entityMappings: [{ entityType: "IP", field: "src_ipv4" }] }, "entityMappings[0].field"],
        [{ entityMappings: [{ entityType: "MAILBOX", field: "src_ip" }] }, "entityMappings[0].entityType"],
        [{ suppression: { enabled: true, duration: "PT25H" } }, "suppression.duration"],
        [{ suppression: { enabled: true, duration: "P2D" } }, "suppression.duration"],
        [{ suppression: { enabled: true } }, "suppression.duration"],
        [{ incidentGrouping: { lookbackDuration: "P8D" } }, "incidentGrouping.lookbackDuration"],
        [{ filter: { field: "message", op: "regex", value: "(a+)+$" } }, "filter.op"],
        [{ filter: { field: "message", op: "matches", value: "x".repeat(4097) } }, "filter.value"],
        [{ filter: { field: "attributes.a", op: "eq", value: "\u0000" } }, "filter.value"],
        [{ displayName: "evil\u0000rule" }, "displayName"],
        [{ description: "half \udc00 surrogate" }, "description"],
        [{ displayName: "x".repeat(257) }, "displayName"],
        [{ tactics: ["CredentialAccess", "CredentialAccess"] }, "tactics[1]"],
      ];
      for (const [extra, field] of cases) {
        const res = await create(nrt(extra));
        expect({ extra, problems: problems(res) }).toEqual({
          extra,
          problems: [expect.stringMatching(new RegExp(`^${field.replace(/[[\].]/g, "\\$&")}: `))],
        });
      }
      let filter: Record<string, unknown> = { field: "class_uid", op: "eq", value: 3002 };
      for (let level = 1; level < 16; level++) filter = { not: filter };
      const deepest = await create(nrt({ filter }));
      expect(deepest.errors).toBeUndefined();
      expect(problems(await create(nrt({ filter: { not: filter } })))).toEqual([
        expect.stringMatching(/^filter(\.not)+: a filter is nested at most 16 levels deep/),
      ]);
      // A glob with many stars is linear to match, so an NRT rule with one does not stall the ingest.
      const glob = await create(
        nrt({ filter: { field: "message", op: "matches", value: "*a".repeat(500) } }),
      );
      expect(glob.errors).toBeUndefined();
      const started = Date.now();
      ok(
        await platform.request(
          IngestEventsDocument,
          { connector: "OCSF", records: [ocsf("glob-probe", { message: "a".repeat(100_000) })] },
          t.ingestor,
        ),
      );
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await count(A, "analytics_rules")).toBe(2);
    });

    it("refuses typed input of the wrong type before the SIEM sees it", async () => {
      const typed = (input: unknown) =>
        postGraphql(
          platform.gateway.url,
          { query: print(CreateRuleTypedDocument), variables: { input } },
          { authorization: `Bearer ${t.admin}` },
        );
      for (const input of [
        { ...nrt(), trigger: { operator: "GT", threshold: 2 ** 31 } },
        { ...nrt(), trigger: { operator: "GT", threshold: "1" } },
        { ...nrt(), severity: "CRITICAL" },
        { ...nrt(), filter: [] },
        { ...nrt(), kind: "nrt" },
      ]) {
        const res = await typed(input);
        expect({ input, codes: codes(res) }).toEqual({ input, codes: ["BAD_USER_INPUT"] });
      }
      expect(await count(A, "analytics_rules")).toBe(2);
    });

    it("updates only the caller's tenant's rules, only for ADMIN, and an invalid update changes nothing", async () => {
      const ruleB = ok(
        await platform.request(CreateRuleTypedDocument, { spec: nrt() }, t.adminB),
      ).createAnalyticsRule;
      const ruleA = ok(
        await platform.request(CreateRuleTypedDocument, { spec: nrt() }, t.admin),
      ).createAnalyticsRule;
      const update = (id: string, spec: unknown, token = t.admin) =>
        platform.request(UpdateRuleTypedDocument, { id, spec }, token);

      expect(codes(await update(ruleB.id, nrt({ displayName: "hijacked" })))).toEqual(["NOT_FOUND"]);
      expect(codes(await update("not-a-uuid", nrt()))).toEqual(["BAD_USER_INPUT"]);
      expect(problems(await update(ruleA.id, nrt({ displayName: "\u0000" })))).toEqual([
        "displayName: contains a NUL character (U+0000)",
      ]);
      expect(problems(await update(ruleA.id, scheduled({ queryPeriod: "P1Y" })))).toEqual([
        expect.stringMatching(/^queryPeriod: .*years and months are not supported/),
      ]);
      for (const token of [t.reader, t.analyst, t.responder, t.ingestor]) {
        expect(codes(await update(ruleA.id, nrt({ displayName: "by the wrong role" }), token))).toEqual([
          "FORBIDDEN",
        ]);
        expect(codes(await platform.request(CreateRuleTypedDocument, { spec: nrt() }, token))).toEqual([
          "FORBIDDEN",
        ]);
      }
      const a = ok(
        await platform.request(AnalyticsRuleByIdDocument, { id: ruleA.id }, t.reader),
      ).analyticsRule;
      expect(a).toMatchObject({ version: 1, displayName: "Failed sign-in" });
      const b = ok(
        await platform.request(AnalyticsRuleByIdDocument, { id: ruleB.id }, t.adminB),
      ).analyticsRule;
      expect(b).toMatchObject({ version: 1, displayName: "Failed sign-in" });
      expect(
        ok(await platform.request(AnalyticsRuleByIdDocument, { id: ruleB.id }, t.admin)).analyticsRule,
      ).toBe(null);
    });
  });

  describe("ingestAlerts", () => {
    const sources = async (tenant: string, prefix: string) =>
      (
        await query<{ id: string }>(
          tenant,
          `SELECT source_id AS id FROM alerts WHERE source_id LIKE $1 ORDER BY 1`,
          [`${prefix}%`],
        )
      ).map((r) => r.id);

    it("rejects bad records by index and field, and keeps the good ones", async () => {
      const future = new Date(Date.now() + 2 * 86_400_000).toISOString();
      const res = ok(
        await platform.request(
          IngestAlertsDocument,
          {
            input: [
              /* 0 */ alert("in-good"),
              /* 1 */ alert("  "),
              /* 2 */ alert("in-no-title", { title: "" }),
              /* 3 */ alert("in-future", { startTime: "9999-12-31T00:00:00Z" }),
              /* 4 */ alert("in-future-end", { startTime: new Date().toISOString(), endTime: future }),
              /* 5 */ alert("in-backwards", {
                startTime: "2026-01-02T00:00:00Z",
                endTime: "2026-01-01T00:00:00Z",
              }),
              /* 6 */ alert("in-nul-title", { title: "bad\u0000title" }),
              /* 7 */ alert("in-nul-entity", { entities: [{ type: "IP", value: "10.0.0.1\u0000" }] }),
              /* 8 */ alert("in-nul-tactic", { tactics: ["\u0000"] }),
              /* 9 */ alert("in-surrogate", { description: "\ud800" }),
              /* 10 */ alert("in-long-entity", {
                entities: [{ type: "URL", value: incompressible(1000, 5) }],
              }),
              /* 11 */ alert("in-technique", { techniques: ["T1"] }),
              /* 12 */ alert("in-resource", { resourceId: "not-a-uuid" }),
              /* 13 */ alert("x".repeat(513), { title: "long source id" }),
              /* 14 */ alert("in-good-2", { startTime: new Date(Date.now() - 3_600_000).toISOString() }),
              /* 15 */ alert("in-blank-entity", { entities: [{ type: "HOST", value: " " }] }),
              /* 16 */ alert("in-rule-spoof", { provider: "ANALYTICS_RULE" }),
              /* 17 */ alert("in-ti-spoof", { provider: "TI_MATCH" }),
              /* 18 */ alert("in-zero-date", { startTime: "0001-01-01T00:00:00Z" }),
              /* 19 */ alert("in-ancient-end", {
                startTime: "1900-01-01T00:00:00Z",
                endTime: "1900-01-02T00:00:00Z",
              }),
            ],
          },
          t.ingestor,
        ),
      ).ingestAlerts;
      expect(res.rejected).toEqual([
        { index: 1, field: "sourceId", message: "is required" },
        { index: 2, field: "title", message: "is required" },
        { index: 3, field: "startTime", message: "is more than a day in the future" },
        { index: 4, field: "endTime", message: "is more than a day in the future" },
        { index: 5, field: "endTime", message: "is before startTime" },
        { index: 6, field: "title", message: "contains a NUL character (U+0000)" },
        { index: 7, field: "entities[0].value", message: "contains a NUL character (U+0000)" },
        { index: 8, field: "tactics[0]", message: "contains a NUL character (U+0000)" },
        { index: 9, field: "description", message: "is not valid Unicode (an unpaired surrogate)" },
        { index: 10, field: "entities[0].value", message: "at most 2048 bytes" },
        { index: 11, field: "techniques", message: '"T1" is not an ATT&CK technique id' },
        { index: 12, field: "resourceId", message: "must be a resource id (UUID)" },
        { index: 13, field: "sourceId", message: "at most 512 characters" },
        { index: 15, field: "entities[0].value", message: "is required" },
        {
          index: 16,
          field: "provider",
          message:
            "ANALYTICS_RULE alerts are raised by the SIEM itself; push EXTERNAL or WORKLOAD_PROTECTION",
        },
        {
          index: 17,
          field: "provider",
          message: "TI_MATCH alerts are raised by the SIEM itself; push EXTERNAL or WORKLOAD_PROTECTION",
        },
        { index: 18, field: "startTime", message: "is more than 10 years in the past" },
        { index: 19, field: "startTime", message: "is more than 10 years in the past" },
        { index: 19, field: "endTime", message: "is more than 10 years in the past" },
      ]);
      expect(res.createdCount).toBe(2);
      expect(res.ids.map((id) => id !== null)).toEqual([
        true,
        ...Array(13).fill(false),
        true,
        ...Array(5).fill(false),
      ]);
      expect(await sources(A, "in-")).toEqual(["in-good", "in-good-2"]);
    });

    it("stores a sourceId repeated within one batch once, in one incident", async () => {
      const incidentsBefore = await count(A, "incidents");
      const res = ok(
        await platform.request(
          IngestAlertsDocument,
          {
            input: [
              alert("dup-1", { title: "first" }),
              alert("dup-1", { title: "second", severity: "LOW" }),
              alert("dup-2", { entities: [{ type: "HOST", value: "web-01" }] }),
              alert("dup-2", { entities: [{ type: "HOST", value: "web-01" }] }),
            ],
          },
          t.ingestor,
        ),
      ).ingestAlerts;
      expect([res.createdCount, res.duplicateCount]).toEqual([2, 2]);
      expect(res.ids[0]).toBe(res.ids[1]);
      expect(res.ids[2]).toBe(res.ids[3]);
      const rows = await query<{ title: string; incidents: number }>(
        A,
        `SELECT a.title, (SELECT count(*)::int FROM incident_alerts ia WHERE ia.alert_id = a.id) AS incidents
         FROM alerts a WHERE a.source_id LIKE 'dup-%' ORDER BY a.source_id`,
      );
      expect(rows).toEqual([
        { title: "first", incidents: 1 },
        { title: "Alert dup-2", incidents: 1 },
      ]);
      expect(await count(A, "incidents")).toBe(incidentsBefore + 2);
      expect(
        await count(A, "outbox", "topic = 'alert.created' AND key = ANY($1)", [[res.ids[0], res.ids[2]]]),
      ).toBe(2);
    });

    it("refuses missing fields, unknown severities and oversized calls whole, and the wrong roles", async () => {
      const before = await count(A, "alerts");
      const raw = (input: unknown, token = t.ingestor) =>
        postGraphql(
          platform.gateway.url,
          { query: print(IngestAlertsDocument), variables: { input } },
          { authorization: `Bearer ${token}` },
        );
      for (const input of [
        [{ title: "no source id", severity: "HIGH" }],
        [{ sourceId: "no-title", severity: "HIGH" }],
        [{ sourceId: "no-severity", title: "t" }],
        [{ ...alert("bad-severity"), severity: "SUPER" }],
        [{ ...alert("bad-severity"), severity: "high" }],
        [{ ...alert("bad-provider"), provider: "ME" }],
        [{ ...alert("bad-time"), startTime: "yesterday" }],
        [{ ...alert("bad-time"), startTime: "2026-02-30T00:00:00Z" }],
        [{ ...alert("bad-entity"), entities: [{ type: "MAILBOX", value: "x" }] }],
        [{ ...alert("bad-entity"), entities: [{ type: "IP" }] }],
        [alert("null-item"), null],
        null,
      ]) {
        const res = await raw(input);
        expect({ input, codes: codes(res) }).toEqual({ input, codes: ["BAD_USER_INPUT"] });
      }
      const tooMany = ok(
        await platform.request(
          IngestAlertsDocument,
          { input: Array.from({ length: 10_001 }, (_, i) => alert(`many-${i}`)) },
          t.ingestor,
        ),
      ).ingestAlerts;
      expect(tooMany).toMatchObject({ createdCount: 0, rejected: [{ field: "input" }] });
      for (const token of [t.reader, t.analyst, t.responder]) {
        expect(
          codes(await platform.request(IngestAlertsDocument, { input: [alert("by-role")] }, token)),
        ).toEqual(["FORBIDDEN"]);
      }
      expect(await count(A, "alerts")).toBe(before);
    });

    it("keeps the same sourceId of two tenants apart", async () => {
      const a = ok(
        await platform.request(IngestAlertsDocument, { input: [alert("shared-id")] }, t.ingestor),
      ).ingestAlerts;
      const b = ok(
        await platform.request(
          IngestAlertsDocument,
          { input: [alert("shared-id", { title: "tenant b" })] },
          t.ingestorB,
        ),
      ).ingestAlerts;
      expect([a.createdCount, b.createdCount]).toEqual([1, 1]);
      expect(a.ids[0]).not.toBe(b.ids[0]);
      const titles = await query<{ title: string }>(
        A,
        `SELECT title FROM alerts WHERE source_id = 'shared-id'`,
      );
      expect(titles).toEqual([{ title: "Alert shared-id" }]);
    });

    it("stores a sourceId pushed by concurrent calls once and answers every call with its id", async () => {
      // Each call's INSERT waits on the first one's row; once that commits, its own snapshot cannot see it.
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          platform.request(
            IngestAlertsDocument,
            { input: [alert("race-1", { title: `race ${i}` })] },
            t.ingestor,
          ),
        ),
      );
      const payloads = answers.map((res) => ok(res).ingestAlerts);
      expect(payloads.reduce((sum, p) => sum + p.createdCount, 0)).toBe(1);
      const rows = await query<{ id: string }>(A, `SELECT id FROM alerts WHERE source_id = 'race-1'`);
      expect(rows).toHaveLength(1);
      expect(payloads.map((p) => p.ids)).toEqual(payloads.map(() => [rows[0].id]));
    });
  });

  describe("list filters", () => {
    it("refuses a NUL in a filter string that reaches SQL as BAD_USER_INPUT naming the field", async () => {
      const nul = "a\u0000b";
      const NUL_MSG = "contains a NUL character (U+0000)";
      const ask = (query: string, variables: Record<string, unknown>) =>
        postGraphql(platform.gateway.url, { query, variables }, { authorization: `Bearer ${t.admin}` });
      const incidents = `query($f: IncidentFilter) { incidents(filter: $f) { totalCount } }`;
      expect(problems(await ask(incidents, { f: { owner: nul, labels: ["ok", nul], search: nul } }))).toEqual(
        [`owner: ${NUL_MSG}`, `[1].labels: ${NUL_MSG}`, `search: ${NUL_MSG}`],
      );
      const events = `query($f: EventFilter) { events(filter: $f) { totalCount } }`;
      expect(problems(await ask(events, { f: { actorUser: nul, device: nul } }))).toEqual([
        `filter.actorUser: ${NUL_MSG}`,
        `filter.device: ${NUL_MSG}`,
      ]);
      const bookmarks = `query($f: BookmarkFilter) { bookmarks(filter: $f) { totalCount } }`;
      expect(problems(await ask(bookmarks, { f: { label: nul } }))).toEqual([`filter.label: ${NUL_MSG}`]);
      // No watchlist has such an alias: found nothing, as an unknown id.
      const watchlist = await ask(`query($a: String) { watchlist(alias: $a) { id } }`, { a: nul });
      expect(watchlist).toMatchObject({ status: 200, data: { watchlist: null } });
      expect(watchlist.errors).toBeUndefined();
    });
  });
});
