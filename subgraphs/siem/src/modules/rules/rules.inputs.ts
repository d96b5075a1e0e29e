/**
 * Typed GraphQL input for analytics rule definitions: the same fields as the JSON `spec` (RuleSpecInput in
 * rule-spec.ts), with enums where the values are a closed set. It is only a typed way of writing a spec:
 * `ruleSpecFromInput` turns it into the plain object the JSON form would have been, and both then go through
 * validateRuleSpec and normalizeRuleSpec, so checks, defaults and problem paths are the same.
 */
import { JSONObjectScalar } from "../../../../common/src";
import { Field, InputType, Int } from "type-graphql";
import { Severity } from "../alerts/alert.entity";
import { EntityTypeEnum } from "../alerts/alerts.inputs";
import type { EntityType, RuleKind, RuleSeverity, RuleSpec, SummarizeAggregate } from "./rule-spec";
import {
  AnalyticsRuleKindEnum,
  IncidentMatchingMethodEnum,
  SummarizeAggregateEnum,
  TriggerOperatorEnum,
} from "./rules.types";

/** One named filter of a typed correlation. */
@InputType({ description: "A filter a correlation rule looks for in each group, and its name." })
export class AnalyticsRuleNamedFilterInput {
  @Field({ description: "Its name: 1–128 characters, unique within the rule." })
  name: string;

  @Field(() => JSONObjectScalar, {
    description:
      "The event filter, in the JSON filter language of docs/api.md (as AnalyticsRuleInput.filter); the rule's own filter applies too.",
  })
  filter: Record<string, unknown>;
}

/** One case of a typed alias. */
@InputType({ description: "Where an alias's field is in the events a filter matches." })
export class AnalyticsRuleAliasCaseInput {
  @Field(() => JSONObjectScalar, {
    description:
      "The events this case is for, in the JSON filter language of docs/api.md (a log source's connector, say).",
  })
  when: Record<string, unknown>;

  @Field({ description: "The alias's field in those events: an event column or attributes.<path>." })
  field: string;
}

/** One alias of a typed summarize. */
@InputType({
  description:
    "A name for a field that is a different column in different events (Sigma's correlation aliases, or a Sigma field two connectors keep apart, such as process_creation's Image in 4688 and Sysmon events): per event, the field of the first case whose filter it matches.",
})
export class AnalyticsRuleAliasInput {
  @Field({
    description:
      "What summarize.by, summarize.field and entity mappings call it: a word (letters, digits, _ and -) that is not an event column.",
  })
  name: string;

  @Field(() => [AnalyticsRuleAliasCaseInput], {
    description: "1 to 10 cases, in order; an event no case matches has no value.",
  })
  cases: AnalyticsRuleAliasCaseInput[];
}

/** `summarize` of a typed rule definition. */
@InputType({
  description:
    "Groups a scheduled rule's filtered events and aggregates per group; the trigger then applies to each group.",
})
export class AnalyticsRuleSummarizeInput {
  @Field(() => [String], {
    description:
      "Fields to group by (event columns, attributes.<path> or names of `aliases`); [] aggregates all events together.",
  })
  by: string[];

  @Field(() => SummarizeAggregateEnum, {
    description:
      "COUNT (events), DISTINCT_COUNT (values of `field`), FILTERS_MATCHED (how many of `filters` matched) or FILTERS_MATCHED_IN_ORDER (how many matched one after another, from the first).",
  })
  aggregate: SummarizeAggregate;

  @Field(() => String, {
    nullable: true,
    description:
      "The field (or name of one of `aliases`) whose distinct values DISTINCT_COUNT counts (required there, refused otherwise).",
  })
  field?: string | null;

  @Field(() => [AnalyticsRuleNamedFilterInput], {
    nullable: true,
    description:
      "The 2 to 10 named filters FILTERS_MATCHED and FILTERS_MATCHED_IN_ORDER correlate within each group, in order (required there, refused otherwise); the trigger, required with them, compares how many matched.",
  })
  filters?: AnalyticsRuleNamedFilterInput[] | null;

  @Field(() => String, {
    nullable: true,
    description:
      "COUNT and DISTINCT_COUNT only: an ISO 8601 duration (1 minute up to queryPeriod) over which the count slides; a group triggers when events of it no more than this apart meet the threshold (trigger GT or GTE). Leave out to count over each run's whole period.",
  })
  window?: string | null;

  @Field(() => [AnalyticsRuleAliasInput], {
    nullable: true,
    description:
      "Up to 10 names `by` and `field` may use for a field that is a different column per kind of event (an account across log sources, say).",
  })
  aliases?: AnalyticsRuleAliasInput[] | null;
}

