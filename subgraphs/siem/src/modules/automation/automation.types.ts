import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Connection } from "../../../../common/src";
import type { EntityType } from "../alerts/alert-store";
import { Severity } from "../alerts/alert.entity";
import { EntityTypeEnum } from "../alerts/alerts.inputs";
import { IncidentStatus } from "../incidents/incident.entity";
import { IncidentClassification } from "../incidents/incident-workflow.types";

/** What starts an automation rule (Sentinel's automation rule triggers). */
export enum AutomationTrigger {
  INCIDENT_CREATED = "INCIDENT_CREATED",
  INCIDENT_UPDATED = "INCIDENT_UPDATED",
  ALERT_CREATED = "ALERT_CREATED",
  ALERT_UPDATED = "ALERT_UPDATED",
}

/** A property of the incident or alert that a condition tests. */
export enum AutomationProperty {
  TITLE = "TITLE",
  DESCRIPTION = "DESCRIPTION",
  SEVERITY = "SEVERITY",
  STATUS = "STATUS",
  OWNER = "OWNER",
  LABELS = "LABELS",
  TACTICS = "TACTICS",
  TECHNIQUES = "TECHNIQUES",
  PROVIDER = "PROVIDER",
  ANALYTICS_RULE_ID = "ANALYTICS_RULE_ID",
  UPDATED_FIELDS = "UPDATED_FIELDS",
  ENTITY = "ENTITY",
}

/** How a condition compares a property with its values. */
export enum AutomationOperator {
  EQUALS = "EQUALS",
  NOT_EQUALS = "NOT_EQUALS",
  CONTAINS = "CONTAINS",
  NOT_CONTAINS = "NOT_CONTAINS",
  STARTS_WITH = "STARTS_WITH",
  NOT_STARTS_WITH = "NOT_STARTS_WITH",
  ENDS_WITH = "ENDS_WITH",
  NOT_ENDS_WITH = "NOT_ENDS_WITH",
  IN = "IN",
  NOT_IN = "NOT_IN",
  IN_CIDR = "IN_CIDR",
  NOT_IN_CIDR = "NOT_IN_CIDR",
}

/** What an automation rule does. */
export enum AutomationActionType {
  SET_STATUS = "SET_STATUS",
  SET_SEVERITY = "SET_SEVERITY",
  ASSIGN_OWNER = "ASSIGN_OWNER",
  ADD_LABELS = "ADD_LABELS",
  ADD_TASK = "ADD_TASK",
  RUN_PLAYBOOK = "RUN_PLAYBOOK",
}

/** How one automation rule run ended. */
export enum AutomationRunStatus {
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
}

/** What one action of a run did. */
export enum AutomationActionResult {
  APPLIED = "APPLIED",
  UNCHANGED = "UNCHANGED",
  FAILED = "FAILED",
}

registerEnumType(AutomationTrigger, {
  name: "AutomationTrigger",
  description:
    "What starts an automation rule: an incident created, an incident updated (not by automation), an alert created, or an alert updated (an analyst's triage with `updateAlerts`, or its provider sending it again with new values).",
});
registerEnumType(AutomationProperty, {
  name: "AutomationProperty",
  description:
    "A property a condition tests. Incidents: every one (TACTICS, TECHNIQUES, PROVIDER, ANALYTICS_RULE_ID and ENTITY gather the incident's alerts; UPDATED_FIELDS is INCIDENT_UPDATED's and ALERT_UPDATED's only). Alerts: TITLE, DESCRIPTION, SEVERITY, STATUS, TACTICS, TECHNIQUES, PROVIDER, ANALYTICS_RULE_ID, ENTITY, and UPDATED_FIELDS for ALERT_UPDATED.",
  valuesConfig: {
    ENTITY: {
      description:
        "The values of the entities (of the incident's alerts, or of the alert) of the condition's `entityType`, or of every kind when it has none. IP values are compared in canonical form (`::ffff:10.0.0.1` is `10.0.0.1`).",
    },
    UPDATED_FIELDS: {
      description:
        "What the update changed. Of an incident: TITLE, DESCRIPTION, STATUS, SEVERITY, OWNER, LABELS, CLASSIFICATION, ALERTS, COMMENTS, TASKS or MERGED; of an alert (ALERT_UPDATED): TITLE, DESCRIPTION, STATUS, SEVERITY, END_TIME, TACTICS, TECHNIQUES or REMEDIATION.",
    },
  },
});
registerEnumType(AutomationOperator, {
  name: "AutomationOperator",
  description:
    "Comparison, case-insensitive. EQUALS (one value), IN, CONTAINS, STARTS_WITH, ENDS_WITH and IN_CIDR hold when any of the property's values matches any condition value; their negations NOT_EQUALS, NOT_IN, NOT_CONTAINS, NOT_STARTS_WITH, NOT_ENDS_WITH and NOT_IN_CIDR when none does (so an incident without IP entities is NOT_IN_CIDR every range). IN_CIDR and NOT_IN_CIDR take IP addresses and CIDR prefixes and test ENTITY conditions of `entityType: IP` only.",
});
registerEnumType(AutomationActionType, {
  name: "AutomationActionType",
  description: "What an action does. ALERT_CREATED and ALERT_UPDATED rules may only run playbooks.",
});
registerEnumType(AutomationRunStatus, {
  name: "AutomationRunStatus",
  description: "SUCCEEDED when every action was applied or had nothing to change; FAILED otherwise.",
});
registerEnumType(AutomationActionResult, {
  name: "AutomationActionResult",
  description: "APPLIED, UNCHANGED (nothing to change) or FAILED (see `error`).",
});

