import { register, type Counter } from "prom-client";
import type { DataSource } from "typeorm";
import {
  CreateAnalyticsRuleDocument,
  DataConnectorsDocument,
  EntityPageDocument,
  ImportStixBundleDocument,
  RunHuntDocument,
  SetDataConnectorDocument,
  SiemAlertsDocument,
} from "./__generated__/graphql";
import {
  createLogger,
  inSystemScope,
  inTenant,
  InternalTokens,
  Role,
  writeOutbox,
} from "../subgraphs/common/src";
import { IngestActivity } from "../subgraphs/protection/src/modules/telemetry/ingest-activity";
import {
  siemTelemetryDelivery,
  TELEMETRY_RECORDED,
  writeTelemetryOutbox,
} from "../subgraphs/protection/src/modules/telemetry/siem-relay";
import {
  parseTelemetryRecord,
  type TelemetryRecord,
} from "../subgraphs/protection/src/modules/telemetry/telemetry.model";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/** A payload the agents report running, as a threat feed lists it. */
const MINER_SHA256 = "5d2c4f7e9a1b3c8d6e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d";
const INDICATORS = {
  type: "bundle",
  id: "bundle--0b5a6c1e-2d3f-4a5b-8c6d-7e8f9a0b1c2d",
  objects: [
    {
      type: "indicator",
      spec_version: "2.1",
      id: "indicator--0b5a6c1e-2d3f-4a5b-8c6d-7e8f9a0b1c01",
      created: "2026-11-01T00:00:00.000Z",
      modified: "2026-11-01T00:00:00.000Z",
      name: "Cryptominer payload",
      pattern: `[file:hashes.'SHA-256' = '${MINER_SHA256}']`,
      pattern_type: "stix",
      valid_from: "2026-11-01T00:00:00Z",
      confidence: 90,
    },
  ],
};
const NRT_RULE = {
  kind: "NRT",
  displayName: "Process started from /tmp on a workload",
  description: "An executable under /tmp, reported by the Rampart agent.",
  severity: "HIGH",
  filter: {
    all: [
      { field: "connector", op: "eq", value: "RAMPART_AGENT" },
      { field: "class_uid", op: "eq", value: 1007 },
      { field: "attributes.process.path", op: "startsWith", value: "/tmp/" },
    ],
  },
  entityMappings: [{ entityType: "HOST", field: "device" }],
  alertPerResult: true,
};

const HOUR = 3_600_000;
const RESOURCE_A = "3dafd86a-82f7-47d7-8018-63f28fe05d5d";
const RESOURCE_B = "9f525b04-47c3-487a-9b37-e8d8124d8161";
const RESOURCE_C = "c3a1e0d2-5b7f-4c9e-8a6d-2f4b6d8e0a1c";
const RESOURCE_D = "d4b2f1e3-6c8a-4d0f-9b7e-3a5c7e9f1b2d";

/** A record as the ingest keeps it (what the relay's rows hold). */
function parsedRecord(value: Record<string, unknown>): TelemetryRecord {
  const parsed = parseTelemetryRecord(value);
  if ("reason" in parsed) throw new Error(parsed.reason);
  return parsed.record;
}

