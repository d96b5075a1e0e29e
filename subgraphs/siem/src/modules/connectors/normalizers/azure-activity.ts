/**
 * AZURE_ACTIVITY: one Azure Monitor activity log event → OCSF API Activity (6003).
 *
 * Accepts the REST form (`GET …/providers/Microsoft.Insights/eventtypes/management/values`: `eventDataId`,
 * `eventTimestamp`, `operationName.value`, `status.value`, `httpRequest.clientIpAddress`…) and the
 * diagnostic-settings export form (`time`, `operationName` as a string, `resultType`, `callerIpAddress`,
 * `identity.authorization/claims`, `level: "Information"`). The export carries no event id: its records are
 * identified by a digest of the record (`recordDigest`), so re-sending an export stores nothing new.
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  at,
  compactOrUndefined,
  describe,
  isRecord,
  localizable,
  makeEvent,
  normalizeIp,
  parseEmbeddedJson,
  prop,
  recordDigest,
  rejection,
  severity,
  text,
  toIsoTime,
  total,
  type Json,
} from "./common";

const CLAIM_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
const CLAIM_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
const CLAIM_OID = "http://schemas.microsoft.com/identity/claims/objectidentifier";

/** Built-in Azure RBAC roles worth naming (role definition GUIDs are the same in every tenant). */
const BUILTIN_ROLES: Record<string, string> = {
  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
  "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
  "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
};

/** Sources of an NSG rule that mean "anyone on the internet". */
const ANY_SOURCE = new Set(["*", "0.0.0.0/0", "internet", "any", "::/0"]);

/** OCSF API Activity activity_id from the operation's verb (`…/write`, `…/delete`, `…/action`). */
function activityOf(operation: string | null, statusCode: string | null): number {
  if (!operation) return 0;
  const verb = operation.slice(operation.lastIndexOf("/") + 1).toLowerCase();
  switch (verb) {
    case "write":
      return statusCode?.toLowerCase() === "created" ? 1 : 3;
    case "read":
      return 2;
    case "delete":
      return 4;
    default:
      return 99;
  }
}

function statusOf(value: string | null): NormalizedEvent["status"] {
  switch (value?.toLowerCase()) {
    case "succeeded":
    case "success":
      return "Success";
    case "failed":
    case "failure":
      return "Failure";
    default:
      return "Unknown";
  }
}

function severityOf(level: string | null): NormalizedEvent["severity_id"] {
  switch (level?.toLowerCase()) {
    case "critical":
      return severity(5);
    case "error":
      return severity(4);
    case "warning":
      return severity(3);
    case "informational":
    case "information":
    case "verbose":
      return severity(1);
    default:
      return severity(0);
  }
}

/** `Owner` etc. for a role definition id (`/subscriptions/…/roleDefinitions/<guid>` or the bare guid). */
function roleName(definitionId: string | null): string | null {
  if (!definitionId) return null;
  const guid = definitionId.slice(definitionId.lastIndexOf("/") + 1).toLowerCase();
  return BUILTIN_ROLES[guid] ?? null;
}

/** Role assignment details from the request/response bodies of `roleAssignments/write`. */
function roleAssignment(request: unknown, response: unknown, scope: string | null): Json | undefined {
  const props = prop(request, "properties") ?? prop(response, "properties");
  if (!isRecord(props)) return undefined;
  const definitionId = text(prop(props, "roleDefinitionId"));
  return compactOrUndefined({
    role_definition_id: definitionId,
    role_name: roleName(definitionId),
    principal_id: text(prop(props, "principalId")),
    principal_type: text(prop(props, "principalType")),
    scope: text(prop(props, "scope")) ?? scope,
  });
}

/** NSG rule details from the request body of `…/securityRules/write`. */
function securityRule(name: string | null, request: unknown): Json | undefined {
  const props = prop(request, "properties");
  if (!isRecord(props)) return undefined;
  const list = (single: string, plural: string): string[] => {
    const values = [
      prop(props, single),
      ...(Array.isArray(prop(props, plural)) ? (prop(props, plural) as unknown[]) : []),
    ];
    return values.map(text).filter((v): v is string => v !== null);
  };
  const sources = list("sourceAddressPrefix", "sourceAddressPrefixes");
  const ports = list("destinationPortRange", "destinationPortRanges");
  const access = text(prop(props, "access"));
  const direction = text(prop(props, "direction"));
  return compactOrUndefined({
    name,
    access,
    direction,
    protocol: text(prop(props, "protocol")),
    priority: prop(props, "priority"),
    source_address_prefixes: sources.length ? sources : undefined,
    destination_port_ranges: ports.length ? ports : undefined,
    open_to_internet:
      access?.toLowerCase() === "allow" &&
      direction?.toLowerCase() === "inbound" &&
      sources.some((s) => ANY_SOURCE.has(s.toLowerCase())),
  });
}

