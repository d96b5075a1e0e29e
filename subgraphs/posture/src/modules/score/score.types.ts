import { Field, Float, Int, ObjectType } from "type-graphql";
import { SecurityControl } from "../policies/policies.types";

/** One control's part of the score. */
@ObjectType({ description: "One security control's part of the Secure Score." })
export class ControlScore {
  @Field(() => SecurityControl, { description: "The control." })
  control: SecurityControl;

  @Field(() => Float, { description: "Points earned: max × healthy / (healthy + unhealthy)." })
  current: number;

  @Field(() => Float, {
    description: "Points available: the control's points, or 0 when no resource is applicable.",
  })
  max: number;

  @Field(() => Float, { description: "current / max, four decimals (0 when max is 0)." })
  percentage: number;

  @Field(() => Int, {
    description: "Resources healthy in every recommendation of the control that applies to them.",
  })
  healthy: number;

  @Field(() => Int, { description: "Resources unhealthy in at least one recommendation of the control." })
  unhealthy: number;

  @Field(() => Int, {
    description: "Resources assessed by the control only as not applicable (incl. exempted).",
  })
  notApplicable: number;

  @Field(() => Int, { description: "healthy + unhealthy: what the control's score is computed over." })
  weight: number;
}

/** A Secure Score: Σ current / Σ max. */
@ObjectType({ description: "Secure Score (Azure's formula) with its breakdown by control." })
export class SecureScore {
  @Field(() => Float, { description: "Points earned." })
  current: number;

  @Field(() => Float, { description: "Points available." })
  max: number;

  @Field(() => Float, { description: "current / max, between 0 and 1 (four decimals)." })
  percentage: number;

  @Field(() => [ControlScore], { description: "Every control, in the benchmark's order." })
  controls: ControlScore[];
}

/** The score on one day. */
@ObjectType({ description: "The Secure Score as it stood on one day (the last snapshot of that day)." })
export class SecureScoreSnapshot {
  @Field({ description: "The day (YYYY-MM-DD, UTC)." })
  day: string;

  @Field(() => Float, { description: "Points earned." })
  current: number;

  @Field(() => Float, { description: "Points available." })
  max: number;

  @Field(() => Float, { description: "current / max." })
  percentage: number;
}
