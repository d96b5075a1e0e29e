import { Field, InputType, ObjectType, registerEnumType } from "type-graphql";
import { AlertProvider, AlertStatus, SecurityAlert, Severity } from "../alerts/alert.entity";
import { Incident, IncidentStatus } from "../incidents/incident.entity";

/** What happened to an incident (the outbox topic `incident.<kind>`). */
export enum IncidentChangeKind {
  CREATED = "CREATED",
  UPDATED = "UPDATED",
  ALERT_ADDED = "ALERT_ADDED",
  COMMENT_ADDED = "COMMENT_ADDED",
  CLOSED = "CLOSED",
  REOPENED = "REOPENED",
  MERGED = "MERGED",
}

registerEnumType(IncidentChangeKind, {
  name: "IncidentChangeKind",
  description: "What happened to an incident.",
});

/** Outbox topic of each kind. */
export const INCIDENT_TOPICS: Record<IncidentChangeKind, string> = {
  CREATED: "incident.created",
  UPDATED: "incident.updated",
  ALERT_ADDED: "incident.alert_added",
  COMMENT_ADDED: "incident.comment_added",
  CLOSED: "incident.closed",
  REOPENED: "incident.reopened",
  MERGED: "incident.merged",
};

/** The topic of new alerts. */
export const ALERT_CREATED_TOPIC = "alert.created";

/** One change to an incident, as streamed by `incidentChanges`. */
@ObjectType({ description: "One change to an incident, in the order the changes were committed." })
export class IncidentChange {
  @Field({
    description:
      "Opaque position of this change: pass it as `after` to resume right after it (on any gateway).",
  })
  cursor: string;

  @Field(() => IncidentChangeKind, { description: "What happened." })
  kind: IncidentChangeKind;

  @Field(() => [String], {
    description:
      "Fields the change touched (e.g. `status`, `owner`, `labels`, `alertId`); empty when not recorded.",
  })
  changedFields: string[];

  @Field({ description: "When the change was committed." })
  occurredAt: Date;

  @Field(() => String, { nullable: true, description: "Who made the change (a user's subject or `system`)." })
  actor: string | null;

  @Field(() => Incident, {
    description: "The incident as it is when the change is delivered (its latest state, not a snapshot).",
  })
  incident: Incident;
}

/** One new alert, as streamed by `alertCreated`. */
@ObjectType({ description: "A new alert, in commit order." })
export class AlertEvent {
  @Field({ description: "Opaque position of this event: pass it as `after` to resume right after it." })
  cursor: string;

  @Field({ description: "When the alert was stored." })
  occurredAt: Date;

  @Field(() => SecurityAlert, { description: "The alert." })
  alert: SecurityAlert;
}

/** One change to a known alert, as streamed by `alertUpdated`. */
@ObjectType({
  description:
    "A change to an existing alert (an analyst's triage, or its provider sending it again with new values), in commit order.",
})
export class AlertUpdate {
  @Field({ description: "Opaque position of this event: pass it as `after` to resume right after it." })
  cursor: string;

  @Field({ description: "When the change was committed." })
  occurredAt: Date;

  @Field(() => [String], {
    description:
      "The fields the change touched: `status`, `severity`, `title`, `description`, `endTime`, `tactics`, `techniques`, `remediation` or `evidence`.",
  })
  changedFields: string[];

  @Field(() => String, {
    nullable: true,
    description: "Who made the change: the analyst's or the ingesting principal's subject.",
  })
  actor: string | null;

  @Field(() => String, { nullable: true, description: "The analyst's comment, if any." })
  comment: string | null;

  @Field(() => SecurityAlert, {
    description: "The alert as it is when the event is delivered (its latest state, not a snapshot).",
  })
  alert: SecurityAlert;
}

/** Which incident changes a subscriber wants. */
@InputType({ description: "Which incident changes to receive; every condition given must hold." })
export class IncidentChangeFilter {
  @Field(() => Severity, { nullable: true, description: "Only incidents of at least this severity." })
  minSeverity?: Severity | null;

  @Field(() => [IncidentStatus], { nullable: true, description: "Only incidents in one of these statuses." })
  statuses?: IncidentStatus[] | null;

  @Field(() => [String], {
    nullable: true,
    description: "Only incidents carrying at least one of these labels.",
  })
  labels?: string[] | null;

  @Field(() => String, {
    nullable: true,
    description: "Only incidents owned by this user (compared case-insensitively).",
  })
  owner?: string | null;

  @Field(() => [IncidentChangeKind], { nullable: true, description: "Only these kinds of change." })
  kinds?: IncidentChangeKind[] | null;
}

/** Which alert events a subscriber wants. */
@InputType({
  description:
    "Which alert events to receive (`alertCreated`, `alertUpdated`); every condition given must hold. An update is tested against the alert's severity and status as the change left them.",
})
export class AlertFilter {
  @Field(() => Severity, { nullable: true, description: "Only alerts of at least this severity." })
  minSeverity?: Severity | null;

  @Field(() => [AlertStatus], { nullable: true, description: "Only alerts in one of these statuses." })
  statuses?: AlertStatus[] | null;

  @Field(() => [AlertProvider], { nullable: true, description: "Only alerts from these providers." })
  providers?: AlertProvider[] | null;
}

const SEVERITY_RANK: Record<Severity, number> = { INFORMATIONAL: 0, LOW: 1, MEDIUM: 2, HIGH: 3 };

/** Whether `severity` is at least `min`. */
export function atLeast(severity: Severity, min: Severity | null | undefined): boolean {
  return !min || SEVERITY_RANK[severity] >= SEVERITY_RANK[min];
}

/** Whether an incident passes a subscriber's filter. */
export function incidentMatches(
  incident: Incident,
  kind: IncidentChangeKind,
  filter: IncidentChangeFilter | null | undefined,
): boolean {
  if (!filter) return true;
  if (!atLeast(incident.severity, filter.minSeverity)) return false;
  if (filter.statuses?.length && !filter.statuses.includes(incident.status)) return false;
  if (filter.labels?.length && !filter.labels.some((l) => incident.labels.includes(l))) return false;
  // Owners compare case-insensitively, as `incidents(filter: { owner })` does.
  if (filter.owner != null && incident.owner?.toLowerCase() !== filter.owner.toLowerCase()) return false;
  if (filter.kinds?.length && !filter.kinds.includes(kind)) return false;
  return true;
}

/** Whether an alert passes a subscriber's filter. */
export function alertMatches(alert: SecurityAlert, filter: AlertFilter | null | undefined): boolean {
  if (!filter) return true;
  if (!atLeast(alert.severity, filter.minSeverity)) return false;
  if (filter.statuses?.length && !filter.statuses.includes(alert.status)) return false;
  if (filter.providers?.length && !filter.providers.includes(alert.provider)) return false;
  return true;
}
