/**
 * AWS_CLOUDTRAIL: one CloudTrail record (an element of a log file's `Records`) →
 * - `ConsoleLogin` → OCSF Authentication (3002, Logon);
 * - everything else → OCSF API Activity (6003) with operation `eventSource:eventName`.
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  at,
  bool,
  compactOrUndefined,
  describe,
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

const READ_VERBS =
  /^(Describe|Get|List|Head|Lookup|Search|Select|Scan|Query|BatchGet|Check|Validate|Preview|Test)/;
const CREATE_VERBS =
  /^(Create|Run|Authorize|Attach|Add|Register|Import|Allocate|Associate|Issue|Upload|Copy|Request|Launch|Generate)/;
const UPDATE_VERBS =
  /^(Update|Modify|Put|Set|Stop|Start|Enable|Disable|Change|Reset|Replace|Reboot|Restore|Tag|Untag|Rotate|Apply|Edit)/;
const DELETE_VERBS =
  /^(Delete|Remove|Terminate|Revoke|Detach|Deregister|Release|Disassociate|Purge|Deactivate|Cancel|Schedule.*Deletion)/;

/** OCSF API Activity activity_id from the API name (Create 1, Read 2, Update 3, Delete 4, Other 99). */
function activityOf(eventName: string, readOnly: boolean | null): number {
  if (readOnly === true || READ_VERBS.test(eventName)) return 2;
  if (DELETE_VERBS.test(eventName)) return 4;
  if (CREATE_VERBS.test(eventName)) return 1;
  if (UPDATE_VERBS.test(eventName)) return 3;
  return 99;
}

/** The first instance id of EC2 request parameters (`instanceId`, `instancesSet.items[].instanceId`, `instanceIds`). */
function instanceIdOf(params: Json): string | null {
  const direct = text(params.instanceId);
  if (direct) return direct;
  const items = at(params, "instancesSet", "items");
  if (Array.isArray(items) && items.length) return text(at(items[0], "instanceId"));
  if (Array.isArray(params.instanceIds) && params.instanceIds.length) return text(params.instanceIds[0]);
  return null;
}

/**
 * The ARN the event is about: `resources[0].ARN`, else built from well-known request parameters (EC2 instance and
 * security group, S3 bucket, IAM user/role, CloudTrail trail, Lambda function, KMS key) when region and account are
 * known.
 */
function resourceOf(
  record: Json,
  eventSource: string | null,
  region: string | null,
  account: string | null,
): string | null {
  if (Array.isArray(record.resources) && record.resources.length) {
    const arn = text(at(record.resources[0], "ARN")) ?? text(at(record.resources[0], "arn"));
    if (arn) return arn;
  }
  const params = isRecord(record.requestParameters) ? record.requestParameters : null;
  if (!params) return null;
  const service = eventSource?.replace(/\.amazonaws\.com$/, "") ?? null;
  const named = (value: unknown, build: (name: string) => string | null): string | null => {
    const name = text(value);
    if (!name) return null;
    return name.startsWith("arn:") ? name : build(name);
  };
  const regional = (service: string, path: string) =>
    region && account ? `arn:aws:${service}:${region}:${account}:${path}` : null;
  const global = (service: string, path: string) =>
    account ? `arn:aws:${service}::${account}:${path}` : null;
  switch (service) {
    case "ec2": {
      const instance = instanceIdOf(params);
      if (instance) return regional("ec2", `instance/${instance}`);
      const group = text(params.groupId);
      if (group) return regional("ec2", `security-group/${group}`);
      const volume = text(params.volumeId);
      if (volume) return regional("ec2", `volume/${volume}`);
      return null;
    }
    case "s3":
      return named(params.bucketName, (b) => `arn:aws:s3:::${b}`);
    case "iam":
      return (
        named(params.userName, (u) => global("iam", `user/${u}`)) ??
        named(params.roleName, (r) => global("iam", `role/${r}`)) ??
        named(params.policyArn, () => null)
      );
    case "cloudtrail":
      return named(params.name ?? params.trailName, (t) => regional("cloudtrail", `trail/${t}`));
    case "lambda":
      return named(params.functionName, (f) => regional("lambda", `function:${f}`));
    case "kms":
      return named(params.keyId, (k) => regional("kms", `key/${k}`));
    default:
      return null;
  }
}

/** The acting principal: ARN, else user name, else the AWS service that acted. */
function actorOf(identity: Json): string | null {
  return (
    text(identity.arn) ??
    text(identity.userName) ??
    text(identity.invokedBy) ??
    text(identity.principalId) ??
    null
  );
}

