import { Field, ID, InputType } from "type-graphql";
import { PlanTier, PlanType } from "./plan.entity";

/** Input of `setPlan`. */
@InputType({ description: "Sets one plan's tier in one account." })
export class SetPlanInput {
  @Field(() => ID, { description: "The account (a `CloudAccount` id)." })
  accountId: string;

  @Field(() => PlanType, { description: "The plan." })
  planType: PlanType;

  @Field(() => PlanTier, { description: "The new tier." })
  tier: PlanTier;
}
