import { readFileSync } from "node:fs";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { parse } from "graphql";
import {
  AnalyticsRuleByIdDocument,
  AnalyticsRuleCountDocument,
  CreateNrtRuleLiteralDocument,
  CreateRuleTypedDocument,
  CreateWatchlistDocument,
  DeleteWatchlistDocument,
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

/** A failed sign-in followed by a successful one for the same account (the example of docs/api.md). */
const failureThenSuccess: AnalyticsRuleInput = {
  kind: "SCHEDULED",
  displayName: "Failed sign-in followed by a success",
  description: "A failed sign-in and, after it, a successful one for the same account within an hour.",
  severity: "HIGH",
  filter: { field: "class_uid", op: "eq", value: 3002 },
  summarize: {
    by: ["actor_user"],
    aggregate: "FILTERS_MATCHED_IN_ORDER",
    filters: [
      { name: "failure", filter: { field: "status", op: "eq", value: "Failure" } },
      { name: "success", filter: { field: "status", op: "eq", value: "Success" } },
    ],
  },
  trigger: { operator: "GTE", threshold: 2 },
  queryFrequency: "PT10M",
  queryPeriod: "PT1H",
  entityMappings: [{ entityType: "ACCOUNT", field: "actor_user" }],
  alertPerResult: true,
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

  /** Runs the `mutation <name>` example of docs/api.md as an admin: the rule it creates. */
  const runDocsExample = async (name: string) => {
    const block = new RegExp("```graphql\\n(mutation " + name + "[\\s\\S]*?)```").exec(
      readFileSync("docs/api.md", "utf8"),
    )?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<{
      createAnalyticsRule: { id: string; version: number; definition: Record<string, unknown> };
    }>;
    return ok(await platform.request(doc, {}, admin)).createAnalyticsRule;
  };

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
      summarize: { by: ["src_ip"], aggregate: "DISTINCT_COUNT", field: "actor_user", filters: null },
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
    const rule = await runDocsExample("TypedRule");
    expect(rule.version).toBe(1);
    expect(rule.definition).toMatchObject({
      kind: "SCHEDULED",
      severity: "MEDIUM",
      trigger: { operator: "GTE", threshold: 5 },
      incidentGrouping: { matchingMethod: "SELECTED", lookbackDuration: "PT2H" },
    });
  });

  it("creates, reads back and updates a correlation of named filters through the typed input", async () => {
    const typed = ok(
      await platform.request(CreateRuleTypedDocument, { input: failureThenSuccess }, admin),
    ).createAnalyticsRule;
    const json = ok(
      await platform.request(CreateRuleTypedDocument, { spec: failureThenSuccess }, admin),
    ).createAnalyticsRule;
    expect(typed.spec).toEqual(json.spec);
    expect(typed.definition.summarize).toEqual({
      by: ["actor_user"],
      aggregate: "FILTERS_MATCHED_IN_ORDER",
      field: null,
      filters: [
        { name: "failure", filter: { field: "status", op: "eq", value: "Failure" } },
        { name: "success", filter: { field: "status", op: "eq", value: "Success" } },
      ],
    });
    expect(typed.definition.trigger).toEqual({ operator: "GTE", threshold: 2 });

    // Unordered, over three filters, two of which must match.
    const updated = ok(
      await platform.request(
        UpdateRuleTypedDocument,
        {
          id: typed.id,
          input: {
            ...failureThenSuccess,
            summarize: {
              by: ["actor_user"],
              aggregate: "FILTERS_MATCHED",
              filters: [
                ...failureThenSuccess.summarize!.filters!,
                { name: "mfa", filter: { field: "attributes.mfa", op: "eq", value: true } },
              ],
            },
            trigger: { operator: "GTE", threshold: 2 },
          },
        },
        admin,
      ),
    ).updateAnalyticsRule;
    expect(updated.version).toBe(2);
    expect(updated.definition.summarize).toMatchObject({
      aggregate: "FILTERS_MATCHED",
      filters: [{ name: "failure" }, { name: "success" }, { name: "mfa" }],
    });
    // A definition read back goes in again unchanged as a typed input.
    const resent = ok(
      await platform.request(UpdateRuleTypedDocument, { id: typed.id, input: updated.definition }, admin),
    ).updateAnalyticsRule;
    expect(resent.version).toBe(3);
    expect(resent.definition).toEqual(updated.definition);
  });

  it("refuses a correlation with no, one, too many or an invalid filter, naming the field, typed and as JSON, on create and update", async () => {
    const before = await ruleCount();
    const withFilters = (filters: unknown, trigger: unknown = { operator: "GTE", threshold: 2 }) => ({
      ...failureThenSuccess,
      summarize: { ...failureThenSuccess.summarize, filters },
      trigger,
    });
    const named = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        name: `step ${i + 1}`,
        filter: { field: "status", op: "eq", value: i % 2 ? "Success" : "Failure" },
      }));
    const cases: Array<[unknown, string[]]> = [
      [
        withFilters([]),
        [
          "summarize.filters: must name at least 2 filters (got 0): a correlation of one filter is a COUNT of its events",
        ],
      ],
      [
        withFilters(named(1), { operator: "GTE", threshold: 1 }),
        [
          "summarize.filters: must name at least 2 filters (got 1): a correlation of one filter is a COUNT of its events",
        ],
      ],
      [withFilters(named(11)), ["summarize.filters: must name at most 10 filters (got 11)"]],
      [
        withFilters([
          named(1)[0],
          { name: "step 1", filter: { field: "dst_port", op: "inCidr", value: ["10.0.0.0/8"] } },
        ]),
        [
          'summarize.filters[1].name: "step 1" is named twice',
          expect.stringMatching(/^summarize\.filters\[1\]\.filter\.op: /),
        ],
      ],
      [
        withFilters(named(2), { operator: "GTE", threshold: 3 }),
        ["trigger.threshold: GTE 3 can never be met: from 0 to 2 of the 2 filters match"],
      ],
      [
        { ...withFilters(named(2)), trigger: null },
        [
          "trigger: is required with FILTERS_MATCHED_IN_ORDER: how many of the filters must match (GTE and their number for all of them)",
        ],
      ],
    ];
    const rule = ok(
      await platform.request(CreateRuleTypedDocument, { input: failureThenSuccess }, admin),
    ).createAnalyticsRule;
    for (const [definition, expected] of cases) {
      const input = definition as AnalyticsRuleInput;
      const spec = JSON.parse(JSON.stringify(definition, (_, v: unknown) => (v === null ? undefined : v)));
      expect(problems(await platform.request(CreateRuleTypedDocument, { input }, admin))).toEqual(expected);
      expect(problems(await platform.request(CreateRuleTypedDocument, { spec }, admin))).toEqual(expected);
      expect(
        problems(await platform.request(UpdateRuleTypedDocument, { id: rule.id, input }, admin)),
      ).toEqual(expected);
    }
    // Nothing was stored, and the rule is as it was.
    expect(await ruleCount()).toBe(before + 1);
    const after = ok(
      await platform.request(AnalyticsRuleByIdDocument, { id: rule.id }, admin),
    ).analyticsRule!;
    expect([after.version, after.definition]).toEqual([1, rule.definition]);
  });

  it("checks the watchlists a correlation's named filters use, and keeps a watchlist one uses from going away", async () => {
    const vips = ok(
      await platform.request(
        CreateWatchlistDocument,
        { input: { alias: "vips", name: "VIPs", searchKey: "upn", csv: "upn\nceo@contoso.com\n" } },
        admin,
      ),
    ).createWatchlist.watchlist;
    const vipFilters = (alias: string) => ({
      ...failureThenSuccess,
      displayName: "VIP failed sign-in followed by a success",
      summarize: {
        ...failureThenSuccess.summarize!,
        filters: [
          { name: "failure", filter: { field: "status", op: "eq", value: "Failure" } },
          {
            name: "vip success",
            filter: {
              all: [
                { field: "status", op: "eq", value: "Success" },
                { field: "actor_user", op: "inWatchlist", value: alias },
              ],
            },
          },
        ],
      },
    });
    expect(
      problems(await platform.request(CreateRuleTypedDocument, { input: vipFilters("nope") }, admin)),
    ).toEqual(['summarize.filters[1].filter: no watchlist with the alias "nope"']);
    ok(await platform.request(CreateRuleTypedDocument, { input: vipFilters("VIPs") }, admin));
    const inUse = await platform.request(DeleteWatchlistDocument, { id: vips.id }, admin);
    expect(inUse.errors?.[0].extensions?.code).toBe("CONFLICT");
    expect(inUse.errors![0].message).toContain('"VIP failed sign-in followed by a success"');
  });

  it("runs the correlation example of docs/api.md", async () => {
    const rule = await runDocsExample("CorrelationRule");
    expect(rule.definition).toEqual({
      summarize: {
        by: ["actor_user"],
        aggregate: "FILTERS_MATCHED_IN_ORDER",
        filters: failureThenSuccess.summarize!.filters,
      },
      trigger: { operator: "GTE", threshold: 2 },
    });
  });

  it("runs the aliases example of docs/api.md, and checks the watchlists an alias's cases use", async () => {
    const rule = await runDocsExample("AliasedRule");
    const cases = [
      { when: { field: "connector", op: "eq", value: "ENTRA_SIGNIN" }, field: "attributes.user.email_addr" },
      {
        when: { field: "connector", op: "eq", value: "OKTA_SYSTEM_LOG" },
        field: "attributes.actor.alternate_id",
      },
    ];
    expect(rule.definition).toEqual({
      summarize: { by: ["user"], aggregate: "COUNT", aliases: [{ name: "user", cases }] },
    });
    const vipCases = {
      ...spray,
      summarize: {
        by: ["user"],
        aggregate: "COUNT" as const,
        aliases: [
          {
            name: "user",
            cases: [
              {
                when: { field: "actor_user", op: "inWatchlist", value: "nope" },
                field: "attributes.user.email_addr",
              },
            ],
          },
        ],
      },
      entityMappings: [{ entityType: "ACCOUNT" as const, field: "user" }],
      incidentGrouping: null,
    };
    expect(problems(await platform.request(CreateRuleTypedDocument, { input: vipCases }, admin))).toEqual([
      'summarize.aliases[0].cases[0].when: no watchlist with the alias "nope"',
    ]);
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
