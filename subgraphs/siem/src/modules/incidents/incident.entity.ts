import { Directive, Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { Severity } from "../alerts/alert.entity";

/** Lifecycle of an incident. */
export enum IncidentStatus {
  NEW = "NEW",
  ACTIVE = "ACTIVE",
  CLOSED = "CLOSED",
}

registerEnumType(IncidentStatus, { name: "IncidentStatus", description: "Lifecycle of an incident." });

/** How an incident was judged when it was closed. */
export enum IncidentClassification {
  TRUE_POSITIVE = "TRUE_POSITIVE",
  BENIGN_POSITIVE = "BENIGN_POSITIVE",
  FALSE_POSITIVE = "FALSE_POSITIVE",
  UNDETERMINED = "UNDETERMINED",
}

registerEnumType(IncidentClassification, {
  name: "IncidentClassification",
  description: "How a closed incident was judged.",
});

/**
 * Sentinel's structured reason for a classification (`classificationReason`), each tied to one classification:
 * see `CLASSIFICATION_REASONS` in incident-workflow.types.ts.
 */
export enum IncidentClassificationReason {
  SUSPICIOUS_ACTIVITY = "SUSPICIOUS_ACTIVITY",
  SUSPICIOUS_BUT_EXPECTED = "SUSPICIOUS_BUT_EXPECTED",
  INCORRECT_ALERT_LOGIC = "INCORRECT_ALERT_LOGIC",
  INACCURATE_DATA = "INACCURATE_DATA",
}

registerEnumType(IncidentClassificationReason, {
  name: "IncidentClassificationReason",
  description:
    "Why a closed incident was classified so, as Sentinel's `classificationReason`: SUSPICIOUS_ACTIVITY goes with TRUE_POSITIVE, SUSPICIOUS_BUT_EXPECTED with BENIGN_POSITIVE, INCORRECT_ALERT_LOGIC or INACCURATE_DATA with FALSE_POSITIVE; UNDETERMINED takes none.",
  valuesConfig: {
    SUSPICIOUS_ACTIVITY: { description: "TRUE_POSITIVE: the activity was malicious or suspicious." },
    SUSPICIOUS_BUT_EXPECTED: {
      description: "BENIGN_POSITIVE: suspicious-looking, but expected (an admin task, a sanctioned test).",
    },
    INCORRECT_ALERT_LOGIC: { description: "FALSE_POSITIVE: the detection's logic is wrong." },
    INACCURATE_DATA: { description: "FALSE_POSITIVE: the data the detection read was wrong." },
  },
});

/** Correlated alerts that an analyst works as one case. */
@Entity({ name: "incidents" })
@ObjectType({ description: "Correlated alerts that analysts work as one case." })
@Directive('@key(fields: "id")')
export class Incident {
  @PrimaryColumn("uuid")
  @Field(() => ID, { description: "Rampart's id of the incident." })
  id: string;

  @Column({ name: "tenant_id" })
  tenantId: string;

  @Column({ type: "int" })
  @Field(() => Int, { description: "Per-tenant incident number, as analysts call it (#42)." })
  number: number;

  @Column()
  @Field({ description: "Title." })
  title: string;

  @Column({ type: "text" })
  @Field({ description: "Description." })
  description: string;

  @Column({ type: "text" })
  @Field(() => Severity, { description: "Severity." })
  severity: Severity;

  @Column({ type: "text" })
  @Field(() => IncidentStatus, { description: "Lifecycle state." })
  status: IncidentStatus;

  @Column({ name: "created_at", type: "timestamptz", precision: 3 })
  @Field({ description: "When the incident was created." })
  createdAt: Date;

  @Column({ name: "updated_at", type: "timestamptz" })
  @Field({ description: "When the incident last changed." })
  updatedAt: Date;

  @Field(() => String, { nullable: true, description: "The analyst the incident is assigned to." })
  owner: string | null;

  @Field(() => [String], { description: "Labels (tags) for triage and reporting." })
  labels: string[];

  @Field(() => IncidentClassification, {
    nullable: true,
    description: "TRUE_POSITIVE, BENIGN_POSITIVE, FALSE_POSITIVE or UNDETERMINED, once closed.",
  })
  classification: IncidentClassification | null;

  @Field(() => IncidentClassificationReason, {
    nullable: true,
    description:
      "The structured reason given with the classification on close (Sentinel's `classificationReason`); null when none was given, and while the incident is open. The free-text reason, which this field held before, is `classificationComment`.",
  })
  classificationReason: IncidentClassificationReason | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The free-text reason given on close (`closeIncident`'s `reason`; Sentinel's `classificationComment`), or `Merged into incident N`; null while the incident is open.",
  })
  classificationComment: string | null;

  @Field(() => Date, { nullable: true, description: "When it was closed." })
  closedAt: Date | null;

  @Field({
    description:
      "Version for optimistic concurrency, opaque and particular to this incident (another incident's etag never matches): send it back with changes; a stale one is CONFLICT.",
  })
  etag: string;

  @Field(() => Date, { nullable: true, description: "Start of the earliest alert." })
  firstActivity: Date | null;

  @Field(() => Date, { nullable: true, description: "End of the latest alert." })
  lastActivity: Date | null;

  mergedInto: string | null;
  ruleId: string | null;
}

/**
 * An incident's etag: its tenant-wide number and its version, `"<number>-<version>"`. The number makes it
 * particular to the incident, so an etag read from another incident never passes the check by having
 * the same version; clients treat it as opaque text.
 */
export function incidentEtag(number: unknown, version: unknown): string {
  return `${String(number)}-${String(version)}`;
}

/** Maps a raw `incidents` row (snake_case) to the entity. */
export function incidentFromRow(row: Record<string, unknown>): Incident {
  return Object.assign(new Incident(), {
    id: row.id,
    tenantId: row.tenant_id,
    number: row.number,
    title: row.title,
    description: row.description,
    severity: row.severity,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    owner: row.owner ?? null,
    labels: row.labels ?? [],
    classification: row.classification ?? null,
    classificationReason: row.classification_reason ?? null,
    classificationComment: row.classification_comment ?? null,
    closedAt: row.closed_at ?? null,
    etag: incidentEtag(row.number, row.etag ?? 1),
    firstActivity: row.first_activity ?? null,
    lastActivity: row.last_activity ?? null,
    mergedInto: row.merged_into ?? null,
    ruleId: row.rule_id ?? null,
  });
}
