import { Field, ID, InputType, Int } from "type-graphql";
import { isUuid, textProblem, type InputProblem } from "../../../../common/src";
import type { EntityType } from "../alerts/alert-store";
import { Severity } from "../alerts/alert.entity";
import { EntityTypeEnum } from "../alerts/alerts.inputs";
import { normalizeIp } from "../connectors/normalizers/common";
import { IncidentStatus } from "../incidents/incident.entity";
import { IncidentClassification } from "../incidents/incident-workflow.types";
import {
  AutomationActionType,
  AutomationOperator,
  AutomationProperty,
  AutomationTrigger,
  type AutomationAction,
} from "./automation.types";
import {
  CIDR_OPERATORS,
  enumeratedValues,
  isAlertTrigger,
  EXACT_OPERATORS,
  parseCidr,
  PROPERTIES_OF,
  type StoredCondition,
} from "./conditions";

/** Limits of a rule definition. */
export const AUTOMATION_LIMITS = {
  conditions: 50,
  values: 100,
  valueLength: 512,
  actions: 20,
  analyticsRules: 50,
  order: { min: 1, max: 1000 },
} as const;

/** A condition of an automation rule. */
@InputType({
  description:
    "A condition: `property operator values` (see AutomationOperator); ENTITY conditions may name the `entityType` tested.",
})
export class AutomationConditionInput {
  @Field(() => AutomationProperty, { description: "The property tested." })
  property: AutomationProperty;

  @Field(() => EntityTypeEnum, {
    nullable: true,
    description:
      "ENTITY only: the kind of entity tested (IN_CIDR and NOT_IN_CIDR need IP); omitted: entities of every kind.",
  })
  entityType?: EntityType | null;

  @Field(() => AutomationOperator, { description: "The comparison." })
  operator: AutomationOperator;

  @Field(() => [String], {
    description:
      "1 to 100 values of up to 512 characters; EQUALS takes exactly one. IP entities compared whole take IP addresses, IN_CIDR and NOT_IN_CIDR addresses or CIDR prefixes.",
  })
  values: string[];
}

/** An action of an automation rule. */
@InputType({
  description:
    "An action: `type` and the fields it uses, no others. SET_STATUS: `status` (CLOSED also needs `classification` and `classificationReason`); SET_SEVERITY: `severity`; ASSIGN_OWNER: `owner`; ADD_LABELS: `labels`; ADD_TASK: `taskTitle`; RUN_PLAYBOOK: `playbookId`.",
})
export class AutomationActionInput {
  @Field(() => AutomationActionType, { description: "What the action does." })
  type: AutomationActionType;

  @Field(() => IncidentStatus, { nullable: true, description: "SET_STATUS: the new status." })
  status?: IncidentStatus | null;

  @Field(() => IncidentClassification, {
    nullable: true,
    description: "SET_STATUS to CLOSED: the classification.",
  })
  classification?: IncidentClassification | null;

  @Field(() => String, { nullable: true, description: "SET_STATUS to CLOSED: why (1 to 4,000 characters)." })
  classificationReason?: string | null;

  @Field(() => Severity, { nullable: true, description: "SET_SEVERITY: the new severity." })
  severity?: Severity | null;

  @Field(() => String, { nullable: true, description: "ASSIGN_OWNER: the owner (1 to 256 characters)." })
  owner?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: "ADD_LABELS: 1 to 50 labels of 1 to 100 characters, added to the incident's.",
  })
  labels?: string[] | null;

  @Field(() => String, { nullable: true, description: "ADD_TASK: the task's title (1 to 500 characters)." })
  taskTitle?: string | null;

  @Field(() => ID, { nullable: true, description: "RUN_PLAYBOOK: the playbook (of this tenant)." })
  playbookId?: string | null;
}

/** A new automation rule. */
@InputType({ description: "A new automation rule (ADMIN)." })
export class CreateAutomationRuleInput {
  @Field({ description: "Name (1 to 256 characters)." })
  name: string;

  @Field(() => Int, { description: "Position among the tenant's rules, 1 to 1000: lower runs first." })
  order: number;