/** `trigger` of a typed rule definition. */
@InputType({
  description: "When a rule fires: its result count (or each group's aggregate) compared with a threshold.",
})
export class AnalyticsRuleTriggerInput {
  @Field(() => TriggerOperatorEnum, { description: "The comparison." })
  operator: RuleSpec["trigger"]["operator"];

  @Field(() => Int, { description: "The threshold: a whole number ≥ 0." })
  threshold: number;
}

/** One entity mapping of a typed rule definition. */
@InputType({ description: "An entity of the rule's alerts and the field its value is read from." })
export class AnalyticsRuleEntityMappingInput {
  @Field(() => EntityTypeEnum, { description: "The entity's type." })
  entityType: EntityType;

  @Field({
    description:
      "An event column or attributes.<path>; for a summarised rule, one of its summarize.by fields (the results are the groups).",
  })
  field: string;
}

/** `suppression` of a typed rule definition. */
@InputType({ description: "Alert suppression: the rule stays quiet for `duration` after it fires." })
export class AnalyticsRuleSuppressionInput {
  @Field({ description: "Whether suppression is on." })
  enabled: boolean;

  @Field(() => String, {
    nullable: true,
    description: "ISO 8601 duration, 5 minutes to 24 hours (PT1H); required when enabled, default PT5H.",
  })
  duration?: string | null;
}

/** `incidentGrouping` of a typed rule definition. */
@InputType({ description: "How the rule's alerts are grouped into incidents; every field has a default." })
export class AnalyticsRuleIncidentGroupingInput {
  @Field(() => Boolean, {
    nullable: true,
    description: "Whether alerts join an open incident; default false (each alert opens its own).",
  })
  enabled?: boolean | null;

  @Field(() => IncidentMatchingMethodEnum, {
    nullable: true,
    description: "Which open incident an alert joins; default ALL_ENTITIES.",
  })
  matchingMethod?: RuleSpec["incidentGrouping"]["matchingMethod"] | null;

  @Field(() => [EntityTypeEnum], {
    nullable: true,
    description:
      "The entity types that must match: required for SELECTED (and mapped by entityMappings), refused otherwise.",
  })
  selectedEntityTypes?: EntityType[] | null;

  @Field(() => String, {
    nullable: true,
    description:
      "How far back to look for an open incident: ISO 8601 duration, 5 minutes to 7 days; default PT5H.",
  })
  lookbackDuration?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Reopen a closed incident within the lookback instead of opening a new one; default false.",
  })
  reopenClosedIncident?: boolean | null;
}

/** A typed analytics rule definition (the typed twin of the JSON `spec`). */
@InputType({
  description:
    "An analytics rule definition as typed fields; the same content and checks as the JSON `spec` (docs/api.md). A field left out or null takes its default. With a templateId or fromHuntingQueryId, the fields given replace the template's or the hunt's.",
})
export class AnalyticsRuleInput {
  @Field(() => AnalyticsRuleKindEnum, {
    description:
      "SCHEDULED (needs queryFrequency and queryPeriod) or NRT (per event; no schedule, no summarize).",
  })
  kind: RuleKind;

  @Field({ description: "Display name, 1–256 characters (the alerts' title)." })
  displayName: string;

  @Field({ description: "Description, up to 5,000 characters (may be empty; the alerts' description)." })
  description: string;

  @Field(() => Severity, { description: "Severity of its alerts." })
  severity: RuleSeverity;

  @Field(() => Boolean, { nullable: true, description: "Whether it runs; default true." })
  enabled?: boolean | null;

