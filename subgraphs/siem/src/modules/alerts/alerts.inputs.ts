import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { ENTITY_TYPES } from "./alert-store";
import {
  ENTITY_TYPE_DESCRIPTION,
  JSONObjectScalar,
  OrderDirection,
  RecordRejection,
} from "../../../../common/src";
import { AlertProvider, AlertStatus, SecurityAlert, Severity } from "./alert.entity";

/** Entity kinds as a GraphQL enum. */
export const EntityTypeEnum = Object.fromEntries(ENTITY_TYPES.map((t) => [t, t])) as {
  [K in (typeof ENTITY_TYPES)[number]]: K;
};

registerEnumType(EntityTypeEnum, {
  name: "EntityType",
  description: ENTITY_TYPE_DESCRIPTION,
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
@InputType({
  description:
    "An alert from a provider; idempotent on (provider, sourceId). Sending a known alert again updates its mutable fields (title, description, severity, status, endTime, tactics, techniques, remediation); fields left out keep their value.",
})
export class AlertInput {
  @Field(() => AlertProvider, {
    defaultValue: AlertProvider.EXTERNAL,
    description:
      "Who raised it: EXTERNAL (the default) or WORKLOAD_PROTECTION. ANALYTICS_RULE and TI_MATCH alerts are raised by the SIEM itself and refused here.",
  })
  provider: AlertProvider;

  @Field({
    description:
      "The provider's id of the alert: a repeat updates the known alert's mutable fields, or changes nothing when they are the same.",
  })
  sourceId: string;

  @Field({ description: "Short title." })
  title: string;

  @Field(() => String, {
    nullable: true,
    description: "What happened (empty when left out of a new alert; kept when left out of a repeat).",
  })
  description?: string | null;

  @Field(() => Severity, { description: "Severity." })
  severity: Severity;

  @Field(() => AlertStatus, {
    nullable: true,
    description:
      "Triage state as the provider sees it: NEW when left out of a new alert; left out of a repeat, the alert keeps its status (so an analyst's triage stays).",
  })
  status?: AlertStatus | null;

  @Field(() => [String], {
    nullable: true,
    description: "MITRE ATT&CK tactics (none when left out of a new alert; kept when left out of a repeat).",
  })
  tactics?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description:
      "MITRE ATT&CK technique ids (T1110, T1059.001); none when left out of a new alert, kept when left out of a repeat.",
  })
  techniques?: string[] | null;

  @Field(() => [AlertEntityInput], {
    defaultValue: [],
    description:
      "Entities involved (accounts, hosts, IPs…); used for correlation. Fixed when the alert is first stored: a repeat's entities are ignored.",
  })
  entities: AlertEntityInput[];

  @Field(() => [String], {
    nullable: true,
    description: "Remediation steps (none when left out of a new alert; kept when left out of a repeat).",
  })
  remediation?: string[] | null;

  @Field(() => JSONObjectScalar, {
    nullable: true,
    description:
      "What the provider observed, as a JSON object of at most 32 KiB: process and command line, file path and hashes, host, addresses, counts, links (empty when left out of a new alert; kept when left out of a repeat).",
  })
  evidence?: Record<string, unknown> | null;

  @Field(() => ID, {
    nullable: true,
    description: "The affected resource (a `Resource` id), when known. Fixed when the alert is first stored.",
  })
  resourceId?: string | null;

  @Field(() => Date, {
    nullable: true,
    description:
      "When the activity began (default: now, or endTime when that is earlier); at most a day ahead and 10 years back. Fixed when the alert is first stored.",
  })
  startTime?: Date | null;

  @Field(() => Date, {
    nullable: true,
    description:
      "When it was last seen (default: startTime); same bounds as startTime. A repeat whose endTime is before the stored one is older than what Rampart has and is ignored; left out of a repeat, the stored one is kept.",
  })
  endTime?: Date | null;
}

/** What became of one record of `ingestAlerts`. */
export enum AlertIngestOutcome {
  CREATED = "CREATED",
  UPDATED = "UPDATED",
  UNCHANGED = "UNCHANGED",
  REJECTED = "REJECTED",
}

registerEnumType(AlertIngestOutcome, {
  name: "AlertIngestOutcome",
  description: "What became of one record of `ingestAlerts`.",
  valuesConfig: {
    CREATED: { description: "A new alert was stored." },
    UPDATED: { description: "A known alert's mutable fields were changed (an `alert.updated` event)." },
    UNCHANGED: {
      description:
        "A known alert (or a repeat within the call) whose fields were already so, or a record older than the stored one (endTime before it): nothing changed.",
    },
    REJECTED: { description: "Invalid: see `rejected`." },
  },
});

