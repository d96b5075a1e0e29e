import { compileFilterToPredicate } from "../rules/rule-filter";
import { normalizeRuleSpec, type RuleSpecInput } from "../rules/rule-spec";
import { cidrRange, indexedLookupOf } from "./retro-match";
import {
  applicableTiRules,
  builtInTiRule,
  indicatorSetOf,
  tiAlertKey,
  tiAlertsOf,
  tiSeverity,
  type MatchableEvent,
  type TiRule,
} from "./ti-matcher";

const tiSpec = (over: Partial<RuleSpecInput> = {}) =>
  normalizeRuleSpec({
    kind: "NRT",
    displayName: "TI",
    description: "",
    severity: "MEDIUM",
    filter: { field: "class_uid", op: "exists", value: true },
    threatIntelligence: true,
    alertPerResult: true,
    entityMappings: [{ entityType: "HOST", field: "device" }],
    ...over,
  });

const rule = (id: string, over: Partial<RuleSpecInput> = {}, enabled = true) => ({
  id,
  version: 1,
  spec: tiSpec(over),
  suppressedUntil: null as Date | null,
  enabled,
});

const withTest = (r: TiRule) => ({
  ...r,
  test: compileFilterToPredicate(r.spec.filter, { watchlists: () => undefined }),
});

const set = indicatorSetOf([
  {
    id: "ind-1",
    name: "C2 address",
    groups: [[{ type: "ipv4-addr", value: "198.51.100.7" }]],
    confidence: 90,
    valid_from: new Date("2020-01-01T00:00:00Z"),
    valid_until: null,
  },
  {
    id: "ind-2",
    name: "Low-confidence domain",
    groups: [[{ type: "domain-name", value: "evil.example" }]],
    confidence: 20,
    valid_from: new Date("2020-01-01T00:00:00Z"),
    valid_until: null,
  },
]);

let n = 0;
const event = (over: Partial<MatchableEvent>): MatchableEvent => ({
  id: `0190a000-0000-7000-8000-${String(++n).padStart(12, "0")}`,
  connector: "OCSF",
  time: "2026-11-20T09:10:00.000Z",
  class_uid: 4001,
  activity_id: 1,
  severity_id: 1,
  status: "Success",
  message: null,
  actor_user: null,
  src_ip: "10.0.0.5",
  src_port: null,
  dst_ip: "198.51.100.7",
  dst_port: 443,
  device: "ws-017",
  resource_id: null,
  operation: null,
  src_country: null,
  attributes: {},
  ...over,
});

const NOW = new Date("2026-11-20T12:00:00Z");

describe("applicableTiRules", () => {
  const nrt = { ...rule("nrt-1"), spec: { ...tiSpec(), threatIntelligence: undefined } };

  it("is the built-in rule for a tenant without any TI rule", () => {
    expect(applicableTiRules([nrt])).toEqual([builtInTiRule()]);
    expect(builtInTiRule()).toMatchObject({
      id: null,
      spec: {
        severityFromConfidence: true,
        threatIntelligence: true,
        tactics: ["CommandAndControl", "InitialAccess"],
      },
    });
  });

  it("is the enabled TI rules, and none when all are disabled", () => {
    const a = rule("ti-a");
    const b = rule("ti-b", {}, false);
    expect(applicableTiRules([nrt, a, b]).map((r) => r.id)).toEqual(["ti-a"]);
    expect(applicableTiRules([nrt, b])).toEqual([]);
  });
});

describe("tiSeverity", () => {
  it("is the rule's, unless the rule takes it from the indicator's confidence", () => {
    const fixed = { spec: tiSpec({ severity: "HIGH" }) };
    expect(tiSeverity(fixed, 10)).toBe("HIGH");
    const fromConfidence = { spec: tiSpec({ severity: "HIGH", severityFromConfidence: true }) };
    expect([90, 80, 79, 50, 49, 0].map((c) => tiSeverity(fromConfidence, c))).toEqual([
      "HIGH",
      "HIGH",
      "MEDIUM",
      "MEDIUM",
      "LOW",
      "LOW",
    ]);
    expect(tiSeverity(fromConfidence, null)).toBe("HIGH");
  });
});

describe("tiAlertKey", () => {
  const matched = [{ type: "ipv4-addr" as const, value: "198.51.100.7" }];
  const e = event({});

  it("keeps the built-in rule's keys as TI_MATCH alerts always had them, and prefixes a rule's with its id", () => {
    const builtIn = tiAlertKey(builtInTiRule(), "ind-1", matched, e);
    expect(builtIn).toMatch(/^ind-1:2026-11-20T09:00:00\.000Z:[0-9a-f]{32}$/);
    expect(tiAlertKey(rule("r1"), "ind-1", matched, e)).toBe(`r1:${builtIn}`);
  });

  it("is one per hour, host and account; without alertPerResult, one per indicator and hour", () => {
    const r = rule("r1");
    const same = tiAlertKey(r, "ind-1", matched, event({ time: "2026-11-20T09:59:59.000Z" }));
    expect(tiAlertKey(r, "ind-1", matched, e)).toBe(same);
    expect(tiAlertKey(r, "ind-1", matched, event({ time: new Date("2026-11-20T09:30:00Z") }))).toBe(same);
    expect(tiAlertKey(r, "ind-1", matched, event({ time: "2026-11-20T10:00:00.000Z" }))).not.toBe(same);
    expect(tiAlertKey(r, "ind-1", matched, event({ device: "ws-042" }))).not.toBe(same);
    const single = rule("r2", { alertPerResult: false });
    expect(tiAlertKey(single, "ind-1", matched, event({ device: "ws-042" }))).toBe(
      tiAlertKey(single, "ind-1", matched, e),
    );
  });
});

