import { JSONObjectScalar } from "../../../../common/src";
import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Severity } from "../alerts/alert.entity";
import { EntityTypeEnum } from "../alerts/alerts.inputs";
import { DEFAULT_SUPPRESSION_DURATION } from "./durations";
import {
  INCIDENT_MATCHING_METHODS,
  RULE_KINDS,
  SUMMARIZE_AGGREGATES,
  TRIGGER_OPERATORS,
  type EntityType,
  type RuleKind,
  type RuleSeverity,
  type RuleSpec,
  type SummarizeAggregate,
} from "./rule-spec";

/** A GraphQL enum whose names and values are the strings of `values` (rule-spec.ts stays the one list). */
function enumOf<const T extends readonly string[]>(values: T): { [K in T[number]]: K } {
  return Object.fromEntries(values.map((v) => [v, v])) as { [K in T[number]]: K };
}

/** Rule kinds as a GraphQL enum. */
export const AnalyticsRuleKindEnum = enumOf(RULE_KINDS);
/** Trigger comparisons as a GraphQL enum. */
export const TriggerOperatorEnum = enumOf(TRIGGER_OPERATORS);
/** Aggregates of a summarised rule as a GraphQL enum. */
export const SummarizeAggregateEnum = enumOf(SUMMARIZE_AGGREGATES);
/** Incident-grouping matching methods as a GraphQL enum. */
export const IncidentMatchingMethodEnum = enumOf(INCIDENT_MATCHING_METHODS);

registerEnumType(AnalyticsRuleKindEnum, {
  name: "AnalyticsRuleKind",
  description: "How an analytics rule runs.",
  valuesConfig: {
    SCHEDULED: { description: "Runs a query every queryFrequency over the last queryPeriod." },
    NRT: { description: "Near-real-time: evaluates events as they arrive (no schedule, no summarize)." },
  },
});
registerEnumType(TriggerOperatorEnum, {
  name: "TriggerOperator",
  description: "How a rule's result count (or each group's aggregate) is compared with the threshold.",
  valuesConfig: {
    GT: { description: "Greater than." },
    GTE: { description: "Greater than or equal." },
    LT: { description: "Less than." },
    LTE: { description: "Less than or equal." },
    EQ: { description: "Equal." },
    NE: { description: "Not equal." },
  },
});
registerEnumType(SummarizeAggregateEnum, {
  name: "SummarizeAggregate",
  description: "The aggregate of a summarised rule, per group.",
  valuesConfig: {
    COUNT: { description: "The number of events in the group." },
    DISTINCT_COUNT: { description: "The number of distinct values of `field` in the group." },
    FILTERS_MATCHED: {
      description:
        "How many of the named `filters` matched at least one event of the group (Sigma's `temporal` correlation): with the trigger GTE and their number, all of them.",
    },
    FILTERS_MATCHED_IN_ORDER: {
      description:
        "How many of the named `filters`, from the first on, matched one after another in the order listed (Sigma's `temporal_ordered`): k when there are events e1…ek of the group, each matching its filter, with time(e1) < … < time(ek); events at the same instant are not in order. With the trigger GTE and their number, all of them in order.",
    },
  },
});
registerEnumType(IncidentMatchingMethodEnum, {
  name: "IncidentMatchingMethod",
  description: "Which open incident a rule's new alert joins (within the lookback).",
  valuesConfig: {
    ALL_ENTITIES: { description: "One whose alerts from this rule have all the same entities." },
    ANY_ALERT: { description: "Any open incident of this rule." },
    SELECTED: { description: "One whose alerts from this rule match on the selectedEntityTypes." },
  },
});

/** One named filter of a correlation. */
@ObjectType({ description: "A filter a correlation rule looks for in each group, and its name." })
export class AnalyticsRuleNamedFilter {
  @Field({
    description: "Its name, unique within the rule (for a Sigma correlation, the rule it refers to).",
  })
  name: string;

  @Field(() => JSONObjectScalar, {
    description: "The event filter, in the JSON filter language of docs/api.md.",
  })
  filter: Record<string, unknown>;
}

/** One case of an alias. */
@ObjectType({ description: "Where an alias's field is in the events a filter matches." })
export class AnalyticsRuleAliasCase {
  @Field(() => JSONObjectScalar, {
    description: "The events this case is for, in the JSON filter language of docs/api.md.",
  })
  when: Record<string, unknown>;

  @Field({ description: "The alias's field in those events: an event column or attributes.<path>." })
  field: string;
}

