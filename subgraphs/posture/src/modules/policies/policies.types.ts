import { JSONScalar } from "../../../../common/src";
import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

/** Severity of a policy definition and its recommendation. */
export enum PolicySeverity {
  HIGH = "HIGH",
  MEDIUM = "MEDIUM",
  LOW = "LOW",
}

/** Severities in order, higher is more severe. */
export const SEVERITY_RANK: Readonly<Record<PolicySeverity, number>> = { HIGH: 3, MEDIUM: 2, LOW: 1 };

/** The more severe of two severities (null: none). */
export function higherSeverity(a: PolicySeverity | null, b: PolicySeverity | null): PolicySeverity | null {
  if (!a) return b;
  if (!b) return a;
  return SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a;
}

/** Where a definition (and so an assessment) comes from. */
export enum AssessmentSource {
  BUILT_IN = "BUILT_IN",
  CUSTOM_POLICY = "CUSTOM_POLICY",
  EXTERNAL = "EXTERNAL",
}

registerEnumType(PolicySeverity, {
  name: "PolicySeverity",
  description: "Severity of a policy definition and its recommendation.",
});
registerEnumType(AssessmentSource, {
  name: "AssessmentSource",
  description:
    "BUILT_IN benchmark, a tenant's CUSTOM_POLICY, or an EXTERNAL source (workload protection, scanners).",
});

/** One of the security controls the Secure Score is made of. */
@ObjectType({
  description: "A security control: a group of recommendations worth a number of Secure Score points.",
})
export class SecurityControl {
  @Field(() => ID, { description: "Stable id, e.g. `enable-mfa`." })
  id: string;

  @Field({ description: "Name, e.g. `Enable MFA`." })
  name: string;

  @Field({ description: "What the control protects against." })
  description: string;

  @Field(() => Int, { description: "Points the control is worth when it applies." })
  maxPoints: number;
}

/** A rule over resources' configuration. */
@ObjectType({
  description: "A rule over resources' configuration, written in Azure Policy's condition language.",
})
export class PolicyDefinition {
  @Field(() => ID, {
    description:
      "Stable id: a slug for built-ins, a UUID for custom definitions, the reported key for external ones.",
  })
  id: string;

  @Field(() => AssessmentSource, { description: "Where the definition comes from." })
  source: AssessmentSource;

  @Field({
    description: "Version of the definition (built-ins: the data file's version; custom: a counter).",
  })
  version: string;

  @Field({ description: "Title, phrased as the desired state." })
  title: string;

  @Field({ description: "The risk it addresses." })
  description: string;

  @Field(() => PolicySeverity, { description: "Severity of a failure." })
  severity: PolicySeverity;

  @Field(() => SecurityControl, { description: "The security control it counts toward." })
  control: SecurityControl;

  @Field(() => [String], {
    description: "Provider-native resource types it applies to (empty for external definitions).",
  })
  resourceTypes: string[];

  @Field(() => JSONScalar, {
    nullable: true,
    description: "Condition that must hold for the definition to apply (else NOT_APPLICABLE).",
  })
  applicability: unknown;

  @Field(() => JSONScalar, {
    nullable: true,
    description:
      "Azure Policy `if` condition: when it holds the resource is UNHEALTHY. Null for external definitions.",
  })
  condition: unknown;

  @Field(() => String, { nullable: true, description: "The configuration property it checks." })
  property: string | null;

  @Field(() => [String], { description: "Remediation steps, in order." })
  remediation: string[];

  @Field(() => [String], { description: "Threats it mitigates (Azure's threat names)." })
  threats: string[];

  @Field(() => String, {
    nullable: true,
    description: "Impact of the remediation on users: Low, Moderate or High.",
  })
  userImpact: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Effort to implement the remediation: Low, Moderate or High.",
  })
  implementationEffort: string | null;
}

/** Whether a definition is evaluated in an account. */
@ObjectType({
  description: "Whether a definition is evaluated in an account; a disabled definition leaves the score.",
})
export class PolicyDefinitionSetting {
  @Field(() => ID, { description: "The definition." })
  definitionId: string;

  @Field(() => ID, { description: "The account." })
  accountId: string;

  @Field({ description: "False when the definition is disabled in the account." })
  enabled: boolean;
}
