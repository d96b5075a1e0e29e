/**
 * What the Sigma importer knows about our data, as data: the Sigma log sources we ingest (each a connector
 * kind, maybe narrowed to an OCSF class), the Sigma field names of each and where our normaliser keeps them
 * (an event column, a normalised attribute, or a part of the raw record kept as received), the entities an
 * alert of such a rule carries, and the MITRE ATT&CK tactics by Sigma tag and id.
 *
 * A field is listed only where its value in our event equals the value in the record Sigma describes (the
 * normalisers trim text and drop empty strings, so an empty value and a missing one are the same here); a field
 * we do not keep is not listed, and is absent from every event of the source: the translator evaluates a rule's
 * conditions on it as Sigma does on an event without it, and rejects the rule when that leaves it matching no
 * event or every event (sigma.ts). A source whose records may hold fields it does not list says so (`unlisted`):
 * there an unlisted name is rejected, not taken as absent.
 *
 * One Sigma log source may be recorded by several connectors (`also`): `product: windows, category:
 * process_creation` is Windows' own 4688 and Sysmon's event 1. A rule over it is translated for each, with each
 * one's fields, and runs on all of them (sigma.ts).
 */
import type { ConnectorKind } from "../events/event.model";
import { OCSF_CLASS } from "../events/event.model";
import type { EventFilter } from "./rule-filter";
import type { EntityMapping, EntityType } from "./rule-spec";

/**
 * Where a Sigma field is in our events and how its values compare:
 * - `text`: a text column or a string attribute the normaliser trimmed (empty strings are absent); `guard`, when
 *   given, is what must also hold for the column to carry this field at all (a column filled from several
 *   record fields);
 * - `number` / `boolean`: an integer column or a JSON number / boolean attribute;
 * - `ip`: an `inet` column, with `host` the string attribute that keeps the record's value when it is not an IP
 *   address (`AWS Internal`, a service's host name);
 * - `raw`: an attribute holding the record's own JSON as received (any type: Sigma compares values as text, so
 *   a number or boolean matches its text too).
 */
export type SigmaFieldTarget = (
  | { type: "text"; field: string; guard?: EventFilter }
  | { type: "number"; field: string }
  | { type: "boolean"; field: string }
  | { type: "ip"; field: "src_ip" | "dst_ip"; host?: string }
  | { type: "raw"; field: string }
) & {
  /** The entity an alert gets from this field when a rule uses it. */
  entity?: EntityType;
};

/** A Sigma log source we can evaluate. */
export interface SigmaLogsource {
  /** Stable name used in messages and docs, e.g. `aws/cloudtrail`. */
  name: string;
  /** The logsource spelling rules use. */
  logsource: { product?: string; service?: string; category?: string };
  /** The connector whose events it means. */
  connector: ConnectorKind;
  /** The OCSF class, when the connector's events of other classes are not this source. */
  classUid?: number;
  /** The event ids (`operation`), when the connector's events of other ids are not this source (Sysmon's). */
  operations?: readonly string[];
  /** Sigma field name (matched without case) → where it is. */
  fields: Record<string, SigmaFieldTarget>;
  /** Sigma field prefixes (with the dot; matched without case) whose rest is a path into an attribute kept as received. */
  prefixes: Record<string, string>;
  /** Entities every alert of a rule on this source carries (a summarised rule has only its `by` fields). */
  entities: EntityMapping[];
  /**
   * Where the records may hold a field this source does not list, when they may (a rule naming one is then
   * rejected rather than evaluated as if the field were absent, with this in its reason, `<Name>` the field's
   * name); unset where an unlisted field is in none of our events.
   */
  unlisted?: string;
  /**
   * The same log source as other connectors record it, each with its own fields: a rule runs on the events of
   * this source and of these (the OR of its translation for each).
   */
  also?: readonly SigmaLogsource[];
}

const text = (field: string, entity?: EntityType): SigmaFieldTarget => ({ type: "text", field, entity });
const number = (field: string): SigmaFieldTarget => ({ type: "number", field });
const boolean = (field: string): SigmaFieldTarget => ({ type: "boolean", field });
const ip = (field: "src_ip" | "dst_ip", host?: string): SigmaFieldTarget => ({
  type: "ip",
  field,
  host,
  entity: "IP",
});
const raw = (field: string): SigmaFieldTarget => ({ type: "raw", field });

/** Several Sigma spellings of one field (Log Analytics PascalCase, the API's camelCase…). */
function aliases(names: string[], target: SigmaFieldTarget): Record<string, SigmaFieldTarget> {
  return Object.fromEntries(names.map((name) => [name, target]));
}

/** The System fields of a Windows event record (any channel), as Sigma's Windows rules name them. */
const WINDOWS_SYSTEM: Record<string, SigmaFieldTarget> = {
  ...aliases(["EventID"], number("attributes.event_id")),
  ...aliases(["EventRecordID"], number("attributes.record_id")),
  ...aliases(["Computer"], text("device", "HOST")),
  ...aliases(["Channel"], text("attributes.channel")),
  ...aliases(["Provider_Name", "Provider.Name"], text("attributes.provider")),
};

