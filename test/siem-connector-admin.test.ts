import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Client } from "pg";
import type { DataSource } from "typeorm";
import {
  DataConnectorVolumesDocument,
  IngestEventsDocument,
  IngestReceiptDocument,
  SetDataConnectorDocument,
  type SetDataConnectorInput,
} from "./__generated__/graphql";
import { inSystemScope, inTenant, Role } from "../subgraphs/common/src";
import { pruneConnectorDays } from "../subgraphs/siem/src/modules/events/events.service";
import { queueNames } from "../subgraphs/siem/src/modules/events/nats-queue";
import { codes, problems } from "./utils/errors";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * Data connectors as an ADMIN manages them, through the gateway on a real database: a disabled connector's
 * records are refused by both ingest paths with nothing stored, `volume` counts each UTC day's ingest, a
 * `staleAfter` turns a quiet connector STALE, and none of it crosses tenants.
 */

const A = "tenant-a";
const B = "tenant-b";
const C = "tenant-c";
const MINUTE = 60_000;
/** When the events happened: one time, so that a record sent again is a duplicate. */
const AT = Date.now() - 5 * MINUTE;

/** An OCSF Network Activity event with its own id. */
const ocsf = (uid: string, at = AT) => ({
  class_uid: 4001,
  activity_id: 6,
  time: at,
  severity_id: 1,
  metadata: { uid, version: "1.1.0", product: { name: "VPC Flow Logs", vendor_name: "AWS" } },
  src_endpoint: { ip: "10.1.2.7", port: 51544 },
  dst_endpoint: { ip: "198.51.100.23", port: 443 },
});

const ndjson = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join("\n");

