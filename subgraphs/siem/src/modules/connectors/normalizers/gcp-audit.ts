/**
 * GCP_AUDIT: one Cloud Audit Logs `LogEntry` whose `protoPayload` is a `google.cloud.audit.AuditLog` (Admin
 * Activity, Data Access, System Event and Policy Denied logs, as a log sink or `gcloud logging read --format=json`
 * writes them) → OCSF API Activity (6003).
 *
 * `operation` is the `methodName`, `actor_user` the `principalEmail`, `resource_id` the full resource name
 * (`//iam.googleapis.com/projects/…`). The status is `status.code`: absent or 0 (OK) is Success, any other
 * google.rpc code Failure — an empty `status` is the usual form of success, as proto3 leaves a zero code out.
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  at,
  compactOrUndefined,
  describe,
  integer,
  isRecord,
  makeEvent,
  normalizeIp,
  rejection,
  severity,
  text,
  toIsoTime,
  total,
  type Json,
} from "./common";

const AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog";

/** LogEntry `severity` names and numbers as OCSF severity_id. */
const SEVERITIES: Record<string, number> = {
  DEFAULT: 0,
  DEBUG: 1,
  INFO: 1,
  NOTICE: 1,
  WARNING: 3,
  ERROR: 4,
  CRITICAL: 5,
  ALERT: 5,
  EMERGENCY: 5,
};

/** google.rpc.Code names, for messages. */
const RPC_CODES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** API Activity activity_id from the method's last word (`…CreateServiceAccountKey`, `v1.compute.instances.insert`). */
function activityOf(methodName: string): number {
  const verb = methodName.slice(methodName.lastIndexOf(".") + 1).toLowerCase();
  if (/^(get|list|search|lookup|query|read|access|batchget|test|aggregatedlist|check)/.test(verb)) return 2;
  if (/^(delete|remove|destroy|purge|undelete)/.test(verb)) return verb.startsWith("undelete") ? 3 : 4;
  if (/^(create|insert|add|generate|upload|import|copy|sign|issue)/.test(verb)) return 1;
  if (
    /^(update|patch|set|modify|enable|disable|start|stop|reset|replace|move|rotate|resize|attach|detach)/.test(
      verb,
    )
  )
    return 3;
  return 99;
}

/** The log of an entry from its `logName` (`projects/p/logs/cloudaudit.googleapis.com%2Factivity` → `activity`). */
function logTypeOf(logName: string | null): string | null {
  if (!logName) return null;
  const m = /cloudaudit\.googleapis\.com(?:%2F|\/)([a-z_]+)$/i.exec(logName);
  return m ? m[1].toLowerCase() : null;
}

function severityOf(value: unknown): number | null {
  if (typeof value === "number")
    return value >= 600 ? 5 : value >= 500 ? 4 : value >= 400 ? 3 : value > 0 ? 1 : 0;
  const name = text(value)?.toUpperCase();
  return name && name in SEVERITIES ? SEVERITIES[name] : null;
}

/** Who acted: the principal's e-mail, else its subject, else the first service account it acted through. */
function actorOf(auth: Json): string | null {
  const delegation = Array.isArray(auth.serviceAccountDelegationInfo)
    ? auth.serviceAccountDelegationInfo
    : [];
  return (
    text(auth.principalEmail) ??
    text(auth.principalSubject) ??
    text(at(delegation[0], "firstPartyPrincipal", "principalEmail")) ??
    null
  );
}

