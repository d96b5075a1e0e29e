import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer } from "node:net";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { Client } from "pg";
import type { DataSource } from "typeorm";
import {
  CreateAnalyticsRuleDocument,
  DataConnectorsDocument,
  IngestReceiptDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { queueNames } from "../subgraphs/siem/src/modules/events/nats-queue";
import { chunkSigningKey, signChunk } from "../subgraphs/siem/src/modules/events/queued-ingest";
import { pruneIngestReceipts } from "../subgraphs/siem/src/modules/events/ingest-receipts.service";
import {
  receiptDeadlineSeconds,
  sweepStalledReceipts,
} from "../subgraphs/siem/src/modules/events/receipt-sweep";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * The queued event ingest (EVENT_INGEST_QUEUE=nats) through the gateway, against the NATS JetStream server on
 * 127.0.0.1:4222 and a real Postgres. Each run has a stream prefix of its own (its stream, subject and
 * consumer), deleted at the end, so runs never share state.
 */

const NATS = "nats://127.0.0.1:4222";
const A = "tenant-a";
const B = "tenant-b";
/** Its first chunk fails once inside its transaction (a test trigger), then is delivered again. */
const FLAKY = "tenant-flaky";
/** Processed once, as a twin of FLAKY's body: what one clean pass stores and raises. */
const TWIN = "tenant-twin";
/** Every chunk of it fails: its receipt must end FAILED, not stay queued. */
const DOOMED = "tenant-doomed";

const fixture = readFileSync("test/fixtures/siem/AWS_CLOUDTRAIL.ndjson", "utf8");
/** A CloudTrail record of the fixture whose caller is the root user (the NRT rule root-account-use fires). */
const rootRecord = JSON.parse(
  fixture.split("\n").find((l) => l.includes('"type":"Root"') && l.includes("StopLogging"))!,
) as Record<string, unknown>;
/** A root-user CloudTrail record of now, with an event id of its own. */
const rootCall = (i: number) =>
  JSON.stringify({
    ...rootRecord,
    eventID: randomUUID(),
    eventTime: new Date(Date.now() - i * 1000).toISOString(),
  });
/** A plain (not root) CloudTrail record of now, padded to about 1 KB. */
const plainCall = (i: number) =>
  JSON.stringify({
    ...rootRecord,
    userIdentity: {
      type: "IAMUser",
      userName: `svc-${i % 7}`,
      arn: `arn:aws:iam::491827365014:user/svc-${i % 7}`,
    },
    eventName: "DescribeInstances",
    eventSource: "ec2.amazonaws.com",
    eventID: randomUUID(),
    eventTime: new Date(Date.now() - 60_000 - i).toISOString(),
    requestParameters: { filterSet: { note: "x".repeat(400) } },
  });

interface Queued {
  receiptId: string;
  status: string;
  lines: number;
}

/**
 * What the tests do through the gateway (queue a body, poll its receipt) and look at in Postgres and JetStream,
 * on the platform, database connection and stream that `get` answers once the suite has started them.
 */
function queueHarness(
  get: () => { platform: TestPlatform; ds: DataSource; jsm: JetStreamManager },
  names: ReturnType<typeof queueNames>,
) {
  const post = (
    body: string,
    token: string,
    headers: Record<string, string> = {},
    connector = "AWS_CLOUDTRAIL",
  ) =>
    fetch(`${get().platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=${connector}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson", ...headers },
      body,
    });
  const queue = async (body: string, token: string, headers: Record<string, string> = {}) => {
    const res = await post(body, token, headers);
    expect(res.status).toBe(202);
    return (await res.json()) as Queued;
  };
  const receipt = async (id: string, token: string) =>
    ok(await get().platform.request(IngestReceiptDocument, { id }, token)).ingestReceipt;
  /** Polls the receipt through the gateway until the workers are done with it. */
  const settled = async (id: string, token: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await receipt(id, token);
      if (r && (r.status === "DONE" || r.status === "FAILED")) return r;
      if (Date.now() > deadline) throw new Error(`receipt ${id} still ${r?.status ?? "missing"}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const count = async (tenant: string, table: "events" | "alerts") => {
    const [row]: Array<{ n: number }> = await inTenant(get().ds, tenant, (m) =>
      m.query(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [tenant]),
    );
    return row.n;
  };
  /** The stream's state: messages held (a work queue drops acknowledged ones) and the last sequence used. */
  const stream = async () => (await get().jsm.streams.info(names.stream)).state;
  /** Waits until every message is acknowledged and none is in a worker's hands. */
  const drained = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [s, c] = await Promise.all([stream(), get().jsm.consumers.info(names.stream, names.consumer)]);
      if (s.messages === 0 && c.num_ack_pending === 0 && c.num_pending === 0) return;
      if (Date.now() > deadline) throw new Error("the stream was not drained");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { post, queue, receipt, settled, count, stream, drained };
}

describe("queued event ingest (EVENT_INGEST_QUEUE=nats)", () => {
  const prefix = `RAMPART_TEST_${randomBytes(5).toString("hex").toUpperCase()}`;
  const names = queueNames(prefix);
  let platform: TestPlatform;
  let ds: DataSource;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let t: Record<"ingestor" | "reader" | "readerB" | "flaky" | "twin" | "doomed", string>;

  const { post, queue, receipt, settled, count, stream, drained } = queueHarness(
    () => ({ platform, ds, jsm }),
    names,
  );

  beforeAll(async () => {
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      EVENT_INGEST_QUEUE: "nats",
      NATS_URL: NATS,
      NATS_STREAM_PREFIX: prefix,
      EVENT_INGEST_MAX_DELIVER: "3",
    });
    t = await platform.tokens({
      ingestor: [[Role.INGESTOR], A],
      reader: [[Role.READER], A],
      readerB: [[Role.READER], B],
      flaky: [[Role.INGESTOR], FLAKY],
      twin: [[Role.INGESTOR], TWIN],
      doomed: [[Role.INGESTOR], DOOMED],
    });
    ds = await platform.connect("siem");
    nc = await connect({ servers: NATS });
    jsm = await jetstreamManager(nc);
    for (const tenant of [A, FLAKY, TWIN]) {
      const admin = await platform.token([Role.ADMIN], tenant);
      ok(await platform.request(CreateAnalyticsRuleDocument, { templateId: "root-account-use" }, admin));
    }
    // Test-only failures, as the superuser of this test's own database: FLAKY's first chunk fails once inside
    // its transaction (after its events, alerts and receipt update ran), every chunk of DOOMED always (a chunk
    // given up also joins `chunks_done`, with a failure: that update goes through).
    const admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    try {
      await admin.query(`CREATE SEQUENCE siem.test_flaky_chunks`);
      await admin.query(`GRANT USAGE, SELECT, UPDATE ON SEQUENCE siem.test_flaky_chunks TO PUBLIC`);
      await admin.query(`CREATE FUNCTION siem.test_fail_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF cardinality(NEW.chunks_done) > cardinality(OLD.chunks_done)
             AND NEW.failure IS NOT DISTINCT FROM OLD.failure THEN
            IF NEW.tenant_id = '${DOOMED}' THEN
              RAISE EXCEPTION 'test: this tenant''s chunks always fail';
            END IF;
            IF NEW.tenant_id = '${FLAKY}' THEN
              IF nextval('siem.test_flaky_chunks') = 1 THEN
                RAISE EXCEPTION 'test: the worker fails before the chunk commits';
              END IF;
            END IF;
          END IF;
          RETURN NEW;
        END $$`);
      await admin.query(`CREATE TRIGGER test_fail_chunk BEFORE UPDATE ON siem.ingest_receipts
        FOR EACH ROW EXECUTE FUNCTION siem.test_fail_chunk()`);
    } finally {
      await admin.end();
    }
    // The workers connect in the background: the queue answers 503 until they have (an empty body is cheap).
    const deadline = Date.now() + 20_000;
    while ((await post("", t.ingestor)).status !== 202) {
      if (Date.now() > deadline) throw new Error("the ingest queue did not come up");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    await platform?.stop();
    await jsm?.streams.delete(names.stream).catch(() => undefined);
    await nc?.close();
  });

  it("answers 202 with a receipt, then stores the body: events, NRT alerts and rejections by line", async () => {
    const body = `${fixture.trimEnd()}\n{"eventVersion": oops\n\n${JSON.stringify({ eventName: "NoTime" })}\n`;
    const lines = body.trimEnd().split("\n").length;
    const roots = fixture.split("\n").filter((l) => l.includes('"type":"Root"')).length;
    const queued = await queue(body, t.ingestor);
    expect(queued).toEqual({ receiptId: expect.any(String), status: "QUEUED", lines });

    // The ingestor who sent it may read its receipt, like any reader of the tenant.
    const done = await settled(queued.receiptId, t.ingestor);
    expect(done).toMatchObject({
      id: queued.receiptId,
      connector: "AWS_CLOUDTRAIL",
      status: "DONE",
      lines,
      acceptedCount: 24,
      duplicateCount: 0,
      rejectedCount: 2,
      failure: null,
    });
    expect(done!.rejected.map((r) => r.line)).toEqual([25, 27]);
    expect(done!.rejected[0].reason).toMatch(/malformed JSON/);
    expect(await receipt(queued.receiptId, t.reader)).toEqual(done);
    expect(await count(A, "events")).toBe(24);
    // root-account-use is NRT with an alert per matching event.
    expect(roots).toBeGreaterThan(0);
    expect(await count(A, "alerts")).toBe(roots);
  });

  it("cuts a body over the server's max payload into several messages and numbers rejections by the whole body", async () => {
    const records = Array.from({ length: 3000 }, (_, i) => plainCall(i));
    records[2499] = "not json at line 2500";
    const body = records.join("\n");
    expect(Buffer.byteLength(body)).toBeGreaterThan(2 * 1024 * 1024);
    const before = (await stream()).last_seq;
    const queued = await queue(body, t.ingestor);
    const messages = (await stream()).last_seq - before;
    expect(messages).toBeGreaterThanOrEqual(3);
    const done = await settled(queued.receiptId, t.reader);
    expect(done).toMatchObject({ status: "DONE", lines: 3000, acceptedCount: 2999, rejectedCount: 1 });
    expect(done!.rejected).toEqual([{ line: 2500, reason: expect.stringMatching(/malformed JSON/) }]);
  });

  it("does not queue a body twice when the POST is retried with the same Idempotency-Key", async () => {
    const body = [rootCall(1), rootCall(2)].join("\n");
    const key = `retry-${randomUUID()}`;
    const events = await count(A, "events");
    const alerts = await count(A, "alerts");
    const first = await queue(body, t.ingestor, { "Idempotency-Key": key });
    await settled(first.receiptId, t.ingestor);
    const seq = (await stream()).last_seq;
    const again = await queue(body, t.ingestor, { "Idempotency-Key": key });
    expect(again).toEqual({ receiptId: first.receiptId, status: "DONE", lines: 2 });
    expect((await stream()).last_seq).toBe(seq);
    expect(await receipt(first.receiptId, t.ingestor)).toMatchObject({ acceptedCount: 2, duplicateCount: 0 });
    expect(await count(A, "events")).toBe(events + 2);
    expect(await count(A, "alerts")).toBe(alerts + 2);
    // Another tenant's request with the same key is its own.
    const other = await queue(body, await platform.token([Role.INGESTOR], B), { "Idempotency-Key": key });
    expect(other.receiptId).not.toBe(first.receiptId);
  });

  it("queues a body again as a new attempt of its receipt when the queue did not take it the first time", async () => {
    // The receipt a 503 leaves behind (the queue took the body only in part): FAILED, never wholly queued.
    const key = `again-${randomUUID()}`;
    const receiptId = randomUUID();
    await inTenant(ds, A, (m) =>
      m.query(
        `INSERT INTO ingest_receipts (tenant_id, id, connector, principal, idempotency_key, status, lines, chunks, failure)
         VALUES ($1, $2, 'AWS_CLOUDTRAIL', 'tester@example.com', $3, 'FAILED', 2, 1,
                 'The queue did not take the whole body: nothing of it was stored. Send it again.')`,
        [A, receiptId, key],
      ),
    );
    const events = await count(A, "events");
    const body = [rootCall(6), rootCall(7), rootCall(8)].join("\n");
    expect(await queue(body, t.ingestor, { "Idempotency-Key": key })).toEqual({
      receiptId,
      status: "QUEUED",
      lines: 3,
    });
    expect(await settled(receiptId, t.ingestor)).toMatchObject({
      status: "DONE",
      lines: 3,
      acceptedCount: 3,
      failure: null,
    });
    expect(await count(A, "events")).toBe(events + 3);
  });

  it("stores a body sent again without a key as duplicates: no new event, no new alert", async () => {
    const body = [rootCall(3), rootCall(4), rootCall(5)].join("\n");
    const first = await settled((await queue(body, t.ingestor)).receiptId, t.ingestor);
    expect(first).toMatchObject({ status: "DONE", acceptedCount: 3, duplicateCount: 0 });
    const events = await count(A, "events");
    const alerts = await count(A, "alerts");
    const second = await queue(body, t.ingestor);
    expect(second.receiptId).not.toBe(first!.id);
    expect(await settled(second.receiptId, t.ingestor)).toMatchObject({
      status: "DONE",
      acceptedCount: 0,
      duplicateCount: 3,
    });
    expect(await count(A, "events")).toBe(events);
    expect(await count(A, "alerts")).toBe(alerts);
  });

  it("delivers a chunk again when its worker fails before the commit, and stores it once in effect", async () => {
    const body = Array.from({ length: 6 }, (_, i) => rootCall(10 + i)).join("\n");
    const flaky = await queue(body, t.flaky);
    const twin = await queue(body, t.twin);
    const [failedOnce, clean] = await Promise.all([
      settled(flaky.receiptId, t.flaky),
      settled(twin.receiptId, t.twin),
    ]);
    // The first delivery's transaction (events, alerts, receipt) rolled back; the second stored it.
    const admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    const [{ last_value: deliveries }] = (
      await admin.query(`SELECT last_value::int FROM siem.test_flaky_chunks`).finally(() => admin.end())
    ).rows as Array<{ last_value: number }>;
    expect(deliveries).toBe(2);
    expect(failedOnce).toMatchObject({
      status: "DONE",
      acceptedCount: 6,
      duplicateCount: 0,
      rejectedCount: 0,
    });
    expect(clean).toMatchObject({ status: "DONE", acceptedCount: 6 });
    expect(await count(FLAKY, "events")).toBe(6);
    expect(await count(FLAKY, "alerts")).toBe(await count(TWIN, "alerts"));
    expect(await count(FLAKY, "alerts")).toBe(6);
  });

  it("acknowledges a chunk delivered again after its commit (its ack lost) without storing it again", async () => {
    const body = [rootCall(20), rootCall(21)].join("\n");
    const queued = await queue(body, t.ingestor);
    const done = await settled(queued.receiptId, t.ingestor);
    const events = await count(A, "events");
    const alerts = await count(A, "alerts");
    // The same chunk once more, as JetStream would redeliver it to another worker.
    const h = natsHeaders();
    for (const [name, value] of Object.entries({
      "Rampart-Tenant": A,
      "Rampart-Connector": "AWS_CLOUDTRAIL",
      "Rampart-Principal": "tester%40example.com",
      "Rampart-Roles": "INGESTOR",
      "Rampart-Receipt": queued.receiptId,
      "Rampart-Attempt": "1",
      "Rampart-Chunk": "0",
      "Rampart-First-Line": "1",
    }))
      h.set(name, value);
    h.set(
      "Rampart-Signature",
      signChunk(chunkSigningKey(platform.config.internalTokenSecret), h, Buffer.from(body)),
    );
    await jetstream(nc).publish(names.subject, Buffer.from(body), { headers: h });
    await drained();
    expect(await receipt(queued.receiptId, t.ingestor)).toEqual(done);
    expect(await count(A, "events")).toBe(events);
    expect(await count(A, "alerts")).toBe(alerts);
  });

  it("drops a message that whoever can publish on the subject made up, and stores the same one signed by a SIEM", async () => {
    // A receipt waiting for its one chunk, as a SIEM leaves it once the body is queued.
    const receiptId = randomUUID();
    await inTenant(ds, A, (m) =>
      m.query(
        `INSERT INTO ingest_receipts (tenant_id, id, connector, principal, enqueued, lines, chunks)
         VALUES ($1, $2, 'AWS_CLOUDTRAIL', 'tester@example.com', true, 2, 1)`,
        [A, receiptId],
      ),
    );
    const body = Buffer.from([rootCall(25), rootCall(26)].join("\n"));
    const chunk = (key: Buffer | null) => {
      const h = natsHeaders();
      for (const [name, value] of Object.entries({
        "Rampart-Tenant": A,
        "Rampart-Connector": "AWS_CLOUDTRAIL",
        "Rampart-Principal": "tester%40example.com",
        "Rampart-Roles": "INGESTOR",
        "Rampart-Receipt": receiptId,
        "Rampart-Attempt": "1",
        "Rampart-Chunk": "0",
        "Rampart-First-Line": "1",
      }))
        h.set(name, value);
      if (key) h.set("Rampart-Signature", signChunk(key, h, body));
      return h;
    };
    const events = await count(A, "events");
    const js = jetstream(nc);
    await js.publish(names.subject, body, { headers: chunk(null) });
    await js.publish(names.subject, body, { headers: chunk(randomBytes(32)) });
    await drained();
    expect(await receipt(receiptId, t.ingestor)).toMatchObject({ status: "QUEUED", acceptedCount: 0 });
    expect(await count(A, "events")).toBe(events);

    await js.publish(names.subject, body, {
      headers: chunk(chunkSigningKey(platform.config.internalTokenSecret)),
    });
    expect(await settled(receiptId, t.ingestor)).toMatchObject({ status: "DONE", acceptedCount: 2 });
    expect(await count(A, "events")).toBe(events + 2);
  });

  it("marks the receipt FAILED, naming the lines, when a chunk fails on every delivery", async () => {
    const body = [rootCall(30), rootCall(31), rootCall(32)].join("\n");
    const queued = await queue(body, t.doomed);
    const failed = await settled(queued.receiptId, t.doomed);
    expect(failed).toMatchObject({ status: "FAILED", acceptedCount: 0 });
    expect(failed!.failure).toBe("Lines 1–3 could not be stored after 3 attempts; send them again.");
    expect(await count(DOOMED, "events")).toBe(0);
    await drained();
  });

  it("stores a chunk whose malformed lines quote a NUL or half an emoji, with their rejections in the receipt", async () => {
    // Found by the ingest fuzz: JSON.parse quotes the bad line in its message, and the receipt's jsonb refused
    // the NUL (or the surrogate its quote cut in half), so the chunk failed on every delivery, good lines and all.
    const tenant = "tenant-nul-line";
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    const body = [rootCall(70), `{"eventVersion":\u0000}`, "😀".repeat(8), rootCall(71)].join("\n");
    const queued = await queue(body, ingestor);
    const done = await settled(queued.receiptId, ingestor);
    expect(done).toMatchObject({
      status: "DONE",
      lines: 4,
      acceptedCount: 2,
      rejectedCount: 2,
      failure: null,
    });
    expect(done!.rejected).toEqual([
      { line: 2, reason: expect.stringMatching(/^malformed JSON: .*\uFFFD/) },
      { line: 3, reason: expect.stringMatching(/^malformed JSON: .*\uFFFD/) },
    ]);
    expect(await count(tenant, "events")).toBe(2);
  });

  it("counts a line too long for a queue message in the connector's rejected total, once", async () => {
    const tenant = "tenant-oversize";
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    const reader = await platform.token([Role.READER], tenant);
    const long = JSON.stringify({ ...JSON.parse(rootCall(60)), note: "x".repeat(1024 * 1024) });
    const body = [rootCall(61), long, rootCall(62)].join("\n");
    const key = `oversize-${randomUUID()}`;
    const queued = await queue(body, ingestor, { "Idempotency-Key": key });
    const done = await settled(queued.receiptId, reader);
    expect(done).toMatchObject({ status: "DONE", lines: 3, acceptedCount: 2, rejectedCount: 1 });
    expect(done!.rejected).toEqual([
      { line: 2, reason: expect.stringMatching(/more than one queue message holds/) },
    ]);
    // Sent again with its key: answered with the same receipt, and counted no second time.
    expect(await queue(body, ingestor, { "Idempotency-Key": key })).toMatchObject({
      receiptId: queued.receiptId,
      status: "DONE",
    });
    const connectors = ok(await platform.request(DataConnectorsDocument, {}, reader)).dataConnectors;
    expect(connectors.find((c) => c.kind === "AWS_CLOUDTRAIL")).toMatchObject({
      eventsTotal: 2,
      duplicatesTotal: 0,
      rejectedTotal: 1,
    });
  });

  it("forgets settled receipts a fortnight after their last change, in every tenant, and keeps newer and unsettled ones", async () => {
    const old = [randomUUID(), randomUUID()];
    const recent = randomUUID();
    // A backlog's receipts: their chunks may still be in the stream, so a worker must still find them.
    const [stalledQueued, stalledProcessing] = [randomUUID(), randomUUID()];
    for (const [tenant, id, age, status] of [
      [A, old[0], "15 days", "DONE"],
      [B, old[1], "20 days", "FAILED"],
      [A, recent, "13 days", "DONE"],
      [A, stalledQueued, "30 days", "QUEUED"],
      [B, stalledProcessing, "30 days", "PROCESSING"],
    ])
      await inTenant(ds, tenant, (m) =>
        m.query(
          `INSERT INTO ingest_receipts (tenant_id, id, connector, principal, status, enqueued, lines, chunks, updated_at)
           VALUES ($1, $2, 'AWS_CLOUDTRAIL', 'tester@example.com', $4, true, 0, 0, now() - $3::interval)`,
          [tenant, id, age, status],
        ),
      );
    expect(await pruneIngestReceipts(ds)).toBe(2);
    expect(await pruneIngestReceipts(ds)).toBe(0);
    expect(await receipt(old[0], t.reader)).toBeNull();
    expect(await receipt(old[1], t.readerB)).toBeNull();
    expect(await receipt(recent, t.reader)).toMatchObject({ status: "DONE" });
    expect(await receipt(stalledQueued, t.reader)).toMatchObject({ status: "QUEUED" });
    expect(await receipt(stalledProcessing, t.readerB)).toMatchObject({ status: "PROCESSING" });
  });

  it("shows a receipt to its own tenant only", async () => {
    const queued = await queue(rootCall(40), t.ingestor);
    await settled(queued.receiptId, t.reader);
    expect(await receipt(queued.receiptId, t.readerB)).toBeNull();
    expect(await receipt(randomUUID(), t.reader)).toBeNull();
  });

  it("refuses what the synchronous path refuses, before queueing anything", async () => {
    const seq = (await stream()).last_seq;
    const unknown = await post(rootCall(50), t.ingestor, {}, "NOPE");
    expect(unknown.status).toBe(400);
    const big = await post("x".repeat(platform.config.maxBodyBytes + 1), t.ingestor);
    expect(big.status).toBe(413);
    const badKey = await post(rootCall(51), t.ingestor, { "Idempotency-Key": "x".repeat(201) });
    expect(badKey.status).toBe(400);
    expect(
      ((await badKey.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions
        .code,
    ).toBe("BAD_USER_INPUT");
    const reader = await post(rootCall(52), t.reader);
    expect(reader.status).toBe(403);
    expect((await stream()).last_seq).toBe(seq);
  });

  it("shows on /metrics the chunks and lines the workers settled and the queue as JetStream and the receipts have it", async () => {
    const metrics = () => scrape(platform);
    const before = await metrics();
    const chunks = (m: Metrics, outcome: string) =>
      m.value("rampart_ingest_queue_chunks_total", { outcome }) ?? 0;
    const lines = (m: Metrics, outcome: string) =>
      m.value("rampart_ingest_queue_lines_total", { outcome }) ?? 0;

    const queued = await queue([plainCall(60), "not json", plainCall(61)].join("\n"), t.ingestor);
    expect(await settled(queued.receiptId, t.ingestor)).toMatchObject({ status: "DONE", acceptedCount: 2 });
    // A message whoever can publish on the subject made up: dropped unread.
    const h = natsHeaders();
    h.set("Rampart-Tenant", A);
    await jetstream(nc).publish(names.subject, Buffer.from(rootCall(62)), { headers: h });
    await drained();

    const after = await metrics();
    expect({
      stored: chunks(after, "stored") - chunks(before, "stored"),
      dropped: chunks(after, "dropped") - chunks(before, "dropped"),
      linesStored: lines(after, "stored") - lines(before, "stored"),
      linesRejected: lines(after, "rejected") - lines(before, "rejected"),
    }).toEqual({ stored: 1, dropped: 1, linesStored: 2, linesRejected: 1 });

    // The gauges are read at most every few seconds: they come to the drained stream's state.
    const stream = { stream: names.stream };
    await until(async () => {
      const m = await metrics();
      return (
        m.value("rampart_ingest_queue_pending_messages", stream) === 0 &&
        m.value("rampart_ingest_queue_unacknowledged_messages", stream) === 0 &&
        m.value("rampart_ingest_queue_redelivered_messages", stream) === 0 &&
        m.value("rampart_ingest_queue_stream_messages", stream) === 0 &&
        m.value("rampart_ingest_queue_stream_bytes", stream) === 0
      );
    }, "the queue gauges show the drained stream");

    // A body queued an hour ago and not finished, in some tenant: the age shows it, without naming the tenant.
    const stale = randomUUID();
    await inTenant(ds, B, (m) =>
      m.query(
        `INSERT INTO ingest_receipts (tenant_id, id, connector, principal, enqueued, lines, chunks, created_at)
         VALUES ($1, $2, 'AWS_CLOUDTRAIL', 'tester@example.com', true, 1, 1, now() - interval '1 hour')`,
        [B, stale],
      ),
    );
    try {
      await until(
        async () =>
          ((await metrics()).value("rampart_ingest_queue_oldest_receipt_age_seconds", stream) ?? 0) >= 3600,
        "the oldest receipt's age shows the stale receipt",
      );
    } finally {
      await inTenant(ds, B, (m) =>
        m.query(`DELETE FROM ingest_receipts WHERE tenant_id = $1 AND id = $2`, [B, stale]),
      );
    }
    const text = (await metrics()).text;
    expect(text).not.toMatch(/^rampart_ingest_queue_[^\n]*tenant/m);
  });
});

/** A scrape of the SIEM's /metrics: its text and the value of one sample. */
interface Metrics {
  text: string;
  value(name: string, labels: Record<string, string>): number | undefined;
}

async function scrape(platform: TestPlatform): Promise<Metrics> {
  const res = await fetch(platform.subgraphs.siem.url.replace(/\/graphql$/, "/metrics"));
  const text = await res.text();
  return {
    text,
    value: (name, labels) => {
      const want = Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .sort()
        .join(",");
      for (const line of text.split("\n")) {
        const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
        if (m && m[1] === name && (m[2] ?? "").split(",").sort().join(",") === want) return Number(m[3]);
      }
      return undefined;
    },
  };
}

/** The SIEM's /ready: its status code and body. */
async function readiness(platform: TestPlatform): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(platform.subgraphs.siem.url.replace(/\/graphql$/, "/ready"));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls `done` until it holds, or throws naming `what` after `timeoutMs`. */
async function until(done: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("queued event ingest: a chunk's last delivery that ends without an outcome", () => {
  const prefix = `RAMPART_TEST_${randomBytes(5).toString("hex").toUpperCase()}`;
  const names = queueNames(prefix);
  const ACK_WAIT_SECONDS = 5;
  const queueEnv = {
    EVENT_INGEST_QUEUE: "nats",
    NATS_URL: NATS,
    NATS_STREAM_PREFIX: prefix,
    EVENT_INGEST_ACK_WAIT_SECONDS: String(ACK_WAIT_SECONDS),
    EVENT_INGEST_MAX_DELIVER: "2",
  };
  /** The advisory lock a worker's last delivery of a marked chunk waits for while the test holds it. */
  const LOCK = 4711;
  let platform: TestPlatform;
  let ds: DataSource;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  /** The test database's superuser: installs the test trigger and holds LOCK. */
  let admin: Client;
  const children: ChildProcess[] = [];

  const { queue, receipt, settled, count, drained } = queueHarness(() => ({ platform, ds, jsm }), names);

  /** A SIEM replica in a process of its own (dist/, built by the global setup) on this database and stream. */
  const spawnSiem = (port: number): ChildProcess => {
    const child = spawn(process.execPath, ["dist/subgraphs/siem/src/main.js"], {
      env: {
        ...process.env,
        RAMPART_ENV: "test",
        LOG_LEVEL: "silent",
        DATABASE_URL: platform.db.url,
        DB_ROLE_PREFIX: platform.db.rolePrefix,
        DB_POOL_SIZE: "5",
        JOBS_ENABLED: "false",
        INTERNAL_TOKEN_SECRET: platform.config.internalTokenSecret,
        SIEM_PORT: String(port),
        ...queueEnv,
      },
      stdio: "ignore",
    });
    children.push(child);
    return child;
  };
  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once("exit", () => resolve()));
  /** How many transactions hold LOCK (`granted`) or wait for it. */
  const lockers = async (granted: boolean) => {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND objid = $1 AND granted = $2
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [LOCK, granted],
    );
    return rows[0].n;
  };
  /** Waits until a worker's transaction waits for LOCK: it holds the marked chunk's last delivery. */
  const lastDeliveryHeld = () =>
    until(async () => (await lockers(false)) > 0, "a worker holds the chunk's last delivery");
  /** Waits until no transaction holds or waits for LOCK: the one that waited has ended. */
  const lockFree = () =>
    until(async () => (await lockers(false)) + (await lockers(true)) === 0, "the held transaction ended");
  /**
   * A body of 1,000 CloudTrail records, more than one queue message holds: five root calls first (each raises an
   * alert of root-account-use), `marker` as the last record's event id (the test trigger acts on it).
   */
  const markedBody = (marker: string) => {
    const records = Array.from({ length: 1000 }, (_, i) => (i < 5 ? rootCall(100 + i) : plainCall(i)));
    records[999] = JSON.stringify({ ...(JSON.parse(plainCall(999)) as object), eventID: marker });
    return records.join("\n");
  };
  /** The first line of the lines a FAILED receipt names as lost with the last one: they were not stored. */
  const lostFrom = (failure: string | null | undefined) => {
    const lost =
      /^Lines (\d+)–1000 were not stored: the ingest worker that had them on their last attempt \(2 of 2\) stopped or did not finish in time; send them again\.$/.exec(
        failure ?? "",
      );
    expect(lost).not.toBeNull();
    return Number(lost![1]);
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false", ...queueEnv });
    ds = await platform.connect("siem");
    nc = await connect({ servers: NATS });
    jsm = await jetstreamManager(nc);
    for (const tenant of ["tenant-hung", "tenant-killed"]) {
      const token = await platform.token([Role.ADMIN], tenant);
      ok(await platform.request(CreateAnalyticsRuleDocument, { templateId: "root-account-use" }, token));
    }
    admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    // A marked record's first delivery fails (its worker naks it), its second and last waits for LOCK.
    for (const marker of ["lost_hung", "lost_killed"]) {
      await admin.query(`CREATE SEQUENCE siem.test_${marker}`);
      await admin.query(`GRANT USAGE ON SEQUENCE siem.test_${marker} TO PUBLIC`);
    }
    await admin.query(`CREATE FUNCTION siem.test_last_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval(format('siem.test_%s', replace(NEW.source_event_id, '-', '_'))::regclass) = 1 THEN
          RAISE EXCEPTION 'test: the first delivery of a marked chunk fails';
        END IF;
        PERFORM pg_advisory_xact_lock(${LOCK});
        RETURN NEW;
      END $$`);
    await admin.query(`CREATE TRIGGER test_last_delivery BEFORE INSERT ON siem.events FOR EACH ROW
      WHEN (NEW.source_event_id LIKE 'lost-%') EXECUTE FUNCTION siem.test_last_delivery()`);
  });

  afterAll(async () => {
    for (const child of children) {
      child.kill("SIGKILL");
      await exited(child);
    }
    await admin?.end();
    await platform?.stop();
    await jsm?.streams.delete(names.stream).catch(() => undefined);
    await nc?.close();
  });

  it("gives up a chunk whose worker hangs past the ack wait, and does not store it when that worker wakes", async () => {
    const tenant = "tenant-hung";
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    const reader = await platform.token([Role.READER], tenant);
    // Two replicas: this process's SIEM and one more; both idle, each with its pull for the next message.
    const replica = spawnSiem(await freePort());
    await until(
      async () => (await jsm.consumers.info(names.stream, names.consumer)).num_waiting >= 2,
      "both replicas wait for messages",
    );
    await admin.query(`SELECT pg_advisory_lock($1)`, [LOCK]);
    try {
      const queued = await queue(markedBody("lost-hung"), ingestor);
      await lastDeliveryHeld();
      // Its ack wait runs out: the other replica gets the chunk once more and gives it up.
      const failed = await settled(queued.receiptId, reader);
      expect(failed).toMatchObject({ status: "FAILED", lines: 1000, rejectedCount: 0 });
      const from = lostFrom(failed!.failure);
      expect(from).toBeGreaterThan(5);
      // The hung worker wakes: its transaction finds the chunk given up and rolls back its events and alerts.
      await admin.query(`SELECT pg_advisory_unlock($1)`, [LOCK]);
      await lockFree();
      await drained();
      const final = await receipt(queued.receiptId, reader);
      expect(final).toMatchObject({
        status: "FAILED",
        acceptedCount: from - 1,
        duplicateCount: 0,
        failure: failed!.failure,
      });
      expect(await count(tenant, "events")).toBe(from - 1);
      expect(await count(tenant, "alerts")).toBe(5);
    } finally {
      await admin.query(`SELECT pg_advisory_unlock_all()`);
      replica.kill("SIGTERM");
      await exited(replica);
    }
  }, 120_000);

  it("gives up a chunk whose worker is killed on its last delivery, once a SIEM is back, though none ran when the delivery ran out", async () => {
    const tenant = "tenant-killed";
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    const reader = await platform.token([Role.READER], tenant);
    // The only SIEM is a process of its own, on the port the gateway sends the ingest to.
    await platform.subgraphs.siem.close();
    const siem = spawnSiem(platform.subgraphs.siem.port);
    await until(
      async () =>
        (
          await fetch(
            `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=AWS_CLOUDTRAIL`,
            {
              method: "POST",
              headers: { authorization: `Bearer ${ingestor}`, "content-type": "application/x-ndjson" },
              body: "",
            },
          )
        ).status === 202,
      "the SIEM process queues",
    );
    await admin.query(`SELECT pg_advisory_lock($1)`, [LOCK]);
    let queued: Queued;
    try {
      queued = await queue(markedBody("lost-killed"), ingestor);
      await lastDeliveryHeld();
      siem.kill("SIGKILL");
      await exited(siem);
    } finally {
      await admin.query(`SELECT pg_advisory_unlock_all()`);
    }
    // Postgres rolls back the dead worker's transaction.
    await lockFree();
    // No SIEM runs while the last delivery's ack wait runs out (nor serves the receipt: it is read here).
    await new Promise((resolve) => setTimeout(resolve, (ACK_WAIT_SECONDS + 1) * 1000));
    expect(
      await inTenant(ds, tenant, (m) =>
        m.query(`SELECT status, failure FROM ingest_receipts WHERE tenant_id = $1 AND id = $2`, [
          tenant,
          queued.receiptId,
        ]),
      ),
    ).toEqual([{ status: "PROCESSING", failure: null }]);

    await platform.restartSubgraph("siem");
    const failed = await settled(queued.receiptId, reader);
    const from = lostFrom(failed!.failure);
    expect(from).toBeGreaterThan(5);
    await drained();
    expect(await receipt(queued.receiptId, reader)).toMatchObject({
      status: "FAILED",
      lines: 1000,
      acceptedCount: from - 1,
      duplicateCount: 0,
      rejectedCount: 0,
    });
    expect(await count(tenant, "events")).toBe(from - 1);
    expect(await count(tenant, "alerts")).toBe(5);
  }, 120_000);
});

describe("queued event ingest: the receipt sweep ends receipts whose chunks were dropped or lost", () => {
  const prefix = `RAMPART_TEST_${randomBytes(5).toString("hex").toUpperCase()}`;
  const names = queueNames(prefix);
  const queueEnv = {
    EVENT_INGEST_QUEUE: "nats",
    NATS_URL: NATS,
    NATS_STREAM_PREFIX: prefix,
    EVENT_INGEST_MAX_DELIVER: "2",
  };
  let platform: TestPlatform;
  let ds: DataSource;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let admin: Client;
  let replica: ChildProcess | undefined;
  let replicaUrl: string;
  let t: Record<"ingestor" | "reader" | "readerB", string>;

  const { post, receipt, settled, count, stream, drained } = queueHarness(
    () => ({ platform, ds, jsm }),
    names,
  );

  /** A receipt as a SIEM leaves it once its body is wholly queued; `lastSeq` its last message's sequence. */
  const openReceipt = async (
    tenant: string,
    r: { lines: number; chunks: number; status?: string; chunksDone?: number[]; lastSeq?: number | null },
  ) => {
    const id = randomUUID();
    await inTenant(ds, tenant, (m) =>
      m.query(
        `INSERT INTO ingest_receipts (tenant_id, id, connector, principal, status, enqueued, lines, chunks, chunks_done, last_seq)
         VALUES ($1, $2, 'AWS_CLOUDTRAIL', 'tester@example.com', $3, true, $4, $5, $6::int[], $7)`,
        [tenant, id, r.status ?? "QUEUED", r.lines, r.chunks, r.chunksDone ?? [], r.lastSeq ?? null],
      ),
    );
    return id;
  };
  /** Moves a receipt's last change back, past the sweep's deadline. */
  const age = (tenant: string, id: string) =>
    inTenant(ds, tenant, (m) =>
      m.query(
        `UPDATE ingest_receipts SET updated_at = now() - interval '1 hour' WHERE tenant_id = $1 AND id = $2`,
        [tenant, id],
      ),
    );
  /** A chunk of `receiptId` as a SIEM queues it, signed with `key`. */
  const chunk = (receiptId: string, index: number, firstLine: number, body: Buffer, key: Buffer) => {
    const h = natsHeaders();
    for (const [name, value] of Object.entries({
      "Rampart-Tenant": A,
      "Rampart-Connector": "AWS_CLOUDTRAIL",
      "Rampart-Principal": "tester%40example.com",
      "Rampart-Roles": "INGESTOR",
      "Rampart-Receipt": receiptId,
      "Rampart-Attempt": "1",
      "Rampart-Chunk": String(index),
      "Rampart-First-Line": String(firstLine),
    }))
      h.set(name, value);
    h.set("Rampart-Signature", signChunk(key, h, body));
    return h;
  };
  /** Runs the sweep once in the replica's job runner (graphile-worker) and waits until that job is done. */
  const sweep = async () => {
    const { rows } = await admin.query<{ id: string }>(
      `SELECT id FROM siem_jobs.add_job('ingest_receipts_sweep')`,
    );
    await until(
      async () =>
        (await admin.query(`SELECT 1 FROM siem_jobs.jobs WHERE id = $1`, [rows[0].id])).rowCount === 0,
      "the sweep job ran",
    );
  };
  const expiredChunks = async () => {
    const text = await (await fetch(`${replicaUrl}/metrics`)).text();
    const m = /^rampart_ingest_queue_chunks_total\{outcome="expired"\} (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false", ...queueEnv });
    t = await platform.tokens({
      ingestor: [[Role.INGESTOR], A],
      reader: [[Role.READER], A],
      readerB: [[Role.READER], B],
    });
    ds = await platform.connect("siem");
    nc = await connect({ servers: NATS });
    jsm = await jetstreamManager(nc);
    admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    // A second SIEM replica in a process of its own, the only one with a job runner: the sweep runs there.
    const port = await freePort();
    replicaUrl = `http://127.0.0.1:${port}`;
    replica = spawn(process.execPath, ["dist/subgraphs/siem/src/main.js"], {
      env: {
        ...process.env,
        RAMPART_ENV: "test",
        LOG_LEVEL: "silent",
        DATABASE_URL: platform.db.url,
        DB_ROLE_PREFIX: platform.db.rolePrefix,
        DB_POOL_SIZE: "5",
        JOBS_ENABLED: "true",
        INTERNAL_TOKEN_SECRET: platform.config.internalTokenSecret,
        SIEM_PORT: String(port),
        ...queueEnv,
      },
      stdio: "ignore",
    });
    await until(
      async () => (await fetch(`${replicaUrl}/ready`).catch(() => null))?.status === 200,
      "the SIEM replica is ready",
    );
    await until(async () => (await post("", t.ingestor)).status === 202, "the ingest queue is up");
  });

  afterAll(async () => {
    if (replica && replica.exitCode === null && replica.signalCode === null) {
      const exited = new Promise((resolve) => replica!.once("exit", resolve));
      replica.kill("SIGKILL");
      await exited;
    }
    await admin?.end();
    await platform?.stop();
    await jsm?.streams.delete(names.stream).catch(() => undefined);
    await nc?.close();
  });

  it("ends FAILED, past its deadline, a receipt whose chunk was dropped for its signature; leaves a healthy one and other tenants' as they are", async () => {
    const deadline = receiptDeadlineSeconds(platform.config.eventQueue);
    expect(deadline).toBe(60 * 2 + 300);
    const key = chunkSigningKey(platform.config.internalTokenSecret);
    // A body of two chunks: the first signed by a SIEM, the second with a signature that does not verify (a
    // SIEM on a rotated secret whose old value nobody accepts any more).
    const receiptId = await openReceipt(A, { lines: 4, chunks: 2 });
    const first = Buffer.from([rootCall(70), rootCall(71)].join("\n"));
    const second = Buffer.from([rootCall(72), rootCall(73)].join("\n"));
    const js = jetstream(nc);
    await js.publish(names.subject, first, { headers: chunk(receiptId, 0, 1, first, key) });
    const dropped = await js.publish(names.subject, second, {
      headers: chunk(receiptId, 1, 3, second, randomBytes(32)),
    });
    await inTenant(ds, A, (m) =>
      m.query(`UPDATE ingest_receipts SET last_seq = $3 WHERE tenant_id = $1 AND id = $2`, [
        A,
        receiptId,
        dropped.seq,
      ]),
    );
    await drained();
    expect(await receipt(receiptId, t.reader)).toMatchObject({ status: "PROCESSING", acceptedCount: 2 });
    const events = await count(A, "events");
    // Another tenant's: a body whose one message was lost from the stream (sequence 1 is long gone), and a
    // healthy body in progress (a chunk stored a moment ago).
    const lost = await openReceipt(B, { lines: 3, chunks: 1, lastSeq: 1 });
    await age(B, lost);
    const healthy = await openReceipt(B, {
      lines: 9,
      chunks: 3,
      status: "PROCESSING",
      chunksDone: [0],
      lastSeq: 1,
    });
    const before = await expiredChunks();

    // Within its deadline, nothing of tenant A's is ended.
    await sweep();
    expect(await receipt(receiptId, t.reader)).toMatchObject({ status: "PROCESSING", failure: null });
    const lostReceipt = await receipt(lost, t.readerB);
    expect(lostReceipt).toMatchObject({ status: "FAILED", acceptedCount: 0 });
    expect(lostReceipt!.failure).toBe(
      "1 of 1 parts of this body were not processed within 7 minutes and the queue no longer holds them (dropped or lost): their lines were not stored. Send the body again; records stored already count as duplicates.",
    );

    await age(A, receiptId);
    await sweep();
    const failed = await settled(receiptId, t.reader);
    expect(failed).toMatchObject({ status: "FAILED", lines: 4, acceptedCount: 2 });
    expect(failed!.failure).toMatch(/^1 of 2 parts of this body were not processed within 7 minutes /);
    expect(await receipt(healthy, t.readerB)).toMatchObject({ status: "PROCESSING", failure: null });
    // Each tenant sees its own receipts only.
    expect(await receipt(receiptId, t.readerB)).toBeNull();
    expect(await receipt(lost, t.reader)).toBeNull();
    expect((await expiredChunks()) - before).toBe(2);

    // The dropped chunk turns up after all, signed by a SIEM: the receipt's word stands, nothing is stored.
    await js.publish(names.subject, second, { headers: chunk(receiptId, 1, 3, second, key) });
    await drained();
    expect(await receipt(receiptId, t.reader)).toEqual(failed);
    expect(await count(A, "events")).toBe(events);
  }, 90_000);

  it("leaves a stalled receipt alone while the stream still holds its messages (a backlog), however old", async () => {
    const { last_seq: last } = await stream();
    const waiting = await openReceipt(A, { lines: 2, chunks: 1, lastSeq: last + 1 });
    await age(A, waiting);
    // Its message is in the stream, behind others the workers have not reached.
    expect(await sweepStalledReceipts(ds, { first: last + 1, last: last + 5 }, 60)).toEqual([]);
    expect(await receipt(waiting, t.reader)).toMatchObject({ status: "QUEUED" });
    // The stream has moved past it: acknowledged, dropped or purged.
    expect(await sweepStalledReceipts(ds, { first: last + 2, last: last + 5 }, 60)).toEqual([
      { tenantId: A, id: waiting, missingChunks: 1, chunks: 1 },
    ]);
    expect(await receipt(waiting, t.reader)).toMatchObject({ status: "FAILED" });
  });
});

describe("queued event ingest with NATS unreachable", () => {
  let platform: TestPlatform;

  beforeAll(async () => {
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      EVENT_INGEST_QUEUE: "nats",
      // Nothing listens on port 1.
      NATS_URL: "nats://127.0.0.1:1",
      NATS_STREAM_PREFIX: `RAMPART_TEST_${randomBytes(5).toString("hex").toUpperCase()}`,
    });
  });
  afterAll(() => platform?.stop());

  it("answers 503 UNAVAILABLE and records nothing", async () => {
    const token = await platform.token([Role.INGESTOR], A);
    const res = await fetch(
      `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=OCSF`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
        body: '{"class_uid": 4001}\n',
      },
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const body = (await res.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors).toEqual([
      {
        message: expect.stringMatching(/not reachable: nothing was queued/),
        extensions: { code: "UNAVAILABLE" },
      },
    ]);
    const ds = await platform.connect("siem");
    const rows: unknown[] = await inTenant(ds, A, (m) => m.query(`SELECT id FROM ingest_receipts`));
    expect(rows).toEqual([]);
    // The rest of the SIEM answers as usual.
    const reader = await platform.token([Role.READER], A);
    expect(
      ok(await platform.request(IngestReceiptDocument, { id: randomUUID() }, reader)).ingestReceipt,
    ).toBeNull();
    // Its readiness says why, so that a load balancer sends ingest to a replica that can queue it.
    expect(await readiness(platform)).toEqual({
      status: 503,
      body: {
        status: "unavailable",
        service: "siem",
        reason: expect.stringMatching(/NATS JetStream\) is not reachable/),
      },
    });
  });
});

