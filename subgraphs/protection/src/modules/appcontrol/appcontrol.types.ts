import { Connection } from "../../../../common/src";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { ResourceRef } from "../../references";

/** What a group's allow list does. */
export enum AppControlMode {
  NONE = "NONE",
  AUDIT = "AUDIT",
  ENFORCE = "ENFORCE",
}

/** What an allow-list rule matches on. */
export enum AppControlRuleKind {
  PUBLISHER = "PUBLISHER",
  PATH = "PATH",
  HASH = "HASH",
}

/** Whether a rule is only recommended, part of the allow list, or taken out of it. */
export enum AppControlRuleStatus {
  RECOMMENDED = "RECOMMENDED",
  APPROVED = "APPROVED",
  REVOKED = "REVOKED",
}

/** Where a rule comes from. */
export enum AppControlRuleOrigin {
  LEARNED = "LEARNED",
  MANUAL = "MANUAL",
}

registerEnumType(AppControlMode, {
  name: "AppControlMode",
  description:
    "NONE (learned, allow list not applied: no alerts), AUDIT (executions outside the approved rules raise alerts) or ENFORCE (the agent blocks them, and they raise alerts).",
});
registerEnumType(AppControlRuleKind, {
  name: "AppControlRuleKind",
  description:
    "PUBLISHER (that path, signed by that publisher), PATH (that path, any content) or HASH (exactly that file content, wherever it is; recommended for unsigned files in user-writable locations).",
});
registerEnumType(AppControlRuleStatus, {
  name: "AppControlRuleStatus",
  description:
    "RECOMMENDED (learned, not allowed yet), APPROVED (in the allow list) or REVOKED (taken out of the allow list by an admin; learning again never recommends or approves it again — only `approveAppControlRules` or `addAppControlRule` does).",
});
registerEnumType(AppControlRuleOrigin, {
  name: "AppControlRuleOrigin",
  description:
    "LEARNED (recommended from process executions) or MANUAL (added by an admin with `addAppControlRule`).",
});

/** A rule of a group's allow list. */
@ObjectType({
  description:
    "An allow-list rule of an application-control group, learned from the executables its machines ran.",
})
export class AppControlRule {
  @Field(() => ID, { description: "Id of the rule (the same when the same executions are learned again)." })
  id: string;

  @Field(() => AppControlRuleKind, { description: "What the rule matches on." })
  kind: AppControlRuleKind;

  @Field({ description: "Path of the executable, as first reported." })
  path: string;

  @Field(() => String, { nullable: true, description: "Code-signing publisher (PUBLISHER rules)." })
  publisher: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "SHA-256 of the file: the rule's for HASH rules; otherwise the one hash seen, if only one was.",
  })
  sha256: string | null;

  @Field(() => Float, {
    description: "How common the executable is in the group: the fraction of its machines that ran it (0–1).",
  })
  prevalence: number;

  @Field(() => Int, { description: "Machines of the group that ran it during learning." })
  machineCount: number;

  @Field(() => Int, { description: "Executions seen during learning." })
  executionCount: number;

  @Field({ description: "First execution seen." })
  firstSeen: Date;

  @Field({ description: "Last execution seen." })
  lastSeen: Date;

  @Field(() => AppControlRuleStatus, { description: "RECOMMENDED, APPROVED or REVOKED." })
  status: AppControlRuleStatus;

  @Field(() => AppControlRuleOrigin, { description: "LEARNED or MANUAL." })
  origin: AppControlRuleOrigin;

  @Field(() => String, { nullable: true, description: "Who approved it (or added it) last." })
  approvedBy: string | null;

  @Field(() => Date, { nullable: true, description: "When it was approved (or added) last." })
  approvedAt: Date | null;

  @Field(() => String, { nullable: true, description: "Who revoked it (REVOKED rules)." })
  revokedBy: string | null;

  @Field(() => Date, { nullable: true, description: "When it was revoked (REVOKED rules)." })
  revokedAt: Date | null;

  @Field(() => String, { nullable: true, description: "Why it was revoked (REVOKED rules)." })
  revokeReason: string | null;

  groupId: string;
  pathKey: string;
}

/** A page of rules. */
export const AppControlRuleConnection = Connection(AppControlRule);
export type AppControlRuleConnection = InstanceType<typeof AppControlRuleConnection>;

/** A group of similar machines with its allow list. */
@ObjectType({
  description:
    "Machines that run similar executables (Jaccard similarity of their executable sets ≥ 0.5), with the allow list learned for them and its mode.",
})
export class AppControlGroup {
  @Field(() => ID, { description: "Id of the group (derived from its machines)." })
  id: string;

  @Field({ description: "Display name: its machines' host names." })
  name: string;

  @Field(() => AppControlMode, { description: "What the allow list does." })
  mode: AppControlMode;

  @Field(() => Int, { description: "Machines in the group." })
  machineCount: number;

