import { OrderDirection } from "../../../../common/src";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { PolicyDefinition, PolicySeverity, SecurityControl } from "../policies/policies.types";

/** What to fix: one definition with unhealthy resources. */
@ObjectType({
  description: "A recommendation: a definition with unhealthy resources, and what fixing it is worth.",
})
export class Recommendation {
  @Field(() => ID, { description: "The definition's id." })
  id: string;

  @Field(() => PolicyDefinition, { description: "The definition behind it." })
  definition: PolicyDefinition;

  @Field({ description: "Title." })
  title: string;

  @Field(() => PolicySeverity, { description: "Severity." })
  severity: PolicySeverity;

  @Field(() => SecurityControl, { description: "The security control it belongs to." })
  control: SecurityControl;

  @Field(() => [String], { description: "Remediation steps." })
  remediation: string[];

  @Field(() => Int, { description: "Resources that pass." })
  healthyCount: number;

  @Field(() => Int, { description: "Resources that fail: the affected resources." })
  unhealthyCount: number;

  @Field(() => Int, {
    description: "Resources of the definition's types it does not apply to (incl. exempted).",
  })
  notApplicableCount: number;

  @Field(() => Float, { description: "Secure Score points gained if every affected resource were fixed." })
  potentialScoreIncrease: number;

  @Field(() => Float, {
    description: "The same as a fraction of the maximum score (0.05 = 5 percentage points).",
  })
  potentialScoreIncreasePercentage: number;

  /** The account the recommendation was computed for (not in the schema): its affected resources are that account's. */
  accountId?: string;
}

/** Fields recommendations can be ordered by. */
export enum RecommendationOrderField {
  POTENTIAL_SCORE_INCREASE = "POTENTIAL_SCORE_INCREASE",
  SEVERITY = "SEVERITY",
  UNHEALTHY_COUNT = "UNHEALTHY_COUNT",
  TITLE = "TITLE",
}

registerEnumType(RecommendationOrderField, {
  name: "RecommendationOrderField",
  description: "Fields recommendations can be ordered by.",
});

/** Ordering of recommendations. */
@InputType({ description: "Ordering of recommendations." })
export class RecommendationOrder {
  @Field(() => RecommendationOrderField, { description: "The field." })
  field: RecommendationOrderField;

  @Field(() => OrderDirection, {
    defaultValue: OrderDirection.DESC,
    description: "Direction (default descending).",
  })
  direction: OrderDirection;
}

/** Filter over recommendations. */
@InputType({ description: "Filters recommendations; every given condition must hold." })
export class RecommendationFilter {
  @Field(() => ID, { nullable: true, description: "Only resources of this account." })
  accountId?: string | null;

  @Field(() => [PolicySeverity], { nullable: true, description: "Only these severities." })
  severities?: PolicySeverity[] | null;

  @Field(() => ID, { nullable: true, description: "Only this security control." })
  controlId?: string | null;
}