/** One condition of an automation rule. */
@ObjectType({ description: "A condition of an automation rule: `property operator values`." })
export class AutomationCondition {
  @Field(() => AutomationProperty, { description: "The property tested." })
  property: AutomationProperty;

  @Field(() => AutomationOperator, { description: "The comparison." })
  operator: AutomationOperator;

  @Field(() => EntityTypeEnum, {
    nullable: true,
    description:
      "ENTITY: the kind of entity tested; null: entities of every kind (and for other properties).",
  })
  entityType: EntityType | null;

  @Field(() => [String], {
    description:
      "The values compared with (enumerated properties in upper case, IP addresses in canonical form).",
  })
  values: string[];
}

/** One action of an automation rule. */
@ObjectType({ description: "An action of an automation rule; only the fields of its `type` are set." })
export class AutomationAction {
  @Field(() => AutomationActionType, { description: "What the action does." })
  type: AutomationActionType;

  @Field(() => IncidentStatus, { nullable: true, description: "SET_STATUS: the new status." })
  status: IncidentStatus | null;

  @Field(() => IncidentClassification, {
    nullable: true,
    description: "SET_STATUS to CLOSED: the classification.",
  })
  classification: IncidentClassification | null;

  @Field(() => String, { nullable: true, description: "SET_STATUS to CLOSED: why." })
  classificationReason: string | null;

  @Field(() => Severity, { nullable: true, description: "SET_SEVERITY: the new severity." })
  severity: Severity | null;

  @Field(() => String, { nullable: true, description: "ASSIGN_OWNER: the new owner." })
  owner: string | null;

  @Field(() => [String], { nullable: true, description: "ADD_LABELS: labels added to the incident's." })
  labels: string[] | null;

  @Field(() => String, { nullable: true, description: "ADD_TASK: the task's title." })
  taskTitle: string | null;

  @Field(() => ID, { nullable: true, description: "RUN_PLAYBOOK: the playbook run." })
  playbookId: string | null;
}

/** An automation rule. */
@ObjectType({
  description:
    "An automation rule (Sentinel's): on its trigger, when every condition holds, it runs its actions in order. Rules run in ascending `order`, each seeing the changes of the ones before; changes made by automation never trigger INCIDENT_UPDATED rules.",
})
export class AutomationRule {
  @Field(() => ID, { description: "Id of the rule." })
  id: string;

  @Field({ description: 'Name, as the activity log shows it (`automation rule "name"`).' })
  name: string;

  @Field(() => Int, {
    description: "Position among the tenant's rules (1–1000): lower runs first; ties run oldest first.",
  })
  order: number;

  @Field(() => AutomationTrigger, { description: "What starts it." })
  trigger: AutomationTrigger;

  @Field(() => [ID], {
    description:
      "Analytics rules it is limited to: the incident's or alert's analytics rule must be one of them (empty: any, including incidents without one).",
  })
  analyticsRuleIds: string[];

  @Field(() => [AutomationCondition], { description: "Conditions; every one must hold." })
  conditions: AutomationCondition[];