function normalizeRecord(record: unknown): NormalizedEvent | NormalizeRejection {
  if (!isRecord(record))
    return rejection(`expected an activity log event (JSON object), got ${describe(record)}`);
  if (Array.isArray(record.value) || Array.isArray(record.records)) {
    return rejection("got a list of activity log events; send one event per line");
  }
  const rawTime = record.eventTimestamp ?? record.time;
  if (rawTime === undefined) return rejection("missing eventTimestamp");
  const time = toIsoTime(rawTime);
  if (!time) return rejection(`unparseable eventTimestamp ${describe(rawTime)}`);
  // The REST form has `eventDataId`; the diagnostic-settings export has no id at all.
  const id =
    text(record.eventDataId) ??
    text(record.id) ??
    text(at(record, "properties", "eventDataId")) ??
    recordDigest(record);

  const identity = isRecord(record.identity) ? record.identity : {};
  const claims = isRecord(record.claims) ? record.claims : isRecord(identity.claims) ? identity.claims : {};
  const authorization = isRecord(record.authorization)
    ? record.authorization
    : isRecord(identity.authorization)
      ? identity.authorization
      : {};
  const properties = isRecord(record.properties) ? record.properties : {};

  const operation = localizable(record.operationName) ?? text(authorization.action);
  if (!operation) return rejection("missing operationName");
  const statusValue = localizable(record.status) ?? text(record.resultType);
  const statusCode = text(properties.statusCode);
  const resourceId = text(record.resourceId) ?? text(authorization.scope);
  // `caller` is the UPN or, for a service principal, its object id; the export has only the claims.
  const caller =
    text(record.caller) ??
    text(claims[CLAIM_UPN]) ??
    text(claims[CLAIM_NAME]) ??
    text(claims[CLAIM_OID]) ??
    text(claims.appid);
  const rawIp = record.callerIpAddress ?? at(record, "httpRequest", "clientIpAddress") ?? claims.ipaddr;
  const vm = resourceId
    ? /\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)/i.exec(resourceId)
    : null;

  const request = parseEmbeddedJson(properties.requestbody ?? properties.requestBody);
  const statusMessage = parseEmbeddedJson(properties.statusMessage);
  const response = parseEmbeddedJson(properties.responseBody ?? properties.responsebody);
  const lowerOp = operation?.toLowerCase() ?? "";
  const ruleName = resourceId ? resourceId.slice(resourceId.lastIndexOf("/") + 1) : null;

  const description = text(record.description) ?? text(record.resultDescription);
  const localizedOp = isRecord(record.operationName) ? text(record.operationName.localizedValue) : null;
  const message =
    description ??
    text(properties.message && properties.message !== operation ? properties.message : null) ??
    `${localizedOp ?? operation ?? "Activity"}${statusValue ? ` (${statusValue})` : ""}`;

  return makeEvent({
    source_event_id: id,
    time,
    class_uid: OCSF_CLASS.API_ACTIVITY,
    activity_id: activityOf(operation, statusCode),
    severity_id: severityOf(text(record.level)),
    status: statusOf(statusValue),
    message,
    actor_user: caller,
    src_ip: normalizeIp(rawIp),
    device: vm ? vm[1] : null,
    resource_id: resourceId,
    operation,
    attributes: {
      category: localizable(record.category),
      event_name: localizable(record.eventName),
      level: text(record.level),
      status_detail: statusValue,
      sub_status: localizable(record.subStatus) ?? text(record.resultSignature),
      status_code: statusCode,
      subscription_id: text(record.subscriptionId),
      tenant_id: text(record.tenantId),
      resource_group: text(record.resourceGroupName),
      resource_provider: localizable(record.resourceProviderName),
      resource_type: localizable(record.resourceType),
      correlation_id: text(record.correlationId),
      operation_id: text(record.operationId),
      http_method: text(at(record, "httpRequest", "method")),
      authorization: compactOrUndefined({
        action: text(authorization.action),
        scope: text(authorization.scope),
      }),
      actor: compactOrUndefined({
        user: compactOrUndefined({
          uid: text(claims[CLAIM_OID]),
          name: text(claims.name),
        }),
        app_uid: text(claims.appid),
      }),
      request: isRecord(request) ? request : undefined,
      response: isRecord(response) ? response : undefined,
      status_message: isRecord(statusMessage) ? statusMessage : text(properties.statusMessage),
      error_code: text(at(statusMessage, "error", "code")),
      role_assignment: lowerOp.endsWith("roleassignments/write")
        ? roleAssignment(request, response, text(authorization.scope))
        : undefined,
      security_rule: lowerOp.endsWith("securityrules/write") ? securityRule(ruleName, request) : undefined,
      caller_ip: rawIp !== undefined && normalizeIp(rawIp) === null ? text(rawIp) : undefined,
    },
    raw: record,
  });
}

export const normalizeAzureActivity = total("AZURE_ACTIVITY", normalizeRecord);
