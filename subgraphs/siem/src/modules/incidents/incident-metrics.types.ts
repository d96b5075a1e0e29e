import { Field, Float, InputType, Int, ObjectType } from "type-graphql";
import { Severity } from "../alerts/alert.entity";
import { IncidentClassification } from "./incident-workflow.types";

/**
 * Which incidents the figures count: `incidents(filter)`'s conditions that make sense over a time window
 * (statuses would contradict the backlog and closed counts; a title search is no reporting dimension).
 */
@InputType({
  description:
    "Conditions the counted incidents must meet, with `incidents(filter)`'s semantics; all given ones must hold.",
})
export class IncidentMetricsFilter {
  @Field(() => [Severity], { nullable: true, description: "Only these severities (their current one)." })
  severities?: Severity[] | null;

  @Field(() => String, {
    nullable: true,
    description: "Only incidents this analyst owns now (compared ignoring letter case).",
  })
  owner?: string | null;

  @Field(() => [String], { nullable: true, description: "Incidents carrying any of these labels." })
  labels?: string[] | null;
}

/** Mean and percentiles of a set of durations. */
@ObjectType({
  description:
    "Mean, median and 90th percentile of a set of durations in seconds; the percentiles interpolate between samples (PostgreSQL's `percentile_cont`). All but `samples` are null when there is no sample.",
})
export class IncidentDurationStats {
  @Field(() => Int, { description: "How many incidents gave a duration." })
  samples: number;

  @Field(() => Float, { nullable: true, description: "Arithmetic mean, in seconds; null without samples." })
  meanSeconds: number | null;

  @Field(() => Float, {
    nullable: true,
    description: "Median (50th percentile), in seconds; null without samples.",
  })
  medianSeconds: number | null;

  @Field(() => Float, { nullable: true, description: "90th percentile, in seconds; null without samples." })
  p90Seconds: number | null;
}

/** Counted incidents of one severity. */
@ObjectType({ description: "How many counted incidents have one severity." })
export class IncidentSeverityCount {
  @Field(() => Severity, { description: "The severity (every one is listed, zero or not)." })
  severity: Severity;

  @Field(() => Int, { description: "Counted incidents of this severity now." })
  count: number;
}

/** Closed incidents of one classification. */
@ObjectType({ description: "How many of the closed incidents were classified one way." })
export class IncidentClassificationCount {
  @Field(() => IncidentClassification, {
    description: "The classification (every one is listed, zero or not).",
  })
  classification: IncidentClassification;

  @Field(() => Int, { description: "Incidents of `closedCount` closed with this classification." })
  count: number;
}

/** One analyst's share of the counted incidents. */
@ObjectType({ description: "One owner's share of the counted incidents (by the incidents' owner now)." })
export class IncidentOwnerMetrics {
  @Field({ description: "The owner, as written on the incidents." })
  owner: string;

  @Field(() => Int, { description: "Counted incidents this owner owns now." })
  assignedCount: number;

  @Field(() => Int, { description: "Of those, the ones closed in the window (as `closedCount`)." })
  closedCount: number;

  @Field(() => Float, {
    nullable: true,
    description: "Mean time to close of those closed ones (as `timeToClose`), in seconds; null when none.",
  })
  meanTimeToCloseSeconds: number | null;
}

/** Counts of one UTC day. */
@ObjectType({ description: "Counted incidents created and closed on one UTC day." })
export class IncidentDailyCount {
  @Field({ description: "Start of the UTC day (00:00Z)." })
  day: Date;

  @Field(() => Int, { description: "Counted incidents created that day." })
  createdCount: number;

  @Field(() => Int, {
    description: "Counted incidents whose final close fell on that day (as `closedCount`).",
  })
  closedCount: number;
}

/** SOC efficiency figures of a time window. */
@ObjectType({
  description:
    "Security operations efficiency over a window `[from, to)`: the counted incidents are the tenant's incidents created in the window that match the filter, merged-away ones excluded. Times are read from the activity log as recorded up to `to`.",
})
export class IncidentMetrics {
  @Field({ description: "Start of the window (inclusive)." })
  from: Date;

  @Field({ description: "End of the window (exclusive)." })
  to: Date;

  @Field(() => Int, {
    description: "Counted incidents: created in the window, matching the filter, not merged away.",
  })
  createdCount: number;

  @Field(() => Int, {
    description:
      "Counted incidents closed now whose final close was in the window (an incident reopened and closed again counts its last close; one reopened and still open is not closed).",
  })
  closedCount: number;

  @Field(() => Int, {
    description:
      "Open backlog at `to`: counted incidents whose status at `to` (the last status change logged before `to`, NEW when none) was NEW or ACTIVE.",
  })
  backlogCount: number;

  @Field(() => [IncidentSeverityCount], {
    description: "Counted incidents by their current severity, every severity listed (highest first).",
  })
  bySeverity: IncidentSeverityCount[];

  @Field(() => [IncidentClassificationCount], {
    description: "Incidents of `closedCount` by their classification, every classification listed.",
  })
  byClassification: IncidentClassificationCount[];

  @Field(() => IncidentDurationStats, {
    description:
      "Time to acknowledge, over counted incidents acknowledged before `to`: from creation to the first triage change (`updateIncident`, by an analyst or an automation rule) that set the status to ACTIVE or assigned an owner, whichever came first. Reopening is no acknowledgement (correlation reopens incidents by itself).",
  })
  timeToAcknowledge: IncidentDurationStats;

  @Field(() => IncidentDurationStats, {
    description: "Time to close, over the incidents of `closedCount`: from creation to the final close.",
  })
  timeToClose: IncidentDurationStats;

  @Field(() => [IncidentOwnerMetrics], {
    description:
      "Per owner of counted incidents (unassigned ones are in no row), most assigned first, then by owner.",
  })
  owners: IncidentOwnerMetrics[];

  @Field(() => [IncidentDailyCount], {
    description:
      "Every UTC day the window touches, oldest first, with its created and closed counts (zero on quiet days); the counts add up to `createdCount` and `closedCount`.",
  })
  daily: IncidentDailyCount[];
}