  @Field(() => [AutomationAction], { description: "Actions, run in this order." })
  actions: AutomationAction[];

  @Field({ description: "Whether it runs." })
  enabled: boolean;

  @Field(() => Date, {
    nullable: true,
    description: "When it stops running (events after it are ignored); null: never.",
  })
  expiresAt: Date | null;

  @Field({ description: "Who created it." })
  createdBy: string;

  @Field({ description: "When it was created: it acts on events from then on." })
  createdAt: Date;

  @Field({ description: "Who changed it last." })
  updatedBy: string;

  @Field({ description: "When it was changed last." })
  updatedAt: Date;
}

/** What one action of a run did. */
@ObjectType({ description: "What one action of an automation rule run did." })
export class AutomationActionOutcome {
  @Field(() => AutomationActionType, { description: "The action." })
  type: AutomationActionType;

  @Field(() => AutomationActionResult, { description: "What came of it." })
  result: AutomationActionResult;

  @Field(() => String, { nullable: true, description: "Why it failed." })
  error: string | null;

  @Field(() => ID, { nullable: true, description: "RUN_PLAYBOOK: the playbook run it queued." })
  playbookRunId: string | null;
}

/** One run of an automation rule: an event its conditions held for. */
@ObjectType({
  description:
    "One run of an automation rule: an event whose conditions held, and what each action did. Each (event, rule) runs at most once.",
})
export class AutomationRun {
  @Field(() => ID, { description: "Id of the run." })
  id: string;

  @Field(() => ID, { description: "The rule." })
  ruleId: string;

  @Field({ description: "The rule's name when it ran." })
  ruleName: string;

  @Field(() => AutomationTrigger, { description: "The trigger that started it." })
  trigger: AutomationTrigger;

  @Field(() => ID, { nullable: true, description: "The incident it acted on (incident triggers)." })
  incidentId: string | null;

  @Field(() => ID, { nullable: true, description: "The alert it acted on (ALERT_CREATED, ALERT_UPDATED)." })
  alertId: string | null;

  @Field(() => AutomationRunStatus, { description: "How it ended." })
  status: AutomationRunStatus;

  @Field(() => [AutomationActionOutcome], { description: "Each action's outcome, in order." })
  actions: AutomationActionOutcome[];

  @Field({ description: "When it ran." })
  createdAt: Date;
}

/** A page of automation rules. */
export const AutomationRuleConnection = Connection(AutomationRule);
export type AutomationRuleConnection = InstanceType<typeof AutomationRuleConnection>;

/** A page of automation rule runs. */
export const AutomationRunConnection = Connection(AutomationRun);
export type AutomationRunConnection = InstanceType<typeof AutomationRunConnection>;

/** Maps an `automation_rules` row to the GraphQL type. */
export function automationRuleFromRow(row: Record<string, unknown>): AutomationRule {
  const actions = (row.actions as Array<Partial<AutomationAction>>).map((a) =>
    Object.assign(new AutomationAction(), {
      status: null,
      classification: null,
      classificationReason: null,
      severity: null,
      owner: null,
      labels: null,
      taskTitle: null,
      playbookId: null,
      ...a,
    }),
  );
  return Object.assign(new AutomationRule(), {
    id: row.id,
    name: row.name,
    order: row.run_order,
    trigger: row.trigger,
    analyticsRuleIds: row.analytics_rule_ids ?? [],
    conditions: (row.conditions as Array<Partial<AutomationCondition>>).map((c) =>
      Object.assign(new AutomationCondition(), { entityType: null, ...c }),
    ),
    actions,
    enabled: row.enabled,
    expiresAt: row.expires_at ?? null,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  });
}

/** Maps an `automation_runs` row to the GraphQL type. */
export function automationRunFromRow(row: Record<string, unknown>): AutomationRun {
  return Object.assign(new AutomationRun(), {
    id: row.id,
    ruleId: row.rule_id,
    ruleName: row.rule_name,
    trigger: row.trigger,
    incidentId: row.incident_id ?? null,
    alertId: row.alert_id ?? null,
    status: row.status,
    actions: (row.actions as Array<Partial<AutomationActionOutcome>>).map((o) =>
      Object.assign(new AutomationActionOutcome(), { error: null, playbookRunId: null, ...o }),
    ),
    createdAt: row.created_at,
  });
}
