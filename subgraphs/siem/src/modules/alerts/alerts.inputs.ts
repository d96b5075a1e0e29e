import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { RecordRejection } from "../../../../common/src";
import { AlertProvider, AlertStatus, Severity } from "./alert.entity";

/** An alert pushed by a provider. */
@InputType({ description: "An alert from a provider; idempotent on (provider, sourceId)." })
export class AlertInput {
  @Field(() => AlertProvider, { defaultValue: AlertProvider.EXTERNAL, description: "Who raised it." })
  provider: AlertProvider;

  @Field({ description: "The provider's id of the alert (repeats are ignored)." })
  sourceId: string;

  @Field({ description: "Short title." })
  title: string;

  @Field({ defaultValue: "", description: "What happened." })
  description: string;

  @Field(() => Severity, { description: "Severity." })
  severity: Severity;

  @Field(() => AlertStatus, { defaultValue: AlertStatus.NEW, description: "Initial triage state." })
  status: AlertStatus;

  @Field(() => [String], { defaultValue: [], description: "MITRE ATT&CK tactics." })
  tactics: string[];

  @Field(() => [String], { defaultValue: [], description: "MITRE ATT&CK technique ids (T1110, T1059.001)." })
  techniques: string[];

  @Field(() => ID, { nullable: true, description: "The affected resource (a `Resource` id), when known." })
  resourceId?: string | null;

  @Field(() => Date, { nullable: true, description: "When the activity began (default: now)." })
  startTime?: Date | null;

  @Field(() => Date, { nullable: true, description: "When it was last seen (default: startTime)." })
  endTime?: Date | null;
}

/** What `ingestAlerts` did. */
@ObjectType({ description: "The outcome of an alert ingest: good records kept, bad ones reported." })
export class IngestAlertsPayload {
  @Field(() => Int, { description: "New alerts stored." })
  createdCount: number;

  @Field(() => Int, { description: "Alerts already known (same provider and sourceId), ignored." })
  duplicateCount: number;

  @Field(() => [ID], {
    nullable: "items",
    description: "Alert ids in input order (null for rejected records).",
  })
  ids: Array<string | null>;

  @Field(() => [RecordRejection], { description: "Rejected records with the reason." })
  rejected: RecordRejection[];
}
