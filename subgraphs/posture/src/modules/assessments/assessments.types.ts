import { RecordRejection } from "../../../../common/src";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { AssessmentSource, PolicySeverity } from "../policies/policies.types";

/** The state of a (resource, definition) pair. */
export enum AssessmentStatus {
  HEALTHY = "HEALTHY",
  UNHEALTHY = "UNHEALTHY",
  NOT_APPLICABLE = "NOT_APPLICABLE",
}

/** Why an exemption was granted. */
export enum ExemptionCategory {
  WAIVER = "WAIVER",
  MITIGATED = "MITIGATED",
}

registerEnumType(AssessmentStatus, {
  name: "AssessmentStatus",
  description: "HEALTHY, UNHEALTHY or NOT_APPLICABLE (which includes exempted).",
});
registerEnumType(ExemptionCategory, {
  name: "ExemptionCategory",
  description: "WAIVER: risk accepted. MITIGATED: handled by other means.",
});

/** A change of an assessment's status. */
@ObjectType({ description: "A change of an assessment's status." })
export class AssessmentChange {
  @Field(() => AssessmentStatus, { nullable: true, description: "Status before (null when first assessed)." })
  from: AssessmentStatus | null;

  @Field(() => AssessmentStatus, { description: "Status after." })
  to: AssessmentStatus;

  @Field(() => String, { nullable: true, description: "Cause of the new status." })
  cause: string | null;

  @Field({ description: "When it changed." })
  at: Date;
}

/** An exemption of a definition for a resource, a resource group, an account or the tenant. */
@ObjectType({
  description:
    "An exemption: the definition's assessments in its scope (a resource, a resource group, an account or the tenant) count as not applicable.",
})
export class Exemption {
  @Field(() => ID, { description: "Id of the exemption." })
  id: string;

  @Field(() => ID, { description: "The exempted definition." })
  definitionId: string;

  @Field(() => ID, { nullable: true, description: "The exempted resource (null: every resource in scope)." })
  resourceId: string | null;

  @Field(() => ID, {
    nullable: true,
    description:
      "The exempted account, or the account of the exempted resource or resource group (null: the whole tenant).",
  })
  accountId: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The exempted Azure resource group of the account, by name as given (null: not a resource-group exemption). It covers every resource whose ARM id is under `/subscriptions/<subscription>/resourceGroups/<name>` (compared case-insensitively), including resources added later.",
  })
  resourceGroup: string | null;

  /** The group's ARM id lower-cased by Postgres (`exemptions.resource_group_key`); not in the schema. */
  resourceGroupKey: string | null;

  @Field(() => ExemptionCategory, { description: "WAIVER or MITIGATED." })
  category: ExemptionCategory;

  @Field({ description: "Why." })
  reason: string;

  @Field(() => Date, { nullable: true, description: "When the exemption ends (null: never)." })
  expiresAt: Date | null;

  @Field({ description: "Who granted it." })
  createdBy: string;

  @Field({ description: "When it was granted." })
  createdAt: Date;
}

/** One (resource, definition) assessment. */
@ObjectType({ description: "The assessment of one resource against one definition." })
export class Assessment {
  @Field(() => ID, { description: "`<resourceId>/<definitionId>`." })
  id: string;

  @Field(() => ID, { description: "The assessed resource's id (see `resource`)." })
  resourceId: string;

  @Field(() => ID, { description: "The definition's id (see `definition`)." })
  definitionId: string;

  @Field(() => AssessmentStatus, { description: "Current status (NOT_APPLICABLE when exempted)." })
  status: AssessmentStatus;

  @Field(() => String, {
    nullable: true,
    description: "Why: the condition that failed with the actual values, or the exemption.",
  })
  cause: string | null;

  @Field(() => AssessmentSource, { description: "Where the assessment comes from." })
  source: AssessmentSource;

  @Field(() => ID, { nullable: true, description: "The exemption that applies, if any." })
  exemptionId: string | null;

  @Field({ description: "When it was last evaluated with a different outcome or cause." })
  evaluatedAt: Date;

