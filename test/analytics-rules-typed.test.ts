import { readFileSync } from "node:fs";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { parse } from "graphql";
import {
  AnalyticsRuleByIdDocument,
  AnalyticsRuleCountDocument,
  CreateNrtRuleLiteralDocument,
  CreateRuleTypedDocument,
  IngestEventsDocument,
  RuleTemplateDefinitionsDocument,
  SiemAlertsDocument,
  UpdateRuleTypedDocument,
  type AnalyticsRuleInput,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/** A scheduled password-spray rule using every part of a definition. */
const spray: AnalyticsRuleInput = {
  kind: "SCHEDULED",
  displayName: "Password spray from one address",
  description: "Failed sign-ins for many distinct accounts from one IP address.",
  severity: "MEDIUM",
  filter: {
    all: [
      { field: "class_uid", op: "eq", value: 3002 },
      { field: "status", op: "eq", value: "Failure" },
    ],
  },
  summarize: { by: ["src_ip"], aggregate: "DISTINCT_COUNT", field: "actor_user" },
  trigger: { operator: "GTE", threshold: 5 },
  queryFrequency: "PT10M",
  queryPeriod: "PT1H",
  tactics: ["CredentialAccess"],
  techniques: ["T1110.003"],
  entityMappings: [{ entityType: "IP", field: "src_ip" }],
  alertPerResult: true,
  suppression: { enabled: true, duration: "PT30M" },
  incidentGrouping: {
    enabled: true,
    matchingMethod: "SELECTED",
    selectedEntityTypes: ["IP"],
    lookbackDuration: "PT2H",
  },
};

/** An NRT rule on outbound connections to a port, leaving every optional field to its default. */
const c2Port = (port: number): AnalyticsRuleInput => ({
  kind: "NRT",
  displayName: `Outbound connection to port ${port}`,
  description: "",
  severity: "HIGH",
  filter: {
    all: [
      { field: "class_uid", op: "eq", value: 4001 },
      { field: "dst_port", op: "eq", value: port },
    ],
  },
});

/** The problems of a BAD_USER_INPUT response, as `field: message` lines (throws on anything else). */
function problems(res: GqlResponse<unknown>): string[] {
  expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  const list = res.errors![0].extensions!.problems as Array<{ field: string; message: string }>;
  return list.map((p) => `${p.field}: ${p.message}`);
}

describe("analytics rules through the typed AnalyticsRuleInput", () => {
  let platform: TestPlatform;
  let admin: string;
  let ingestor: string;
  const tenant = "tenant-rules";

  const ruleCount = async () =>
    ok(await platform.request(AnalyticsRuleCountDocument, {}, admin)).analyticsRules.totalCount;

  beforeAll(async () => {
    // Jobs off: scheduled rules are only stored here, never run in the background.
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    admin = await platform.token([Role.ADMIN], tenant);
    ingestor = await platform.token([Role.INGESTOR], tenant);
  });
  afterAll(async () => {
    await platform?.stop();
  });

  it("creates a scheduled rule from a typed input, stored exactly as the same JSON spec would be", async () => {
    const typed = ok(
      await platform.request(CreateRuleTypedDocument, { input: spray }, admin),
    ).createAnalyticsRule;
    const json = ok(
      await platform.request(CreateRuleTypedDocument, { spec: spray }, admin),
    ).createAnalyticsRule;
    expect(typed.spec).toEqual(json.spec);
    expect(typed).toMatchObject({
      kind: "SCHEDULED",
      displayName: spray.displayName,
      severity: "MEDIUM",
      enabled: true,
      version: 1,
      templateId: null,
      queryFrequency: "PT10M",
      queryPeriod: "PT1H",
    });
    const expected = {
      kind: "SCHEDULED",
      displayName: spray.displayName,
      description: spray.description,
      severity: "MEDIUM",
      enabled: true,
      filter: spray.filter,
      summarize: { by: ["src_ip"], aggregate: "DISTINCT_COUNT", field: "actor_user" },
      trigger: { operator: "GTE", threshold: 5 },
      queryFrequency: "PT10M",
      queryPeriod: "PT1H",
      tactics: ["CredentialAccess"],
      techniques: ["T1110.003"],
      entityMappings: [{ entityType: "IP", field: "src_ip" }],
      alertPerResult: true,
      suppression: { enabled: true, duration: "PT30M" },
      incidentGrouping: {
        enabled: true,
        matchingMethod: "SELECTED",
        selectedEntityTypes: ["IP"],
        lookbackDuration: "PT2H",
        reopenClosedIncident: false,
      },
      threatIntelligence: false,
    };
    expect(typed.definition).toEqual(expected);
    // Read back, both forms agree with what was written.
    const read = ok(
      await platform.request(AnalyticsRuleByIdDocument, { id: typed.id }, admin),
    ).analyticsRule!;
    expect(read.definition).toEqual(expected);
    expect(read.spec).toEqual(typed.spec);
  });

  it("creates an NRT rule from a literal typed input and fills the defaults", async () => {
    const rule = ok(await platform.request(CreateNrtRuleLiteralDocument, {}, admin)).createAnalyticsRule;
    expect(rule.definition).toEqual({
      kind: "NRT",
      displayName: "Outbound connection to a C2 port",
      description: "A connection to TCP 4444 (Metasploit's default listener).",
      severity: "HIGH",
      enabled: true,
      filter: {
        all: [
          { field: "class_uid", op: "eq", value: 4001 },
          { field: "dst_port", op: "eq", value: 4444 },
        ],
      },
      summarize: null,
      trigger: { operator: "GT", threshold: 0 },
      queryFrequency: null,
      queryPeriod: null,
      tactics: ["CommandAndControl"],
      techniques: ["T1571"],
      entityMappings: [
        { entityType: "IP", field: "src_ip" },
        { entityType: "IP", field: "dst_ip" },
      ],
      alertPerResult: true,
      suppression: { enabled: false, duration: "PT5H" },
      incidentGrouping: {
        enabled: false,
        matchingMethod: "ALL_ENTITIES",
        selectedEntityTypes: null,
        lookbackDuration: "PT5H",
        reopenClosedIncident: false,
      },
      threatIntelligence: false,
    });
  });

  it("updates a rule with a typed input, and still with a JSON spec", async () => {
    const created = ok(
      await platform.request(CreateRuleTypedDocument, { input: spray }, admin),
    ).createAnalyticsRule;
    const updated = ok(
      await platform.request(
        UpdateRuleTypedDocument,
        {
          id: created.id,
          input: {
            ...spray,
            severity: "HIGH",
            enabled: false,
            trigger: { operator: "GT", threshold: 10 },
            incidentGrouping: null,
            suppression: null,
          },
        },
        admin,
      ),
    ).updateAnalyticsRule;
    expect(updated).toMatchObject({ id: created.id, version: 2, enabled: false, severity: "HIGH" });
    expect(updated.definition).toMatchObject({
      severity: "HIGH",
      enabled: false,
      trigger: { operator: "GT", threshold: 10 },
      // null is "not given": the defaults come back.
      suppression: { enabled: false, duration: "PT5H" },
      incidentGrouping: { enabled: false, matchingMethod: "ALL_ENTITIES", selectedEntityTypes: null },
    });
    const viaJson = ok(
      await platform.request(
        UpdateRuleTypedDocument,
        { id: created.id, spec: { ...updated.spec, displayName: "Renamed through JSON" } },
        admin,
      ),
    ).updateAnalyticsRule;
    expect(viaJson).toMatchObject({ version: 3, displayName: "Renamed through JSON", enabled: false });
    expect(viaJson.definition.trigger).toEqual({ operator: "GT", threshold: 10 });
    // A definition read back goes in again unchanged as a typed input.
    const resent = ok(
      await platform.request(UpdateRuleTypedDocument, { id: created.id, input: viaJson.definition }, admin),
    ).updateAnalyticsRule;
    expect(resent.version).toBe(4);
    expect(resent.definition).toEqual(viaJson.definition);
  });

  it("overrides a template's fields with a typed input", async () => {
    const templates = ok(await platform.request(RuleTemplateDefinitionsDocument, {}, admin)).ruleTemplates;
    const template = templates.find((t) => t.id === "brute-force-sign-ins-by-ip")!;
    expect(template.definition).toMatchObject({ kind: "SCHEDULED", summarize: { by: ["src_ip"] } });
    const { kind, displayName, description, filter } = template.definition;
    const rule = ok(
      await platform.request(
        CreateRuleTypedDocument,
        {
          templateId: template.id,
          input: { kind, displayName, description, filter, severity: "HIGH", queryPeriod: "PT2H" },
        },
        admin,
      ),
    ).createAnalyticsRule;
    expect(rule.templateId).toBe(template.id);
    expect(rule.definition).toEqual({ ...template.definition, severity: "HIGH", queryPeriod: "PT2H" });
  });

  it("runs the typed example of docs/api.md", async () => {
    const block = /```graphql\n(mutation TypedRule[\s\S]*?)```/.exec(
      readFileSync("docs/api.md", "utf8"),
    )?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<{
      createAnalyticsRule: { version: number; definition: Record<string, unknown> };
    }>;
    const rule = ok(await platform.request(doc, {}, admin)).createAnalyticsRule;
    expect(rule.version).toBe(1);
    expect(rule.definition).toMatchObject({
      kind: "SCHEDULED",
      severity: "MEDIUM",
      trigger: { operator: "GTE", threshold: 5 },
      incidentGrouping: { matchingMethod: "SELECTED", lookbackDuration: "PT2H" },
    });
  });

  it("refuses bad definitions with the same problems as the JSON form, and stores nothing", async () => {
    const before = await ruleCount();

    const negative = { ...spray, trigger: { operator: "GTE" as const, threshold: -1 } };
    const typedNegative = problems(
      await platform.request(CreateRuleTypedDocument, { input: negative }, admin),
    );
    expect(typedNegative).toEqual(["trigger.threshold: must be a whole number ≥ 0 (got -1)"]);
    expect(problems(await platform.request(CreateRuleTypedDocument, { spec: negative }, admin))).toEqual(
      typedNegative,
    );

    const badDuration = { ...spray, queryPeriod: "PT1X", suppression: { enabled: true, duration: "1 hour" } };
    const typedDuration = problems(
      await platform.request(CreateRuleTypedDocument, { input: badDuration }, admin),
    );
    expect(typedDuration.map((p) => p.split(":")[0])).toEqual(["queryPeriod", "suppression.duration"]);
    expect(problems(await platform.request(CreateRuleTypedDocument, { spec: badDuration }, admin))).toEqual(
      typedDuration,
    );

    // NRT with a schedule and a summarize: the kind-dependent checks apply to the typed form too.
    const nrtScheduled = {
      ...c2Port(4444),
      queryFrequency: "PT5M",
      summarize: { by: [], aggregate: "COUNT" as const },
    };
    expect(
      problems(await platform.request(CreateRuleTypedDocument, { input: nrtScheduled }, admin)).map(
        (p) => p.split(":")[0],
      ),
    ).toEqual(["summarize", "queryFrequency"]);

    expect(
      problems(
        await platform.request(CreateRuleTypedDocument, { input: c2Port(4444), spec: c2Port(4444) }, admin),
      ),
    ).toEqual([
      "input: given together with spec: send one of them",
      "spec: given together with input: send one of them",
    ]);
    expect(problems(await platform.request(CreateRuleTypedDocument, {}, admin))).toEqual([
      "input: is required: the definition as typed `input`, as JSON `spec`, or a `templateId`",
    ]);
    // A wrong enum value never reaches the resolver.
    const badEnum = await platform.request(
      CreateRuleTypedDocument,
      { input: { ...c2Port(4444), kind: "HOURLY" as AnalyticsRuleInput["kind"] } },
      admin,
    );
    expect(badEnum.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");

    expect(await ruleCount()).toBe(before);
  });

  it("leaves a rule unchanged when an update is refused", async () => {
    const rule = ok(
      await platform.request(CreateRuleTypedDocument, { input: spray }, admin),
    ).createAnalyticsRule;
    const id = rule.id;
    expect(
      problems(
        await platform.request(
          UpdateRuleTypedDocument,
          { id, input: { ...spray, trigger: { operator: "GT", threshold: -5 } } },
          admin,
        ),
      ),
    ).toEqual(["trigger.threshold: must be a whole number ≥ 0 (got -5)"]);
    expect(
      problems(
        await platform.request(
          UpdateRuleTypedDocument,
          { id, input: { ...spray, queryFrequency: "P1M" } },
          admin,
        ),
      ),
    ).toEqual([expect.stringMatching(/^queryFrequency: "P1M": years and months are not supported/)]);
    expect(
      problems(await platform.request(UpdateRuleTypedDocument, { id, input: spray, spec: spray }, admin)),
    ).toHaveLength(2);
    expect(problems(await platform.request(UpdateRuleTypedDocument, { id }, admin))).toEqual([
      "input: is required: the new definition as typed `input` or as JSON `spec`",
    ]);
    const after = ok(await platform.request(AnalyticsRuleByIdDocument, { id }, admin)).analyticsRule!;
    expect(after.version).toBe(1);
    expect(after.definition).toEqual(rule.definition);
  });

  it("lets only ADMIN create and update rules", async () => {
    const before = await ruleCount();
    const rule = ok(
      await platform.request(CreateRuleTypedDocument, { input: c2Port(5555) }, admin),
    ).createAnalyticsRule;
    for (const role of [Role.READER, Role.ANALYST, Role.RESPONDER, Role.INGESTOR]) {
      const token = await platform.token([role], tenant);
      const created = await platform.request(CreateRuleTypedDocument, { input: c2Port(6666) }, token);
      expect({ role, code: created.errors?.[0].extensions?.code }).toEqual({ role, code: "FORBIDDEN" });
      const updated = await platform.request(
        UpdateRuleTypedDocument,
        { id: rule.id, input: { ...c2Port(5555), enabled: false } },
        token,
      );
      expect({ role, code: updated.errors?.[0].extensions?.code }).toEqual({ role, code: "FORBIDDEN" });
    }
    expect(await ruleCount()).toBe(before + 1);
    const read = ok(await platform.request(AnalyticsRuleByIdDocument, { id: rule.id }, admin)).analyticsRule!;
    expect(read).toMatchObject({ version: 1, enabled: true });
  });

  it("fires a typed NRT rule on ingested events, and stops when a typed update disables it", async () => {
    const rule = ok(
      await platform.request(
        CreateRuleTypedDocument,
        {
          input: {
            ...c2Port(31337),
            entityMappings: [
              { entityType: "IP", field: "src_ip" },
              { entityType: "HOST", field: "device" },
            ],
            alertPerResult: true,
            techniques: ["T1571"],
          },
        },
        admin,
      ),
    ).createAnalyticsRule;
    const time = new Date(Date.now() - 60_000).toISOString();
    const flow = (uid: string, port: number) => ({
      class_uid: 4001,
      activity_id: 1,
      time,
      metadata: { uid },
      device: { hostname: "vm-build-07" },
      src_endpoint: { ip: "10.4.2.17" },
      dst_endpoint: { ip: "198.51.100.99", port },
    });
    const alertsOf = async () =>
      ok(await platform.request(SiemAlertsDocument, { first: 100 }, admin)).alerts.nodes.filter(
        (a) => a.title === rule.displayName,
      );

    const ingested = ok(
      await platform.request(
        IngestEventsDocument,
        { connector: "OCSF", records: [flow("flow-1", 31337), flow("flow-2", 443)] },
        ingestor,
      ),
    ).ingestEvents;
    expect(ingested).toMatchObject({ acceptedCount: 2, rejected: [] });
    const fired = await alertsOf();
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ provider: "ANALYTICS_RULE", severity: "HIGH", techniques: ["T1571"] });
    expect(fired[0].evidenceEventIds).toHaveLength(1);
    expect(fired[0].entities).toEqual(
      expect.arrayContaining([
        { type: "IP", value: "10.4.2.17" },
        { type: "HOST", value: "vm-build-07" },
      ]),
    );

    ok(
      await platform.request(
        UpdateRuleTypedDocument,
        { id: rule.id, input: { ...c2Port(31337), enabled: false } },
        admin,
      ),
    );
    ok(
      await platform.request(
        IngestEventsDocument,
        { connector: "OCSF", records: [flow("flow-3", 31337)] },
        ingestor,
      ),
    );
    expect(await alertsOf()).toHaveLength(1);
  });
});