/** What `ingestAlerts` did. */
@ObjectType({ description: "The outcome of an alert ingest: good records kept, bad ones reported." })
export class IngestAlertsPayload {
  @Field(() => Int, { description: "New alerts stored." })
  createdCount: number;

  @Field(() => Int, {
    description:
      "Records of known alerts (same provider and sourceId) that changed nothing: the same values, or an older endTime than the stored one.",
  })
  duplicateCount: number;

  @Field(() => Int, { description: "Known alerts whose mutable fields the records changed." })
  updatedCount: number;

  @Field(() => [AlertIngestOutcome], { description: "What became of each record, in input order." })
  outcomes: AlertIngestOutcome[];

  @Field(() => [ID], {
    nullable: "items",
    description: "Alert ids in input order (null for rejected records).",
  })
  ids: Array<string | null>;

  @Field(() => [RecordRejection], { description: "Rejected records with the reason." })
  rejected: RecordRejection[];
}

/** A triage change to alerts by an analyst. */
@InputType({ description: "A triage change to one or more alerts of the tenant, applied to all or to none." })
export class UpdateAlertsInput {
  @Field(() => [ID], { description: "The alerts (1 to 1,000; repeats count once)." })
  ids: string[];

  @Field(() => AlertStatus, {
    description:
      "The new status: ACTIVE (being investigated), RESOLVED (handled), DISMISSED (not worth handling: a false or benign positive) or NEW (back to untriaged).",
  })
  status: AlertStatus;

  @Field(() => String, {
    nullable: true,
    description:
      "Why (at most 4,000 characters): in the activity log of the alerts' incidents, the audit log and the `alert.updated` event.",
  })
  comment?: string | null;
}

/** What `updateAlerts` did. */
@ObjectType({ description: "The outcome of `updateAlerts`." })
export class UpdateAlertsPayload {
  @Field(() => [SecurityAlert], {
    description: "The alerts as they are now, in the order of `ids` (repeats once).",
  })
  alerts: SecurityAlert[];

  @Field(() => Int, {
    description: "How many alerts changed (those already in the status are left as they are, with no event).",
  })
  updatedCount: number;
}

/** Which alerts `Query.alerts` lists. */
@InputType({
  description:
    "Which alerts to list; every condition given must hold. (The `alertCreated`/`alertUpdated` subscriptions take `AlertFilter`, its subset that an event can be tested against.)",
})
export class AlertListFilter {
  @Field(() => [AlertStatus], { nullable: true, description: "Only alerts in one of these statuses." })
  statuses?: AlertStatus[] | null;

  @Field(() => [Severity], { nullable: true, description: "Only alerts of one of these severities." })
  severities?: Severity[] | null;

  @Field(() => Severity, { nullable: true, description: "Only alerts of at least this severity." })
  minSeverity?: Severity | null;

  @Field(() => [AlertProvider], { nullable: true, description: "Only alerts from these providers." })
  providers?: AlertProvider[] | null;

  @Field(() => Date, {
    nullable: true,
    description: "Only alerts whose activity was last seen at or after this time (`endTime >= from`).",
  })
  from?: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: "Only alerts whose activity began before this time (`startTime < to`).",
  })
  to?: Date | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "true: only alerts in an incident; false: only alerts in none.",
  })
  hasIncident?: boolean | null;

  @Field(() => [ID], {
    nullable: true,
    description: "Only alerts raised by one of these analytics rules (at most 100).",
  })
  ruleIds?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description:
      "Only alerts with one of these MITRE ATT&CK tactics (as the alerts name them, e.g. `CredentialAccess`; at most 100).",
  })
  tactics?: string[] | null;

  @Field(() => String, { nullable: true, description: "Title contains this text (case-insensitive)." })
  search?: string | null;
}

/** What alerts can be ordered by. */
export enum AlertOrderField {
  CREATED_AT = "CREATED_AT",
  START_TIME = "START_TIME",
  END_TIME = "END_TIME",
  SEVERITY = "SEVERITY",
}

registerEnumType(AlertOrderField, {
  name: "AlertOrderField",
  description: "What alerts are ordered by (ties by id).",
  valuesConfig: {
    CREATED_AT: { description: "When Rampart received the alert (the default)." },
    START_TIME: { description: "When the activity began." },
    END_TIME: { description: "When the activity was last seen." },
    SEVERITY: { description: "Severity, INFORMATIONAL < LOW < MEDIUM < HIGH." },
  },
});

/** Ordering of alerts. */
@InputType({ description: "Ordering of alerts." })
export class AlertOrder {
  @Field(() => AlertOrderField, { description: "The field." })
  field: AlertOrderField;

  @Field(() => OrderDirection, {
    defaultValue: OrderDirection.DESC,
    description: "Direction (default descending).",
  })
  direction: OrderDirection;
}
