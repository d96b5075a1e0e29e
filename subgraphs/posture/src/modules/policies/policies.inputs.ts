import { JSONScalar } from "../../../../common/src";
import { Field, ID, InputType } from "type-graphql";
import { AssessmentSource, PolicySeverity } from "./policies.types";

/** A custom definition to create or replace. */
@InputType({
  description: "A custom policy definition (ADMIN). The condition uses Azure Policy's `if` language.",
})
export class PolicyDefinitionInput {
  @Field({ description: "Title, phrased as the desired state." })
  title: string;

  @Field({ defaultValue: "", description: "The risk it addresses." })
  description: string;

  @Field(() => PolicySeverity, { description: "Severity of a failure." })
  severity: PolicySeverity;

  @Field(() => ID, { description: "Security control id (see `securityControls`)." })
  controlId: string;

  @Field(() => [String], { description: "Provider-native resource types it applies to." })
  resourceTypes: string[];

  @Field(() => JSONScalar, {
    nullable: true,
    description: "Optional condition; when it does not hold the resource is NOT_APPLICABLE.",
  })
  applicability?: unknown;

  @Field(() => JSONScalar, {
    description: "Azure Policy `if` condition: when it holds the resource is UNHEALTHY.",
  })
  condition: unknown;

  @Field(() => String, {
    nullable: true,
    description: "The configuration property it checks (default: the first field the condition reads).",
  })
  property?: string | null;

  @Field(() => [String], { defaultValue: [], description: "Remediation steps." })
  remediation: string[];

  @Field(() => [String], { defaultValue: [], description: "Threats it mitigates." })
  threats: string[];
}

/** Filter over definitions. */
@InputType({ description: "Filters policy definitions; every given condition must hold." })
export class PolicyDefinitionFilter {
  @Field(() => AssessmentSource, { nullable: true, description: "Only this source." })
  source?: AssessmentSource | null;

  @Field(() => [PolicySeverity], { nullable: true, description: "Only these severities." })
  severities?: PolicySeverity[] | null;

  @Field(() => ID, { nullable: true, description: "Only this security control." })
  controlId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Only definitions applying to this resource type (case-insensitive).",
  })
  resourceType?: string | null;

  @Field(() => String, { nullable: true, description: "Title contains this text (case-insensitive)." })
  search?: string | null;
}

/** Enables or disables a definition in an account. */
@InputType({ description: "Enables or disables a definition in one account (ADMIN)." })
export class SetPolicyDefinitionEnabledInput {
  @Field(() => ID, { description: "The definition." })
  definitionId: string;

  @Field(() => ID, { description: "The account." })
  accountId: string;

  @Field({
    description: "False disables it: its assessments in the account are removed and leave the score.",
  })
  enabled: boolean;
}