/** The Windows Security `EventData` fields Sigma rules of `product: windows, service: security` use. */
const WINDOWS_EVENT_DATA = [
  "AccessList",
  "AccessMask",
  "AuthenticationPackageName",
  "CommandLine",
  "FailureReason",
  "GroupMembership",
  "ImpersonationLevel",
  "IpAddress",
  "IpPort",
  "KeyLength",
  "LmPackageName",
  "LogonProcessName",
  "LogonType",
  "MemberName",
  "MemberSid",
  "NewProcessId",
  "NewProcessName",
  "ObjectName",
  "ObjectServer",
  "ObjectType",
  "ParentProcessName",
  "PrivilegeList",
  "ProcessId",
  "ProcessName",
  "RelativeTargetName",
  "SamAccountName",
  "ServiceFileName",
  "ServiceName",
  "ShareName",
  "Status",
  "SubjectDomainName",
  "SubjectLogonId",
  "SubjectUserName",
  "SubjectUserSid",
  "SubStatus",
  "TargetDomainName",
  "TargetLogonId",
  "TargetSid",
  "TargetUserName",
  "TargetUserSid",
  "TicketEncryptionType",
  "TicketOptions",
  "TokenElevationType",
  "UserAccountControl",
  "WorkstationName",
] as const;

/** Sysmon's `Hashes` split by algorithm (Sigma's `md5`, `sha1`, `sha256`, `Imphash`), in the object at `base`. */
function sysmonHashFields(base: string): Record<string, SigmaFieldTarget> {
  return {
    md5: { type: "text", field: `${base}.md5`, entity: "FILE_HASH" },
    sha1: { type: "text", field: `${base}.sha1`, entity: "FILE_HASH" },
    sha256: { type: "text", field: `${base}.sha256`, entity: "FILE_HASH" },
    Imphash: text(`${base}.imphash`),
  };
}

/** The EventData fields of Sysmon's events, as Sigma names them: the record's own values, as received. */
function sysmonEventData(names: readonly string[]): Record<string, SigmaFieldTarget> {
  return Object.fromEntries(names.map((name) => [name, raw(`attributes.event_data.${name}`)]));
}

/** The fields most Sysmon events name the process they are about by. */
const SYSMON_PROCESS = ["Image", "ProcessGuid", "ProcessId", "User"] as const;
/** The version information and signature Sysmon writes of an image (events 1, 6, 7). */
const SYSMON_IMAGE_INFO = ["FileVersion", "Description", "Product", "Company", "OriginalFileName"] as const;
const SYSMON_SIGNATURE = ["Hashes", "Signed", "Signature", "SignatureStatus"] as const;
const SYSMON_REGISTRY = [...SYSMON_PROCESS, "EventType", "TargetObject", "Details", "NewName"] as const;

/** The EventData fields of Sysmon's events (schema 4.90) by the Sigma category of their ids. */
const SYSMON_EVENT_FIELDS = {
  process_creation: [
    ...SYSMON_PROCESS,
    "CommandLine",
    "CurrentDirectory",
    ...SYSMON_IMAGE_INFO,
    "Hashes",
    "LogonGuid",
    "LogonId",
    "TerminalSessionId",
    "IntegrityLevel",
    "ParentProcessGuid",
    "ParentProcessId",
    "ParentImage",
    "ParentCommandLine",
    "ParentUser",
  ],
  process_termination: SYSMON_PROCESS,
  network_connection: [
    ...SYSMON_PROCESS,
    "Protocol",
    "Initiated",
    "SourceIsIpv6",
    "SourceIp",
    "SourceHostname",
    "SourcePort",
    "SourcePortName",
    "DestinationIsIpv6",
    "DestinationIp",
    "DestinationHostname",
    "DestinationPort",
    "DestinationPortName",
  ],
  file_change: [...SYSMON_PROCESS, "TargetFilename", "CreationUtcTime", "PreviousCreationUtcTime"],
  file_event: [...SYSMON_PROCESS, "TargetFilename", "CreationUtcTime"],
  create_stream_hash: [...SYSMON_PROCESS, "TargetFilename", "CreationUtcTime", "Hash", "Contents"],
  file_delete: [...SYSMON_PROCESS, "TargetFilename", "Hashes", "IsExecutable", "Archived"],
  file_block_executable: [...SYSMON_PROCESS, "TargetFilename", "Hashes"],
  file_block_shredding: [...SYSMON_PROCESS, "TargetFilename", "Hashes", "IsExecutable"],
  file_executable_detected: [...SYSMON_PROCESS, "TargetFilename", "Hashes"],
  driver_load: ["ImageLoaded", ...SYSMON_SIGNATURE],
  image_load: [...SYSMON_PROCESS, "ImageLoaded", ...SYSMON_IMAGE_INFO, ...SYSMON_SIGNATURE],
  create_remote_thread: [
    "SourceProcessGuid",
    "SourceProcessId",
    "SourceImage",
    "SourceUser",
    "TargetProcessGuid",
    "TargetProcessId",
    "TargetImage",
    "TargetUser",
    "NewThreadId",
    "StartAddress",
    "StartModule",
    "StartFunction",
  ],
  process_access: [
    "SourceProcessGUID",
    "SourceProcessId",
    "SourceThreadId",
    "SourceImage",
    "SourceUser",
    "TargetProcessGUID",
    "TargetProcessId",
    "TargetImage",
    "TargetUser",
    "GrantedAccess",
    "CallTrace",
  ],
  registry_event: SYSMON_REGISTRY,
  pipe_created: [...SYSMON_PROCESS, "EventType", "PipeName"],
  dns_query: [...SYSMON_PROCESS, "QueryName", "QueryStatus", "QueryResults"],
  wmi_event: [
    "EventType",
    "Operation",
    "User",
    "EventNamespace",
    "Name",
    "Query",
    "Type",
    "Destination",
    "Consumer",
    "Filter",
  ],
  raw_access_thread: [...SYSMON_PROCESS, "Device"],
  clipboard_capture: [...SYSMON_PROCESS, "Session", "ClientInfo", "Hashes", "Archived"],
  process_tampering: [...SYSMON_PROCESS, "Type"],
  sysmon_status: ["State", "Version", "SchemaVersion", "Configuration", "ConfigurationFileHash"],
  sysmon_error: ["ID", "Description"],
} as const;

