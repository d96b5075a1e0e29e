import { JSONObjectScalar } from "../../../../common/src";
import { Field, ID, Int, ObjectType } from "type-graphql";

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

  @Field({ description: "SCHEDULED or NRT." })
  kind: string;

  @Field({ description: "Display name (the alerts' title)." })
  displayName: string;

  @Field({ description: "Description (the alerts' description)." })
  description: string;

  @Field({ description: "Severity of its alerts." })
  severity: string;

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

  @Field(() => JSONObjectScalar, {
    description:
      "The full rule definition (filter, summarize, trigger, entity mappings, suppression, incident grouping).",
  })
  spec: Record<string, unknown>;

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

  @Field({ description: "SCHEDULED or NRT." })
  kind: string;

  @Field({ description: "Severity." })
  severity: string;

  @Field(() => [String], { description: "MITRE ATT&CK tactics." })
  tactics: string[];

  @Field(() => [String], { description: "MITRE ATT&CK technique ids." })
  techniques: string[];

  @Field(() => JSONObjectScalar, { description: "The rule definition a rule created from it starts with." })
  spec: Record<string, unknown>;
}
