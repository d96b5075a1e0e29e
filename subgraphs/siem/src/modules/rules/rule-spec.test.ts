import { normalizeRuleSpec, validateRuleSpec, type RuleSpec, type RuleSpecInput } from "./rule-spec";

const scheduled: RuleSpec = {
  kind: "SCHEDULED",
  displayName: "Brute-force sign-ins from one IP address",
  description: "Ten or more failed sign-ins from one address in 10 minutes.",
  severity: "MEDIUM",
  enabled: true,
  filter: {
    all: [
      { field: "class_uid", op: "eq", value: 3002 },
      { field: "status", op: "eq", value: "Failure" },
    ],
  },
  summarize: { by: ["src_ip"], aggregate: "COUNT" },
  trigger: { operator: "GTE", threshold: 10 },
  queryFrequency: "PT10M",
  queryPeriod: "PT10M",
  tactics: ["CredentialAccess"],
  techniques: ["T1110", "T1110.003"],
  entityMappings: [{ entityType: "IP", field: "src_ip" }],
  alertPerResult: true,
  suppression: { enabled: false, duration: "PT1H" },
  incidentGrouping: {
    enabled: true,
    matchingMethod: "SELECTED",
    selectedEntityTypes: ["IP"],
    lookbackDuration: "PT5H",
    reopenClosedIncident: false,
  },
};

const nrt: RuleSpecInput = {
  kind: "NRT",
  displayName: "AWS root account used",
  description: "",
  severity: "HIGH",
  filter: { field: "attributes.root", op: "eq", value: true },
  entityMappings: [
    { entityType: "ACCOUNT", field: "actor_user" },
    { entityType: "IP", field: "src_ip" },
  ],
};

/** The problems of `scheduled` with `changes` applied (undefined removes a key), as `path: message` lines. */
function problemsWith(changes: Record<string, unknown>, base: object = scheduled): string[] {
  const spec: Record<string, unknown> = { ...base, ...changes };
  for (const [name, value] of Object.entries(changes)) if (value === undefined) delete spec[name];
  return validateRuleSpec(spec).map((p) => `${p.path}: ${p.message}`);
}

