import { JSONObjectScalar, JSONScalar } from "../../../../common/src";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { CONNECTOR_KINDS } from "./event.model";

/** Connector kinds as a GraphQL enum (values equal the kinds). */
export const ConnectorKindEnum = Object.fromEntries(CONNECTOR_KINDS.map((k) => [k, k])) as {
  [K in (typeof CONNECTOR_KINDS)[number]]: K;
};

registerEnumType(ConnectorKindEnum, {
  name: "ConnectorKind",
  description:
    "A data connector's kind: the source its records come from, and so the format the ingest reads them in (each kind has its own normaliser to OCSF).",
  valuesConfig: {
    AZURE_ACTIVITY: {
      description: "Azure Activity Log events (the REST API's or a diagnostic-settings export).",
    },
    ENTRA_SIGNIN: { description: "Microsoft Entra ID sign-ins (Microsoft Graph `signIn` resources)." },
    AWS_CLOUDTRAIL: { description: "AWS CloudTrail records (one per line, or a whole log file per line)." },
    SYSLOG_CEF: {
      description: "Syslog lines carrying CEF (firewalls, proxies), as JSON strings or `{ message }`.",
    },
    M365_AUDIT: { description: "Microsoft 365 audit records (Office 365 Management Activity API)." },
    OCSF: { description: "Events that are already OCSF JSON, of any class." },
    OKTA_SYSTEM_LOG: {
      description:
        "Okta System Log API LogEvent objects: sign-ins, MFA factor, account, privilege, group and policy changes.",
    },
    GCP_AUDIT: {
      description:
        "Google Cloud Audit Logs LogEntry objects whose protoPayload is a google.cloud.audit.AuditLog (Admin Activity, Data Access, System Event, Policy Denied).",
    },
    WINDOWS_SECURITY: {
      description:
        "Windows Security event log records as JSON, as an agent forwards them (EventID, TimeCreated, Computer, EventRecordID, EventData).",
    },
    WINDOWS_SYSMON: {
      description:
        "Sysmon (Microsoft-Windows-Sysmon/Operational) event log records as JSON, as an agent forwards them: process, network, file, DNS, image-load and registry events.",
    },
    RAMPART_AGENT: {
      description:
        "Telemetry of Rampart's own workload-protection agent, as protection relays it (process executions, file changes, network flows, logons; the agent's NDJSON record format).",
    },
  },
});

/** How a connector is doing. */
export enum ConnectorStatus {
  CONNECTED = "CONNECTED",
  ERROR = "ERROR",
  IDLE = "IDLE",
  NEVER_CONNECTED = "NEVER_CONNECTED",
  DISABLED = "DISABLED",
  STALE = "STALE",
}

registerEnumType(ConnectorStatus, {
  name: "ConnectorStatus",
  description:
    "How a connector is doing. The first that applies, in this order: DISABLED, NEVER_CONNECTED, STALE, CONNECTED, ERROR, IDLE. CONNECTED, ERROR and IDLE are judged on the last 24 hours: a connector whose records all arrive but are all rejected (a wrong format, the wrong connector kind) is ERROR, not CONNECTED.",
  valuesConfig: {
    DISABLED: { description: "An ADMIN disabled it (`setDataConnector`): ingest refuses its records." },
    NEVER_CONNECTED: { description: "Nothing ever arrived." },
    STALE: {
      description:
        "It has a `staleAfter` and no record was kept (stored, or already stored) for that long: the source has gone quiet, or all it sends is rejected.",
    },
    CONNECTED: { description: "Records kept (stored, or already stored) in the last 24 hours." },
    ERROR: {
      description:
        "Records arrived in the last 24 hours but none was kept: every one was rejected (see `rejectedTotal` and the ingest's rejection report).",
    },
    IDLE: { description: "Nothing arrived in the last 24 hours." },
  },
});

/** One UTC day of a connector's ingest. */
@ObjectType({ description: "What a connector received on one UTC day (by the time records arrived)." })
export class ConnectorDay {
  @Field({ description: "The UTC day, `YYYY-MM-DD`." })
  day: string;

  @Field(() => Int, { description: "Events stored that day." })
  events: number;

  @Field(() => Int, { description: "Records ignored that day as duplicates of stored events." })
  duplicates: number;

  @Field(() => Int, { description: "Records rejected that day." })
  rejected: number;
}

/** A data connector of the tenant. */
@ObjectType({ description: "A data connector: where events come from, and how much." })
export class DataConnector {
  @Field(() => ConnectorKindEnum, { description: "The connector's kind." })
  kind: string;

  @Field(() => ConnectorStatus, { description: "How it is doing (see ConnectorStatus for the order)." })
  status: ConnectorStatus;