const SYSMON_ENTITIES: EntityMapping[] = [
  { entityType: "HOST", field: "device" },
  { entityType: "ACCOUNT", field: "actor_user" },
  { entityType: "PROCESS", field: "attributes.process.name" },
];

/**
 * A Sigma category as Sysmon records it (pySigma's Sysmon mapping): the WINDOWS_SYSMON events of its event ids,
 * with the EventData fields those events have (and `Computer`, `RuleName`, `UtcTime`).
 */
function sysmonCategory(
  category: string,
  eventIds: readonly number[],
  names: readonly string[],
  more: { fields?: Record<string, SigmaFieldTarget>; entities?: EntityMapping[] } = {},
): SigmaLogsource {
  return {
    name: `sysmon/${category}`,
    logsource: { product: "windows", category },
    connector: "WINDOWS_SYSMON",
    operations: eventIds.map(String),
    fields: {
      ...sysmonEventData(["RuleName", "UtcTime", ...names]),
      ...aliases(["Computer"], text("device", "HOST")),
      ...more.fields,
    },
    prefixes: {},
    entities: [...SYSMON_ENTITIES, ...(more.entities ?? [])],
  };
}

/**
 * Sysmon's process creation (event 1): every EventData field as the record gave it, but the ones 4688 records
 * have too where the normaliser keeps both alike (process ids, account, integrity level), so that a correlation
 * over both groups them together; and `Hashes` split by algorithm.
 */
const SYSMON_PROCESS_CREATION = sysmonCategory(
  "process_creation",
  [1],
  SYSMON_EVENT_FIELDS.process_creation,
  {
    fields: {
      ...aliases(["ProcessId"], number("attributes.process.pid")),
      ...aliases(["ParentProcessId"], number("attributes.process.parent_process.pid")),
      ...aliases(["User"], text("attributes.process.account")),
      ...aliases(["IntegrityLevel"], text("attributes.process.integrity_level")),
      ...sysmonHashFields("attributes.process.file.hashes"),
    },
    entities: [
      { entityType: "PROCESS", field: "attributes.process.cmd_line" },
      { entityType: "FILE_HASH", field: "attributes.process.file.hashes.sha256" },
    ],
  },
);

/** Every EventData field of Sysmon's events, for `service: sysmon` rules. */
const SYSMON_EVENT_DATA = [...new Set(["RuleName", "UtcTime", ...Object.values(SYSMON_EVENT_FIELDS).flat()])];

