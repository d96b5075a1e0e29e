import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { ENTITY_TYPES } from "./alert-store";
import { RecordRejection } from "../../../../common/src";
import { AlertProvider, AlertStatus, Severity } from "./alert.entity";

/** Entity kinds as a GraphQL enum. */
export const EntityTypeEnum = Object.fromEntries(ENTITY_TYPES.map((t) => [t, t])) as {
  [K in (typeof ENTITY_TYPES)[number]]: K;
};

registerEnumType(EntityTypeEnum, {
  name: "EntityType",
  description: "Kind of an entity: ACCOUNT, HOST, IP, RESOURCE, FILE_HASH, PROCESS, URL or DOMAIN.",
});

/** An entity an alert involves. */
@InputType({ description: "An entity the alert involves." })
export class AlertEntityInput {
  @Field(() => EntityTypeEnum, { description: "Kind." })
  type: (typeof ENTITY_TYPES)[number];

  @Field({
    description:
      "Value: a UPN or account name, a host name, an IP, a resource id, a hash, a process, a URL or a domain.",
  })
  value: string;
}

/** An entity of an alert. */
@ObjectType({ description: "An entity an alert involves." })
export class AlertEntity {
  @Field(() => EntityTypeEnum, { description: "Kind." })
  type: string;

  @Field({ description: "Value." })
  value: string;
}

/** An alert pushed by a provider. */
@InputType({ description: "An alert from a provider; idempotent on (provider, sourceId)." })
export class AlertInput {
  @Field(() => AlertProvider, {
    defaultValue: AlertProvider.EXTERNAL,
    description:
      "Who raised it: EXTERNAL (the default) or WORKLOAD_PROTECTION. ANALYTICS_RULE and TI_MATCH alerts are raised by the SIEM itself and refused here.",
  })
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

  @Field(() => [AlertEntityInput], {
    defaultValue: [],
    description: "Entities involved (accounts, hosts, IPs…); used for correlation.",
  })
  entities: AlertEntityInput[];

  @Field(() => [String], { defaultValue: [], description: "Remediation steps." })
  remediation: string[];

  @Field(() => ID, { nullable: true, description: "The affected resource (a `Resource` id), when known." })
  resourceId?: string | null;

  @Field(() => Date, {
    nullable: true,
    description: "When the activity began (default: now); at most a day ahead and 10 years back.",
  })
  startTime?: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: "When it was last seen (default: startTime); same bounds as startTime.",
  })
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