  @Field(() => AutomationTrigger, { description: "What starts it." })
  trigger: AutomationTrigger;

  @Field(() => [ID], {
    nullable: true,
    description: "Analytics rules it is limited to (up to 50, of this tenant); none: any.",
  })
  analyticsRuleIds?: string[] | null;

  @Field(() => [AutomationConditionInput], {
    nullable: true,
    description: "Conditions (up to 50), all of which must hold; none: always.",
  })
  conditions?: AutomationConditionInput[] | null;

  @Field(() => [AutomationActionInput], { description: "1 to 20 actions, run in this order." })
  actions: AutomationActionInput[];

  @Field(() => Boolean, { nullable: true, description: "Whether it runs; default true." })
  enabled?: boolean | null;

  @Field(() => Date, { nullable: true, description: "When it stops running (in the future); null: never." })
  expiresAt?: Date | null;
}

/** Changes to an automation rule: the fields given replace the rule's. */
@InputType({
  description:
    "Changes to an automation rule (ADMIN): each field given replaces the rule's (lists whole); `expiresAt: null` removes the expiry.",
})
export class UpdateAutomationRuleInput {
  @Field(() => ID, { description: "The rule." })
  id: string;

  @Field(() => String, { nullable: true, description: "New name." })
  name?: string | null;

  @Field(() => Int, { nullable: true, description: "New position." })
  order?: number | null;

  @Field(() => AutomationTrigger, { nullable: true, description: "New trigger." })
  trigger?: AutomationTrigger | null;

  @Field(() => [ID], { nullable: true, description: "New analytics-rule scope (empty: any)." })
  analyticsRuleIds?: string[] | null;

  @Field(() => [AutomationConditionInput], { nullable: true, description: "New conditions." })
  conditions?: AutomationConditionInput[] | null;

  @Field(() => [AutomationActionInput], { nullable: true, description: "New actions." })
  actions?: AutomationActionInput[] | null;

  @Field(() => Boolean, { nullable: true, description: "Turns it on or off." })
  enabled?: boolean | null;

  @Field(() => Date, { nullable: true, description: "New expiry (in the future); null removes it." })
  expiresAt?: Date | null;
}

/** A complete rule definition, as validated and stored. */
export interface AutomationRuleDefinition {
  name: string;
  order: number;
  trigger: AutomationTrigger;
  analyticsRuleIds: string[];
  conditions: StoredCondition[];
  actions: Array<Partial<AutomationAction> & { type: AutomationActionType }>;
  enabled: boolean;
  expiresAt: Date | null;
}

/** The fields each action type uses. */
const ACTION_FIELDS: Record<AutomationActionType, ReadonlyArray<keyof AutomationActionInput>> = {
  [AutomationActionType.SET_STATUS]: ["status", "classification", "classificationReason"],
  [AutomationActionType.SET_SEVERITY]: ["severity"],
  [AutomationActionType.ASSIGN_OWNER]: ["owner"],
  [AutomationActionType.ADD_LABELS]: ["labels"],
  [AutomationActionType.ADD_TASK]: ["taskTitle"],
  [AutomationActionType.RUN_PLAYBOOK]: ["playbookId"],
};
/** Every optional field of an action: one given that its type does not use is a mistake worth naming. */
const ACTION_OPTIONAL_FIELDS = [
  "status",
  "classification",
  "classificationReason",
  "severity",
  "owner",
  "labels",
  "taskTitle",
  "playbookId",
] as const;

/** A text problem (length and storability) or null. */
function textFault(text: string, min: number, max: number): string | null {
  if (text.trim().length < min || text.length > max)
    return min > 0 ? `must be ${min} to ${max} characters` : `at most ${max} characters`;
  return textProblem(text);
}

/**
 * Checks a complete definition, listing every fault (paths as `conditions`/`actions` with the item's index);
 * returns the definition as stored (trimmed texts, enumerated values in upper case, de-duplicated labels).
 * Ids of analytics rules and playbooks are only checked for shape here: the service checks that they exist.
 */
