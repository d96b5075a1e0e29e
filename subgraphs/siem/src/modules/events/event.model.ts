/**
 * The normalised event every connector produces: OCSF-aligned columns that rules filter on,
 * the rest of the OCSF object in `attributes`, and the raw record as received.
 */

/** Connector kinds with a normaliser. */
export const CONNECTOR_KINDS = [
  "AZURE_ACTIVITY",
  "ENTRA_SIGNIN",
  "AWS_CLOUDTRAIL",
  "SYSLOG_CEF",
  "M365_AUDIT",
  "OCSF",
  "OKTA_SYSTEM_LOG",
  "GCP_AUDIT",
  "WINDOWS_SECURITY",
  "WINDOWS_SYSMON",
  "RAMPART_AGENT",
] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

/** OCSF classes we normalise to (class_uid). */
export const OCSF_CLASS = {
  /** Base Event: what a connector keeps of a record no other class describes (an unmapped Windows event). */
  BASE_EVENT: 0,
  PROCESS_ACTIVITY: 1007,
  EVENT_LOG_ACTIVITY: 1008,
  FILE_ACTIVITY: 1001,
  /** Module Activity: a module (DLL, driver) loaded into a process or the kernel (Sysmon events 6 and 7). */
  MODULE_ACTIVITY: 1005,
  ACCOUNT_CHANGE: 3001,
  AUTHENTICATION: 3002,
  AUTHORIZE_SESSION: 3003,
  USER_ACCESS_MANAGEMENT: 3005,
  GROUP_MANAGEMENT: 3006,
  NETWORK_ACTIVITY: 4001,
  HTTP_ACTIVITY: 4002,
  DNS_ACTIVITY: 4003,
  API_ACTIVITY: 6003,
  WEB_RESOURCES_ACTIVITY: 6001,
  /** Registry Key Activity (OCSF Windows extension): a key created, deleted or renamed (Sysmon events 12, 14). */
  REGISTRY_KEY_ACTIVITY: 201001,
  /** Registry Value Activity (OCSF Windows extension): a value set or deleted (Sysmon events 12, 13). */
  REGISTRY_VALUE_ACTIVITY: 201004,
} as const;

/** OCSF severity_id: 0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal. */
export type OcsfSeverityId = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** One normalised event. Column names are the ones analytics rules filter on. */
export interface NormalizedEvent {
  /** The source's id of the record (CloudTrail eventID, sign-in id…); with tenant and connector it de-duplicates. */
  source_event_id: string;
  /** When the event happened (ISO 8601). */
  time: string;
  class_uid: number;
  activity_id: number;
  severity_id: OcsfSeverityId;
  /** OCSF status: "Success", "Failure" or "Unknown". */
  status: "Success" | "Failure" | "Unknown";
  message: string | null;
  /** actor.user: a UPN, user name or ARN. */
  actor_user: string | null;
  src_ip: string | null;
  src_port: number | null;
  dst_ip: string | null;
  dst_port: number | null;
  /** The device/host involved (hostname). */
  device: string | null;
  /** Cloud resource id (ARM id / ARN) the event is about, when any. */
  resource_id: string | null;
  /** api.operation or the equivalent action name (e.g. `ConsoleLogin`, `Microsoft.Compute/virtualMachines/write`). */
  operation: string | null;
  /** ISO 3166 alpha-2 country of the source (sign-ins), when known. */
  src_country: string | null;
  /** The rest of the OCSF object (process, file, url, domain, mfa, user_agent, action, protocol…). */
  attributes: Record<string, unknown>;
  /** The record as received. */
  raw: unknown;
}

/** Columns of NormalizedEvent that rules may filter on directly (the rest go through `attributes.<path>`). */
export const EVENT_COLUMNS = [
  "time",
  "class_uid",
  "activity_id",
  "severity_id",
  "status",
  "message",
  "actor_user",
  "src_ip",
  "src_port",
  "dst_ip",
  "dst_port",
  "device",
  "resource_id",
  "operation",
  "src_country",
  "connector",
] as const;
export type EventColumn = (typeof EVENT_COLUMNS)[number];

/** A record a normaliser could not use: the reason is reported per line, the good records are kept. */
export interface NormalizeRejection {
  reason: string;
}

/** A normaliser: one raw record in, one event (or a rejection) out. Pure and total: never throws. */
export type Normalizer = (record: unknown) => NormalizedEvent | NormalizeRejection;