  @Field({ description: "False once an ADMIN disabled it: ingest refuses its records (409 / CONFLICT)." })
  enabled: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      "ISO 8601 duration (PT5M to P30D) after which a connector with no kept record is STALE; null: never STALE.",
  })
  staleAfter: string | null;

  @Field(() => Date, { nullable: true, description: "Time of the newest event received." })
  lastEventTime: Date | null;

  @Field(() => Date, { nullable: true, description: "When data last arrived." })
  lastIngestTime: Date | null;

  @Field(() => Int, { description: "Events stored (duplicates and rejected records excluded)." })
  eventsTotal: number;

  @Field(() => Int, { description: "Records ignored as duplicates of stored events." })
  duplicatesTotal: number;

  @Field(() => Int, {
    description: "Records rejected (malformed, unparseable time, outside the retention window…).",
  })
  rejectedTotal: number;
}

/** What `setDataConnector` changes; an omitted field is left as it is. */
@InputType({ description: "An ADMIN's settings of one data connector; omitted fields are left unchanged." })
export class SetDataConnectorInput {
  @Field(() => ConnectorKindEnum, { description: "The connector's kind." })
  kind: string;

  @Field(() => Boolean, {
    nullable: true,
    description: "False refuses the kind's records on both ingest paths; true lets ingest resume.",
  })
  enabled?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description:
      "ISO 8601 duration, PT5M to P30D (e.g. PT6H, P1D): no record kept for that long makes the connector STALE. Null clears it.",
  })
  staleAfter?: string | null;
}

/** A record an event ingest rejected. */
@ObjectType({ description: "A record an event ingest rejected; the other records were kept." })
export class EventRejection {
  @Field(() => Int, { description: "1-based line of the NDJSON body, or position + 1 in `records`." })
  line: number;

  @Field({ description: "Why it was rejected." })
  reason: string;
}

/** What an event ingest did. */
@ObjectType({ description: "The outcome of an event ingest." })
export class IngestEventsPayload {
  @Field(() => Int, { description: "New events stored." })
  acceptedCount: number;

  @Field(() => Int, { description: "Records already stored (same connector and source event id), ignored." })
  duplicateCount: number;

  @Field(() => [EventRejection], { description: "Rejected records with the reason." })
  rejected: EventRejection[];
}

/** A stored, normalised event. */
@ObjectType({ description: "A normalised security event (OCSF-aligned), with the raw record kept." })
export class SecurityEvent {
  @Field(() => ID, { description: "Rampart's id of the event." })
  id: string;

  @Field(() => ConnectorKindEnum, { description: "The connector it came through." })
  connector: string;

  @Field({ description: "The source's id of the record." })
  sourceEventId: string;

  @Field({ description: "When it happened." })
  time: Date;

  @Field(() => Int, {
    description: "OCSF class_uid (3002 Authentication, 4001 Network Activity, 6003 API Activity…).",
  })
  classUid: number;

  @Field(() => Int, { description: "OCSF activity_id." })
  activityId: number;

  @Field(() => Int, { description: "OCSF severity_id (0 Unknown … 6 Fatal)." })
  severityId: number;

  @Field({ description: "Success, Failure or Unknown." })
  status: string;

  @Field(() => String, { nullable: true, description: "Message." })
  message: string | null;

  @Field(() => String, { nullable: true, description: "The acting user (UPN, name or ARN)." })
  actorUser: string | null;

  @Field(() => String, { nullable: true, description: "Source IP." })
  srcIp: string | null;

  @Field(() => Int, { nullable: true, description: "Source port." })
  srcPort: number | null;

  @Field(() => String, { nullable: true, description: "Destination IP." })
  dstIp: string | null;

  @Field(() => Int, { nullable: true, description: "Destination port." })
  dstPort: number | null;

  @Field(() => String, { nullable: true, description: "Host involved." })
  device: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Cloud resource id (ARM id / ARN) the event concerns.",
  })
  resourceExternalId: string | null;

  @Field(() => String, { nullable: true, description: "Operation or API call." })
  operation: string | null;

  @Field(() => String, { nullable: true, description: "Country of the source (ISO 3166 alpha-2)." })
  srcCountry: string | null;

  @Field(() => JSONObjectScalar, { description: "The rest of the OCSF object (process, file, url, mfa…)." })
  attributes: Record<string, unknown>;

  @Field(() => JSONScalar, { nullable: true, description: "The record as received." })
  raw: unknown;
}

/** Filter over events. */
@InputType({ description: "Filters events; every given condition must hold." })
export class EventFilter {
  @Field(() => ConnectorKindEnum, { nullable: true, description: "Only this connector." })
  connector?: string | null;

  @Field(() => Int, { nullable: true, description: "Only this OCSF class." })
  classUid?: number | null;

  @Field(() => String, {
    nullable: true,
    description: "Only events of this account (user name or id), ignoring case.",
  })
  actorUser?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Only events with this IP address as source or destination (IPv4 or IPv6).",
  })
  ip?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Only events on this host (device name), ignoring case.",
  })
  device?: string | null;

  @Field(() => Date, { nullable: true, description: "From this time (inclusive); default 24 hours ago." })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: "Until this time (exclusive); default now." })
  to?: Date | null;
}