  @Field(() => JSONObjectScalar, {
    nullable: true,
    description:
      'The event filter (required unless `query` is given), in the JSON filter language of docs/api.md: { all: [...] }, { any: [...] }, { not: {...} } or a condition { field, op, value } such as { field: "class_uid", op: "eq", value: 3002 }. JSON rather than a recursive input type: a condition\'s value is a string, number, boolean or list by field, which no input type can express, and this keeps one spelling of the language (ops like inCidr) for the JSON spec, templates and what AnalyticsRuleDefinition.filter reads back.',
  })
  filter?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description:
      "A KQL query in the hunting language of docs/hunting.md instead of `filter` and `summarize` (SCHEDULED only): each run evaluates it over the events of the rule's queryPeriod, and its result rows are the rule's results (the trigger counts them; entity mappings name result columns).",
  })
  query?: string | null;

  @Field(() => AnalyticsRuleSummarizeInput, {
    nullable: true,
    description: "Group and aggregate the filtered events (SCHEDULED only).",
  })
  summarize?: AnalyticsRuleSummarizeInput | null;

  @Field(() => AnalyticsRuleTriggerInput, {
    nullable: true,
    description:
      "When it fires; default GT 0 (the only trigger of an NRT rule: every matching event fires it).",
  })
  trigger?: AnalyticsRuleTriggerInput | null;

  @Field(() => String, {
    nullable: true,
    description:
      "SCHEDULED only (required there): how often it runs, ISO 8601 duration, 5 minutes to 14 days.",
  })
  queryFrequency?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "SCHEDULED only (required there): how far back each run looks, ISO 8601 duration, 5 minutes to 14 days and at least queryFrequency.",
  })
  queryPeriod?: string | null;

  @Field(() => [String], {
    nullable: true,
    description:
      "MITRE ATT&CK tactics as Sentinel spells them (CredentialAccess, InitialAccess, LateralMovement…); default none.",
  })
  tactics?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description: "MITRE ATT&CK technique ids (T1110, T1110.003), up to 50; default none.",
  })
  techniques?: string[] | null;

  @Field(() => [AnalyticsRuleEntityMappingInput], {
    nullable: true,
    description: "Up to 10 entities of its alerts; default none.",
  })
  entityMappings?: AnalyticsRuleEntityMappingInput[] | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "One alert per result row or group (true), or one alert per run (false, the default).",
  })
  alertPerResult?: boolean | null;

  @Field(() => AnalyticsRuleSuppressionInput, {
    nullable: true,
    description: "Alert suppression after it fires; default off.",
  })
  suppression?: AnalyticsRuleSuppressionInput | null;

  @Field(() => AnalyticsRuleIncidentGroupingInput, {
    nullable: true,
    description: "How its alerts join incidents; default off (ALL_ENTITIES over PT5H, no reopening).",
  })
  incidentGrouping?: AnalyticsRuleIncidentGroupingInput | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "A threat-intelligence matching rule (NRT): the events its filter selects are matched against the tenant's active indicators, and each match raises a TI_MATCH alert with this rule's severity, tactics, techniques, entities, suppression and grouping; default false.",
  })
  threatIntelligence?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "Threat-intelligence rules only: each alert's severity follows the matched indicator's confidence (80 and above HIGH, 50 and above MEDIUM, else LOW; none: the rule's severity) instead of the rule's severity; default false.",
  })
  severityFromConfidence?: boolean | null;
}

/** `record` without its null and undefined entries: in GraphQL, an explicit null is the same as leaving it out. */
function given(record: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== null && value !== undefined),
  );
}

/**
 * The plain rule definition a typed input stands for: the object a JSON `spec` with the same content would be
 * (fields left out or null are absent), ready for validateRuleSpec. The filter is passed on as given.
 */
export function ruleSpecFromInput(input: AnalyticsRuleInput): Record<string, unknown> {
  const { summarize, trigger, entityMappings, suppression, incidentGrouping, ...scalars } = input;
  return given({
    ...scalars,
    summarize:
      summarize &&
      given({
        ...summarize,
        filters: summarize.filters?.map((f) => given(f)),
        aliases: summarize.aliases?.map((a) => ({ name: a.name, cases: a.cases.map((k) => given(k)) })),
      }),
    trigger: trigger && given(trigger),
    entityMappings: entityMappings?.map((mapping) => given(mapping)),
    suppression: suppression && given(suppression),
    incidentGrouping: incidentGrouping && given(incidentGrouping),
  });
}

/** Which of the tenant's analytics rules `analyticsRules` lists; every criterion given must hold. */
@InputType({ description: "Which analytics rules to list; every criterion given must hold." })
export class AnalyticsRuleFilter {
  @Field(() => Boolean, { nullable: true, description: "Only enabled (true) or disabled (false) rules." })
  enabled?: boolean | null;

  @Field(() => [AnalyticsRuleKindEnum], { nullable: true, description: "Only rules of these kinds." })
  kinds?: RuleKind[] | null;

  @Field(() => [Severity], {
    nullable: true,
    description: "Only rules whose alerts have one of these severities.",
  })
  severities?: Severity[] | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Only rules whose display name or description contains this text, ignoring case (1–200 characters).",
  })
  search?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Only rules with this MITRE ATT&CK tactic (e.g. `CredentialAccess`).",
  })
  tactic?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Only rules with this MITRE ATT&CK technique id (e.g. `T1110`).",
  })
  technique?: string | null;

  @Field(() => String, { nullable: true, description: "Only rules created from this built-in template." })
  templateId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Only rules imported from Sigma (true), or only rules that were not (false).",
  })
  sigma?: boolean | null;
}
