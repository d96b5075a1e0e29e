/*
 * What automation rules test: the facts of an incident or alert as plain lists of strings per property, and
 * the comparison of a condition with them. Pure functions, so the semantics are tested without a database.
 */
import { BlockList, isIP } from "node:net";
import type { EntityType } from "../alerts/alert-store";
import { AlertProvider, AlertStatus, Severity } from "../alerts/alert.entity";
import { normalizeIp } from "../connectors/normalizers/common";
import { IncidentStatus } from "../incidents/incident.entity";
import { AutomationOperator, AutomationProperty, AutomationTrigger } from "./automation.types";

/** A condition as stored; `entityType` only on ENTITY conditions (absent on rules saved before there were any). */
export interface StoredCondition {
  property: AutomationProperty;
  operator: AutomationOperator;
  values: string[];
  entityType?: EntityType | null;
}

/** An entity as conditions see it: its value as alerts index it (lower case, IP addresses canonical). */
export interface FactEntity {
  type: string;
  value: string;
}

/**
 * What a rule sees of the incident or alert it runs on: each property's values (a single-valued property
 * is a list of one, an unset one an empty list), its entities (an incident's: its alerts') and the analytics
 * rules it came from (for the rule's scope).
 */
export interface AutomationFacts {
  values: Partial<Record<Exclude<AutomationProperty, AutomationProperty.ENTITY>, string[]>>;
  entities: FactEntity[];
  analyticsRuleIds: string[];
}

/** What an INCIDENT_UPDATED event changed, in UPDATED_FIELDS' vocabulary. */
export const UPDATED_FIELD_VALUES = [
  "TITLE",
  "DESCRIPTION",
  "STATUS",
  "SEVERITY",
  "OWNER",
  "LABELS",
  "CLASSIFICATION",
  "ALERTS",
  "COMMENTS",
  "TASKS",
  "MERGED",
] as const;

/** What an ALERT_UPDATED event changed, in UPDATED_FIELDS' vocabulary. */
export const ALERT_UPDATED_FIELD_VALUES = [
  "TITLE",
  "DESCRIPTION",
  "STATUS",
  "SEVERITY",
  "END_TIME",
  "TACTICS",
  "TECHNIQUES",
  "REMEDIATION",
] as const;

/** Whether a trigger's events are about an alert (rather than an incident). */
export function isAlertTrigger(trigger: AutomationTrigger): boolean {
  return trigger === AutomationTrigger.ALERT_CREATED || trigger === AutomationTrigger.ALERT_UPDATED;
}

/** The properties each trigger offers. */
export const PROPERTIES_OF: Record<AutomationTrigger, readonly AutomationProperty[]> = {
  [AutomationTrigger.INCIDENT_CREATED]: [
    AutomationProperty.TITLE,
    AutomationProperty.DESCRIPTION,
    AutomationProperty.SEVERITY,
    AutomationProperty.STATUS,
    AutomationProperty.OWNER,
    AutomationProperty.LABELS,
    AutomationProperty.TACTICS,
    AutomationProperty.TECHNIQUES,
    AutomationProperty.PROVIDER,
    AutomationProperty.ANALYTICS_RULE_ID,
    AutomationProperty.ENTITY,
  ],
  [AutomationTrigger.INCIDENT_UPDATED]: [
    AutomationProperty.TITLE,
    AutomationProperty.DESCRIPTION,
    AutomationProperty.SEVERITY,
    AutomationProperty.STATUS,
    AutomationProperty.OWNER,
    AutomationProperty.LABELS,
    AutomationProperty.TACTICS,
    AutomationProperty.TECHNIQUES,
    AutomationProperty.PROVIDER,
    AutomationProperty.ANALYTICS_RULE_ID,
    AutomationProperty.ENTITY,
    AutomationProperty.UPDATED_FIELDS,
  ],
  [AutomationTrigger.ALERT_CREATED]: [
    AutomationProperty.TITLE,
    AutomationProperty.DESCRIPTION,
    AutomationProperty.SEVERITY,
    AutomationProperty.STATUS,
    AutomationProperty.TACTICS,
    AutomationProperty.TECHNIQUES,
    AutomationProperty.PROVIDER,
    AutomationProperty.ANALYTICS_RULE_ID,
    AutomationProperty.ENTITY,
  ],
  [AutomationTrigger.ALERT_UPDATED]: [
    AutomationProperty.TITLE,
    AutomationProperty.DESCRIPTION,
    AutomationProperty.SEVERITY,
    AutomationProperty.STATUS,
    AutomationProperty.TACTICS,
    AutomationProperty.TECHNIQUES,
    AutomationProperty.PROVIDER,
    AutomationProperty.ANALYTICS_RULE_ID,
    AutomationProperty.ENTITY,
    AutomationProperty.UPDATED_FIELDS,
  ],
};