  @Field({ description: "When its status last changed." })
  statusChangedAt: Date;

  accountId: string;
}

/** An assessment reported by another source. */
@InputType({
  description:
    "An assessment from another source (workload protection, a scanner); idempotent on (resourceId, definitionKey).",
})
export class ExternalAssessmentInput {
  @Field(() => ID, { description: "The assessed resource." })
  resourceId: string;

  @Field({ description: "Stable key of what was assessed, e.g. `protection/vulnerabilities`." })
  definitionKey: string;

  @Field({ description: "Title of the recommendation, phrased as the desired state." })
  title: string;

  @Field({ defaultValue: "", description: "The risk (at most 8,000 characters)." })
  description: string;

  @Field(() => PolicySeverity, { description: "Severity of a failure." })
  severity: PolicySeverity;

  @Field(() => ID, { description: "Security control it counts toward (see `securityControls`)." })
  controlId: string;

  @Field(() => [String], {
    defaultValue: [],
    description: "Remediation steps (at most 20, of at most 2,000 characters each).",
  })
  remediation: string[];

  @Field(() => AssessmentStatus, { description: "The status." })
  status: AssessmentStatus;

  @Field(() => String, { nullable: true, description: "Why (e.g. `3 high-severity CVEs open`)." })
  cause?: string | null;
}

/** What `upsertAssessments` did. */
@ObjectType({
  description: "The outcome of reporting external assessments: good records kept, bad ones listed.",
})
export class UpsertAssessmentsPayload {
  @Field(() => Int, { description: "Records accepted." })
  acceptedCount: number;

  @Field(() => Int, { description: "Accepted records that changed an assessment." })
  changedCount: number;

  @Field(() => [RecordRejection], { description: "Rejected records with the reason." })
  rejected: RecordRejection[];
}

/** Narrows the exemptions listed. */
@InputType({ description: "Conditions the listed exemptions meet (all of those given)." })
export class ExemptionFilter {
  @Field(() => ID, { nullable: true, description: "Only exemptions of this definition." })
  definitionId?: string | null;

  @Field(() => ID, {
    nullable: true,
    description: "Only exemptions of this account: its resources', resource groups' and its own.",
  })
  accountId?: string | null;

  @Field(() => ID, { nullable: true, description: "Only exemptions of this one resource." })
  resourceId?: string | null;
}

/** Grants an exemption. */
@InputType({
  description:
    "Exempts a definition for a resource, a resource group of an account, an account or (with none of them) the whole tenant (ADMIN).",
})
export class CreateExemptionInput {
  @Field(() => ID, { description: "The definition." })
  definitionId: string;

  @Field(() => ID, { nullable: true, description: "Only this resource (not with resourceGroup)." })
  resourceId?: string | null;

  @Field(() => ID, {
    nullable: true,
    description:
      "Only this account (ignored when resourceId is given); with resourceGroup, the Azure subscription the group is in.",
  })
  accountId?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Only this Azure resource group (its name, e.g. `rg-web`) of the account accountId names, which it requires: every resource whose ARM id is under `/subscriptions/<subscription>/resourceGroups/<name>`, compared case-insensitively, including resources added later. Not with resourceId.",
  })
  resourceGroup?: string | null;

  @Field(() => ExemptionCategory, { description: "WAIVER or MITIGATED." })
  category: ExemptionCategory;

  @Field({ description: "Why (kept in the audit trail)." })
  reason: string;

  @Field(() => Date, {
    nullable: true,
    description: "When it ends; a durable job restores the assessments then.",
  })
  expiresAt?: Date | null;
}

/** Filter over a resource's assessments. */
@InputType({ description: "Filters assessments." })
export class AssessmentFilter {
  @Field(() => [AssessmentStatus], { nullable: true, description: "Only these statuses." })
  statuses?: AssessmentStatus[] | null;

  @Field(() => AssessmentSource, { nullable: true, description: "Only this source." })
  source?: AssessmentSource | null;
}
