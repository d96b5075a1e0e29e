import { OrderDirection } from "../../../../common/src";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { AlertProvider, Severity } from "../alerts/alert.entity";
import { IncidentClassification, IncidentClassificationReason, IncidentStatus } from "./incident.entity";

export { IncidentClassification };

/**
 * The structured reasons each classification takes, as in Sentinel: a `classificationReason` given on close
 * must be one of its classification's (UNDETERMINED takes none).
 */
export const CLASSIFICATION_REASONS: Record<IncidentClassification, readonly IncidentClassificationReason[]> =
  {
    [IncidentClassification.TRUE_POSITIVE]: [IncidentClassificationReason.SUSPICIOUS_ACTIVITY],
    [IncidentClassification.BENIGN_POSITIVE]: [IncidentClassificationReason.SUSPICIOUS_BUT_EXPECTED],
    [IncidentClassification.FALSE_POSITIVE]: [
      IncidentClassificationReason.INCORRECT_ALERT_LOGIC,
      IncidentClassificationReason.INACCURATE_DATA,
    ],
    [IncidentClassification.UNDETERMINED]: [],
  };

/** State of an incident task. */
export enum IncidentTaskStatus {
  NEW = "NEW",
  COMPLETED = "COMPLETED",
}

/** Fields incidents can be ordered by. */
export enum IncidentOrderField {
  CREATED_AT = "CREATED_AT",
  NUMBER = "NUMBER",
  SEVERITY = "SEVERITY",
  LAST_ACTIVITY = "LAST_ACTIVITY",
}

registerEnumType(IncidentTaskStatus, { name: "IncidentTaskStatus", description: "NEW or COMPLETED." });
registerEnumType(IncidentOrderField, {
  name: "IncidentOrderField",
  description: "Fields incidents can be ordered by.",
});

/** A comment on an incident. */
@ObjectType({ description: "An analyst's comment on an incident." })
export class IncidentComment {
  @Field(() => ID, { description: "Id of the comment." })
  id: string;

  @Field({ description: "Who wrote it." })
  author: string;

  @Field({ description: "The text." })
  message: string;

  @Field({ description: "When." })
  createdAt: Date;
}

/** A task on an incident. */
@ObjectType({ description: "A task to do while working an incident." })
export class IncidentTask {
  @Field(() => ID, { description: "Id of the task." })
  id: string;

  @Field({ description: "What to do." })
  title: string;

  @Field(() => IncidentTaskStatus, { description: "NEW or COMPLETED." })
  status: IncidentTaskStatus;

  @Field({ description: "Who added it." })
  createdBy: string;