/** The Sigma log sources we ingest. */
export const SIGMA_LOGSOURCES: readonly SigmaLogsource[] = [
  {
    name: "aws/cloudtrail",
    logsource: { product: "aws", service: "cloudtrail" },
    connector: "AWS_CLOUDTRAIL",
    fields: {
      ...aliases(["eventName"], text("attributes.event_name")),
      ...aliases(["eventSource"], text("attributes.event_source")),
      ...aliases(["eventType"], text("attributes.event_type")),
      ...aliases(["eventCategory"], text("attributes.event_category")),
      ...aliases(["awsRegion"], text("attributes.region")),
      ...aliases(["errorCode"], text("attributes.error_code")),
      ...aliases(["errorMessage"], text("attributes.error_message")),
      ...aliases(["requestID"], text("attributes.request_id")),
      ...aliases(["userAgent"], text("attributes.user_agent")),
      ...aliases(["readOnly"], boolean("attributes.read_only")),
      ...aliases(["sourceIPAddress"], ip("src_ip", "attributes.source_host")),
      ...aliases(["userIdentity.type"], text("attributes.user_identity_type")),
      ...aliases(["userIdentity.principalId"], text("attributes.principal_id")),
      ...aliases(["userIdentity.userName"], text("attributes.user_name")),
      ...aliases(["userIdentity.accessKeyId"], text("attributes.access_key_id")),
      ...aliases(["userIdentity.sessionContext.sessionIssuer.arn"], text("attributes.session_issuer")),
      // actor_user is the ARN when the record has one, else a user name, service or principal id — none of
      // which starts with "arn:" — so "starts with arn:" tells the ARN apart.
      ...aliases(["userIdentity.arn"], {
        type: "text",
        field: "actor_user",
        guard: { field: "actor_user", op: "startsWith", value: "arn:" },
        entity: "ACCOUNT",
      }),
    },
    prefixes: {
      "requestParameters.": "attributes.request_parameters",
      "responseElements.": "attributes.response_elements",
      "additionalEventData.": "attributes.additional_event_data",
    },
    entities: [
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "IP", field: "src_ip" },
      { entityType: "RESOURCE", field: "resource_id" },
      { entityType: "HOST", field: "device" },
    ],
  },
  {
    name: "azure/activitylogs",
    logsource: { product: "azure", service: "activitylogs" },
    connector: "AZURE_ACTIVITY",
    fields: {
      ...aliases(["operationName", "OperationNameValue"], text("operation")),
      ...aliases(
        ["status", "ActivityStatus", "ActivityStatusValue", "resultType"],
        text("attributes.status_detail"),
      ),
      ...aliases(
        ["subStatus", "ActivitySubstatus", "ActivitySubstatusValue", "resultSignature"],
        text("attributes.sub_status"),
      ),
      ...aliases(["category", "CategoryValue"], text("attributes.category")),
      ...aliases(
        ["resourceProviderName", "ResourceProvider", "ResourceProviderValue"],
        text("attributes.resource_provider"),
      ),
      ...aliases(["resourceType"], text("attributes.resource_type")),
      ...aliases(["resourceId", "_ResourceId"], text("resource_id", "RESOURCE")),
      ...aliases(["resourceGroup", "resourceGroupName"], text("attributes.resource_group")),
      ...aliases(["subscriptionId"], text("attributes.subscription_id")),
      ...aliases(["tenantId"], text("attributes.tenant_id")),
      ...aliases(["caller"], text("actor_user", "ACCOUNT")),
      ...aliases(["callerIpAddress"], ip("src_ip", "attributes.caller_ip")),
      ...aliases(["level"], text("attributes.level")),
      ...aliases(["correlationId"], text("attributes.correlation_id")),
      ...aliases(["operationId"], text("attributes.operation_id")),
      ...aliases(["eventName", "EventNameValue"], text("attributes.event_name")),
      ...aliases(["authorization.action"], text("attributes.authorization.action")),
      ...aliases(["authorization.scope"], text("attributes.authorization.scope")),
    },
    prefixes: {},
    entities: [
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "IP", field: "src_ip" },
      { entityType: "RESOURCE", field: "resource_id" },
      { entityType: "HOST", field: "device" },
    ],
  },
  {
    name: "azure/signinlogs",
    logsource: { product: "azure", service: "signinlogs" },
    connector: "ENTRA_SIGNIN",
    fields: {
      ...aliases(["ResultType", "status.errorCode", "errorCode"], number("attributes.error_code")),
      ...aliases(
        ["ResultDescription", "status.failureReason", "failureReason"],
        text("attributes.failure_reason"),
      ),
      ...aliases(["status.additionalDetails", "additionalDetails"], text("attributes.additional_details")),
      ...aliases(["Status"], text("status")),
      ...aliases(["AppDisplayName"], text("attributes.app")),
      ...aliases(["AppId"], text("attributes.app_id")),
      ...aliases(["UserPrincipalName"], text("attributes.user.email_addr", "ACCOUNT")),
      ...aliases(["UserId"], text("attributes.user.uid")),
      ...aliases(["UserDisplayName"], text("attributes.user.name")),
      ...aliases(["IPAddress"], ip("src_ip")),
      ...aliases(["ClientAppUsed", "ClientApp"], text("attributes.client_app")),
      ...aliases(["AuthenticationRequirement"], text("attributes.authentication_requirement")),
      ...aliases(["ConditionalAccessStatus"], text("attributes.conditional_access_status")),
      ...aliases(["RiskLevelDuringSignIn"], text("attributes.risk_level")),
      ...aliases(["RiskLevelAggregated"], text("attributes.risk_level_aggregated")),
      ...aliases(["RiskState"], text("attributes.risk_state")),
      ...aliases(["RiskDetail"], text("attributes.risk_detail")),
      ...aliases(["IsInteractive"], boolean("attributes.is_interactive")),
      ...aliases(["UserAgent"], text("attributes.user_agent")),
      ...aliases(["ResourceDisplayName"], text("attributes.resource")),
      ...aliases(["CorrelationId"], text("attributes.correlation_id")),
      ...aliases(
        ["Location", "LocationDetails.countryOrRegion", "location.countryOrRegion"],
        text("src_country"),
      ),
      ...aliases(["LocationDetails.city", "location.city"], text("attributes.location.city")),
      ...aliases(["LocationDetails.state", "location.state"], text("attributes.location.region")),
      ...aliases(["DeviceDetail.deviceId"], text("attributes.device.uid")),
      ...aliases(["DeviceDetail.displayName"], text("device", "HOST")),
      ...aliases(["DeviceDetail.operatingSystem"], text("attributes.device.os")),
      ...aliases(["DeviceDetail.browser"], text("attributes.device.browser")),
      ...aliases(["DeviceDetail.isCompliant"], boolean("attributes.device.is_compliant")),
      ...aliases(["DeviceDetail.isManaged"], boolean("attributes.device.is_managed")),
      ...aliases(["DeviceDetail.trustType"], text("attributes.device.trust_type")),
    },
    prefixes: {},
    entities: [
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "IP", field: "src_ip" },
      { entityType: "HOST", field: "device" },
    ],
  },
  {
    name: "m365/audit",
    logsource: { product: "m365", service: "audit" },
    connector: "M365_AUDIT",
    fields: {
      ...aliases(["Operation"], text("operation")),
      ...aliases(["Workload"], text("attributes.workload")),
      ...aliases(["UserId"], text("actor_user", "ACCOUNT")),
      ...aliases(["ClientIP", "ClientIPAddress"], ip("src_ip", "attributes.client_ip")),
      ...aliases(["ResultStatus"], text("attributes.result_status")),
      ...aliases(["RecordType"], raw("attributes.record_type")),
      ...aliases(["UserType"], raw("attributes.user_type")),
      ...aliases(["ObjectId"], text("attributes.object_id")),
      ...aliases(["OrganizationId"], text("attributes.organization_id")),
      ...aliases(["UserKey"], text("attributes.user_key")),
      ...aliases(["MailboxOwnerUPN"], text("attributes.mailbox_owner")),
      ...aliases(["SiteUrl"], text("attributes.site_url")),
      ...aliases(["SourceFileName"], text("attributes.file.name")),
      ...aliases(["SourceFileExtension"], text("attributes.file.type")),
    },
    prefixes: {
      "Parameters.": "attributes.parameters",
      "ExtendedProperties.": "attributes.extended_properties",
    },
    entities: [
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "IP", field: "src_ip" },
    ],
  },
  {
    name: "firewall",
    logsource: { category: "firewall" },
    connector: "SYSLOG_CEF",
    classUid: OCSF_CLASS.NETWORK_ACTIVITY,
    fields: {
      ...aliases(["src_ip", "SourceIp", "source.ip"], ip("src_ip")),
      ...aliases(["dst_ip", "DestinationIp", "destination.ip"], ip("dst_ip")),
      ...aliases(["src_port", "SourcePort", "source.port"], number("src_port")),
      ...aliases(["dst_port", "DestinationPort", "destination.port"], number("dst_port")),
      ...aliases(["username", "user"], text("actor_user", "ACCOUNT")),
      ...aliases(["action"], text("attributes.disposition")),
    },
    prefixes: { "cef.": "attributes.extensions" },
    entities: [
      { entityType: "IP", field: "src_ip" },
      { entityType: "IP", field: "dst_ip" },
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "HOST", field: "device" },
    ],
  },
  {
    name: "proxy",
    logsource: { category: "proxy" },
    connector: "SYSLOG_CEF",
    classUid: OCSF_CLASS.HTTP_ACTIVITY,
    fields: {
      ...aliases(["c-uri"], text("attributes.url", "URL")),
      ...aliases(["c-useragent", "cs-user-agent"], text("attributes.user_agent")),
      ...aliases(["cs-method"], text("attributes.http_request.http_method")),
      ...aliases(["cs-referrer", "cs-referer"], text("attributes.http_request.referrer")),
      ...aliases(["cs-username"], text("actor_user", "ACCOUNT")),
      ...aliases(["src_ip", "c-ip"], ip("src_ip")),
      ...aliases(["dst_ip"], ip("dst_ip")),
      ...aliases(["dst_port"], number("dst_port")),
    },
    prefixes: { "cef.": "attributes.extensions" },
    entities: [
      { entityType: "IP", field: "src_ip" },
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "URL", field: "attributes.url" },
      { entityType: "DOMAIN", field: "attributes.domain" },
      { entityType: "HOST", field: "device" },
    ],
  },
  {
    name: "okta",
    logsource: { product: "okta", service: "okta" },
    connector: "OKTA_SYSTEM_LOG",
    fields: {
      ...aliases(["eventType"], text("operation")),
      ...aliases(["displayMessage"], text("attributes.display_message")),
      ...aliases(["legacyEventType"], text("attributes.legacy_event_type")),
      ...aliases(["severity"], text("attributes.severity")),
      ...aliases(["outcome.result"], text("attributes.outcome.result")),
      ...aliases(["outcome.reason"], text("attributes.outcome.reason")),
      ...aliases(["actor.alternateId"], text("attributes.actor.alternate_id", "ACCOUNT")),
      ...aliases(["actor.displayName"], text("attributes.actor.name")),
      ...aliases(["actor.id"], text("attributes.actor.uid")),
      ...aliases(["actor.type"], text("attributes.actor.type")),
      ...aliases(["client.ipAddress"], ip("src_ip", "attributes.client_ip")),
      ...aliases(["client.userAgent.rawUserAgent"], text("attributes.user_agent")),
      ...aliases(["client.userAgent.os"], text("attributes.os")),
      ...aliases(["client.userAgent.browser"], text("attributes.browser")),
      ...aliases(["client.device"], text("attributes.device_type")),
      ...aliases(["client.zone"], text("attributes.zone")),
      ...aliases(["client.geographicalContext.country"], text("attributes.location.country_name")),
      ...aliases(["client.geographicalContext.state"], text("attributes.location.region")),
      ...aliases(["client.geographicalContext.city"], text("attributes.location.city")),
      ...aliases(["authenticationContext.credentialType"], text("attributes.credential_type")),
      ...aliases(["authenticationContext.authenticationProvider"], text("attributes.auth_provider")),
      ...aliases(["authenticationContext.externalSessionId"], text("attributes.session_id")),
      ...aliases(["transaction.id"], text("attributes.transaction_id")),
    },
    prefixes: { "debugContext.debugData.": "attributes.debug_data" },
    entities: [
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "IP", field: "src_ip" },
    ],
  },
  {
    name: "gcp/audit",
    logsource: { product: "gcp", service: "gcp.audit" },
    connector: "GCP_AUDIT",
    fields: {
      ...aliases(
        ["methodName", "protoPayload.methodName", "data.protoPayload.methodName", "gcp.audit.method_name"],
        text("operation"),
      ),
      ...aliases(
        [
          "serviceName",
          "protoPayload.serviceName",
          "data.protoPayload.serviceName",
          "gcp.audit.service_name",
        ],
        text("attributes.service_name"),
      ),
      ...aliases(
        [
          "resourceName",
          "protoPayload.resourceName",
          "data.protoPayload.resourceName",
          "gcp.audit.resource_name",
        ],
        text("attributes.resource_name"),
      ),
      ...aliases(
        [
          "protoPayload.authenticationInfo.principalEmail",
          "data.protoPayload.authenticationInfo.principalEmail",
          "gcp.audit.authentication_info.principal_email",
        ],
        text("attributes.principal_email", "ACCOUNT"),
      ),
      ...aliases(
        [
          "protoPayload.requestMetadata.callerIp",
          "data.protoPayload.requestMetadata.callerIp",
          "gcp.audit.request_metadata.caller_ip",
        ],
        ip("src_ip", "attributes.caller_ip"),
      ),
      ...aliases(
        [
          "protoPayload.requestMetadata.callerSuppliedUserAgent",
          "data.protoPayload.requestMetadata.callerSuppliedUserAgent",
          "gcp.audit.request_metadata.caller_supplied_user_agent",
        ],
        text("attributes.user_agent"),
      ),
      // proto3 leaves a zero code out: an entry without one has code 0 (OK) here, as Google reads it.
      ...aliases(
        ["protoPayload.status.code", "data.protoPayload.status.code", "gcp.audit.status.code"],
        number("attributes.status_code"),
      ),
      ...aliases(
        ["protoPayload.status.message", "data.protoPayload.status.message", "gcp.audit.status.message"],
        text("attributes.status_message"),
      ),
      ...aliases(["resource.type", "data.resource.type"], text("attributes.resource_type")),
      ...aliases(["logName", "data.logName"], text("attributes.log_name")),
      ...aliases(["severity", "data.severity"], text("attributes.severity")),
    },
    prefixes: {
      "protoPayload.request.": "attributes.request",
      "protoPayload.response.": "attributes.response",
      "protoPayload.serviceData.": "attributes.service_data",
      "resource.labels.": "attributes.resource_labels",
    },
    entities: [
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "IP", field: "src_ip" },
      { entityType: "RESOURCE", field: "resource_id" },
      { entityType: "HOST", field: "device" },
    ],
  },
  {
    name: "windows/security",
    logsource: { product: "windows", service: "security" },
    connector: "WINDOWS_SECURITY",
    fields: {
      ...WINDOWS_SYSTEM,
      // The event's own fields, as the record gave them ("-" included): Sigma's Windows rules name them bare.
      ...Object.fromEntries(WINDOWS_EVENT_DATA.map((name) => [name, raw(`attributes.event_data.${name}`)])),
    },
    prefixes: { "EventData.": "attributes.event_data" },
    entities: [
      { entityType: "HOST", field: "device" },
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "IP", field: "src_ip" },
    ],
    // The normaliser keeps a record's whole EventData: a field not listed may well be there.
    unlisted:
      "a Security record's EventData may hold it, so it is not taken as absent; name it EventData.<Name>",
  },
  {
    // Sysmon's process creation (event 1) as Windows' own 4688 records it: only what 4688 holds with the value
    // Sysmon gives it. Hashes, OriginalFileName, Company, Product, Description, CurrentDirectory, LogonGuid,
    // ParentCommandLine… are not in a 4688 record, so a rule's conditions on them are those on a missing field
    // (`OriginalFileName: certutil.exe` never holds, so an alternative to `Image` that needs it never matches).
    // The rule runs on Sysmon's event 1 too (`also`), where those fields are.
    name: "windows/process_creation (4688)",
    logsource: { product: "windows", category: "process_creation" },
    connector: "WINDOWS_SECURITY",
    classUid: OCSF_CLASS.PROCESS_ACTIVITY,
    fields: {
      ...aliases(["Image"], raw("attributes.event_data.NewProcessName")),
      ...aliases(["CommandLine"], raw("attributes.event_data.CommandLine")),
      // Written from Windows 10 / Server 2016 on; older records have no parent's name.
      ...aliases(["ParentImage"], raw("attributes.event_data.ParentProcessName")),
      // 4688 writes process ids in hex (0x1b40); Sysmon, and so the rules, in decimal, as the normaliser keeps them.
      ...aliases(["ProcessId"], number("attributes.process.pid")),
      ...aliases(["ParentProcessId"], number("attributes.process.parent_process.pid")),
      ...aliases(["User"], text("attributes.process.account")),
      ...aliases(["IntegrityLevel"], text("attributes.process.integrity_level")),
      ...aliases(["Computer"], text("device", "HOST")),
    },
    prefixes: {},
    entities: [
      { entityType: "HOST", field: "device" },
      { entityType: "ACCOUNT", field: "actor_user" },
      // As the investigation finds a process: by its command line, or by its file name when that is not audited.
      { entityType: "PROCESS", field: "attributes.process.cmd_line" },
      { entityType: "PROCESS", field: "attributes.process.name" },
    ],
    also: [SYSMON_PROCESS_CREATION],
  },
  {
    name: "windows/sysmon",
    logsource: { product: "windows", service: "sysmon" },
    connector: "WINDOWS_SYSMON",
    fields: {
      ...WINDOWS_SYSTEM,
      ...sysmonEventData(SYSMON_EVENT_DATA),
    },
    prefixes: { "EventData.": "attributes.event_data" },
    entities: [
      ...SYSMON_ENTITIES,
      { entityType: "IP", field: "src_ip" },
      { entityType: "IP", field: "dst_ip" },
    ],
    // The normaliser keeps a record's whole EventData: a later Sysmon's field may well be there.
    unlisted:
      "a Sysmon record's EventData may hold it, so it is not taken as absent; name it EventData.<Name>",
  },
  sysmonCategory("process_termination", [5], SYSMON_EVENT_FIELDS.process_termination),
  sysmonCategory("network_connection", [3], SYSMON_EVENT_FIELDS.network_connection, {
    entities: [
      { entityType: "IP", field: "src_ip" },
      { entityType: "IP", field: "dst_ip" },
    ],
  }),
  sysmonCategory("file_change", [2], SYSMON_EVENT_FIELDS.file_change),
  sysmonCategory("file_event", [11], SYSMON_EVENT_FIELDS.file_event),
  sysmonCategory("create_stream_hash", [15], SYSMON_EVENT_FIELDS.create_stream_hash),
  sysmonCategory("file_delete", [23, 26], SYSMON_EVENT_FIELDS.file_delete),
  // The executables Sysmon saw written (29) or blocked (27), and the shredding it blocked (28): each with the
  // file's hashes, split by algorithm as for the images of events 1, 6 and 7.
  ...(
    [
      ["file_block_executable", [27]],
      ["file_block_shredding", [28]],
      ["file_executable_detected", [29]],
    ] as const
  ).map(([category, ids]) =>
    sysmonCategory(category, ids, SYSMON_EVENT_FIELDS[category], {
      fields: sysmonHashFields("attributes.file.hashes"),
      entities: [{ entityType: "FILE_HASH", field: "attributes.file.hashes.sha256" }],
    }),
  ),
  sysmonCategory("driver_load", [6], SYSMON_EVENT_FIELDS.driver_load, {
    fields: sysmonHashFields("attributes.file.hashes"),
    entities: [{ entityType: "FILE_HASH", field: "attributes.file.hashes.sha256" }],
  }),
  sysmonCategory("image_load", [7], SYSMON_EVENT_FIELDS.image_load, {
    fields: sysmonHashFields("attributes.file.hashes"),
    entities: [{ entityType: "FILE_HASH", field: "attributes.file.hashes.sha256" }],
  }),
  sysmonCategory("create_remote_thread", [8], SYSMON_EVENT_FIELDS.create_remote_thread),
  sysmonCategory("process_access", [10], SYSMON_EVENT_FIELDS.process_access),
  ...(
    [
      ["registry_add", [12]],
      ["registry_delete", [12]],
      ["registry_set", [13]],
      ["registry_rename", [14]],
      ["registry_event", [12, 13, 14]],
    ] as const
  ).map(([category, ids]) => sysmonCategory(category, ids, SYSMON_EVENT_FIELDS.registry_event)),
  sysmonCategory("pipe_created", [17, 18], SYSMON_EVENT_FIELDS.pipe_created),
  sysmonCategory("dns_query", [22], SYSMON_EVENT_FIELDS.dns_query, {
    entities: [{ entityType: "DOMAIN", field: "attributes.query.hostname" }],
  }),
  sysmonCategory("wmi_event", [19, 20, 21], SYSMON_EVENT_FIELDS.wmi_event),
  sysmonCategory("raw_access_thread", [9], SYSMON_EVENT_FIELDS.raw_access_thread),
  sysmonCategory("clipboard_capture", [24], SYSMON_EVENT_FIELDS.clipboard_capture),
  sysmonCategory("process_tampering", [25], SYSMON_EVENT_FIELDS.process_tampering),
  // Sysmon's own state: started or stopped (4) and its configuration loaded (16); and its errors (255).
  sysmonCategory("sysmon_status", [4, 16], SYSMON_EVENT_FIELDS.sysmon_status),
  sysmonCategory("sysmon_error", [255], SYSMON_EVENT_FIELDS.sysmon_error),
];