/** One alias of a summarize. */
@ObjectType({
  description:
    "A name for a field that is a different column in different events (Sigma's correlation aliases, or a Sigma field two connectors keep apart, such as process_creation's Image in 4688 and Sysmon events): per event, the field of the first case whose filter it matches.",
})
export class AnalyticsRuleAlias {
  @Field({ description: "What summarize.by, summarize.field and entity mappings call it." })
  name: string;

  @Field(() => [AnalyticsRuleAliasCase], { description: "The cases, in the order they are tried." })
  cases: AnalyticsRuleAliasCase[];
}

/** `summarize` of a rule definition. */
@ObjectType({
  description: "How a scheduled rule groups its filtered events and what it aggregates per group.",
})
export class AnalyticsRuleSummarize {
  @Field(() => [String], {
    description: "The fields (or names of `aliases`) to group by (empty: one group of all events).",
  })
  by: string[];

  @Field(() => SummarizeAggregateEnum, { description: "The aggregate compared with the trigger." })
  aggregate: SummarizeAggregate;

  @Field(() => String, {
    nullable: true,
    description: "The field (or name of one of `aliases`) whose distinct values DISTINCT_COUNT counts.",
  })
  field: string | null;

  @Field(() => [AnalyticsRuleNamedFilter], {
    nullable: true,
    description:
      "The named filters FILTERS_MATCHED and FILTERS_MATCHED_IN_ORDER correlate per group, in order; null for the other aggregates.",
  })
  filters: AnalyticsRuleNamedFilter[] | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The sliding window of COUNT or DISTINCT_COUNT (ISO 8601): events of a group no more than this apart are counted together; null counts over each run's whole period.",
  })
  window: string | null;

  @Field(() => [AnalyticsRuleAlias], {
    nullable: true,
    description:
      "Names `by` and `field` use for a field that is a different column per kind of event; null when there are none.",
  })
  aliases: AnalyticsRuleAlias[] | null;
}

/** `trigger` of a rule definition. */
@ObjectType({
  description: "When a rule fires: its result count (or each group's aggregate) compared with a threshold.",
})
export class AnalyticsRuleTrigger {
  @Field(() => TriggerOperatorEnum, { description: "The comparison." })
  operator: RuleSpec["trigger"]["operator"];

  @Field(() => Int, { description: "The threshold (≥ 0)." })
  threshold: number;
}

/** One entity mapping of a rule definition. */
@ObjectType({
  description: "An entity of the rule's alerts, read from an event field (or a summarize.by field).",
})
export class AnalyticsRuleEntityMapping {
  @Field(() => EntityTypeEnum, { description: "The entity's type." })
  entityType: EntityType;

  @Field({ description: "The field holding its value: an event column or attributes.<path>." })
  field: string;
}

/** `suppression` of a rule definition. */
@ObjectType({ description: "Alert suppression: the rule stays quiet for `duration` after it fires." })
export class AnalyticsRuleSuppression {
  @Field({ description: "Whether suppression is on." })
  enabled: boolean;

  @Field({ description: "How long the rule stays quiet after firing (ISO 8601 duration)." })
  duration: string;
}

/** `incidentGrouping` of a rule definition. */
@ObjectType({ description: "How the rule's alerts are grouped into incidents." })
export class AnalyticsRuleIncidentGrouping {
  @Field({ description: "Whether alerts join an open incident (otherwise each alert opens one)." })
  enabled: boolean;

  @Field(() => IncidentMatchingMethodEnum, { description: "Which open incident an alert joins." })
  matchingMethod: RuleSpec["incidentGrouping"]["matchingMethod"];

  @Field(() => [EntityTypeEnum], {
    nullable: true,
    description: "The entity types that must match (SELECTED only; null otherwise).",
  })
  selectedEntityTypes: EntityType[] | null;

  @Field({ description: "How far back to look for an open incident (ISO 8601 duration)." })
  lookbackDuration: string;

  @Field({ description: "Whether a closed incident within the lookback is reopened instead of a new one." })
  reopenClosedIncident: boolean;
}

/** A rule definition as typed fields (the same content as `AnalyticsRule.spec`). */
@ObjectType({
  description:
    "An analytics rule's definition as typed fields, with every default filled in; the same content as `AnalyticsRule.spec`, in the shape of AnalyticsRuleInput, so a definition read here can be sent back as an input.",
})
export class AnalyticsRuleDefinition {
  @Field(() => AnalyticsRuleKindEnum, { description: "SCHEDULED or NRT." })
  kind: RuleKind;

  @Field({ description: "Display name (the alerts' title)." })
  displayName: string;

  @Field({ description: "Description (the alerts' description)." })
  description: string;

  @Field(() => Severity, { description: "Severity of its alerts." })
  severity: RuleSeverity;

