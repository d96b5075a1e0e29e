/*
 * What automation rules test: the facts of an incident or alert as plain lists of strings per property, and
 * the comparison of a condition with them. Pure functions, so the semantics are tested without a database.
 */
import { AlertProvider, AlertStatus, Severity } from "../alerts/alert.entity";
import { IncidentStatus } from "../incidents/incident.entity";
import { AutomationOperator, AutomationProperty, AutomationTrigger } from "./automation.types";

/** A condition as stored. */
export interface StoredCondition {
  property: AutomationProperty;
  operator: AutomationOperator;
  values: string[];
}

/**
 * What a rule sees of the incident or alert it runs on: each property's values (a single-valued property
 * is a list of one, an unset one an empty list) and the analytics rules it came from (for the rule's scope).
 */
export interface AutomationFacts {
  values: Partial<Record<AutomationProperty, string[]>>;
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
      return trigger === AutomationTrigger.ALERT_CREATED
        ? Object.values(AlertStatus)
        : Object.values(IncidentStatus);
    case AutomationProperty.PROVIDER:
      return Object.values(AlertProvider);
    case AutomationProperty.UPDATED_FIELDS:
      return UPDATED_FIELD_VALUES;
    default:
      return null;
  }
}

/** Operators that compare whole values only (enumerated properties and ids take no substring tests). */
export const EXACT_OPERATORS: readonly AutomationOperator[] = [
  AutomationOperator.EQUALS,
  AutomationOperator.NOT_EQUALS,
  AutomationOperator.IN,
];

const NEGATED = new Set([AutomationOperator.NOT_EQUALS, AutomationOperator.NOT_CONTAINS]);

/**
 * Whether a condition holds for a property's values. Case-insensitive. A positive operator holds when any of
 * the property's values matches any of the condition's (so an unset property matches nothing); a negated one
 * when none does (so an unset owner is NOT_EQUALS every name).
 */
export function conditionHolds(condition: StoredCondition, actual: readonly string[]): boolean {
  const wanted = condition.values.map((v) => v.toLowerCase());
  const matches = (item: string) => {
    const value = item.toLowerCase();
    switch (condition.operator) {
      case AutomationOperator.CONTAINS:
      case AutomationOperator.NOT_CONTAINS:
        return wanted.some((w) => value.includes(w));
      case AutomationOperator.STARTS_WITH:
        return wanted.some((w) => value.startsWith(w));
      default:
        return wanted.includes(value);
    }
  };
  const any = actual.some(matches);
  return NEGATED.has(condition.operator) ? !any : any;
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
  return rule.conditions.every((c) => conditionHolds(c, facts.values[c.property] ?? []));
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

/** What an incident event changed, from its topic and the fields of its `changes`. */
export function updatedFields(topic: string, changedFields: readonly string[]): string[] {
  const fields = new Set(changedFields.flatMap((f) => (CHANGE_FIELDS[f] ? [CHANGE_FIELDS[f]] : [])));
  if (topic === "incident.alert_added") fields.add("ALERTS");
  if (topic === "incident.comment_added") fields.add("COMMENTS");
  if (topic === "incident.merged") fields.add("MERGED");
  return [...fields];
}