describe("validateRuleSpec", () => {
  it("accepts complete scheduled rules and minimal NRT rules", () => {
    expect(validateRuleSpec(scheduled)).toEqual([]);
    expect(validateRuleSpec(nrt)).toEqual([]);
  });

  it("rejects non-objects without throwing", () => {
    expect(validateRuleSpec(null)).toEqual([
      { path: "", message: expect.stringMatching(/must be an object/) },
    ]);
    expect(validateRuleSpec([])).toHaveLength(1);
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("nope");
        },
      },
    );
    expect(validateRuleSpec(hostile)).toEqual([{ path: "", message: expect.stringMatching(/nope/) }]);
  });

  it("requires the core fields and rejects unknown ones", () => {
    expect(
      problemsWith({ kind: undefined, displayName: undefined, severity: "CRITICAL", colour: "red" }),
    ).toEqual([
      expect.stringMatching(/^colour: unknown field/),
      "kind: is required",
      "displayName: is required",
      expect.stringMatching(/^severity: must be one of INFORMATIONAL, LOW, MEDIUM, HIGH/),
    ]);
    expect(problemsWith({ displayName: "   " })).toEqual(["displayName: must not be empty"]);
    expect(problemsWith({ displayName: "x".repeat(257) })).toEqual([
      expect.stringMatching(/^displayName: .*256/),
    ]);
    expect(problemsWith({ displayName: "x".repeat(256) })).toEqual([]);
    expect(problemsWith({ enabled: "yes" })).toEqual([
      expect.stringMatching(/^enabled: must be true or false/),
    ]);
  });

  it("reports filter problems under filter", () => {
    expect(problemsWith({ filter: { all: [{ field: "class_uid", op: "like", value: 1 }] } })).toEqual([
      expect.stringMatching(/^filter\.all\[0\]\.op: must be one of/),
    ]);
    expect(problemsWith({ filter: "class_uid = 3002" })).toEqual([
      expect.stringMatching(/^filter: must be an object/),
    ]);
    expect(problemsWith({ filter: undefined })).toEqual([
      "filter: is required (or, for a SCHEDULED rule, a KQL `query` instead)",
    ]);
  });

  it("takes a KQL query instead of filter and summarize, on SCHEDULED rules only", () => {
    const query = "Authentication | summarize n = count() by src_ip | where n > 5";
    const kql = { filter: undefined, summarize: undefined, query };
    expect(problemsWith(kql)).toEqual([]);
    // Entity mappings name result columns, known only when the query runs.
    expect(problemsWith({ ...kql, entityMappings: [{ entityType: "IP", field: "n" }] })).toEqual([]);
    expect(problemsWith({ query })).toEqual([
      expect.stringMatching(/^filter: a rule is either a filter .* or a KQL query/),
      expect.stringMatching(/^summarize: a KQL rule summarizes in its query/),
    ]);
    expect(problemsWith({ ...kql, query: "Authentication | wher x" })).toEqual([
      expect.stringMatching(/^query: line 1, column \d+: /),
    ]);
    expect(problemsWith({ ...kql, query: " " })).toEqual(["query: must not be empty"]);
    expect(problemsWith({ query, filter: undefined }, nrt)).toEqual([
      expect.stringMatching(/^query: NRT rules take the structured filter only/),
    ]);
  });

  it("keeps the query and no filter when normalising a KQL rule", () => {
    const query = "Authentication | where status == 'Failure'";
    const { filter: _filter, summarize: _summarize, ...rest } = scheduled;
    const normalized = normalizeRuleSpec({ ...rest, query });
    expect(normalized.query).toBe(query);
    expect("filter" in normalized).toBe(false);
  });

  it("checks timings and their bounds", () => {
    expect(problemsWith({ queryFrequency: "PT1H", queryPeriod: "PT30M" })).toEqual([
      expect.stringMatching(/^queryPeriod: must be at least queryFrequency \(PT1H\)/),
    ]);
    expect(problemsWith({ queryFrequency: "PT1M" })).toEqual([
      "queryFrequency: must be between 5 minutes (PT5M) and 14 days (P14D) (got PT1M)",
    ]);
    expect(problemsWith({ queryPeriod: "P15D" })).toEqual([
      expect.stringMatching(/^queryPeriod: must be between/),
    ]);
    expect(problemsWith({ queryPeriod: "P1M" })).toEqual([expect.stringMatching(/^queryPeriod: .*months/)]);
    expect(problemsWith({ queryFrequency: undefined, queryPeriod: undefined })).toEqual([
      expect.stringMatching(/^queryFrequency: is required for SCHEDULED/),
      expect.stringMatching(/^queryPeriod: is required for SCHEDULED/),
    ]);
    expect(problemsWith({ queryFrequency: "P14D", queryPeriod: "P2W" })).toEqual([]);
  });

  it("keeps NRT rules free of schedules and summarisation", () => {
    expect(
      problemsWith({ queryFrequency: "PT5M", summarize: { by: ["actor_user"], aggregate: "COUNT" } }, nrt),
    ).toEqual([
      expect.stringMatching(/^summarize: NRT rules cannot summarize/),
      expect.stringMatching(/^queryFrequency: NRT rules have no schedule/),
      expect.stringMatching(/^entityMappings\[1\]\.field: a summarised rule's results have only/),
    ]);
  });

  it("keeps NRT rules to 'any matching event' (a threshold would count whatever one ingest batch holds)", () => {
    expect(problemsWith({ trigger: { operator: "GT", threshold: 0 } }, nrt)).toEqual([]);
    expect(problemsWith({ trigger: { operator: "GTE", threshold: 1 } }, nrt)).toEqual([]);
    for (const trigger of [
      { operator: "GT", threshold: 5 },
      { operator: "LT", threshold: 1 },
      { operator: "EQ", threshold: 0 },
    ]) {
      expect(problemsWith({ trigger }, nrt)).toEqual([
        expect.stringMatching(/^trigger: NRT rules fire on every matching event/),
      ]);
    }
  });

  it("checks summarize", () => {
    expect(problemsWith({ summarize: { by: ["src_ip"], aggregate: "DISTINCT_COUNT" } })).toEqual([
      expect.stringMatching(/^summarize\.field: is required for DISTINCT_COUNT/),
    ]);
    expect(problemsWith({ summarize: { by: ["src_ip"], aggregate: "COUNT", field: "dst_port" } })).toEqual([
      expect.stringMatching(/^summarize\.field: only DISTINCT_COUNT/),
    ]);
    expect(problemsWith({ summarize: { by: ["src_ip", "src_ip", "nope"], aggregate: "SUM" } })).toEqual([
      expect.stringMatching(/^summarize\.by\[1\]: "src_ip" is listed twice/),
      expect.stringMatching(/^summarize\.by\[2\]: must be an event column/),
      expect.stringMatching(
        /^summarize\.aggregate: must be one of COUNT, DISTINCT_COUNT, FILTERS_MATCHED, FILTERS_MATCHED_IN_ORDER/,
      ),
    ]);
    expect(
      problemsWith({ summarize: { by: ["src_ip"], aggregate: "DISTINCT_COUNT", field: "src_ip" } }),
    ).toEqual([expect.stringMatching(/always gives 1/)]);
    expect(
      problemsWith({
        summarize: { by: ["src_ip", "attributes.app"], aggregate: "DISTINCT_COUNT", field: "dst_port" },
      }),
    ).toEqual([]);
  });

  it("takes a sliding summarize.window with COUNT or DISTINCT_COUNT, up to queryPeriod, triggered by GT or GTE", () => {
    const sliding = (window: unknown, operator = "GTE", aggregate = "COUNT") => ({
      summarize: { by: ["src_ip"], aggregate, window },
      trigger: { operator, threshold: 10 },
    });
    expect(problemsWith(sliding("PT10M"))).toEqual([]);
    expect(problemsWith(sliding("PT1M", "GT"))).toEqual([]);
    expect(normalizeRuleSpec({ ...scheduled, ...sliding("PT5M") } as RuleSpecInput).summarize).toEqual({
      by: ["src_ip"],
      aggregate: "COUNT",
      window: "PT5M",
    });
    expect(problemsWith(sliding("PT11M"))).toEqual([
      expect.stringMatching(/^summarize\.window: must be at most queryPeriod \(PT10M\)/),
    ]);
    expect(problemsWith(sliding("PT30S"))).toEqual([expect.stringMatching(/^summarize\.window: /)]);
    expect(problemsWith(sliding("soon"))).toEqual([expect.stringMatching(/^summarize\.window: /)]);
    for (const operator of ["LT", "LTE", "EQ", "NE"])
      expect(problemsWith(sliding("PT5M", operator))).toEqual([
        expect.stringMatching(/^trigger\.operator: a sliding summarize\.window takes GT or GTE/),
      ]);
    expect(
      problemsWith({
        summarize: {
          by: ["src_ip"],
          aggregate: "FILTERS_MATCHED",
          window: "PT5M",
          filters: [
            { name: "a", filter: { field: "status", op: "eq", value: "Failure" } },
            { name: "b", filter: { field: "status", op: "eq", value: "Success" } },
          ],
        },
        trigger: { operator: "GTE", threshold: 2 },
      }),
    ).toEqual([expect.stringMatching(/^summarize\.window: only COUNT and DISTINCT_COUNT slide/)]);
  });

  describe("aliases: one name for a field that is a different column per kind of event", () => {
    const entra = { field: "connector", op: "eq", value: "ENTRA_SIGNIN" };
    const okta = { field: "connector", op: "eq", value: "OKTA_SYSTEM_LOG" };
    const user = {
      name: "user",
      cases: [
        { when: entra, field: "attributes.user.email_addr" },
        { when: okta, field: "attributes.actor.alternate_id" },
      ],
    };
    const aliased = (summarize: Record<string, unknown>, entityField = "user") =>
      problemsWith({
        summarize: { by: ["user"], aggregate: "COUNT", aliases: [user], ...summarize },
        entityMappings: [{ entityType: "ACCOUNT", field: entityField }],
        incidentGrouping: undefined,
      });

    it("lets by, a DISTINCT_COUNT's field and entity mappings name an alias, and keeps it normalised", () => {
      expect(aliased({})).toEqual([]);
      expect(
        aliased({ by: ["src_ip"], aggregate: "DISTINCT_COUNT", field: "user", window: "PT10M" }, "src_ip"),
      ).toEqual([]);
      expect(aliased({ aggregate: "DISTINCT_COUNT", field: "user" })).toEqual([
        expect.stringMatching(/always gives 1/),
      ]);
      const spec = normalizeRuleSpec({
        ...scheduled,
        summarize: { by: ["user"], aggregate: "COUNT", aliases: [user] },
      });
      expect(spec.summarize).toEqual({ by: ["user"], aggregate: "COUNT", aliases: [user] });
    });

    it("names what is wrong with an alias: its name, its cases, a case's filter and field, and names no alias has", () => {
      expect(aliased({ aliases: undefined })).toEqual([
        expect.stringMatching(/^summarize\.by\[0\]: must be an event column/),
        expect.stringMatching(/^entityMappings\[0\]\.field: a summarised rule's results have only/),
      ]);
      expect(
        aliased(
          {
            by: ["src_ip"],
            aliases: [
              { name: "src_ip", cases: [{ when: entra, field: "actor_user" }] },
              { name: "user", cases: [] },
              {
                name: "user",
                cases: [{ when: { field: "connector", op: "near", value: 1 }, field: "nope" }],
                extra: 1,
              },
              "account",
            ],
          },
          "src_ip",
        ),
      ).toEqual([
        'summarize.aliases[0].name: must be a word of letters, digits, _ and - (at most 64) that is not an event column (got "src_ip")',
        "summarize.aliases[1].cases: must be a list of 1 to 10 { when, field } (got an array)",
        expect.stringMatching(/^summarize\.aliases\[2\]\.extra: unknown field/),
        'summarize.aliases[2].name: "user" is named twice',
        expect.stringMatching(/^summarize\.aliases\[2\]\.cases\[0\]\.when\.op: /),
        expect.stringMatching(/^summarize\.aliases\[2\]\.cases\[0\]\.field: must be an event column/),
        'summarize.aliases[3]: must be an object { name, cases } (got "account")',
      ]);
    });
  });

  describe("correlations of named filters (FILTERS_MATCHED, FILTERS_MATCHED_IN_ORDER)", () => {
    const failure = { field: "status", op: "eq", value: "Failure" };
    const success = { field: "status", op: "eq", value: "Success" };
    const named = (count: number) =>
      Array.from({ length: count }, (_, i) => ({ name: `step ${i + 1}`, filter: i % 2 ? success : failure }));
    /** The problems of a rule correlating per account; trigger "absent" leaves the trigger out. */
    const correlation = (
      summarize: Record<string, unknown>,
      trigger: unknown = { operator: "GTE", threshold: 2 },
    ) =>
      problemsWith({
        summarize: { by: ["actor_user"], aggregate: "FILTERS_MATCHED_IN_ORDER", ...summarize },
        trigger: trigger === "absent" ? undefined : trigger,
        entityMappings: [{ entityType: "ACCOUNT", field: "actor_user" }],
        incidentGrouping: undefined,
      });

    it("accepts 2 to 10 named filters, and normalises them", () => {
      expect(correlation({ filters: named(2) })).toEqual([]);
      expect(
        correlation({ aggregate: "FILTERS_MATCHED", filters: named(10) }, { operator: "LT", threshold: 10 }),
      ).toEqual([]);
      const spec = normalizeRuleSpec({
        ...scheduled,
        summarize: { by: ["actor_user"], aggregate: "FILTERS_MATCHED", filters: named(2) },
      });
      expect(spec.summarize).toEqual({ by: ["actor_user"], aggregate: "FILTERS_MATCHED", filters: named(2) });
    });

    it("names the field of an empty list, a single filter, too many and a list that is none", () => {
      expect(correlation({ filters: [] })).toEqual([
        "summarize.filters: must name at least 2 filters (got 0): a correlation of one filter is a COUNT of its events",
      ]);
      expect(correlation({ filters: named(1) })).toEqual([
        "summarize.filters: must name at least 2 filters (got 1): a correlation of one filter is a COUNT of its events",
      ]);
      expect(correlation({ filters: named(11) })).toEqual([
        "summarize.filters: must name at most 10 filters (got 11)",
      ]);
      expect(correlation({ filters: { name: "a", filter: failure } })).toEqual([
        "summarize.filters: must be a list of 2 to 10 { name, filter } (got an object)",
      ]);
      expect(correlation({})).toEqual([
        "summarize.filters: is required for FILTERS_MATCHED_IN_ORDER: the 2 to 10 named filters it correlates",
      ]);
    });

    it("names the filter and the part of it at fault", () => {
      expect(
        correlation({
          filters: [
            {
              name: "failure",
              filter: { all: [failure, { field: "dst_port", op: "inCidr", value: ["10.0.0.0/8"] }] },
            },
            { name: "failure", filter: success, colour: "red" },
            { name: "", filter: success },
            "success",
            { filter: { nope: true } },
          ],
        }),
      ).toEqual([
        expect.stringMatching(/^summarize\.filters\[0\]\.filter\.all\[1\]\.op: /),
        expect.stringMatching(/^summarize\.filters\[1\]\.colour: unknown field/),
        'summarize.filters[1].name: "failure" is named twice',
        "summarize.filters[2].name: must not be empty",
        'summarize.filters[3]: must be an object { name, filter } (got "success")',
        "summarize.filters[4].name: is required",
        expect.stringMatching(/^summarize\.filters\[4\]\.filter: /),
      ]);
    });

    it("takes filters only with a correlation aggregate, and no field there", () => {
      expect(problemsWith({ summarize: { by: ["src_ip"], aggregate: "COUNT", filters: named(2) } })).toEqual([
        "summarize.filters: only FILTERS_MATCHED and FILTERS_MATCHED_IN_ORDER take filters (COUNT aggregates the events of `filter`)",
      ]);
      expect(correlation({ filters: named(2), field: "src_ip" })).toEqual([
        "summarize.field: only DISTINCT_COUNT takes a field (FILTERS_MATCHED_IN_ORDER counts the filters that matched)",
      ]);
    });

    it("wants a trigger some number of the filters can meet, given explicitly", () => {
      expect(correlation({ filters: named(3) }, "absent")).toEqual([
        "trigger: is required with FILTERS_MATCHED_IN_ORDER: how many of the filters must match (GTE and their number for all of them)",
      ]);
      expect(correlation({ filters: named(3) }, { operator: "GTE", threshold: 4 })).toEqual([
        "trigger.threshold: GTE 4 can never be met: from 0 to 3 of the 3 filters match",
      ]);
      expect(correlation({ filters: named(3) }, { operator: "GT", threshold: 3 })).toEqual([
        "trigger.threshold: GT 3 can never be met: from 0 to 3 of the 3 filters match",
      ]);
      expect(correlation({ filters: named(3) }, { operator: "EQ", threshold: 3 })).toEqual([]);
      expect(correlation({ filters: named(3) }, { operator: "LT", threshold: 1 })).toEqual([]);
    });
  });

  it("checks the trigger", () => {
    expect(problemsWith({ trigger: { operator: "GTE", threshold: -1 } })).toEqual([
      expect.stringMatching(/^trigger\.threshold: must be a whole number ≥ 0/),
    ]);
    expect(problemsWith({ trigger: { operator: "NotEqual", threshold: 1.5 } })).toEqual([
      expect.stringMatching(/^trigger\.operator: must be one of GT, GTE, LT, LTE, EQ, NE/),
      expect.stringMatching(/^trigger\.threshold: must be a whole number/),
    ]);
    expect(problemsWith({ trigger: { operator: "EQ", threshold: 0 } })).toEqual([]);
    expect(problemsWith({ trigger: { operator: "NE", threshold: 0 } })).toEqual([]);
  });

  it("checks MITRE tactics and technique ids", () => {
    expect(problemsWith({ tactics: ["CredentialAccess", "Credential Access", "CredentialAccess"] })).toEqual([
      expect.stringMatching(/^tactics\[1\]: unknown MITRE ATT&CK tactic "Credential Access"/),
      expect.stringMatching(/^tactics\[2\]: "CredentialAccess" is listed twice/),
    ]);
    expect(problemsWith({ techniques: ["T1110", "T1110.001", "t1110", "T110", "T1110.01", 1110] })).toEqual([
      expect.stringMatching(/^techniques\[2\]: must be a MITRE ATT&CK technique id/),
      expect.stringMatching(/^techniques\[3\]: /),
      expect.stringMatching(/^techniques\[4\]: /),
      expect.stringMatching(/^techniques\[5\]: must be a string/),
    ]);
  });

  it("checks entity mappings against columns, attributes and by-fields", () => {
    expect(
      problemsWith(
        {
          entityMappings: [
            { entityType: "ACCOUNT", field: "actor_user" },
            { entityType: "HOST", field: "hostname" },
            { entityType: "URL", field: "attributes.url" },
            { entityType: "USER", field: "actor_user" },
            { entityType: "ACCOUNT", field: "actor_user" },
          ],
        },
        nrt,
      ),
    ).toEqual([
      expect.stringMatching(/^entityMappings\[1\]\.field: must be an event column/),
      expect.stringMatching(/^entityMappings\[3\]\.entityType: must be one of ACCOUNT, HOST/),
      expect.stringMatching(/^entityMappings\[4\]: ACCOUNT is already mapped from actor_user/),
    ]);
    // A summarised rule's results are groups: only `by` fields are there.
    expect(problemsWith({ entityMappings: [{ entityType: "ACCOUNT", field: "actor_user" }] })).toEqual([
      'entityMappings[0].field: a summarised rule\'s results have only its summarize.by fields (src_ip) (got "actor_user")',
      expect.stringMatching(/^incidentGrouping\.selectedEntityTypes\[0\]: IP is not mapped/),
    ]);
    const eleven = Array.from({ length: 11 }, () => ({ entityType: "IP", field: "src_ip" }));
    expect(problemsWith({ entityMappings: eleven })).toEqual([
      "entityMappings: must have at most 10 entries",
    ]);
  });

  it("checks suppression and incident grouping", () => {
    expect(problemsWith({ suppression: { enabled: true, duration: "P2D" } })).toEqual([
      "suppression.duration: must be between 5 minutes (PT5M) and 1 day (P1D) (got P2D)",
    ]);
    expect(problemsWith({ suppression: { enabled: true } })).toEqual([
      "suppression.duration: is required when suppression is enabled",
    ]);
    expect(problemsWith({ suppression: { enabled: false } })).toEqual([]);
    const grouping = (changes: object) => ({
      incidentGrouping: { ...scheduled.incidentGrouping, ...changes },
    });
    expect(problemsWith(grouping({ selectedEntityTypes: undefined }))).toEqual([
      expect.stringMatching(
        /^incidentGrouping\.selectedEntityTypes: is required when matchingMethod is SELECTED/,
      ),
    ]);
    expect(problemsWith(grouping({ selectedEntityTypes: [] }))).toEqual([
      "incidentGrouping.selectedEntityTypes: must name at least one entity type",
    ]);
    expect(problemsWith(grouping({ selectedEntityTypes: ["IP", "HOST", "PLANET"] }))).toEqual([
      expect.stringMatching(/^incidentGrouping\.selectedEntityTypes\[1\]: HOST is not mapped/),
      expect.stringMatching(/^incidentGrouping\.selectedEntityTypes\[2\]: must be one of/),
    ]);
    expect(problemsWith(grouping({ matchingMethod: "ANY_ALERT" }))).toEqual([
      "incidentGrouping.selectedEntityTypes: only applies when matchingMethod is SELECTED",
    ]);
    expect(problemsWith(grouping({ lookbackDuration: "P8D" }))).toEqual([
      expect.stringMatching(
        /^incidentGrouping\.lookbackDuration: must be between 5 minutes \(PT5M\) and 7 days/,
      ),
    ]);
    expect(problemsWith(grouping({ lookbackDuration: "PT4M", reopenClosedIncident: "no" }))).toEqual([
      expect.stringMatching(/^incidentGrouping\.reopenClosedIncident: must be true or false/),
      expect.stringMatching(/^incidentGrouping\.lookbackDuration: /),
    ]);
  });

  it("accepts the threat-intelligence marker", () => {
    expect(
      problemsWith(
        { threatIntelligence: true, filter: { field: "class_uid", op: "exists", value: true } },
        nrt,
      ),
    ).toEqual([]);
    expect(problemsWith({ threatIntelligence: "yes" }, nrt)).toEqual([
      expect.stringMatching(/^threatIntelligence: must be true or false/),
    ]);
  });

  it("keeps threat-intelligence rules NRT and unsummarised, and severityFromConfidence to them", () => {
    expect(problemsWith({ threatIntelligence: true, severityFromConfidence: true }, nrt)).toEqual([]);
    expect(problemsWith({ severityFromConfidence: true }, nrt)).toEqual([
      expect.stringMatching(/^severityFromConfidence: only threat-intelligence rules/),
    ]);
    expect(problemsWith({ threatIntelligence: true, severityFromConfidence: "yes" }, nrt)).toEqual([
      expect.stringMatching(/^severityFromConfidence: must be true or false/),
    ]);
    expect(problemsWith({ threatIntelligence: true }, scheduled)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^threatIntelligence: threat-intelligence rules are NRT/),
      ]),
    );
    expect(
      normalizeRuleSpec({ ...nrt, threatIntelligence: true, severityFromConfidence: true }),
    ).toMatchObject({
      threatIntelligence: true,
      severityFromConfidence: true,
    });
  });
});