  @Field({ description: "Whether it runs." })
  enabled: boolean;

  @Field(() => JSONObjectScalar, {
    nullable: true,
    description:
      "The event filter, in the JSON filter language of docs/api.md (a recursive tree of all / any / not and { field, op, value } conditions); JSON because a fixed selection set cannot follow a tree of any depth. Null for a KQL rule.",
  })
  filter: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The KQL query defining the rule instead of `filter` and `summarize` (docs/hunting.md); null otherwise.",
  })
  query: string | null;

  @Field(() => AnalyticsRuleSummarize, {
    nullable: true,
    description: "Grouping and aggregate (SCHEDULED only).",
  })
  summarize: AnalyticsRuleSummarize | null;

  @Field(() => AnalyticsRuleTrigger, { description: "When it fires." })
  trigger: AnalyticsRuleTrigger;

  @Field(() => String, {
    nullable: true,
    description: "How often a scheduled rule runs (ISO 8601); null for NRT.",
  })
  queryFrequency: string | null;

  @Field(() => String, {
    nullable: true,
    description: "How far back each run looks (ISO 8601); null for NRT.",
  })
  queryPeriod: string | null;

  @Field(() => [String], { description: "MITRE ATT&CK tactics (`CredentialAccess`)." })
  tactics: string[];

  @Field(() => [String], { description: "MITRE ATT&CK technique ids (`T1110`, `T1110.003`)." })
  techniques: string[];

  @Field(() => [AnalyticsRuleEntityMapping], { description: "The entities of its alerts." })
  entityMappings: AnalyticsRuleEntityMapping[];

  @Field({ description: "One alert per result row or group (true), or one alert per run (false)." })
  alertPerResult: boolean;

  @Field(() => AnalyticsRuleSuppression, { description: "Alert suppression after it fires." })
  suppression: AnalyticsRuleSuppression;

  @Field(() => AnalyticsRuleIncidentGrouping, { description: "Incident grouping of its alerts." })
  incidentGrouping: AnalyticsRuleIncidentGrouping;

  @Field({
    description:
      "Whether it is a threat-intelligence matching rule (the events its filter selects are matched against the active indicators).",
  })
  threatIntelligence: boolean;

  @Field({
    description:
      "Threat-intelligence rules: whether an alert's severity follows the matched indicator's confidence instead of the rule's severity.",
  })
  severityFromConfidence: boolean;
}

/** The typed form of a stored (normalised) rule definition. */
export function definitionOf(spec: RuleSpec): AnalyticsRuleDefinition {
  const grouping = spec.incidentGrouping;
  return Object.assign(new AnalyticsRuleDefinition(), {
    kind: spec.kind,
    displayName: spec.displayName,
    description: spec.description,
    severity: spec.severity,
    enabled: spec.enabled,
    filter: (spec.filter as Record<string, unknown> | undefined) ?? null,
    query: spec.query ?? null,
    summarize: spec.summarize
      ? Object.assign(new AnalyticsRuleSummarize(), {
          by: spec.summarize.by,
          aggregate: spec.summarize.aggregate,
          field: spec.summarize.field ?? null,
          window: spec.summarize.window ?? null,
          filters:
            spec.summarize.filters?.map((f) =>
              Object.assign(new AnalyticsRuleNamedFilter(), {
                name: f.name,
                filter: f.filter as Record<string, unknown>,
              }),
            ) ?? null,
          aliases:
            spec.summarize.aliases?.map((a) =>
              Object.assign(new AnalyticsRuleAlias(), {
                name: a.name,
                cases: a.cases.map((k) =>
                  Object.assign(new AnalyticsRuleAliasCase(), {
                    when: k.when as Record<string, unknown>,
                    field: k.field,
                  }),
                ),
              }),
            ) ?? null,
        })
      : null,
    trigger: Object.assign(new AnalyticsRuleTrigger(), spec.trigger),
    queryFrequency: spec.queryFrequency ?? null,
    queryPeriod: spec.queryPeriod ?? null,
    tactics: spec.tactics,
    techniques: spec.techniques,
    entityMappings: spec.entityMappings.map((m) =>
      Object.assign(new AnalyticsRuleEntityMapping(), { entityType: m.entityType, field: m.field }),
    ),
    alertPerResult: spec.alertPerResult,
    suppression: Object.assign(new AnalyticsRuleSuppression(), {
      enabled: spec.suppression?.enabled ?? false,
      duration: spec.suppression?.duration ?? DEFAULT_SUPPRESSION_DURATION,
    }),
    incidentGrouping: Object.assign(new AnalyticsRuleIncidentGrouping(), {
      enabled: grouping.enabled,
      matchingMethod: grouping.matchingMethod,
      selectedEntityTypes: grouping.selectedEntityTypes ?? null,
      lookbackDuration: grouping.lookbackDuration,
      reopenClosedIncident: grouping.reopenClosedIncident,
    }),
    threatIntelligence: spec.threatIntelligence ?? false,
    severityFromConfidence: spec.severityFromConfidence ?? false,
  });
}