export function checkAutomationRule(
  input: {
    name: string;
    order: number;
    trigger: AutomationTrigger;
    analyticsRuleIds: readonly string[];
    conditions: readonly AutomationConditionInput[];
    actions: readonly AutomationActionInput[];
    enabled: boolean;
    expiresAt: Date | null;
  },
  options: { now: Date; expiresAtGiven: boolean },
): { definition: AutomationRuleDefinition; problems: InputProblem[] } {
  const problems: InputProblem[] = [];
  const nameFault = textFault(input.name ?? "", 1, 256);
  if (nameFault) problems.push({ field: "name", message: nameFault });
  const { min, max } = AUTOMATION_LIMITS.order;
  if (!Number.isInteger(input.order) || input.order < min || input.order > max)
    problems.push({ field: "order", message: `must be an integer from ${min} to ${max}` });
  if (options.expiresAtGiven && input.expiresAt) {
    if (Number.isNaN(input.expiresAt.getTime()) || input.expiresAt.getTime() <= options.now.getTime())
      problems.push({ field: "expiresAt", message: "must be in the future" });
  }
  if (input.analyticsRuleIds.length > AUTOMATION_LIMITS.analyticsRules)
    problems.push({ field: "analyticsRuleIds", message: `at most ${AUTOMATION_LIMITS.analyticsRules}` });
  input.analyticsRuleIds.forEach((id, index) => {
    if (!isUuid(id))
      problems.push({ index, field: "analyticsRuleIds", message: "must be an analytics rule id" });
  });

  const properties = PROPERTIES_OF[input.trigger] ?? [];
  if (input.conditions.length > AUTOMATION_LIMITS.conditions)
    problems.push({ field: "conditions", message: `at most ${AUTOMATION_LIMITS.conditions} conditions` });
  const conditions: StoredCondition[] = input.conditions.map((c, index) => {
    const fault = (field: string, message: string) =>
      problems.push({ index, field: `conditions.${field}`, message });
    if (!properties.includes(c.property))
      fault("property", `${c.property} is not a property of ${input.trigger} (${properties.join(", ")})`);
    const onEntity = c.property === AutomationProperty.ENTITY;
    const entityType = c.entityType ?? null;
    if (entityType && !onEntity) fault("entityType", "only ENTITY conditions name an entity type");
    const allowed = enumeratedValues(c.property, input.trigger);
    const exactOnly = allowed !== null || c.property === AutomationProperty.ANALYTICS_RULE_ID;
    const cidr = CIDR_OPERATORS.includes(c.operator);
    if (exactOnly && !EXACT_OPERATORS.includes(c.operator))
      fault("operator", `${c.property} compares whole values: use ${EXACT_OPERATORS.join(", ")}`);
    else if (cidr && !(onEntity && entityType === "IP"))
      fault("operator", `${c.operator} tests IP entities only: use property ENTITY with entityType IP`);
    // IP entities compared whole: by canonical address, so `10.0.0.01`-style typos are refused, not unmatched.
    const ipExact = onEntity && entityType === "IP" && EXACT_OPERATORS.includes(c.operator);
    const values = c.values ?? [];
    if (values.length < 1 || values.length > AUTOMATION_LIMITS.values)
      fault("values", `give 1 to ${AUTOMATION_LIMITS.values} values`);
    else if (c.operator === AutomationOperator.EQUALS && values.length !== 1)
      fault("values", "EQUALS takes exactly one value (IN takes several)");
    const stored = values.map((v) => {
      if (allowed) return v.trim().toUpperCase();
      if (ipExact) return normalizeIp(v.trim()) ?? v;
      return cidr ? v.trim() : v;
    });
    stored.forEach((v, i) => {
      const problem = textFault(v, 1, AUTOMATION_LIMITS.valueLength);
      if (problem) fault("values", `value ${i + 1} ${problem}`);
      else if (allowed && !allowed.includes(v))
        fault("values", `value ${i + 1} (${v}) is not one of ${allowed.join(", ")}`);
      else if (c.property === AutomationProperty.ANALYTICS_RULE_ID && !isUuid(v))
        fault("values", `value ${i + 1} must be an analytics rule id`);
      else if (ipExact && normalizeIp(v) !== v) fault("values", `value ${i + 1} (${v}) is not an IP address`);
      else if (cidr && !parseCidr(v))
        fault("values", `value ${i + 1} (${v}) is not an IP address or CIDR prefix`);
    });
    return {
      property: c.property,
      operator: c.operator,
      values: stored,
      ...(onEntity ? { entityType } : {}),
    };
  });

  if (input.actions.length < 1 || input.actions.length > AUTOMATION_LIMITS.actions)
    problems.push({ field: "actions", message: `give 1 to ${AUTOMATION_LIMITS.actions} actions` });
  const actions = input.actions.map((a, index) => {
    const fault = (field: string, message: string) =>
      problems.push({ index, field: `actions.${field}`, message });
    const used = ACTION_FIELDS[a.type] ?? [];
    const given = (field: keyof AutomationActionInput) => a[field] !== undefined && a[field] !== null;
    for (const field of ACTION_OPTIONAL_FIELDS)
      if (given(field) && !used.includes(field)) fault(field, `not used by ${a.type}`);
    if (isAlertTrigger(input.trigger) && a.type !== AutomationActionType.RUN_PLAYBOOK)
      fault("type", `${input.trigger} rules can only run playbooks (alerts have no owner, labels or tasks)`);
    const stored: Partial<AutomationAction> & { type: AutomationActionType } = { type: a.type };
    switch (a.type) {
      case AutomationActionType.SET_STATUS: {
        if (!a.status) fault("status", "required");
        stored.status = a.status ?? null;
        if (a.status === IncidentStatus.CLOSED) {
          if (!a.classification) fault("classification", "required to close");
          const reasonFault = textFault(a.classificationReason ?? "", 1, 4000);
          if (reasonFault) fault("classificationReason", `required to close: ${reasonFault}`);
          stored.classification = a.classification ?? null;
          stored.classificationReason = a.classificationReason?.trim() ?? null;
        } else {
          if (given("classification")) fault("classification", "only when closing");
          if (given("classificationReason")) fault("classificationReason", "only when closing");
        }
        break;
      }
      case AutomationActionType.SET_SEVERITY:
        if (!a.severity) fault("severity", "required");
        stored.severity = a.severity ?? null;
        break;
      case AutomationActionType.ASSIGN_OWNER: {
        const ownerFault = textFault(a.owner ?? "", 1, 256);
        if (ownerFault) fault("owner", ownerFault);
        stored.owner = a.owner?.trim() ?? null;
        break;
      }
      case AutomationActionType.ADD_LABELS: {
        const labels = a.labels ?? [];
        if (labels.length < 1 || labels.length > 50) fault("labels", "give 1 to 50 labels");
        labels.forEach((label, i) => {
          const labelFault = textFault(label, 1, 100);
          if (labelFault) fault("labels", `label ${i + 1} ${labelFault}`);
        });
        stored.labels = [...new Set(labels.map((l) => l.trim()))];
        break;
      }
      case AutomationActionType.ADD_TASK: {
        const titleFault = textFault(a.taskTitle ?? "", 1, 500);
        if (titleFault) fault("taskTitle", titleFault);
        stored.taskTitle = a.taskTitle?.trim() ?? null;
        break;
      }
      case AutomationActionType.RUN_PLAYBOOK:
        if (!isUuid(a.playbookId)) fault("playbookId", "required: a playbook id");
        stored.playbookId = a.playbookId?.toLowerCase() ?? null;
        break;
    }
    return stored;
  });
  return {
    problems,
    definition: {
      name: input.name?.trim() ?? "",
      order: input.order,
      trigger: input.trigger,
      analyticsRuleIds: [...new Set(input.analyticsRuleIds.map((id) => id.toLowerCase()))],
      conditions,
      actions,
      enabled: input.enabled,
      expiresAt: input.expiresAt,
    },
  };
}

/** Filters automation rule runs. */
@InputType({ description: "Filters automation rule runs; every given condition must hold." })
export class AutomationRunFilter {
  @Field(() => ID, { nullable: true, description: "Runs of this rule." })
  ruleId?: string | null;

  @Field(() => ID, { nullable: true, description: "Runs on this incident." })
  incidentId?: string | null;
}