describe("queued event ingest: readiness follows the NATS connection", () => {
  let platform: TestPlatform;
  let port: number;
  let dir: string;
  let server: ChildProcess | undefined;

  /** A NATS server with JetStream of this test's own, on `port`, its data in `dir` (kept across restarts). */
  const startNats = async () => {
    server = spawn("/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], {
      stdio: "ignore",
    });
    await until(async () => {
      const nc = await connect({ servers: `nats://127.0.0.1:${port}` }).catch(() => null);
      await nc?.close();
      return nc !== null;
    }, "the test's NATS server listens");
  };
  const stopNats = async () => {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    dir = mkdtempSync(path.join(tmpdir(), "rampart-nats-"));
    await startNats();
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      EVENT_INGEST_QUEUE: "nats",
      NATS_URL: `nats://127.0.0.1:${port}`,
      NATS_STREAM_PREFIX: `RAMPART_TEST_${randomBytes(5).toString("hex").toUpperCase()}`,
    });
  });
  afterAll(async () => {
    await platform?.stop();
    await stopNats();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers 503 with the reason while NATS is down, and 200 once it is back", async () => {
    const ready = async () => (await readiness(platform)).status === 200;
    await until(ready, "the SIEM is ready with its queue connected");

    await stopNats();
    await until(async () => (await readiness(platform)).status === 503, "the SIEM is not ready");
    expect(await readiness(platform)).toEqual({
      status: 503,
      body: {
        status: "unavailable",
        service: "siem",
        reason:
          "The event-ingest queue (NATS JetStream) is not reachable: POST /ingest/events answers 503 until it is.",
      },
    });

    await startNats();
    await until(ready, "the SIEM is ready again", 60_000);
    // And ingest queues again.
    const token = await platform.token([Role.INGESTOR], A);
    const res = await fetch(
      `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=AWS_CLOUDTRAIL`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
        body: rootCall(70),
      },
    );
    expect(res.status).toBe(202);
  }, 120_000);
});
