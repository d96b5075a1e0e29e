import type { DataSource } from "typeorm";
import { DataConnectorsDocument } from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * Connectors as an integrator shipping real logs sees them, through the gateway on a real database: records in
 * the public shapes the sources emit (written here from the public formats) are stored once however often they
 * are sent, and `dataConnectors` tells a working connector from one whose records are all refused.
 */

const A = "tenant-a";
const B = "tenant-b";
const MINUTE = 60_000;

/** An Azure Activity event as diagnostic settings write it to a storage account or event hub: no event id. */
const azureExport = (at: number, resultType: "Start" | "Success", vm: string) => ({
  time: new Date(at).toISOString().replace("Z", "1234Z"),
  resourceId: `/SUBSCRIPTIONS/6C1F3B2A-9D4E-4F7A-8B25-3E9D0C7A1F42/RESOURCEGROUPS/RG-WEB/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/${vm}`,
  operationName: "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
  category: "Administrative",
  resultType,
  resultSignature: resultType === "Start" ? "Started." : "Succeeded.Created",
  durationMs: resultType === "Start" ? 0 : 3870,
  callerIpAddress: "203.0.113.41",
  correlationId: `5b0e8c61-0d0f-4c6e-9a57-${vm
    .toLowerCase()
    .replace(/[^0-9a-f]/g, "0")
    .padEnd(12, "0")
    .slice(0, 12)}`,
  identity: {
    authorization: {
      scope: `/subscriptions/6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/${vm.toLowerCase()}`,
      action: "Microsoft.Compute/virtualMachines/write",
    },
    claims: { "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "lee.gu@contoso.com" },
  },
  level: "Information",
  location: "global",
  properties: { statusCode: resultType === "Start" ? "Accepted" : "Created" },
});

/** An OCSF Network Activity (flow) event without `metadata.uid`, as flow-log converters emit it. */
const ocsfFlow = (at: number, srcPort: number) => ({
  class_uid: 4001,
  activity_id: 6,
  category_uid: 4,
  type_uid: 400106,
  time: at,
  severity_id: 1,
  src_endpoint: { ip: "10.1.2.7", port: srcPort },
  dst_endpoint: { ip: "198.51.100.23", port: 443 },
  connection_info: { protocol_num: 6, direction_id: 2 },
  traffic: { bytes: 5120, packets: 9 },
  metadata: { version: "1.1.0", product: { name: "VPC Flow Logs", vendor_name: "AWS" } },
});

/** A firewall deny in CEF whose only number is the rule id (`cn1`), with `rt` in epoch milliseconds. */
const cefDeny = (at: number, src: string) =>
  `<134>1 ${new Date(at).toISOString()} fw-edge-01 edgewall - - - CEF:0|Contoso|EdgeWall|9.1|traffic-deny|Traffic denied|5|rt=${at} act=deny src=${src} spt=50122 dst=10.1.3.4 dpt=3389 proto=TCP cn1Label=Rule ID cn1=42`;

const ndjson = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join("\n");

describe("SIEM connectors with records in their public shapes", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let t: Record<"ingestor" | "reader" | "ingestorB", string>;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    t = await platform.tokens({
      ingestor: [[Role.INGESTOR], A],
      reader: [[Role.READER], A],
      ingestorB: [[Role.INGESTOR], B],
    });
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const ingest = async (connector: string, body: string, token = t.ingestor) => {
    const res = await fetch(
      `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=${connector}`,
      {
        method: "POST",
        headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${token}` },
        body,
      },
    );
    expect(res.status).toBe(200);
    return (await res.json()) as {
      accepted: number;
      duplicates: number;
      rejected: Array<{ line: number; reason: string }>;
    };
  };
  const stored = (tenant: string, connector: string) =>
    inTenant(
      ds,
      tenant,
      (m) =>
        m.query(
          `SELECT source_event_id, severity_id, status, actor_user, host(src_ip) AS src_ip FROM events
           WHERE connector = $1 ORDER BY time, source_event_id`,
          [connector],
        ) as Promise<
          Array<{
            source_event_id: string;
            severity_id: number;
            status: string;
            actor_user: string;
            src_ip: string;
          }>
        >,
    );

  it("stores an Azure Activity diagnostic-settings blob once, however often it is sent", async () => {
    const now = Date.now();
    // One blob line ({"records": [...]}) as the storage account holds it, and a loose record.
    const blob = JSON.stringify({
      records: [
        azureExport(now - 30 * MINUTE, "Start", "VM-WEB-02"),
        azureExport(now - 29 * MINUTE, "Success", "VM-WEB-02"),
      ],
    });
    const body = `${blob}\n${JSON.stringify(azureExport(now - 10 * MINUTE, "Success", "VM-WEB-03"))}\n`;
    expect(await ingest("AZURE_ACTIVITY", body)).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await ingest("AZURE_ACTIVITY", body)).toEqual({ accepted: 0, duplicates: 3, rejected: [] });
    const rows = await stored(A, "AZURE_ACTIVITY");
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => [r.severity_id, r.status, r.actor_user, r.src_ip])).toEqual([
      [1, "Unknown", "lee.gu@contoso.com", "203.0.113.41"],
      [1, "Success", "lee.gu@contoso.com", "203.0.113.41"],
      [1, "Success", "lee.gu@contoso.com", "203.0.113.41"],
    ]);
  });

  it("stores OCSF events without metadata.uid once, however often they are sent", async () => {
    const now = Date.now();
    const body = ndjson([ocsfFlow(now - 5 * MINUTE, 51544), ocsfFlow(now - 5 * MINUTE, 51545)]);
    expect(await ingest("OCSF", body)).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await ingest("OCSF", body)).toEqual({ accepted: 0, duplicates: 2, rejected: [] });
    expect(await stored(A, "OCSF")).toHaveLength(2);
  });

  it("keeps distinct CEF events that share a rule id and a second", async () => {
    const at = Math.floor(Date.now() / 1000) * 1000 - 2 * MINUTE;
    const body = ndjson([cefDeny(at, "192.0.2.10"), cefDeny(at, "192.0.2.11"), cefDeny(at, "192.0.2.12")]);
    expect(await ingest("SYSLOG_CEF", body)).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await ingest("SYSLOG_CEF", body)).toEqual({ accepted: 0, duplicates: 3, rejected: [] });
    expect((await stored(A, "SYSLOG_CEF")).map((r) => r.src_ip).sort()).toEqual([
      "192.0.2.10",
      "192.0.2.11",
      "192.0.2.12",
    ]);
  });

  it("counts what was stored, repeated and refused per connector and tenant", async () => {
    const connectors = ok(await platform.request(DataConnectorsDocument, {}, t.reader)).dataConnectors;
    const byKind = Object.fromEntries(connectors.map((c) => [c.kind, c]));
    expect(byKind.AZURE_ACTIVITY).toMatchObject({
      status: "CONNECTED",
      eventsTotal: 3,
      duplicatesTotal: 3,
      rejectedTotal: 0,
    });
    expect(byKind.OCSF).toMatchObject({ status: "CONNECTED", eventsTotal: 2, duplicatesTotal: 2 });
    expect(byKind.SYSLOG_CEF).toMatchObject({ status: "CONNECTED", eventsTotal: 3, duplicatesTotal: 3 });
    expect(byKind.M365_AUDIT).toMatchObject({ status: "NEVER_CONNECTED", eventsTotal: 0 });
    expect(await stored(B, "AZURE_ACTIVITY")).toHaveLength(0);
  });

  it("shows ERROR for a connector whose records are all refused, not CONNECTED", async () => {
    // A firewall's CSV traffic log sent to the CEF connector: every line arrives, none can be used.
    const csv = [
      "1,2026/11/20 09:14:02,012801096514,TRAFFIC,end,2561,2026/11/20 09:14:02,192.0.2.10,10.1.3.4",
      "1,2026/11/20 09:14:03,012801096514,TRAFFIC,end,2561,2026/11/20 09:14:03,192.0.2.11,10.1.3.4",
    ];
    const result = await ingest("SYSLOG_CEF", ndjson(csv), t.ingestorB);
    expect(result.accepted).toBe(0);
    expect(result.rejected.map((r) => r.reason)).toEqual([
      "no CEF payload (CEF:…) in the line",
      "no CEF payload (CEF:…) in the line",
    ]);
    const readerB = await platform.token([Role.READER], B);
    const connectors = ok(await platform.request(DataConnectorsDocument, {}, readerB)).dataConnectors;
    expect(connectors.find((c) => c.kind === "SYSLOG_CEF")).toMatchObject({
      status: "ERROR",
      eventsTotal: 0,
      rejectedTotal: 2,
      lastEventTime: null,
    });
    // Once its records are usable, it is connected again; the occasional bad line does not change that.
    const good = await ingest(
      "SYSLOG_CEF",
      ndjson([cefDeny(Date.now() - MINUTE, "192.0.2.20"), csv[0]]),
      t.ingestorB,
    );
    expect(good).toMatchObject({ accepted: 1, duplicates: 0 });
    const after = ok(await platform.request(DataConnectorsDocument, {}, readerB)).dataConnectors;
    expect(after.find((c) => c.kind === "SYSLOG_CEF")).toMatchObject({
      status: "CONNECTED",
      eventsTotal: 1,
      rejectedTotal: 3,
    });
    expect(after.find((c) => c.kind === "OCSF")?.status).toBe("NEVER_CONNECTED");
  });
});