describe("SIEM data connectors an ADMIN manages", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let t: Record<
    "admin" | "analyst" | "reader" | "ingestor" | "adminB" | "ingestorB" | "adminC" | "ingestorC",
    string
  >;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    t = await platform.tokens({
      admin: [[Role.ADMIN], A],
      analyst: [[Role.ANALYST], A],
      reader: [[Role.READER], A],
      ingestor: [[Role.INGESTOR], A],
      adminB: [[Role.ADMIN], B],
      ingestorB: [[Role.INGESTOR], B],
      adminC: [[Role.ADMIN], C],
      ingestorC: [[Role.INGESTOR], C],
    });
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const post = async (connector: string, body: string, token: string) => {
    const res = await fetch(
      `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=${connector}`,
      {
        method: "POST",
        headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${token}` },
        body,
      },
    );
    return {
      status: res.status,
      body: (await res.json()) as {
        accepted?: number;
        duplicates?: number;
        errors?: Array<{ message: string; extensions?: { code?: string } }>;
      },
    };
  };
  const set = (input: SetDataConnectorInput, token = t.admin) =>
    platform.request(SetDataConnectorDocument, { input }, token);
  const connector = async (kind: string, token: string, days = 7) =>
    ok(await platform.request(DataConnectorVolumesDocument, { days }, token)).dataConnectors.find(
      (c) => c.kind === kind,
    )!;
  const sql = <T>(tenant: string, text: string, params: unknown[] = []) =>
    inTenant(ds, tenant, (m) => m.query(text, params) as Promise<T[]>);
  const storedCount = async (tenant: string, kind: string) =>
    Number(
      (await sql<{ n: string }>(tenant, `SELECT count(*) AS n FROM events WHERE connector = $1`, [kind]))[0]
        .n,
    );
  const settingAudits = (tenant: string) =>
    sql<{ target: string; details: Record<string, unknown> }>(
      tenant,
      `SELECT target, details FROM audit_log WHERE action = 'events.connector_set' ORDER BY at`,
    );
  const today = async () =>
    (await sql<{ d: string }>(A, `SELECT (now() AT TIME ZONE 'UTC')::date::text AS d`))[0].d;

  it("refuses a disabled connector's records on both ingest paths, storing nothing, until it is enabled again", async () => {
    const disabled = ok(await set({ kind: "OCSF", enabled: false })).setDataConnector;
    expect(disabled).toEqual({ kind: "OCSF", status: "DISABLED", enabled: false, staleAfter: null });

    const http = await post("OCSF", ndjson([ocsf("a-1"), ocsf("a-2"), "not an event"]), t.ingestor);
    expect(http.status).toBe(409);
    expect(http.body.errors?.[0].extensions?.code).toBe("CONFLICT");
    expect(http.body.errors?.[0].message).toMatch(/OCSF connector is disabled: an ADMIN disabled it/);
    // A body of nothing but bad records is refused too, and counts nothing.
    expect((await post("OCSF", "not json\n", t.ingestor)).status).toBe(409);

    const gql = await platform.request(
      IngestEventsDocument,
      { connector: "OCSF", records: [ocsf("a-3")] },
      t.ingestor,
    );
    expect(codes(gql)).toEqual(["CONFLICT"]);
    expect(gql.errors?.[0].message).toMatch(/OCSF connector is disabled/);

    expect(await storedCount(A, "OCSF")).toBe(0);
    const after = await connector("OCSF", t.reader, 1);
    expect(after).toMatchObject({ status: "DISABLED", enabled: false, eventsTotal: 0 });
    expect(after.volume).toEqual([{ day: await today(), events: 0, duplicates: 0, rejected: 0 }]);
    const [counters] = await sql<{ rejected_total: string; last_ingest_at: Date | null }>(
      A,
      `SELECT rejected_total, last_ingest_at FROM data_connectors WHERE kind = 'OCSF'`,
    );
    expect(counters).toEqual({ rejected_total: "0", last_ingest_at: null });
    // Other connectors of the tenant are not affected.
    expect((await post("SYSLOG_CEF", "not cef\n", t.ingestor)).status).toBe(200);

    expect(ok(await set({ kind: "OCSF", enabled: true })).setDataConnector).toMatchObject({
      enabled: true,
      status: "NEVER_CONNECTED",
    });
    expect(await post("OCSF", ndjson([ocsf("a-1"), ocsf("a-2")]), t.ingestor)).toMatchObject({
      status: 200,
      body: { accepted: 2, duplicates: 0 },
    });
    const resumed = ok(
      await platform.request(IngestEventsDocument, { connector: "OCSF", records: [ocsf("a-3")] }, t.ingestor),
    ).ingestEvents;
    expect(resumed.acceptedCount).toBe(1);
    expect(await storedCount(A, "OCSF")).toBe(3);
    expect(await connector("OCSF", t.reader)).toMatchObject({
      status: "CONNECTED",
      enabled: true,
      eventsTotal: 3,
    });

    expect(await settingAudits(A)).toEqual([
      { target: "connector:OCSF", details: { enabled: [true, false] } },
      { target: "connector:OCSF", details: { enabled: [false, true] } },
    ]);
  });

  it("lets only an ADMIN set a connector", async () => {
    for (const token of [t.analyst, t.reader, t.ingestor])
      expect(codes(await set({ kind: "M365_AUDIT", enabled: false }, token))).toEqual(["FORBIDDEN"]);
    expect(await connector("M365_AUDIT", t.reader)).toMatchObject({
      enabled: true,
      status: "NEVER_CONNECTED",
    });
    expect((await settingAudits(A)).filter((a) => a.target === "connector:M365_AUDIT")).toEqual([]);
  });

  it("refuses a bad staleAfter or volume window with BAD_USER_INPUT, changing nothing", async () => {
    expect(ok(await set({ kind: "GCP_AUDIT", staleAfter: "P1D" })).setDataConnector.staleAfter).toBe("P1D");
    const audits = (await settingAudits(A)).length;
    for (const staleAfter of ["PT1M", "P31D", "P1M", "1 day", ""]) {
      const lines = problems(await set({ kind: "GCP_AUDIT", enabled: false, staleAfter }));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^input\.staleAfter: /);
    }
    expect(await connector("GCP_AUDIT", t.reader)).toMatchObject({ enabled: true, staleAfter: "P1D" });
    expect(await settingAudits(A)).toHaveLength(audits);
    for (const days of [0, 91])
      expect([
        ...new Set(codes(await platform.request(DataConnectorVolumesDocument, { days }, t.reader))),
      ]).toEqual(["BAD_USER_INPUT"]);
  });

  it("counts each UTC day's stored, duplicate and rejected records, days with nothing as zeros", async () => {
    expect((await post("OCSF", ndjson([ocsf("c-1"), ocsf("c-2")]), t.ingestorC)).body).toMatchObject({
      accepted: 2,
    });
    expect(
      (
        await post(
          "OCSF",
          `${JSON.stringify(ocsf("c-2"))}\nnot json\n${JSON.stringify(ocsf("c-3"))}`,
          t.ingestorC,
        )
      ).body,
    ).toMatchObject({ accepted: 1, duplicates: 1 });
    // Two days ago, as a counter row the ingest would have written then.
    await sql(
      C,
      `INSERT INTO data_connector_days (tenant_id, kind, day, events, duplicates, rejected)
       VALUES ($1, 'OCSF', (now() AT TIME ZONE 'UTC')::date - 2, 40, 2, 5)`,
      [C],
    );
    const day = await today();
    const minus = (n: number) =>
      new Date(Date.parse(`${day}T00:00:00Z`) - n * 86_400_000).toISOString().slice(0, 10);
    const ocsfC = await connector("OCSF", t.adminC, 4);
    expect(ocsfC.volume).toEqual([
      { day: minus(3), events: 0, duplicates: 0, rejected: 0 },
      { day: minus(2), events: 40, duplicates: 2, rejected: 5 },
      { day: minus(1), events: 0, duplicates: 0, rejected: 0 },
      { day, events: 3, duplicates: 1, rejected: 1 },
    ]);
    const quiet = await connector("AWS_CLOUDTRAIL", t.adminC);
    expect(quiet.volume).toHaveLength(7);
    expect(quiet.volume.every((d) => d.events + d.duplicates + d.rejected === 0)).toBe(true);
    expect(quiet.volume[6].day).toBe(day);
  });

  it("shows STALE once no record was kept for staleAfter", async () => {
    const at = async (kept: string) =>
      sql(C, `UPDATE data_connectors SET last_kept_at = now() - $1::interval WHERE kind = 'OCSF'`, [kept]);
    expect(ok(await set({ kind: "OCSF", staleAfter: "PT1H" }, t.adminC)).setDataConnector).toMatchObject({
      status: "CONNECTED",
      staleAfter: "PT1H",
    });
    await at("2 hours");
    expect((await connector("OCSF", t.adminC)).status).toBe("STALE");
    expect(ok(await set({ kind: "OCSF", staleAfter: "P1D" }, t.adminC)).setDataConnector.status).toBe(
      "CONNECTED",
    );
    await at("25 hours");
    expect((await connector("OCSF", t.adminC)).status).toBe("STALE");
    // Cleared: back to the 24-hour judgement (records arrived today, none kept since yesterday).
    expect(ok(await set({ kind: "OCSF", staleAfter: null }, t.adminC)).setDataConnector).toMatchObject({
      status: "ERROR",
      staleAfter: null,
    });
    // A record kept now makes it CONNECTED again under any staleAfter.
    await set({ kind: "OCSF", staleAfter: "PT5M" }, t.adminC);
    expect((await post("OCSF", ndjson([ocsf("c-4")]), t.ingestorC)).status).toBe(200);
    expect((await connector("OCSF", t.adminC)).status).toBe("CONNECTED");
  });

  it("keeps each tenant's connector settings and volumes to itself", async () => {
    expect(ok(await set({ kind: "OCSF", enabled: false, staleAfter: "PT6H" })).setDataConnector.enabled).toBe(
      false,
    );
    expect(await connector("OCSF", t.adminB)).toMatchObject({
      enabled: true,
      staleAfter: null,
      eventsTotal: 0,
    });
    expect((await post("OCSF", ndjson([ocsf("b-1")]), t.ingestorB)).body).toMatchObject({ accepted: 1 });
    expect((await connector("OCSF", t.adminB, 1)).volume[0]).toMatchObject({ events: 1, duplicates: 0 });
    // B's settings do not reach A's connector.
    ok(await set({ kind: "OCSF", enabled: true, staleAfter: null }, t.adminB));
    expect(await connector("OCSF", t.admin)).toMatchObject({
      enabled: false,
      staleAfter: "PT6H",
      eventsTotal: 3,
    });
    expect((await post("OCSF", ndjson([ocsf("a-9")]), t.ingestor)).status).toBe(409);
    expect(await sql(B, `SELECT tenant_id FROM data_connector_days WHERE tenant_id <> $1`, [B])).toEqual([]);
    // B's connector was already enabled without staleAfter: a change to nothing records nothing.
    expect(await settingAudits(B)).toEqual([]);
  });

  it("deletes daily counters older than 400 days in the daily maintenance", async () => {
    await sql(
      A,
      `INSERT INTO data_connector_days (tenant_id, kind, day, events)
       VALUES ($1, 'M365_AUDIT', (now() AT TIME ZONE 'UTC')::date - 401, 7),
              ($1, 'M365_AUDIT', (now() AT TIME ZONE 'UTC')::date - 400, 8)`,
      [A],
    );
    expect(await pruneConnectorDays(ds)).toBe(1);
    const left = await inSystemScope(ds, (m) =>
      m.query(`SELECT events FROM data_connector_days WHERE kind = 'M365_AUDIT'`),
    );
    expect(left).toEqual([{ events: "8" }]);
  });
});

describe("a disabled data connector with the event-ingest queue (EVENT_INGEST_QUEUE=nats)", () => {
  const NATS = "nats://127.0.0.1:4222";
  const prefix = `RAMPART_TEST_${randomBytes(5).toString("hex").toUpperCase()}`;
  let platform: TestPlatform;
  let ds: DataSource;
  let t: Record<"admin" | "ingestor", string>;

  /** POSTs a body, again while the queue answers 503 (its workers connect in the background at start). */
  const post = async (body: string, token: string, key = "k-1") => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(
        `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=OCSF`,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/x-ndjson",
            "idempotency-key": key,
          },
          body,
        },
      );
      if (res.status !== 503 || Date.now() > deadline) return res;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      EVENT_INGEST_QUEUE: "nats",
      NATS_URL: NATS,
      NATS_STREAM_PREFIX: prefix,
    });
    t = await platform.tokens({ admin: [[Role.ADMIN], A], ingestor: [[Role.INGESTOR], A] });
    ds = await platform.connect("siem");
    // Test-only, as the superuser of this test's own database: a body sent with the key `disable-me` has its
    // connector disabled in the transaction that marks it wholly queued, so the workers (which wait for that)
    // always find the connector disabled when they get its chunks.
    const admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    try {
      await admin.query(`CREATE FUNCTION siem.test_disable_when_queued() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.enqueued AND NOT OLD.enqueued AND NEW.idempotency_key = 'disable-me' THEN
            UPDATE siem.data_connectors SET enabled = false WHERE tenant_id = NEW.tenant_id AND kind = NEW.connector;
          END IF;
          RETURN NEW;
        END $$`);
      await admin.query(`CREATE TRIGGER test_disable_when_queued AFTER UPDATE ON siem.ingest_receipts
        FOR EACH ROW EXECUTE FUNCTION siem.test_disable_when_queued()`);
    } finally {
      await admin.end();
    }
  });
  afterAll(async () => {
    await platform?.stop();
    const nc = await connect({ servers: NATS });
    await (await jetstreamManager(nc)).streams.delete(queueNames(prefix).stream).catch(() => undefined);
    await nc.close();
  });

  it("refuses the body with 409 before queueing anything, and queues it once enabled again", async () => {
    ok(
      await platform.request(SetDataConnectorDocument, { input: { kind: "OCSF", enabled: false } }, t.admin),
    );
    const refused = await post(ndjson([ocsf("q-1")]), t.ingestor);
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as {
      errors: Array<{ message: string; extensions: { code: string } }>;
    };
    expect(body.errors[0].extensions.code).toBe("CONFLICT");
    expect(body.errors[0].message).toMatch(/OCSF connector is disabled/);
    const receipts = () =>
      inTenant(
        ds,
        A,
        (m) => m.query(`SELECT status FROM ingest_receipts`) as Promise<Array<{ status: string }>>,
      );
    expect(await receipts()).toEqual([]);

    ok(await platform.request(SetDataConnectorDocument, { input: { kind: "OCSF", enabled: true } }, t.admin));
    const res = await post(ndjson([ocsf("q-1")]), t.ingestor);
    expect(res.status).toBe(202);
    expect(await receipts()).toHaveLength(1);
  });

  it("fails a queued body at once when its connector is disabled before a worker stores it", async () => {
    const res = await post(ndjson([ocsf("q-2"), ocsf("q-3")]), t.ingestor, "disable-me");
    expect(res.status).toBe(202);
    const { receiptId } = (await res.json()) as { receiptId: string };
    const deadline = Date.now() + 30_000;
    let receipt = ok(
      await platform.request(IngestReceiptDocument, { id: receiptId }, t.ingestor),
    ).ingestReceipt;
    while (receipt?.status !== "FAILED" && receipt?.status !== "DONE" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      receipt = ok(
        await platform.request(IngestReceiptDocument, { id: receiptId }, t.ingestor),
      ).ingestReceipt;
    }
    expect(receipt).toMatchObject({ status: "FAILED", acceptedCount: 0 });
    expect(receipt?.failure).toMatch(/^Lines 1–2 were not stored: The OCSF connector is disabled/);
    const stored = await inTenant(ds, A, (m) =>
      m.query(`SELECT source_event_id FROM events WHERE source_event_id IN ('q-2', 'q-3')`),
    );
    expect(stored).toEqual([]);
  });
});
