import { AutomationOperator as Op, AutomationProperty as P, AutomationTrigger } from "./automation.types";
import {
  conditionHolds,
  enumeratedValues,
  parseCidr,
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
      entities: [],
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

  it("tests ends and the negations of starts, ends and lists", () => {
    expect(holds(Op.ENDS_WITH, ["@CONTOSO.example"], ["alice@contoso.example"])).toBe(true);
    expect(holds(Op.ENDS_WITH, ["alice"], ["alice@contoso.example"])).toBe(false);
    expect(holds(Op.NOT_ENDS_WITH, [".example"], ["alice@contoso.example"])).toBe(false);
    expect(holds(Op.NOT_ENDS_WITH, [".test"], ["alice@contoso.example"])).toBe(true);
    expect(holds(Op.NOT_STARTS_WITH, ["svc-"], ["svc-backup", "alice"])).toBe(false);
    expect(holds(Op.NOT_STARTS_WITH, ["svc-"], ["alice"])).toBe(true);
    expect(holds(Op.NOT_IN, ["HIGH", "MEDIUM"], ["LOW"])).toBe(true);
    expect(holds(Op.NOT_IN, ["HIGH", "MEDIUM"], ["medium"])).toBe(false);
  });

  it("tests addresses against CIDR ranges, IPv4 and IPv6, whatever form the address is in", () => {
    const inRange = (values: string[], actual: string[]) =>
      conditionHolds({ property: P.ENTITY, entityType: "IP", operator: Op.IN_CIDR, values }, actual);
    const outOfRange = (values: string[], actual: string[]) =>
      conditionHolds({ property: P.ENTITY, entityType: "IP", operator: Op.NOT_IN_CIDR, values }, actual);
    expect(inRange(["10.0.0.0/8"], ["10.20.30.40"])).toBe(true);
    expect(inRange(["10.0.0.0/8"], ["11.0.0.1"])).toBe(false);
    expect(inRange(["10.0.0.0/8", "192.168.1.7"], ["192.168.1.7"])).toBe(true);
    expect(inRange(["192.168.1.7"], ["192.168.1.8"])).toBe(false);
    expect(inRange(["10.1.2.3/16"], ["10.1.200.1"])).toBe(true);
    expect(inRange(["2001:DB8::/32"], ["2001:db8:0:0::1"])).toBe(true);
    expect(inRange(["2001:db8::/32"], ["2001:db9::1"])).toBe(false);
    expect(inRange(["10.0.0.0/8"], ["::ffff:10.1.1.1"])).toBe(true);
    expect(inRange(["::ffff:10.0.0.0/104"], ["10.9.9.9"])).toBe(true);
    expect(inRange(["10.0.0.0/8"], ["not-an-address"])).toBe(false);
    expect(outOfRange(["10.0.0.0/8"], ["10.1.1.1", "8.8.8.8"])).toBe(false);
    expect(outOfRange(["10.0.0.0/8"], ["8.8.8.8"])).toBe(true);
    expect(outOfRange(["10.0.0.0/8"], [])).toBe(true);
  });

  it("reads CIDR prefixes and refuses what is none", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ address: "10.0.0.0", prefix: 8, family: "ipv4" });
    expect(parseCidr(" 2001:db8::1 ")).toEqual({ address: "2001:db8::1", prefix: 128, family: "ipv6" });
    for (const bad of ["10.0.0.0/33", "10.0.0.0/8/1", "host.example", "10.0.0.0/x", "::ffff:10.0.0.0/64", ""])
      expect(parseCidr(bad)).toBeNull();
  });

  it("tests ENTITY conditions on the entities of their kind, or of every kind", () => {
    const facts: AutomationFacts = {
      analyticsRuleIds: [],
      values: {},
      entities: [
        { type: "ACCOUNT", value: "svc-backup@contoso.example" },
        { type: "HOST", value: "web-01" },
        { type: "IP", value: "203.0.113.7" },
      ],
    };
    const entity = (entityType: "ACCOUNT" | "HOST" | "IP" | null, operator: Op, values: string[]) =>
      ruleMatches(
        { analyticsRuleIds: [], conditions: [{ property: P.ENTITY, entityType, operator, values }] },
        facts,
      );
    expect(entity("ACCOUNT", Op.STARTS_WITH, ["SVC-"])).toBe(true);
    expect(entity("HOST", Op.STARTS_WITH, ["svc-"])).toBe(false);
    expect(entity(null, Op.STARTS_WITH, ["svc-"])).toBe(true);
    expect(entity("HOST", Op.EQUALS, ["WEB-01"])).toBe(true);
    expect(entity("HOST", Op.NOT_EQUALS, ["web-01"])).toBe(false);
    expect(entity("IP", Op.IN_CIDR, ["203.0.113.0/24"])).toBe(true);
    expect(entity("IP", Op.NOT_IN_CIDR, ["10.0.0.0/8"])).toBe(true);
    expect(entity("IP", Op.IN, ["198.51.100.1", "203.0.113.7"])).toBe(true);
    // No entity of the kind: positive operators fail, negated ones hold.
    expect(ruleMatches({ analyticsRuleIds: [], conditions: [] }, { ...facts, entities: [] })).toBe(true);
    expect(entity("IP", Op.EQUALS, ["web-01"])).toBe(false);
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