describe("tiAlertsOf", () => {
  it("raises per rule the alerts of the events its filter selects, with its severity, tactics and grouping", () => {
    const onlyWs017 = withTest(
      rule("r1", {
        severity: "LOW",
        filter: { field: "device", op: "eq", value: "ws-017" },
        tactics: ["Exfiltration"],
        techniques: ["T1041"],
        incidentGrouping: { enabled: true, matchingMethod: "ANY_ALERT", lookbackDuration: "PT1H" },
      }),
    );
    const fromConfidence = withTest(rule("r2", { severityFromConfidence: true }));
    const events = [
      event({}),
      event({ time: "2026-11-20T09:20:00.000Z" }),
      event({ device: "ws-099" }),
      event({ dst_ip: "203.0.113.1", attributes: { query: { hostname: "a.evil.example" } } }),
      event({ dst_ip: "203.0.113.1" }),
    ];
    const alerts = tiAlertsOf(set, [onlyWs017, fromConfidence], events, NOW);
    const summary = alerts.map((a) => [a.ruleId, a.title, a.severity, a.evidenceEventIds.length]);
    expect(summary).toEqual([
      ["r1", "Threat intelligence match: 198.51.100.7", "LOW", 2],
      ["r2", "Threat intelligence match: 198.51.100.7", "HIGH", 2],
      ["r2", "Threat intelligence match: 198.51.100.7", "HIGH", 1],
      ["r1", "Threat intelligence match: evil.example", "LOW", 1],
      ["r2", "Threat intelligence match: evil.example", "LOW", 1],
    ]);
    expect(alerts[0]).toMatchObject({
      provider: "TI_MATCH",
      tactics: ["Exfiltration"],
      techniques: ["T1041"],
      startTime: "2026-11-20T09:10:00.000Z",
      endTime: "2026-11-20T09:20:00.000Z",
      entities: [
        { type: "IP", value: "198.51.100.7" },
        { type: "HOST", value: "ws-017" },
      ],
      grouping: { enabled: true, matchingMethod: "ANY_ALERT", lookbackMs: 3_600_000 },
      evidence: {
        indicatorId: "ind-1",
        indicatorName: "C2 address",
        confidence: 90,
        matched: [{ type: "ipv4-addr", value: "198.51.100.7" }],
      },
    });
    expect(alerts[3].evidence).toEqual({
      indicatorId: "ind-2",
      indicatorName: "Low-confidence domain",
      confidence: 20,
      matched: [{ type: "domain-name", value: "evil.example" }],
    });
    expect(alerts[0].sourceId.startsWith("r1:ind-1:")).toBe(true);
  });

  it("raises nothing for a suppressed rule, and the built-in rule's alerts have no rule to group by", () => {
    const suppressed = withTest({ ...rule("r1"), suppressedUntil: new Date(NOW.getTime() + 60_000) });
    expect(tiAlertsOf(set, [suppressed], [event({})], NOW)).toEqual([]);
    const [alert] = tiAlertsOf(set, [withTest(builtInTiRule())], [event({})], NOW);
    expect(alert).toMatchObject({ ruleId: null, grouping: null, severity: "HIGH" });
  });
});

describe("retro-matching lookups", () => {
  it("turns CIDRs into address ranges", () => {
    expect(cidrRange("10.1.2.3/8")).toEqual({ lo: "10.0.0.0", hi: "10.255.255.255" });
    expect(cidrRange("192.0.2.0/32")).toEqual({ lo: "192.0.2.0", hi: "192.0.2.0" });
    expect(cidrRange("0.0.0.0/0")).toEqual({ lo: "0.0.0.0", hi: "255.255.255.255" });
    expect(cidrRange("2001:db8::/32")).toEqual({
      lo: "2001:db8:0:0:0:0:0:0",
      hi: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    });
    expect(cidrRange("203.0.113.5")).toBeNull();
  });

  it("uses one indexed observable per group, and needs the scan when a group has none", () => {
    expect(
      indexedLookupOf([
        [
          [
            { type: "ipv4-addr", value: "203.0.113.9" },
            { type: "domain-name", value: "evil.example" },
          ],
          [{ type: "email-addr", value: "Eve@Evil.example" }],
        ],
      ]),
    ).toEqual({ ips: ["203.0.113.9"], ranges: [], emails: ["eve@evil.example"] });
    expect(
      indexedLookupOf([
        [[{ type: "ipv4-addr", value: "203.0.113.9" }], [{ type: "file-hash", value: "a".repeat(64) }]],
      ]),
    ).toBeNull();
  });
});