/**
 * The values an enumerated property may be compared with (per trigger, for STATUS: incidents and alerts have
 * different lifecycles); null for free-text properties.
 */
export function enumeratedValues(
  property: AutomationProperty,
  trigger: AutomationTrigger,
): readonly string[] | null {
  switch (property) {
    case AutomationProperty.SEVERITY:
      return Object.values(Severity);
    case AutomationProperty.STATUS:
      return isAlertTrigger(trigger) ? Object.values(AlertStatus) : Object.values(IncidentStatus);
    case AutomationProperty.PROVIDER:
      return Object.values(AlertProvider);
    case AutomationProperty.UPDATED_FIELDS:
      return trigger === AutomationTrigger.ALERT_UPDATED ? ALERT_UPDATED_FIELD_VALUES : UPDATED_FIELD_VALUES;
    default:
      return null;
  }
}

/** Operators that compare whole values only (enumerated properties and ids take no substring tests). */
export const EXACT_OPERATORS: readonly AutomationOperator[] = [
  AutomationOperator.EQUALS,
  AutomationOperator.NOT_EQUALS,
  AutomationOperator.IN,
  AutomationOperator.NOT_IN,
];

/** Operators that take address ranges: ENTITY conditions on IP entities only. */
export const CIDR_OPERATORS: readonly AutomationOperator[] = [
  AutomationOperator.IN_CIDR,
  AutomationOperator.NOT_IN_CIDR,
];

/** Each negated operator and the positive one it negates. */
const NEGATION_OF: Partial<Record<AutomationOperator, AutomationOperator>> = {
  [AutomationOperator.NOT_EQUALS]: AutomationOperator.EQUALS,
  [AutomationOperator.NOT_IN]: AutomationOperator.IN,
  [AutomationOperator.NOT_CONTAINS]: AutomationOperator.CONTAINS,
  [AutomationOperator.NOT_STARTS_WITH]: AutomationOperator.STARTS_WITH,
  [AutomationOperator.NOT_ENDS_WITH]: AutomationOperator.ENDS_WITH,
  [AutomationOperator.NOT_IN_CIDR]: AutomationOperator.IN_CIDR,
};

/**
 * An IP range of an IN_CIDR condition (`10.0.0.0/8`, `2001:db8::/32`, or one address), or null when the text
 * is none. Host bits below the prefix are ignored, as routers do.
 */
