import { validateRuleSpec } from "./rule-spec";
import {
  AnalyticsRuleEntityMappingInput,
  AnalyticsRuleIncidentGroupingInput,
  AnalyticsRuleInput,
  AnalyticsRuleTriggerInput,
  ruleSpecFromInput,
} from "./rules.inputs";

/** An input as type-graphql hands it over: class instances, with the fields a client left out undefined. */
function typed(fields: Partial<AnalyticsRuleInput>): AnalyticsRuleInput {
  return Object.assign(new AnalyticsRuleInput(), fields);
}

const base = {
  kind: "NRT",
  displayName: "AWS root account used",
  description: "",
  severity: "HIGH",
  filter: { field: "attributes.root", op: "eq", value: true },
} as const;

describe("ruleSpecFromInput", () => {
  it("gives the plain object the JSON spec would be, without the fields left out or null", () => {
    const input = typed({
      ...base,
      enabled: null,
      queryFrequency: undefined,
      trigger: Object.assign(new AnalyticsRuleTriggerInput(), { operator: "GTE", threshold: 1 }),
      entityMappings: [
        Object.assign(new AnalyticsRuleEntityMappingInput(), { entityType: "ACCOUNT", field: "actor_user" }),
      ],
      incidentGrouping: Object.assign(new AnalyticsRuleIncidentGroupingInput(), {
        enabled: true,
        matchingMethod: null,
      }),
    });
    const spec = ruleSpecFromInput(input);
    expect(spec).toStrictEqual({
      ...base,
      trigger: { operator: "GTE", threshold: 1 },
      entityMappings: [{ entityType: "ACCOUNT", field: "actor_user" }],
      incidentGrouping: { enabled: true },
    });
    expect(validateRuleSpec(spec)).toEqual([]);
  });

  it("passes the filter on untouched, so its problems keep their JSON paths", () => {
    const filter = { all: [{ field: "dst_port", op: "inCidr", value: ["10.0.0.0/8"] }, { not: null }] };
    const spec = ruleSpecFromInput(typed({ ...base, filter }));
    expect(spec.filter).toBe(filter);
    expect(validateRuleSpec(spec).map((p) => p.path)).toEqual(["filter.all[0].op", "filter.all[1].not"]);
  });
});