/**
 * The log source a Sigma `logsource` means, or null. `product`, `service` and `category` are compared without
 * case and must all be as listed (a rule for `product: windows, category: firewall` is not a CEF firewall
 * rule); `m365` rules of the `exchange` service and without a service are Microsoft 365 audit records too, and
 * `okta` rules without a service are Okta System Log events.
 */
export function findLogsource(given: {
  product?: string;
  service?: string;
  category?: string;
}): SigmaLogsource | null {
  const norm = (v: string | undefined) => (v === undefined ? undefined : v.trim().toLowerCase());
  const product = norm(given.product);
  const service = norm(given.service);
  const category = norm(given.category);
  if (product === "m365" && category === undefined && (service === undefined || service === "exchange")) {
    return SIGMA_LOGSOURCES.find((s) => s.name === "m365/audit") ?? null;
  }
  if (product === "okta" && category === undefined && service === undefined) {
    return SIGMA_LOGSOURCES.find((s) => s.name === "okta") ?? null;
  }
  return (
    SIGMA_LOGSOURCES.find(
      (s) =>
        s.logsource.product === product &&
        s.logsource.service === service &&
        s.logsource.category === category,
    ) ?? null
  );
}

const lookups = new WeakMap<SigmaLogsource, Map<string, SigmaFieldTarget>>();