/** One machine's telemetry: a process (the miner), a file change, a flow and a failed logon. */
function records(resourceId: string, host: string, tag: string, at = Date.now() - HOUR) {
  const time = (s: number) => new Date(at + s * 1000).toISOString();
  return [
    {
      kind: "process",
      id: `p-${tag}`,
      resourceId,
      time: time(0),
      host,
      pid: 4242,
      parentPid: 1,
      image: "/tmp/.x/kdevtmpfsi",
      commandLine: "/tmp/.x/kdevtmpfsi -o pool.example:3333",
      user: "www-data",
      sha256: MINER_SHA256,
      parentImage: "/usr/bin/bash",
    },
    {
      kind: "file",
      id: `f-${tag}`,
      resourceId,
      time: time(1),
      host,
      action: "modified",
      path: "/etc/crontab",
      sha256: "a".repeat(64),
      user: "root",
    },
    {
      kind: "flow",
      id: `n-${tag}`,
      resourceId,
      time: time(2),
      host,
      direction: "outbound",
      protocol: "TCP",
      srcIp: "10.0.0.5",
      srcPort: 50123,
      dstIp: "198.51.100.23",
      dstPort: 3333,
      bytes: 1200,
      packets: 9,
      action: "allowed",
    },
    {
      kind: "logon",
      id: `l-${tag}`,
      resourceId,
      time: time(3),
      host,
      user: "root",
      logonType: "ssh",
      srcIp: "203.0.113.9",
      success: false,
      failureReason: "wrong password",
    },
  ];
}
const ndjson = (rs: unknown[]) => rs.map((r) => JSON.stringify(r)).join("\n") + "\n";

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = register.getSingleMetric(name) as Counter<string> | undefined;
  if (!m) return 0;
  return (await m.get()).values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((sum, v) => sum + v.value, 0);
}