export function parseCidr(text: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | null {
  const [rawAddress, length, extra] = text.trim().split("/");
  if (extra !== undefined) return null;
  const kind = isIP(rawAddress);
  const address = kind ? normalizeIp(rawAddress) : null;
  if (!address) return null;
  const family = isIP(address) === 4 ? "ipv4" : "ipv6";
  const max = family === "ipv4" ? 32 : 128;
  if (length === undefined) return { address, prefix: max, family };
  // An IPv4-mapped IPv6 prefix (`::ffff:10.0.0.0/104`) is narrowed to the IPv4 addresses it holds.
  const bits = /^\d{1,3}$/.test(length) ? Number(length) - (kind === 6 && family === "ipv4" ? 96 : 0) : NaN;
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return null;
  return { address, prefix: bits, family };
}

/** The ranges of an IN_CIDR condition as a set to test addresses against. */
function rangesOf(values: readonly string[]): BlockList {
  const ranges = new BlockList();
  for (const value of values) {
    const range = parseCidr(value);
    if (range) ranges.addSubnet(range.address, range.prefix, range.family);
  }
  return ranges;
}

/**
 * Whether a condition holds for a property's values. Case-insensitive. A positive operator holds when any of
 * the property's values matches any of the condition's (so an unset property matches nothing); a negated one
 * when none does (so an unset owner is NOT_EQUALS every name, and an incident without IP entities is
 * NOT_IN_CIDR every range).
 */
export function conditionHolds(condition: StoredCondition, actual: readonly string[]): boolean {
  const negated = NEGATION_OF[condition.operator];
  const operator = negated ?? condition.operator;
  let matches: (item: string) => boolean;
  if (operator === AutomationOperator.IN_CIDR) {
    const ranges = rangesOf(condition.values);
    matches = (item) => {
      const address = normalizeIp(item);
      return address !== null && ranges.check(address, isIP(address) === 4 ? "ipv4" : "ipv6");
    };
  } else {
    const wanted = condition.values.map((v) => v.toLowerCase());
    matches = (item) => {
      const value = item.toLowerCase();
      switch (operator) {
        case AutomationOperator.CONTAINS:
          return wanted.some((w) => value.includes(w));
        case AutomationOperator.STARTS_WITH:
          return wanted.some((w) => value.startsWith(w));
        case AutomationOperator.ENDS_WITH:
          return wanted.some((w) => value.endsWith(w));
        default:
          return wanted.includes(value);
      }
    };
  }
  const any = actual.some(matches);
  return negated ? !any : any;
}

/** The values a condition tests in the facts: a property's, or the entities' of the condition's kind. */
export function valuesTested(condition: StoredCondition, facts: AutomationFacts): string[] {
  if (condition.property === AutomationProperty.ENTITY)
    return facts.entities
      .filter((e) => !condition.entityType || e.type === condition.entityType)
      .map((e) => e.value);
  return facts.values[condition.property] ?? [];
}

/** Whether a rule applies to the facts: in its analytics-rule scope, and every condition holding. */
export function ruleMatches(
  rule: { analyticsRuleIds: readonly string[]; conditions: readonly StoredCondition[] },
  facts: AutomationFacts,
): boolean {
  if (rule.analyticsRuleIds.length > 0) {
    const scope = new Set(rule.analyticsRuleIds.map((id) => id.toLowerCase()));
    if (!facts.analyticsRuleIds.some((id) => scope.has(id.toLowerCase()))) return false;
  }
  return rule.conditions.every((c) => conditionHolds(c, valuesTested(c, facts)));
}

/** Keys of an incident change (`changes` of its outbox event) → what UPDATED_FIELDS calls them. */
const CHANGE_FIELDS: Record<string, string> = {
  title: "TITLE",
  description: "DESCRIPTION",
  status: "STATUS",
  severity: "SEVERITY",
  owner: "OWNER",
  labels: "LABELS",
  classification: "CLASSIFICATION",
  alertId: "ALERTS",
  commentId: "COMMENTS",
  taskAdded: "TASKS",
  taskCompleted: "TASKS",
  mergedInto: "MERGED",
  merged: "MERGED",
};

/** Fields of an alert change (`changedFields` of its `alert.updated` event) → what UPDATED_FIELDS calls them. */
const ALERT_CHANGE_FIELDS: Record<string, string> = {
  title: "TITLE",
  description: "DESCRIPTION",
  status: "STATUS",
  severity: "SEVERITY",
  endTime: "END_TIME",
  tactics: "TACTICS",
  techniques: "TECHNIQUES",
  remediation: "REMEDIATION",
};

/** What an alert event changed, from the fields of its `changes`. */
export function alertUpdatedFields(changedFields: readonly string[]): string[] {
  return [...new Set(changedFields.flatMap((f) => (ALERT_CHANGE_FIELDS[f] ? [ALERT_CHANGE_FIELDS[f]] : [])))];
}

/** What an incident event changed, from its topic and the fields of its `changes`. */
export function updatedFields(topic: string, changedFields: readonly string[]): string[] {
  const fields = new Set(changedFields.flatMap((f) => (CHANGE_FIELDS[f] ? [CHANGE_FIELDS[f]] : [])));
  if (topic === "incident.alert_added") fields.add("ALERTS");
  if (topic === "incident.comment_added") fields.add("COMMENTS");
  if (topic === "incident.merged") fields.add("MERGED");
  return [...fields];
}