describe("normalizeRuleSpec", () => {
  it("fills Sentinel's defaults", () => {
    expect(normalizeRuleSpec(nrt)).toEqual({
      kind: "NRT",
      displayName: "AWS root account used",
      description: "",
      severity: "HIGH",
      enabled: true,
      filter: nrt.filter,
      trigger: { operator: "GT", threshold: 0 },
      tactics: [],
      techniques: [],
      entityMappings: nrt.entityMappings,
      alertPerResult: false,
      suppression: { enabled: false, duration: "PT5H" },
      incidentGrouping: {
        enabled: false,
        matchingMethod: "ALL_ENTITIES",
        lookbackDuration: "PT5H",
        reopenClosedIncident: false,
      },
    });
  });

  it("keeps a complete spec as it is, in a new object", () => {
    const normalized = normalizeRuleSpec(scheduled);
    expect(normalized).toEqual(scheduled);
    expect(normalized).not.toBe(scheduled);
    expect(normalized.tactics).not.toBe(scheduled.tactics);
    expect(validateRuleSpec(normalized)).toEqual([]);
    expect(validateRuleSpec(normalizeRuleSpec(nrt))).toEqual([]);
  });

  it("drops selectedEntityTypes unless SELECTED and keeps the TI flag", () => {
    const spec = normalizeRuleSpec({
      ...nrt,
      threatIntelligence: true,
      incidentGrouping: { enabled: true, matchingMethod: "ANY_ALERT", selectedEntityTypes: ["IP"] },
    });
    expect(spec.incidentGrouping).toEqual({
      enabled: true,
      matchingMethod: "ANY_ALERT",
      lookbackDuration: "PT5H",
      reopenClosedIncident: false,
    });
    expect(spec.threatIntelligence).toBe(true);
  });
});