/** Where an imported rule came from. */
@ObjectType({ description: "The Sigma rule an analytics rule was imported from (importSigmaRules)." })
export class SigmaRuleSource {
  @Field({ description: "The Sigma rule's `id`: importing a rule with this id again updates this rule." })
  id: string;

  @Field({ description: "The Sigma rule's YAML as last imported." })
  yaml: string;
}

/** An analytics rule. */
@ObjectType({
  description:
    "An analytics rule: a scheduled query over recent events, or a near-real-time rule evaluated as events arrive.",
})
export class AnalyticsRule {
  @Field(() => ID, { description: "Id of the rule." })
  id: string;

  @Field(() => String, { nullable: true, description: "The built-in template it was created from, if any." })
  templateId: string | null;

  @Field(() => AnalyticsRuleKindEnum, { description: "SCHEDULED or NRT." })
  kind: RuleKind;

  @Field({ description: "Display name (the alerts' title)." })
  displayName: string;

  @Field({ description: "Description (the alerts' description)." })
  description: string;

  @Field(() => Severity, { description: "Severity of its alerts." })
  severity: RuleSeverity;

  @Field({ description: "Whether it runs." })
  enabled: boolean;

  @Field(() => Int, { description: "Version, incremented by every update." })
  version: number;

  @Field(() => [String], { description: "MITRE ATT&CK tactics." })
  tactics: string[];

  @Field(() => [String], { description: "MITRE ATT&CK technique ids." })
  techniques: string[];

  @Field(() => String, { nullable: true, description: "How often a scheduled rule runs (ISO 8601)." })
  queryFrequency: string | null;

  @Field(() => String, { nullable: true, description: "How far back each run looks (ISO 8601)." })
  queryPeriod: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The KQL query of a rule defined by one instead of a filter (docs/hunting.md, From a hunt to a rule); null otherwise.",
  })
  query: string | null;

  @Field(() => JSONObjectScalar, {
    description:
      "The full rule definition (filter, summarize, trigger, entity mappings, suppression, incident grouping).",
  })
  spec: Record<string, unknown>;

  /** Built when selected: most reads of a rule list never ask for it. */
  @Field(() => AnalyticsRuleDefinition, { description: "The full rule definition as typed fields." })
  get definition(): AnalyticsRuleDefinition {
    return definitionOf(this.spec as unknown as RuleSpec);
  }

  @Field(() => SigmaRuleSource, {
    nullable: true,
    description: "The Sigma rule it was imported from; null for a rule created otherwise.",
  })
  sigma: SigmaRuleSource | null;

  @Field(() => Date, { nullable: true, description: "When it last ran (scheduled rules)." })
  lastRunAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When it last raised alerts." })
  lastFiredAt: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: "Alerts are suppressed until then (after firing, when suppression is on).",
  })
  suppressedUntil: Date | null;

  @Field({ description: "Who last changed it." })
  updatedBy: string;

  @Field({ description: "When it last changed." })
  updatedAt: Date;
}

/** A built-in rule template. */
@ObjectType({ description: "A built-in analytics rule template." })
export class RuleTemplate {
  @Field(() => ID, { description: "Template id." })
  id: string;

  @Field({ description: "Template version." })
  version: string;

  @Field({ description: "Display name." })
  displayName: string;

  @Field({ description: "What it detects." })
  description: string;

  @Field(() => AnalyticsRuleKindEnum, { description: "SCHEDULED or NRT." })
  kind: RuleKind;

  @Field(() => Severity, { description: "Severity." })
  severity: RuleSeverity;

  @Field(() => [String], { description: "MITRE ATT&CK tactics." })
  tactics: string[];

  @Field(() => [String], { description: "MITRE ATT&CK technique ids." })
  techniques: string[];

  @Field(() => JSONObjectScalar, { description: "The rule definition a rule created from it starts with." })
  spec: Record<string, unknown>;

  @Field(() => AnalyticsRuleDefinition, {
    description: "The rule definition a rule created from it starts with, as typed fields.",
  })
  get definition(): AnalyticsRuleDefinition {
    return definitionOf(this.spec as unknown as RuleSpec);
  }
}