  @Field(() => [ResourceRef], {
    nullable: "items",
    description:
      "The group's machines; null for a machine its agent reports that the inventory does not know (yet).",
  })
  machines: ResourceRef[];

  @Field(() => Int, { description: "Rules in the allow list." })
  approvedRuleCount: number;

  @Field(() => Int, { description: "Rules recommended but not approved." })
  recommendedRuleCount: number;

  @Field({ description: "Start of the learning window of its latest recommendations." })
  windowStart: Date;

  @Field({ description: "End of the learning window of its latest recommendations." })
  windowEnd: Date;

  @Field({ description: "When its recommendations were last learned." })
  learnedAt: Date;

  @Field({ description: "Who last learned or configured it." })
  updatedBy: string;

  @Field({ description: "When it last changed." })
  updatedAt: Date;

  memberIds: string[];
}

/** A page of groups. */
export const AppControlGroupConnection = Connection(AppControlGroup);
export type AppControlGroupConnection = InstanceType<typeof AppControlGroupConnection>;

/** Which rules of a group to list. */
@InputType({ description: "Conditions on a group's rules; all given ones must hold." })
export class AppControlRuleFilter {
  @Field(() => [AppControlRuleStatus], { nullable: true, description: "Any of these statuses." })
  statuses?: AppControlRuleStatus[] | null;

  @Field(() => [AppControlRuleKind], { nullable: true, description: "Any of these kinds." })
  kinds?: AppControlRuleKind[] | null;

  @Field(() => Float, { nullable: true, description: "Only rules at least this common in the group (0–1)." })
  minPrevalence?: number | null;
}

/** Input of `learnAppControl`. */
@InputType({ description: "Learns application-control groups and rules from recent process executions." })
export class LearnAppControlInput {
  @Field(() => String, {
    nullable: true,
    defaultValue: "P14D",
    description: "Learning window before now: ISO 8601 duration from PT1H to P90D (default P14D).",
  })
  window?: string | null;
}

/** What `learnAppControl` did. */
@ObjectType({ description: "The outcome of learning: the groups of the tenant after it." })
export class LearnAppControlPayload {
  @Field({ description: "Start of the learning window." })
  windowStart: Date;

  @Field({ description: "End of the learning window (now)." })
  windowEnd: Date;

  @Field(() => Int, { description: "Machines with process executions in the window." })
  machineCount: number;

  @Field(() => Int, {
    description: "Machines left out because a run groups at most 2,000 (the ones with the highest ids).",
  })
  skippedMachineCount: number;

  @Field(() => Int, {
    description:
      "Configured groups (mode AUDIT/ENFORCE or with approved rules) kept with their machines; only their recommendations were refreshed.",
  })
  keptGroupCount: number;

  @Field(() => [AppControlGroup], { description: "Every group of the tenant, by name." })
  groups: AppControlGroup[];
}

/** Input of `approveAppControlRules`. */
@InputType({ description: "Approves recommended rules of a group (they join its allow list)." })
export class ApproveAppControlRulesInput {
  @Field(() => ID, { description: "The group." })
  groupId: string;

  @Field(() => [ID], {
    description: "Rules of that group to approve (1 to 1,000); approved ones stay approved.",
  })
  ruleIds: string[];
}

/** Input of `setAppControlMode`. */
@InputType({ description: "Sets what a group's allow list does." })
export class SetAppControlModeInput {
  @Field(() => ID, { description: "The group." })
  groupId: string;

  @Field(() => AppControlMode, {
    description: "NONE, AUDIT or ENFORCE (AUDIT and ENFORCE need at least one approved rule).",
  })
  mode: AppControlMode;
}

/** Input of `revokeAppControlRules`. */
@InputType({ description: "Takes approved rules of a group out of its allow list." })
export class RevokeAppControlRulesInput {
  @Field(() => ID, { description: "The group." })
  groupId: string;

  @Field(() => [ID], {
    description: "APPROVED rules of that group to revoke (1 to 1,000); revoked ones stay revoked.",
  })
  ruleIds: string[];

  @Field({ description: "Why (1 to 1,000 characters; kept on the rules and in the audit trail)." })
  reason: string;
}

/** Input of `addAppControlRule`. */
@InputType({
  description:
    "An allow-list rule an admin adds by hand: PATH needs `path` only, PUBLISHER `path` and `publisher`, HASH `path` and `sha256`.",
})
export class AddAppControlRuleInput {
  @Field(() => ID, { description: "The group." })
  groupId: string;

  @Field(() => AppControlRuleKind, { description: "What the rule matches on." })
  kind: AppControlRuleKind;

  @Field({ description: "Path of the executable (1 to 1,024 characters; compared without case)." })
  path: string;

  @Field(() => String, {
    nullable: true,
    description: "Code-signing publisher: required for PUBLISHER, else absent.",
  })
  publisher?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "SHA-256 of the file (64 hex digits): required for HASH, else absent.",
  })
  sha256?: string | null;
}
