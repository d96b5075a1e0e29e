import { readFileSync } from "node:fs";
import type { DataSource } from "typeorm";
import {
  CreateAnalyticsRuleDocument,
  DataConnectorsDocument,
  ImportSigmaRulesDocument,
  ImportStixBundleDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { runScheduledRule } from "../subgraphs/siem/src/modules/rules/rule-runner";
import { storedRuleFromRow } from "../subgraphs/siem/src/modules/rules/rules.service";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * The Okta, Google Cloud audit, Windows Security and Sysmon connectors through the gateway on a real database:
 * each fixture is stored whole, a re-sent file stores (and alerts) nothing more, bad records are refused one by
 * one with their reasons, and the built-in templates raise alerts on the attacks the fixtures hold; on Sysmon's,
 * so do a public Sigma rule on what only Sysmon records (OriginalFileName, Hashes), a Sigma rule on its WMI
 * events (a persistence by event subscription), Sigma rules on the executables it saw written and the
 * shredding it blocked (events 29, 28) and threat intelligence (a file's SHA-256, a queried domain).
 */

const KINDS = ["OKTA_SYSTEM_LOG", "GCP_AUDIT", "WINDOWS_SECURITY", "WINDOWS_SYSMON"] as const;
type Kind = (typeof KINDS)[number];
const fixture = (kind: Kind) => readFileSync(`test/fixtures/siem/${kind}.ndjson`, "utf8");
const lines = (kind: Kind) => fixture(kind).trim().split("\n");

/** The NRT templates and the alert each must raise on a connector's fixture: [template, connector, evidence]. */
const NRT_DETECTIONS: Array<[string, Kind, string]> = [
  ["mfa-disabled", "OKTA_SYSTEM_LOG", "user.mfa.factor.deactivate"],
  ["privileged-role-assignment", "OKTA_SYSTEM_LOG", "user.account.privilege.grant"],
  ["gcp-service-account-key-created", "GCP_AUDIT", "google.iam.admin.v1.CreateServiceAccountKey"],
  ["logging-disabled", "GCP_AUDIT", "google.logging.v2.ConfigServiceV2.DeleteSink"],
  ["privileged-role-assignment", "GCP_AUDIT", "SetIamPolicy"],
  ["logging-disabled", "WINDOWS_SECURITY", "1102"],
  ["encoded-powershell-command", "WINDOWS_SECURITY", "4688"],
  ["privileged-role-assignment", "WINDOWS_SECURITY", "4728"],
  ["privileged-role-assignment", "WINDOWS_SECURITY", "4732"],
  ["encoded-powershell-command", "WINDOWS_SYSMON", "1"],
  // RDP and SSH taken from the internet (event 3, inbound): one alert each.
  ["internet-rdp-ssh-allowed", "WINDOWS_SYSMON", "3"],
  ["internet-rdp-ssh-allowed", "WINDOWS_SYSMON", "3"],
];

/** SigmaHQ-style: certutil by its original file name (renamed copies too) and its image's hash: Sysmon only. */
const CERTUTIL_RULE = `title: Certutil Download By Original File Name And Hash
id: 6f1d0e3c-2b4a-4c5d-8e9f-0a1b2c3d4e5f
status: experimental
logsource:
  category: process_creation
  product: windows
detection:
  selection_img:
    OriginalFileName: 'CertUtil.exe'
    Hashes|contains: 'SHA256=7E3986501E70992C1521B0416C71FF72D3DCAD719D89439B379D63C9D08C3141'
  selection_cli:
    CommandLine|contains|windash: '-urlcache'
  condition: all of selection_*
level: high
tags:
  - attack.command_and_control
  - attack.t1105
`;

/** SigmaHQ-style: a WMI permanent event subscription (filter, consumer, binding), Sysmon's events 19 to 21. */
const WMI_RULE = `title: WMI Persistence By Event Subscription
id: 0c5a7d2e-9b1f-4e3a-8d6c-5f4e3d2c1b0a
status: experimental
logsource:
  category: wmi_event
  product: windows
detection:
  selection:
    EventType:
      - WmiFilterEvent
      - WmiConsumerEvent
      - WmiBindingEvent
    Operation: Created
  condition: selection
level: medium
tags:
  - attack.persistence
  - attack.t1546.003
`;

/** A program or DLL written under C:\Users\Public (not by Windows itself): Sysmon's event 29. */
const PUBLIC_EXECUTABLE_RULE = `title: Executable File Written Under Users Public
id: 3b8e5f1a-7c2d-4e6f-9a0b-1c2d3e4f5a6b
status: experimental
logsource:
  category: file_executable_detected
  product: windows
detection:
  selection:
    TargetFilename|startswith: 'C:\\Users\\Public\\'
    TargetFilename|endswith:
      - '.dll'
      - '.exe'
  filter_main_windows:
    Image|startswith: 'C:\\Windows\\'
  condition: selection and not 1 of filter_main_*
level: high
tags:
  - attack.persistence
  - attack.t1574.001
`;

/** A document's shredding that Sysmon blocked (event 28): a wiper at work. */
const SHREDDING_BLOCKED_RULE = `title: Shredding Of A User Document Blocked By Sysmon
id: 4c9f6a2b-8d3e-4f70-8b1c-2d3e4f5a6b7c
status: experimental
logsource:
  category: file_block_shredding
  product: windows
detection:
  selection:
    TargetFilename|contains: '\\Documents\\'
    IsExecutable: 'false'
  condition: selection
level: high
tags:
  - attack.impact
  - attack.t1485
`;

/** The Sysmon fixture's dropped payload's SHA-256 and the domain it looked up, as a threat feed lists them. */
const PAYLOAD_SHA256 = "2249ca6bb3b7fd78d815019f7ce463f4389b4d9a1836d1a8f0ab274eb5ca70e4";
const C2_DOMAIN = "cdn.update-check.example";
const INDICATORS = {
  type: "bundle",
  id: "bundle--7c1e2d3f-4a5b-4c6d-8e7f-0000000000aa",
  objects: [`[file:hashes.'SHA-256' = '${PAYLOAD_SHA256}']`, `[domain-name:value = '${C2_DOMAIN}']`].map(
    (pattern, i) => ({
      type: "indicator",
      spec_version: "2.1",
      id: `indicator--7c1e2d3f-4a5b-4c6d-8e7f-00000000000${i + 1}`,
      created: "2026-11-01T00:00:00.000Z",
      modified: "2026-11-01T00:00:00.000Z",
      name: `Sysmon fixture indicator ${i + 1}`,
      pattern,
      pattern_type: "stix",
      valid_from: "2026-11-01T00:00:00Z",
      confidence: 85,
    }),
  ),
};

describe("Okta, Google Cloud audit, Windows Security and Sysmon connectors", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let t: Record<"admin" | "ingestor" | "reader", string>;
  const tenant = "tenant-a";

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    t = await platform.tokens({
      admin: [[Role.ADMIN], tenant],
      ingestor: [[Role.INGESTOR], tenant],
      reader: [[Role.READER], tenant],
    });
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  const ingest = async (kind: string, body: string) => {
    const res = await fetch(
      `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=${kind}`,
      {
        method: "POST",
        headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${t.ingestor}` },
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
  const query = <T>(sql: string, params: unknown[] = []) =>
    inTenant(ds, tenant, (m) => m.query(sql, params) as Promise<T[]>);
  const storedCount = async (kind: Kind) =>
    (await query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE connector = $1`, [kind]))[0].n;
  /** Each analytics-rule alert as its template and the connectors and operations of its evidence. */
  const ruleAlerts = () =>
    query<{ template: string; connector: string; operation: string }>(
      `SELECT r.template_id AS template, e.connector, e.operation
         FROM alerts a JOIN analytics_rules r ON r.id = a.rule_id
         CROSS JOIN LATERAL unnest(a.evidence_event_ids) AS ev(id) JOIN events e ON e.id = ev.id
        ORDER BY 1, 2, 3`,
    );

  it("sets up the templates' rules", async () => {
    const templates = [
      ...new Set(NRT_DETECTIONS.map(([template]) => template)),
      "brute-force-sign-ins-by-ip",
    ];
    for (const templateId of templates) {
      const rule = ok(
        await platform.request(CreateAnalyticsRuleDocument, { templateId }, t.admin),
      ).createAnalyticsRule;
      expect(rule.enabled).toBe(true);
    }
    const imported = ok(
      await platform.request(
        ImportSigmaRulesDocument,
        {
          yaml: [CERTUTIL_RULE, WMI_RULE, PUBLIC_EXECUTABLE_RULE, SHREDDING_BLOCKED_RULE].join("---\n"),
          options: { kind: "NRT", enabled: true },
        },
        t.admin,
      ),
    ).importSigmaRules;
    expect(imported.results.map((r) => [r.status, r.problems])).toEqual([
      ["CREATED", []],
      ["CREATED", []],
      ["CREATED", []],
      ["CREATED", []],
    ]);
    expect(imported.results.slice(1).map((r) => r.notes)).toEqual([[], [], []]);
    // It runs on Sysmon's event 1 only: a 4688 record has neither field.
    expect(imported.results[0].notes).toEqual([
      expect.stringMatching(/^Not run on windows\/process_creation \(4688\) events: field OriginalFileName/),
    ]);
    expect(
      ok(await platform.request(ImportStixBundleDocument, { bundle: INDICATORS }, t.admin)).importStixBundle,
    ).toMatchObject({ createdCount: 2, problems: [] });
  });

  it.each(KINDS)("stores every record of the %s fixture once, however often it is sent", async (kind) => {
    const count = lines(kind).length;
    expect(await ingest(kind, fixture(kind))).toEqual({ accepted: count, duplicates: 0, rejected: [] });
    expect(await storedCount(kind)).toBe(count);
    const alertsBefore = (await ruleAlerts()).length;
    expect(await ingest(kind, fixture(kind))).toEqual({ accepted: 0, duplicates: count, rejected: [] });
    expect(await storedCount(kind)).toBe(count);
    // A re-sent file raises no second alert either.
    expect((await ruleAlerts()).length).toBe(alertsBefore);
  });

  it("shows the connectors in dataConnectors with their counters", async () => {
    const connectors = ok(await platform.request(DataConnectorsDocument, {}, t.reader)).dataConnectors;
    for (const kind of KINDS) {
      expect(connectors.find((c) => c.kind === kind)).toMatchObject({
        status: "CONNECTED",
        eventsTotal: lines(kind).length,
        duplicatesTotal: lines(kind).length,
        rejectedTotal: 0,
      });
    }
  });

  it("raises the NRT templates' alerts on the attacks in each fixture, on the way in", async () => {
    const alerts = await ruleAlerts();
    for (const [template, connector, operation] of NRT_DETECTIONS) {
      expect({
        template,
        connector,
        operation,
        found: alerts.some(
          (a) => a.template === template && a.connector === connector && a.operation === operation,
        ),
      }).toEqual({ template, connector, operation, found: true });
    }
    // Nothing else of the new connectors: the routine records raise no alert.
    const ours = alerts.filter(
      (a) => a.template !== null && (KINDS as readonly string[]).includes(a.connector),
    );
    expect(ours.length).toBe(NRT_DETECTIONS.length);
  });

  it("fires a Sigma rule on Sysmon's fields and threat intelligence on Sysmon's hashes and queried names", async () => {
    const found = await query<{ provider: string; title: string; message: string; entities: unknown }>(
      `SELECT a.provider, a.title, e.message, a.entities
         FROM alerts a CROSS JOIN LATERAL unnest(a.evidence_event_ids) AS ev(id) JOIN events e ON e.id = ev.id
        WHERE e.connector = 'WINDOWS_SYSMON' AND (a.provider = 'TI_MATCH' OR a.title LIKE 'Certutil%')
        ORDER BY 1, 3`,
    );
    expect(found.map((a) => [a.provider, a.message])).toEqual([
      ["ANALYTICS_RULE", "Process certutil.exe started on WS-7.corp.contoso.com by CORP\\adele.vance"],
      // The payload's hash on its process creation, the domain on its DNS query.
      ["TI_MATCH", "Process svc.exe started on WS-7.corp.contoso.com by CORP\\adele.vance"],
      ["TI_MATCH", `svc.exe on WS-7.corp.contoso.com looked up ${C2_DOMAIN}`],
    ]);
    expect(found[0].entities).toEqual(
      expect.arrayContaining([
        { type: "HOST", value: "WS-7.corp.contoso.com" },
        { type: "ACCOUNT", value: "CORP\\adele.vance" },
        { type: "FILE_HASH", value: "7e3986501e70992c1521b0416c71ff72d3dcad719d89439b379d63c9d08c3141" },
      ]),
    );
  });

  it("fires a wmi_event Sigma rule on the WMI persistence (Sysmon's events 19, 20, 21) and on nothing else", async () => {
    const found = await query<{ operation: string; device: string; entities: unknown }>(
      `SELECT e.operation, e.device, a.entities
         FROM alerts a CROSS JOIN LATERAL unnest(a.evidence_event_ids) AS ev(id) JOIN events e ON e.id = ev.id
        WHERE a.title = 'WMI Persistence By Event Subscription'
        ORDER BY 1`,
    );
    expect(found.map((a) => [a.operation, a.device])).toEqual([
      ["19", "SRV-APP-03.corp.contoso.com"],
      ["20", "SRV-APP-03.corp.contoso.com"],
      ["21", "SRV-APP-03.corp.contoso.com"],
    ]);
    expect(found[0].entities).toEqual(
      expect.arrayContaining([
        { type: "HOST", value: "SRV-APP-03.corp.contoso.com" },
        { type: "ACCOUNT", value: "CORP\\svc-sql" },
      ]),
    );
  });

  it("fires file_executable_detected and file_block_shredding Sigma rules on Sysmon's events 29 and 28 only, with the file's hash and the process", async () => {
    const found = await query<{
      title: string;
      operation: string;
      status: string;
      message: string;
      entities: unknown;
    }>(
      `SELECT a.title, e.operation, e.status, e.message, a.entities
         FROM alerts a CROSS JOIN LATERAL unnest(a.evidence_event_ids) AS ev(id) JOIN events e ON e.id = ev.id
        WHERE a.title IN ('Executable File Written Under Users Public', 'Shredding Of A User Document Blocked By Sysmon')
        ORDER BY 2`,
    );
    expect(found.map((a) => [a.operation, a.status, a.message])).toEqual([
      [
        "28",
        "Failure",
        "File C:\\Users\\adele.vance\\Documents\\Q4_Forecast.xlsx blocked from being shredded by svc.exe on WS-7.corp.contoso.com",
      ],
      // Not certutil's svc.exe (event 11) under the same folder: the rule is about event 29.
      [
        "29",
        "Success",
        "Executable file C:\\Users\\Public\\Libraries\\version.dll created by svc.exe on WS-7.corp.contoso.com",
      ],
    ]);
    expect(found[1].entities).toEqual(
      expect.arrayContaining([
        { type: "HOST", value: "WS-7.corp.contoso.com" },
        { type: "ACCOUNT", value: "CORP\\adele.vance" },
        { type: "PROCESS", value: "svc.exe" },
        { type: "FILE_HASH", value: "654e9fc12332a843b230ef3f78844dc4fb42ec5a11d05db1e6ec020ee24b0a8c" },
      ]),
    );
  });

  it("runs the brute-force template over the Okta spray and the Windows RDP guessing", async () => {
    const [row] = await query<Record<string, unknown>>(
      `SELECT * FROM analytics_rules WHERE template_id = 'brute-force-sign-ins-by-ip'`,
    );
    for (const end of ["2026-11-20T08:25:00Z", "2026-11-20T08:45:00Z"]) {
      const result = await inTenant(ds, tenant, (m) =>
        runScheduledRule(m, tenant, storedRuleFromRow(row), new Date(end)),
      );
      expect(result).toMatchObject({ alerts: 1, results: 1 });
    }
    // One alert per attack, each about one address and the failures of one connector.
    const alerts = await query<{ connectors: string[]; addresses: string[]; n: number }>(
      `SELECT array_agg(DISTINCT e.connector) AS connectors, array_agg(DISTINCT host(e.src_ip)) AS addresses,
              count(*)::int AS n
         FROM alerts a CROSS JOIN LATERAL unnest(a.evidence_event_ids) AS ev(id) JOIN events e ON e.id = ev.id
        WHERE a.rule_id = $1 GROUP BY a.id ORDER BY 2`,
      [row.id],
    );
    expect(alerts).toEqual([
      { connectors: ["OKTA_SYSTEM_LOG"], addresses: ["198.51.100.61"], n: expect.any(Number) },
      { connectors: ["WINDOWS_SECURITY"], addresses: ["198.51.100.88"], n: expect.any(Number) },
    ]);
    expect(alerts.every((a) => a.n >= 10)).toBe(true);
  });

  it("refuses bad records one by one with their reasons and keeps the good ones", async () => {
    const now = new Date(Date.now() - 60_000).toISOString();
    const bodies: Record<Kind, [unknown, unknown, string]> = {
      OKTA_SYSTEM_LOG: [
        {
          uuid: "a6f0c1d2-7e8b-4c9d-8e1f-2a3b4c5d6e7f",
          published: now,
          eventType: "user.session.start",
          outcome: { result: "SUCCESS" },
        },
        { uuid: "b7a1d2e3-8f9c-4dae-9f20-3b4c5d6e7f80", published: now },
        "missing eventType",
      ],
      GCP_AUDIT: [
        {
          insertId: "k2j4h6g8f0d2",
          timestamp: now,
          protoPayload: {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            methodName: "storage.buckets.list",
          },
        },
        {
          insertId: "k2j4h6g8f0d3",
          timestamp: now,
          protoPayload: {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            methodName: "x",
            status: { code: "DENIED" },
          },
        },
        'protoPayload.status.code must be a google.rpc code, got "DENIED"',
      ],
      WINDOWS_SECURITY: [
        {
          EventID: 4624,
          TimeCreated: { SystemTime: now },
          Computer: "ws-9.corp.contoso.com",
          EventRecordID: 77,
          Channel: "Security",
          EventData: { TargetUserName: "eve", LogonType: "2" },
        },
        {
          EventID: 4624,
          TimeCreated: { SystemTime: now },
          Computer: "ws-9.corp.contoso.com",
          EventRecordID: 78,
          Channel: "Application",
        },
        'Channel "Application" is not the Security log (WINDOWS_SECURITY takes Security events)',
      ],
      WINDOWS_SYSMON: [
        {
          EventID: 22,
          TimeCreated: { SystemTime: now },
          Computer: "ws-9.corp.contoso.com",
          EventRecordID: 501,
          Channel: "Microsoft-Windows-Sysmon/Operational",
          EventData: [
            { Name: "QueryName", Value: "www.contoso.com" },
            { Name: "Image", Value: "C:\\Windows\\explorer.exe" },
          ],
        },
        {
          EventID: 22,
          TimeCreated: { SystemTime: now },
          Computer: "ws-9.corp.contoso.com",
          EventRecordID: 502,
          Channel: "Security",
        },
        'Channel "Security" is not the Sysmon log (WINDOWS_SYSMON takes Microsoft-Windows-Sysmon/Operational events)',
      ],
    };
    for (const kind of KINDS) {
      const [good, bad, reason] = bodies[kind];
      const before = await storedCount(kind);
      const result = await ingest(kind, `${JSON.stringify(good)}\n${JSON.stringify(bad)}\n`);
      expect({ kind, result }).toEqual({
        kind,
        result: { accepted: 1, duplicates: 0, rejected: [{ line: 2, reason }] },
      });
      expect(await storedCount(kind)).toBe(before + 1);
    }
  });
});