describe("agent telemetry in the SIEM: relayed as RAMPART_AGENT events", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let origin: string;
  let t: Record<string, string>;
  const window = () => ({
    from: new Date(Date.now() - 2 * 86_400_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
  });

  const ingest = async (body: string, token: string) => {
    const res = await fetch(`${origin}/ingest/telemetry`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${token}` },
      body,
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { accepted: number; rejected: unknown[] };
  };
  const hunt = async (query: string, token: string) =>
    ok(await platform.request(RunHuntDocument, { query, ...window() }, token)).runHunt.rows as Array<
      Record<string, unknown>
    >;
  const agentEvents = (token: string) =>
    hunt(
      `Events | where connector == "RAMPART_AGENT" | project source_event_id, class_uid, device, resource_id | order by source_event_id asc`,
      token,
    );
  const timeline = async (host: string, token: string) =>
    ok(await platform.request(EntityPageDocument, { type: "HOST", value: host, ...window() }, token)).entity
      ?.timeline;
  const alerts = async (token: string) =>
    ok(await platform.request(SiemAlertsDocument, { first: 100 }, token)).alerts.nodes;
  const agentConnector = async (token: string) =>
    ok(await platform.request(DataConnectorsDocument, {}, token)).dataConnectors.find(
      (c) => c.kind === "RAMPART_AGENT",
    )!;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    origin = platform.gateway.url.replace(/\/graphql$/, "");
    t = await platform.tokens({
      admin: [[Role.ADMIN], "tenant-a"],
      adminB: [[Role.ADMIN], "tenant-b"],
      ingestor: [[Role.INGESTOR], "tenant-a"],
      analyst: [[Role.ANALYST], "tenant-a"],
      reader: [[Role.READER], "tenant-a"],
      ingestorB: [[Role.INGESTOR], "tenant-b"],
      analystB: [[Role.ANALYST], "tenant-b"],
      readerB: [[Role.READER], "tenant-b"],
      analystC: [[Role.ANALYST], "tenant-c"],
      analystP: [[Role.ANALYST], "tenant-pace"],
    });
    ds = await platform.connect("protection");
    expect(
      ok(await platform.request(ImportStixBundleDocument, { bundle: INDICATORS }, t.admin)).importStixBundle,
    ).toMatchObject({ createdCount: 1, problems: [] });
    ok(await platform.request(CreateAnalyticsRuleDocument, { spec: NRT_RULE }, t.admin));
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("turns process, file, flow and logon records into OCSF events of the machine, in hunting and its timeline", async () => {
    expect(await ingest(ndjson(records(RESOURCE_A, "vm-web-prod-01", "a1")), t.ingestor)).toMatchObject({
      accepted: 4,
      rejected: [],
    });
    await eventually(
      "the relay delivered tenant-a's telemetry",
      async () => (await agentEvents(t.analyst)).length === 4,
    );
    const events = await agentEvents(t.analyst);
    expect(events.map((e) => [e.class_uid, e.device, e.resource_id]).sort()).toEqual([
      [1001, "vm-web-prod-01", RESOURCE_A],
      [1007, "vm-web-prod-01", RESOURCE_A],
      [3002, "vm-web-prod-01", RESOURCE_A],
      [4001, "vm-web-prod-01", RESOURCE_A],
    ]);
    // The hunting example of docs/api.md.
    const [process] = await hunt(
      `ProcessActivity | where connector == "RAMPART_AGENT" and tostring(attributes.process.path) startswith "/tmp/" | project time, device, resource_id, actor_user, cmd = tostring(attributes.process.cmd_line), sha256 = tostring(attributes.process.file.hashes.sha256), parent = tostring(attributes.process.parent_process.path)`,
      t.analyst,
    );
    expect(process).toEqual({
      time: expect.any(String),
      device: "vm-web-prod-01",
      resource_id: RESOURCE_A,
      actor_user: "www-data",
      cmd: "/tmp/.x/kdevtmpfsi -o pool.example:3333",
      sha256: MINER_SHA256,
      parent: "/usr/bin/bash",
    });
    const [flow] = await hunt(
      `NetworkActivity | where connector == "RAMPART_AGENT" | project src_ip, src_port, dst_ip, dst_port, direction = tostring(attributes.connection_info.direction)`,
      t.analyst,
    );
    expect(flow).toEqual({
      src_ip: "10.0.0.5",
      src_port: 50123,
      dst_ip: "198.51.100.23",
      dst_port: 3333,
      direction: "Outbound",
    });
    const [logon] = await hunt(
      `Authentication | where connector == "RAMPART_AGENT" | project actor_user, status, src_ip`,
      t.analyst,
    );
    expect(logon).toEqual({ actor_user: "root", status: "Failure", src_ip: "203.0.113.9" });
    const line = await timeline("vm-web-prod-01", t.reader);
    expect(line?.nodes.map((n) => [n.connector, n.classUid]).sort()).toEqual([
      ["RAMPART_AGENT", 1001],
      ["RAMPART_AGENT", 1007],
      ["RAMPART_AGENT", 3002],
      ["RAMPART_AGENT", 4001],
    ]);
    expect(await agentConnector(t.reader)).toMatchObject({ status: "CONNECTED", eventsTotal: 4 });
  });

  it("raises a TI_MATCH alert on a process whose SHA-256 an indicator lists, and fires an NRT rule on agent process events", async () => {
    await eventually("the alerts are raised", async () => {
      const mine = await alerts(t.reader);
      return (
        mine.some((a) => a.provider === "TI_MATCH") && mine.some((a) => a.title === NRT_RULE.displayName)
      );
    });
    const mine = await alerts(t.reader);
    const ti = mine.filter((a) => a.provider === "TI_MATCH");
    expect(ti.length).toBe(1);
    expect(ti[0].entities).toEqual(
      expect.arrayContaining([
        { type: "HOST", value: "vm-web-prod-01" },
        { type: "FILE_HASH", value: MINER_SHA256 },
      ]),
    );
    const nrt = mine.filter((a) => a.title === NRT_RULE.displayName);
    expect(nrt.length).toBe(1);
    expect(nrt[0].entities).toEqual(expect.arrayContaining([{ type: "HOST", value: "vm-web-prod-01" }]));
  });

  it("keeps tenants apart: tenant-b's telemetry is only in tenant-b's events", async () => {
    expect(await ingest(ndjson(records(RESOURCE_B, "vm-dev-02", "b1")), t.ingestorB)).toMatchObject({
      accepted: 4,
    });
    await eventually(
      "the relay delivered tenant-b's telemetry",
      async () => (await agentEvents(t.analystB)).length === 4,
    );
    expect((await agentEvents(t.analystB)).every((e) => e.device === "vm-dev-02")).toBe(true);
    expect((await agentEvents(t.analyst)).some((e) => e.device === "vm-dev-02")).toBe(false);
    expect((await agentEvents(t.analyst)).length).toBe(4);
    expect((await timeline("vm-dev-02", t.reader))?.totalCount ?? 0).toBe(0);
    expect((await timeline("vm-dev-02", t.readerB))?.totalCount).toBe(4);
  });

  it("holds telemetry while the SIEM is down, delivers it after the restart, and stores nothing new when redelivered", async () => {
    const failedBefore = await metric("rampart_relay_failed_total", {
      consumer: "siem-telemetry",
      kind: "attempt",
    });
    await platform.subgraphs.siem.close();
    expect(await ingest(ndjson(records(RESOURCE_A, "vm-web-prod-01", "a2")), t.ingestor)).toMatchObject({
      accepted: 4,
    });
    await eventually(
      "the relay tried and failed",
      async () =>
        (await metric("rampart_relay_failed_total", { consumer: "siem-telemetry", kind: "attempt" })) >
        failedBefore,
    );
    await platform.restartSubgraph("siem");
    await eventually(
      "the relay delivered after the restart",
      async () => (await agentEvents(t.analyst)).length === 8,
    );

    // Forced redelivery: the offset goes back to the start; every record is sent again and is a duplicate.
    const before = await agentEvents(t.analyst);
    const connector = await agentConnector(t.reader);
    const alertsBefore = (await alerts(t.reader)).length;
    const deliveredBefore = await metric("rampart_relay_delivered_total", { consumer: "siem-telemetry" });
    await inSystemScope(ds, (m) =>
      m.query(`UPDATE relay_offsets SET xid = '0', seq = 0 WHERE consumer = 'siem-telemetry'`),
    );
    await eventually(
      "the relay sent everything again",
      async () =>
        (await metric("rampart_relay_delivered_total", { consumer: "siem-telemetry" })) >=
        deliveredBefore + 12,
    );
    expect(await agentEvents(t.analyst)).toEqual(before);
    expect((await agentEvents(t.analystB)).length).toBe(4);
    const after = await agentConnector(t.reader);
    expect(after.eventsTotal).toBe(connector.eventsTotal);
    expect(after.duplicatesTotal).toBe(connector.duplicatesTotal + 8);
    // Nothing re-delivered raised an alert again.
    expect(await alerts(t.reader)).toHaveLength(alertsBefore);
  });

  it("skips a tenant's telemetry while its ADMIN has RAMPART_AGENT disabled, and relays the other tenants'", async () => {
    ok(
      await platform.request(
        SetDataConnectorDocument,
        { input: { kind: "RAMPART_AGENT", enabled: false } },
        t.adminB,
      ),
    );
    const countA = (await agentEvents(t.analyst)).length;
    // tenant-b's records first: a relay that retried the SIEM's 409 would never get to tenant-a's.
    expect(await ingest(ndjson(records(RESOURCE_B, "vm-dev-02", "b2")), t.ingestorB)).toMatchObject({
      accepted: 4,
    });
    expect(await ingest(ndjson(records(RESOURCE_A, "vm-web-prod-01", "a3")), t.ingestor)).toMatchObject({
      accepted: 4,
    });
    await eventually(
      "the relay delivered tenant-a's telemetry",
      async () => (await agentEvents(t.analyst)).length === countA + 4,
    );
    expect(await agentEvents(t.analystB)).toHaveLength(4);
    expect(await agentConnector(t.readerB)).toMatchObject({ status: "DISABLED", eventsTotal: 4 });
  });
  it("delivers telemetry.recorded rows written before the body column (their records in the payload)", async () => {
    // A row as the ingest wrote them before migration 1767390000000: up to 500 records as jsonb, no body.
    const legacy = records(RESOURCE_C, "vm-legacy-04", "old").map((r) => parsedRecord(r));
    await inTenant(ds, "tenant-c", (m) =>
      writeOutbox(m, [
        { tenantId: "tenant-c", topic: TELEMETRY_RECORDED, key: RESOURCE_C, payload: { records: legacy } },
      ]),
    );
    await eventually(
      "the relay delivered the legacy row",
      async () => (await agentEvents(t.analystC)).length === 4,
    );
    expect((await agentEvents(t.analystC)).every((e) => e.device === "vm-legacy-04")).toBe(true);
  });

  /**
   * Writes one telemetry.recorded row of `batch` and hands it to a delivery of its own, in one transaction that
   * never commits: the platform's relay never sees the row, so every call the SIEM gets is this delivery's.
   * Resolves with the delivery's outcome.
   */
  const deliverUncommitted = async (
    tenant: string,
    batch: TelemetryRecord[],
    options: { activity: IngestActivity; linesPerCall: number; busyShare?: number },
  ) => {
    const delivery = siemTelemetryDelivery({
      siemUrl: platform.config.subgraphUrls.siem,
      maxBodyBytes: platform.config.maxBodyBytes,
      tokens: new InternalTokens(platform.config.internalTokenSecret),
      log: createLogger("test", "silent"),
      ...options,
    });
    class RolledBack extends Error {
      constructor(readonly result: unknown) {
        super("rolled back");
      }
    }
    return inTenant(ds, tenant, async (m) => {
      await writeTelemetryOutbox(m, tenant, batch);
      const [row] = (await m.query(
        `SELECT xid::text AS xid, seq::text AS seq, key, payload, at FROM outbox WHERE topic = $1 AND xid = pg_current_xact_id()`,
        [TELEMETRY_RECORDED],
      )) as Array<{ xid: string; seq: string; key: string; payload: Record<string, unknown>; at: Date }>;
      expect(row.payload).toEqual({ lines: batch.length });
      const outbox = { ...row, tenantId: tenant, topic: TELEMETRY_RECORDED, cursor: "" };
      const position = { xid: row.xid, seq: row.seq };
      throw new RolledBack(await delivery([{ ...outbox, position }], m, new AbortController().signal));
    }).catch((err: unknown) => {
      if (err instanceof RolledBack) return err.result;
      throw err;
    });
  };
  /** An ingest batch in flight on a clock the test moves: waits end when the ingest is quiet, not on the wall clock. */
  const busyIngest = () => {
    const clock = { now: 0 };
    const activity = new IngestActivity(() => clock.now);
    let release!: () => void;
    const inFlight = activity.track(() => new Promise<void>((r) => (release = r)));
    return { clock, activity, end: () => (release(), inFlight) };
  };
  const twoBatches = (resourceId: string, host: string) =>
    [...records(resourceId, host, "p1"), ...records(resourceId, host, "p2")].map((r) => parsedRecord(r));

  it("gives way to a busy ingest: after a call it waits while batches are in flight, then goes on", async () => {
    const batch = twoBatches(RESOURCE_D, "vm-pace-05");
    const ingest = busyIngest();
    const outcome = deliverUncommitted("tenant-pace", batch, { activity: ingest.activity, linesPerCall: 3 });
    await eventually("the first call arrived", async () => (await agentEvents(t.analystP)).length === 3);
    // The ingest stays busy: no second call, however long the first one took.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await agentEvents(t.analystP)).length).toBe(3);
    await ingest.end();
    ingest.clock.now += 500;
    await expect(outcome).resolves.toEqual({ delivered: 8, rejected: 0 });
    const events = await agentEvents(t.analystP);
    expect(new Set(events.map((e) => e.source_event_id)).size).toBe(8);
    expect(events.every((e) => e.device === "vm-pace-05" && e.resource_id === RESOURCE_D)).toBe(true);
  });

  it("never waits with TELEMETRY_RELAY_BUSY_SHARE=1, however busy the ingest", async () => {
    const ingest = busyIngest();
    const outcome = deliverUncommitted("tenant-c", twoBatches(RESOURCE_C, "vm-busy-06"), {
      activity: ingest.activity,
      linesPerCall: 3,
      busyShare: 1,
    });
    await expect(outcome).resolves.toEqual({ delivered: 8, rejected: 0 });
    await ingest.end();
  });
});