  @Field({ description: "When it was added." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When it was completed." })
  completedAt: Date | null;
}

/** One entry of an incident's activity log. */
@ObjectType({ description: "One change to an incident: who, when, what." })
export class IncidentActivity {
  /** The entry's place in the log (its bigserial id, as text): the activity log's cursors carry it. */
  sequence: string;

  @Field({
    description:
      'Who made the change: a user, `system` (correlation) or an automation rule (`automation rule "name"`).',
  })
  actor: string;

  @Field({
    description:
      "What happened: created, updated, alert_added, comment_added, closed, reopened or merged. A task added or completed is `updated`, with `taskAdded` or `taskCompleted` in `changes`. A playbook run for the incident is `playbook_run` when queued (`changes`: `playbookId`, `playbook`, `runId`, `status`) and `playbook_run_ended` when it succeeded or failed for good (`status`, `attempts`, `error`). A change to one of its alerts is `alert_updated` (`changes`: `alertId`, each changed field as `[before, after]`, and the analyst's `comment`).",
  })
  action: string;

  @Field(() => String, {
    description: "The changed fields as JSON: `{ field: [before, after] }` or details.",
  })
  changes: string;

  @Field({ description: "When." })
  at: Date;
}

/** Triage changes to an incident. */
@InputType({ description: "Changes to an incident (ANALYST); `etag` must be the incident's current one." })
export class UpdateIncidentInput {
  @Field(() => ID, { description: "The incident." })
  id: string;

  @Field({ description: "The etag the change is based on; a stale one is CONFLICT." })
  etag: string;

  @Field(() => String, { nullable: true, description: "New title." })
  title?: string | null;

  @Field(() => String, { nullable: true, description: "New description." })
  description?: string | null;

  @Field(() => Severity, {
    nullable: true,
    description: "Pins the severity (otherwise the highest alert's).",
  })
  severity?: Severity | null;

  @Field(() => IncidentStatus, {
    nullable: true,
    description: "NEW or ACTIVE (closing needs closeIncident).",
  })
  status?: IncidentStatus | null;

  @Field(() => String, { nullable: true, description: "Owner (a user); empty string to unassign." })
  owner?: string | null;

  @Field(() => [String], { nullable: true, description: "Replaces the labels." })
  labels?: string[] | null;
}

/** Closes an incident. */
@InputType({ description: "Closes an incident with a classification (ANALYST)." })
export class CloseIncidentInput {
  @Field(() => ID, { description: "The incident." })
  id: string;

  @Field({ description: "The etag the change is based on." })
  etag: string;

  @Field(() => IncidentClassification, { description: "How it was judged." })
  classification: IncidentClassification;

  @Field(() => IncidentClassificationReason, {
    nullable: true,
    description:
      "The structured reason (optional): SUSPICIOUS_ACTIVITY with TRUE_POSITIVE, SUSPICIOUS_BUT_EXPECTED with BENIGN_POSITIVE, INCORRECT_ALERT_LOGIC or INACCURATE_DATA with FALSE_POSITIVE, none with UNDETERMINED; a reason of another classification is BAD_USER_INPUT.",
  })
  classificationReason?: IncidentClassificationReason | null;

  @Field({ description: "Why, in words (required; kept as the incident's `classificationComment`)." })
  reason: string;
}

/** Reopens a closed incident. */
@InputType({ description: "Reopens a closed incident (ANALYST)." })
export class ReopenIncidentInput {
  @Field(() => ID, { description: "The incident." })
  id: string;

  @Field({ description: "The etag the change is based on." })
  etag: string;
}

/** Merges incidents into one. */
@InputType({
  description:
    "Moves the alerts of `sourceIds` into `targetId` and closes the sources as merged (ANALYST). With `etag` and `sourceEtags`, every incident named must still be at the etag sent (else CONFLICT); without them the merge is unchecked.",
})
export class MergeIncidentsInput {
  @Field(() => ID, { description: "The incident that stays." })
  targetId: string;

  @Field(() => [ID], { description: "Incidents merged into it." })
  sourceIds: string[];

  @Field(() => String, {
    nullable: true,
    description:
      "The target's etag the merge is based on; a stale one is CONFLICT. Given together with `sourceEtags` or not at all.",
  })
  etag?: string | null;

  @Field(() => [String], {
    nullable: true,
    description:
      "The etag the merge is based on of each of `sourceIds`, in the same order and as many; a stale one is CONFLICT. Given together with `etag` or not at all.",
  })
  sourceEtags?: string[] | null;
}

/** Filter over incidents. */
@InputType({ description: "Filters incidents; every given condition must hold." })
export class IncidentFilter {
  @Field(() => [IncidentStatus], { nullable: true, description: "Only these statuses." })
  statuses?: IncidentStatus[] | null;

  @Field(() => [Severity], { nullable: true, description: "Only these severities." })
  severities?: Severity[] | null;

  @Field(() => String, { nullable: true, description: "Only this owner." })
  owner?: string | null;

  @Field(() => [String], { nullable: true, description: "Incidents carrying any of these labels." })
  labels?: string[] | null;

  @Field(() => String, { nullable: true, description: "Title contains this text (case-insensitive)." })
  search?: string | null;

  @Field(() => [Int], {
    nullable: true,
    description: "Only the incidents with these numbers (the tenant's incident numbers; at most 500).",
  })
  numbers?: number[] | null;

  @Field(() => Date, { nullable: true, description: "Created at or after this time." })
  createdAfter?: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: "Created before this time (must be later than `createdAfter` when both are given).",
  })
  createdBefore?: Date | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "true: only incidents without an owner; false: only incidents with one.",
  })
  unassigned?: boolean | null;

  @Field(() => [IncidentClassification], {
    nullable: true,
    description: "Only closed incidents with one of these classifications.",
  })
  classifications?: IncidentClassification[] | null;

  @Field(() => [AlertProvider], {
    nullable: true,
    description: "Only incidents holding an alert from one of these providers.",
  })
  providers?: AlertProvider[] | null;

  @Field(() => [ID], {
    nullable: true,
    description: "Only incidents holding an alert raised by one of these analytics rules (at most 100).",
  })
  ruleIds?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description:
      "Only incidents holding an alert with one of these MITRE ATT&CK tactics (as the alerts name them, e.g. `CredentialAccess`; at most 100).",
  })
  tactics?: string[] | null;
}

/** Ordering of incidents. */
@InputType({ description: "Ordering of incidents." })
export class IncidentOrder {
  @Field(() => IncidentOrderField, { description: "The field." })
  field: IncidentOrderField;

  @Field(() => OrderDirection, {
    defaultValue: OrderDirection.DESC,
    description: "Direction (default descending).",
  })
  direction: OrderDirection;
}