function normalizeRecord(record: unknown): NormalizedEvent | NormalizeRejection {
  if (!isRecord(record))
    return rejection(`expected a CloudTrail record (JSON object), got ${describe(record)}`);
  if (Array.isArray(record.Records)) {
    return rejection('got a CloudTrail log file ({"Records": [...]}); send its records one per line');
  }
  const id = text(record.eventID);
  if (!id) return rejection("missing eventID");
  if (record.eventTime === undefined) return rejection("missing eventTime");
  const time = toIsoTime(record.eventTime);
  if (!time) return rejection(`unparseable eventTime ${describe(record.eventTime)}`);
  const eventName = text(record.eventName);
  if (!eventName) return rejection("missing eventName");

  const eventSource = text(record.eventSource);
  const region = text(record.awsRegion);
  const identity = isRecord(record.userIdentity) ? record.userIdentity : {};
  const account = text(record.recipientAccountId) ?? text(identity.accountId);
  const actor = actorOf(identity);
  const identityType = text(identity.type);
  const rawSource = text(record.sourceIPAddress);
  const srcIp = normalizeIp(rawSource);
  const errorCode = text(record.errorCode);
  const errorMessage = text(record.errorMessage);
  const sessionIssuer = at(identity, "sessionContext", "sessionIssuer");
  const sessionMfa = bool(at(identity, "sessionContext", "attributes", "mfaAuthenticated"));
  const session = identityType === "AssumedRole" && actor ? actor.slice(actor.lastIndexOf("/") + 1) : null;
  const instanceSession = session && /^i-[0-9a-f]{8,17}$/.test(session) ? session : null;
  const common = {
    event_source: eventSource,
    event_name: eventName,
    event_type: text(record.eventType),
    event_category: text(record.eventCategory),
    region,
    account_id: account,
    user_identity_type: identityType,
    principal_id: text(identity.principalId),
    user_name: text(identity.userName),
    access_key_id: text(identity.accessKeyId),
    session_issuer: isRecord(sessionIssuer) ? text(sessionIssuer.arn) : undefined,
    root: identityType === "Root",
    user_agent: text(record.userAgent),
    source_host: rawSource && !srcIp ? rawSource : undefined,
    error_code: errorCode,
    error_message: errorMessage,
    request_id: text(record.requestID),
    read_only: bool(record.readOnly),
    request_parameters: record.requestParameters ?? undefined,
    response_elements: record.responseElements ?? undefined,
    additional_event_data: record.additionalEventData ?? undefined,
    resources: Array.isArray(record.resources) && record.resources.length ? record.resources : undefined,
    cloud: compactOrUndefined({ provider: "AWS", region, account: compactOrUndefined({ uid: account }) }),
  };

  if (eventName === "ConsoleLogin") {
    const outcome = text(at(record, "responseElements", "ConsoleLogin"));
    const status: NormalizedEvent["status"] =
      outcome === "Success" && !errorMessage
        ? "Success"
        : outcome === "Failure" || errorMessage || errorCode
          ? "Failure"
          : "Unknown";
    const mfaUsed = bool(at(record, "additionalEventData", "MFAUsed"));
    return makeEvent({
      source_event_id: id,
      time,
      class_uid: OCSF_CLASS.AUTHENTICATION,
      activity_id: 1,
      severity_id: severity(status === "Failure" ? 2 : 1),
      status,
      message: `Console sign-in ${status === "Success" ? "succeeded" : status === "Failure" ? "failed" : "attempted"} for ${actor ?? "unknown principal"}${mfaUsed === false ? " without MFA" : ""}${errorMessage ? `: ${errorMessage}` : ""}`,
      actor_user: actor,
      src_ip: srcIp,
      operation: "ConsoleLogin",
      attributes: {
        ...common,
        mfa: mfaUsed ?? undefined,
        failure_reason: status === "Failure" ? errorMessage : undefined,
      },
      raw: record,
    });
  }

  const failed = errorCode !== null;
  return makeEvent({
    source_event_id: id,
    time,
    class_uid: OCSF_CLASS.API_ACTIVITY,
    activity_id: activityOf(eventName, bool(record.readOnly)),
    severity_id: severity(failed ? 2 : 1),
    status: failed ? "Failure" : "Success",
    message: `${eventName} by ${actor ?? "unknown principal"}${failed ? ` failed: ${errorCode}${errorMessage ? ` (${errorMessage})` : ""}` : ""}`,
    actor_user: actor,
    src_ip: srcIp,
    device: instanceSession,
    resource_id: resourceOf(record, eventSource, region, account),
    operation: `${eventSource ?? "unknown"}:${eventName}`,
    attributes: { ...common, mfa: sessionMfa ?? undefined },
    raw: record,
  });
}

export const normalizeAwsCloudTrail = total("AWS_CLOUDTRAIL", normalizeRecord);
