import { AutomationOperator as Op, AutomationProperty as P, AutomationTrigger } from "./automation.types";
import {
  conditionHolds,
  enumeratedValues,
  ruleMatches,
  updatedFields,
  type AutomationFacts,
} from "./conditions";

const holds = (operator: Op, values: string[], actual: string[]) =>
  conditionHolds({ property: P.TITLE, operator, values }, actual);

describe("automation conditions", () => {
  it("compares without regard to case", () => {
    expect(holds(Op.EQUALS, ["brute FORCE"], ["Brute force"])).toBe(true);
    expect(holds(Op.CONTAINS, ["FORCE"], ["Brute force on vm-1"])).toBe(true);
    expect(holds(Op.STARTS_WITH, ["brute"], ["Brute force"])).toBe(true);
    expect(holds(Op.STARTS_WITH, ["force"], ["Brute force"])).toBe(false);
  });

  it("holds a positive operator when any value matches any item, a negated one when none does", () => {
    expect(holds(Op.IN, ["HIGH", "MEDIUM"], ["MEDIUM"])).toBe(true);
    expect(holds(Op.IN, ["HIGH", "MEDIUM"], ["LOW"])).toBe(false);
    expect(holds(Op.CONTAINS, ["prod"], ["dev", "prod-eu"])).toBe(true);
    expect(holds(Op.NOT_CONTAINS, ["prod"], ["dev", "prod-eu"])).toBe(false);
    expect(holds(Op.NOT_CONTAINS, ["prod"], ["dev", "test"])).toBe(true);
    expect(holds(Op.NOT_EQUALS, ["alice"], ["bob"])).toBe(true);
    expect(holds(Op.NOT_EQUALS, ["alice"], ["ALICE"])).toBe(false);
  });

  it("treats an unset property as matching nothing", () => {
    expect(holds(Op.EQUALS, ["alice"], [])).toBe(false);
    expect(holds(Op.CONTAINS, ["a"], [])).toBe(false);
    expect(holds(Op.NOT_EQUALS, ["alice"], [])).toBe(true);
    expect(holds(Op.NOT_CONTAINS, ["a"], [])).toBe(true);
  });

  it("needs every condition and the analytics-rule scope", () => {
    const facts: AutomationFacts = {
      analyticsRuleIds: ["0190a0a0-0000-7000-8000-00000000000a"],
      values: { [P.SEVERITY]: ["HIGH"], [P.TACTICS]: ["InitialAccess", "Persistence"] },
    };
    const high = { property: P.SEVERITY, operator: Op.EQUALS, values: ["HIGH"] };
    const access = { property: P.TACTICS, operator: Op.IN, values: ["initialaccess"] };
    const low = { property: P.SEVERITY, operator: Op.EQUALS, values: ["LOW"] };
    expect(ruleMatches({ analyticsRuleIds: [], conditions: [] }, facts)).toBe(true);
    expect(ruleMatches({ analyticsRuleIds: [], conditions: [high, access] }, facts)).toBe(true);
    expect(ruleMatches({ analyticsRuleIds: [], conditions: [high, low] }, facts)).toBe(false);
    expect(
      ruleMatches({ analyticsRuleIds: ["0190A0A0-0000-7000-8000-00000000000A"], conditions: [high] }, facts),
    ).toBe(true);
    expect(
      ruleMatches({ analyticsRuleIds: ["0190a0a0-0000-7000-8000-00000000000b"], conditions: [] }, facts),
    ).toBe(false);
  });

  it("names what an incident event changed", () => {
    expect(updatedFields("incident.updated", ["owner", "labels"]).sort()).toEqual(["LABELS", "OWNER"]);
    expect(updatedFields("incident.updated", ["taskAdded"])).toEqual(["TASKS"]);
    expect(updatedFields("incident.alert_added", ["alertId"])).toEqual(["ALERTS"]);
    expect(updatedFields("incident.comment_added", ["commentId"])).toEqual(["COMMENTS"]);
    expect(updatedFields("incident.closed", ["status", "classification", "reason"]).sort()).toEqual([
      "CLASSIFICATION",
      "STATUS",
    ]);
  });

  it("offers each trigger's own statuses", () => {
    expect(enumeratedValues(P.STATUS, AutomationTrigger.INCIDENT_CREATED)).toEqual([
      "NEW",
      "ACTIVE",
      "CLOSED",
    ]);
    expect(enumeratedValues(P.STATUS, AutomationTrigger.ALERT_CREATED)).toContain("DISMISSED");
    expect(enumeratedValues(P.TITLE, AutomationTrigger.ALERT_CREATED)).toBeNull();
  });
});