function normalizeRecord(record: unknown): NormalizedEvent | NormalizeRejection {
  if (!isRecord(record)) return rejection(`expected a LogEntry (JSON object), got ${describe(record)}`);
  const id = text(record.insertId);
  if (!id) return rejection("missing insertId");
  if (record.timestamp === undefined) return rejection("missing timestamp");
  const time = toIsoTime(record.timestamp);
  if (!time) return rejection(`unparseable timestamp ${describe(record.timestamp)}`);
  const payload = record.protoPayload;
  if (!isRecord(payload))
    return rejection(`missing protoPayload (an AuditLog object), got ${describe(payload)}`);
  const type = text(payload["@type"]);
  if (type !== AUDIT_LOG_TYPE)
    return rejection(`protoPayload @type ${describe(payload["@type"])} is not ${AUDIT_LOG_TYPE}`);
  const methodName = text(payload.methodName);
  if (!methodName) return rejection("missing protoPayload.methodName");
  if (payload.status !== undefined && payload.status !== null && !isRecord(payload.status))
    return rejection(`protoPayload.status must be an object, got ${describe(payload.status)}`);
  const statusObj = isRecord(payload.status) ? payload.status : {};
  const code = statusObj.code === undefined ? 0 : integer(statusObj.code);
  if (code === null || code < 0)
    return rejection(`protoPayload.status.code must be a google.rpc code, got ${describe(statusObj.code)}`);

  const serviceName = text(payload.serviceName);
  const resourceName = text(payload.resourceName);
  const auth = isRecord(payload.authenticationInfo) ? payload.authenticationInfo : {};
  const meta = isRecord(payload.requestMetadata) ? payload.requestMetadata : {};
  const actor = actorOf(auth);
  const callerIp = text(meta.callerIp);
  const srcIp = normalizeIp(callerIp);
  const resource = isRecord(record.resource) ? record.resource : {};
  const labels = isRecord(resource.labels) ? resource.labels : {};
  const resourceType = text(resource.type);
  const logName = text(record.logName);
  const failed = code !== 0;
  const statusMessage = text(statusObj.message);
  const fullName = resourceName
    ? resourceName.startsWith("//") || !serviceName
      ? resourceName
      : `//${serviceName}/${resourceName}`
    : null;
  const instance =
    resourceType === "gce_instance" && resourceName
      ? /\/instances\/([^/]+)$/.exec(resourceName)?.[1]
      : undefined;
  const authorization = Array.isArray(payload.authorizationInfo)
    ? payload.authorizationInfo.filter(isRecord).map((a) =>
        compactOrUndefined({
          permission: text(a.permission),
          resource: text(a.resource),
          granted: typeof a.granted === "boolean" ? a.granted : undefined,
        }),
      )
    : undefined;
  const bindingDeltas = at(payload, "serviceData", "policyDelta", "bindingDeltas");
  const addedRoles = Array.isArray(bindingDeltas)
    ? bindingDeltas.filter((d) => text(at(d, "action")) === "ADD").map((d) => text(at(d, "role")))
    : [];
  const stated = severityOf(record.severity);

  return makeEvent({
    source_event_id: id,
    time,
    class_uid: OCSF_CLASS.API_ACTIVITY,
    activity_id: activityOf(methodName),
    severity_id: severity(Math.max(stated ?? 1, failed ? 2 : 1)),
    status: failed ? "Failure" : "Success",
    message: `${methodName} by ${actor ?? "unknown principal"}${resourceName ? ` on ${resourceName}` : ""}${failed ? ` failed: ${RPC_CODES[code] ?? code}${statusMessage ? ` (${statusMessage})` : ""}` : ""}`,
    actor_user: actor,
    src_ip: srcIp,
    device: instance ?? null,
    resource_id: fullName,
    operation: methodName,
    attributes: {
      service_name: serviceName,
      method_name: methodName,
      resource_name: resourceName,
      resource_type: resourceType,
      project_id: text(labels.project_id),
      resource_labels: Object.keys(labels).length ? labels : undefined,
      log_name: logName,
      log_type: logTypeOf(logName),
      severity: text(record.severity),
      principal_email: text(auth.principalEmail),
      principal_subject: text(auth.principalSubject),
      delegation: Array.isArray(auth.serviceAccountDelegationInfo)
        ? auth.serviceAccountDelegationInfo
        : undefined,
      caller_ip: callerIp && !srcIp ? callerIp : undefined,
      user_agent: text(meta.callerSuppliedUserAgent),
      status_code: code,
      status_message: statusMessage,
      authorization: authorization?.length ? authorization : undefined,
      added_roles: addedRoles.length
        ? addedRoles.filter((r): r is string => r !== null).join(" ")
        : undefined,
      request: isRecord(payload.request) ? payload.request : undefined,
      response: isRecord(payload.response) ? payload.response : undefined,
      service_data: isRecord(payload.serviceData) ? payload.serviceData : undefined,
      operation_id: text(at(record, "operation", "id")),
      cloud: compactOrUndefined({
        provider: "GCP",
        project_id: text(labels.project_id),
        region: text(labels.location) ?? text(labels.zone),
      }),
    },
    raw: record,
  });
}

export const normalizeGcpAudit = total("GCP_AUDIT", normalizeRecord);