/**
 * Where a source keeps the Sigma field `name` (compared without case: Sigma's spellings vary between the
 * Log Analytics tables and the APIs, `ResultType` / `resultType`), or a path into an attribute kept as received
 * for a prefixed name (`requestParameters.userName`); null when we do not keep it. A path's segments must be
 * letters, digits, `_` and `-` (what the filter takes).
 */
export function findField(source: SigmaLogsource, name: string): SigmaFieldTarget | null {
  let lookup = lookups.get(source);
  if (!lookup) {
    lookup = new Map(Object.entries(source.fields).map(([k, v]) => [k.toLowerCase(), v]));
    lookups.set(source, lookup);
  }
  const lower = name.toLowerCase();
  const direct = lookup.get(lower);
  if (direct) return direct;
  for (const [prefix, base] of Object.entries(source.prefixes)) {
    if (!lower.startsWith(prefix.toLowerCase())) continue;
    const rest = name.slice(prefix.length).split(".");
    if (rest.length > 12 || !rest.every((segment) => /^[A-Za-z0-9_-]{1,128}$/.test(segment))) return null;
    return { type: "raw", field: `${base}.${rest.join(".")}` };
  }
  return null;
}

/** The MITRE ATT&CK tactics (enterprise and ICS): id, the Sigma tag name, and the name rules store. */
export const ATTACK_TACTICS: ReadonlyArray<{ id: string; tag: string; name: string }> = [
  { id: "TA0043", tag: "reconnaissance", name: "Reconnaissance" },
  { id: "TA0042", tag: "resource_development", name: "ResourceDevelopment" },
  { id: "TA0001", tag: "initial_access", name: "InitialAccess" },
  { id: "TA0002", tag: "execution", name: "Execution" },
  { id: "TA0003", tag: "persistence", name: "Persistence" },
  { id: "TA0004", tag: "privilege_escalation", name: "PrivilegeEscalation" },
  { id: "TA0005", tag: "defense_evasion", name: "DefenseEvasion" },
  { id: "TA0006", tag: "credential_access", name: "CredentialAccess" },
  { id: "TA0007", tag: "discovery", name: "Discovery" },
  { id: "TA0008", tag: "lateral_movement", name: "LateralMovement" },
  { id: "TA0009", tag: "collection", name: "Collection" },
  { id: "TA0011", tag: "command_and_control", name: "CommandAndControl" },
  { id: "TA0010", tag: "exfiltration", name: "Exfiltration" },
  { id: "TA0040", tag: "impact", name: "Impact" },
  { id: "TA0106", tag: "impair_process_control", name: "ImpairProcessControl" },
  { id: "TA0107", tag: "inhibit_response_function", name: "InhibitResponseFunction" },
];
