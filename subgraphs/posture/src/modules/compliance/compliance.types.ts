import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { PolicyDefinition } from "../policies/policies.types";

/** The state of a compliance control. */
export enum ComplianceState {
  PASSED = "PASSED",
  FAILED = "FAILED",
  SKIPPED = "SKIPPED",
}

registerEnumType(ComplianceState, {
  name: "ComplianceState",
  description:
    "PASSED: every assessed resource is healthy. FAILED: some resource is unhealthy. SKIPPED: nothing assessed.",
});

/** One control of a standard. */
@ObjectType({ description: "A control of a regulatory standard, mapped to policy definitions." })
export class ComplianceControl {
  @Field(() => ID, { description: "The control's id within its standard, e.g. `NS-1` or `3.1`." })
  id: string;

  @Field({ description: "Title." })
  title: string;

  @Field({ description: "What the control requires." })
  description: string;

  @Field(() => ComplianceState, { description: "PASSED, FAILED or SKIPPED." })
  state: ComplianceState;

  @Field(() => Int, { description: "Resources healthy in every mapped definition that applies to them." })
  passedResources: number;

  @Field(() => Int, { description: "Resources unhealthy in at least one mapped definition." })
  failedResources: number;

  @Field(() => Float, {
    nullable: true,
    description:
      "Passed resources as a percentage of the resources assessed (passed + failed), 0–100 with two decimals; null when none was assessed.",
  })
  passedResourcesPercentage: number | null;

  @Field(() => [PolicyDefinition], { description: "The definitions that assess it." })
  definitions: PolicyDefinition[];
}

/** A regulatory standard. */
@ObjectType({ description: "A regulatory standard (benchmark) and the state of each of its controls." })
export class ComplianceStandard {
  @Field(() => ID, { description: "Stable id." })
  id: string;

  @Field({ description: "Name." })
  name: string;

  @Field({ description: "Version of the standard." })
  version: string;

  @Field({ description: "What it is." })
  description: string;

  @Field(() => Int, { description: "Controls PASSED." })
  passedControls: number;

  @Field(() => Int, { description: "Controls FAILED." })
  failedControls: number;

  @Field(() => Int, { description: "Controls SKIPPED." })
  skippedControls: number;

  @Field(() => Float, {
    nullable: true,
    description:
      "Passed controls as a percentage of the controls assessed (passed + failed; skipped controls are not applicable and left out), 0–100 with two decimals; null when none was assessed.",
  })
  passedControlsPercentage: number | null;

  @Field(() => [ComplianceControl], { description: "Its controls." })
  controls: ComplianceControl[];
}
