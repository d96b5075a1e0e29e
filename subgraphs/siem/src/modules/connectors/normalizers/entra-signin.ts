/**
 * ENTRA_SIGNIN: one Microsoft Graph `signIn` resource (v1.0 or beta) → OCSF Authentication (3002, Logon).
 *
 * Also accepts the diagnostic-settings export of `SignInLogs` (`{ time, category: "SignInLogs", properties:
 * { …signIn… } }`): the sign-in is read from `properties`.
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  at,
  bool,
  compactOrUndefined,
  countryCode,
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

/** OCSF Authentication activity: Logon. */
const LOGON = 1;

function riskSeverity(risk: string | null, failed: boolean): NormalizedEvent["severity_id"] {
  switch (risk?.toLowerCase()) {
    case "high":
      return severity(4);
    case "medium":
      return severity(3);
    case "low":
      return severity(2);
    default:
      return severity(failed ? 2 : 1);
  }
}

/** The sign-in object: the record itself, or `properties` of a diagnostic-settings export row. */
function signInOf(record: Json): Json {
  if (record.createdDateTime === undefined && isRecord(record.properties)) {
    const props = record.properties;
    return { ...props, createdDateTime: props.createdDateTime ?? record.time, id: props.id ?? record.id };
  }
  return record;
}

function normalizeRecord(input: unknown): NormalizedEvent | NormalizeRejection {
  if (!isRecord(input)) return rejection(`expected a signIn resource (JSON object), got ${describe(input)}`);
  if (Array.isArray(input.value) || Array.isArray(input.records)) {
    return rejection("got a list of sign-ins; send one sign-in per line");
  }
  const r = signInOf(input);
  const id = text(r.id);
  if (!id) return rejection("missing id");
  if (r.createdDateTime === undefined) return rejection("missing createdDateTime");
  const time = toIsoTime(r.createdDateTime);
  if (!time) return rejection(`unparseable createdDateTime ${describe(r.createdDateTime)}`);

  const statusObj = isRecord(r.status) ? r.status : {};
  const errorCode = integer(statusObj.errorCode);
  const status: NormalizedEvent["status"] =
    errorCode === null ? "Unknown" : errorCode === 0 ? "Success" : "Failure";
  const failureReason = errorCode !== null && errorCode !== 0 ? text(statusObj.failureReason) : null;
  const upn = text(r.userPrincipalName);
  const user = upn ?? text(r.userId);
  const app = text(r.appDisplayName);
  const requirement = text(r.authenticationRequirement);
  const mfa =
    requirement === "multiFactorAuthentication" ||
    (isRecord(r.mfaDetail) && text(r.mfaDetail.authMethod) !== null && status === "Success");
  const risk = text(r.riskLevelDuringSignIn);
  const device = isRecord(r.deviceDetail) ? r.deviceDetail : {};
  const location = isRecord(r.location) ? r.location : {};
  const country = countryCode(location.countryOrRegion);

  const message =
    status === "Failure"
      ? `Sign-in failed for ${user ?? "unknown user"}${app ? ` to ${app}` : ""}: ${failureReason ?? "error"} (${errorCode})`
      : `Sign-in ${status === "Success" ? "succeeded" : "attempted"} for ${user ?? "unknown user"}${app ? ` to ${app}` : ""}`;

  return makeEvent({
    source_event_id: id,
    time,
    class_uid: OCSF_CLASS.AUTHENTICATION,
    activity_id: LOGON,
    severity_id: riskSeverity(risk, status === "Failure"),
    status,
    message,
    actor_user: user,
    src_ip: normalizeIp(r.ipAddress),
    device: text(device.displayName),
    resource_id: null,
    operation: "SignIn",
    src_country: country,
    attributes: {
      mfa,
      app,
      app_id: text(r.appId),
      client_app: text(r.clientAppUsed),
      resource: text(r.resourceDisplayName),
      risk_level: risk,
      risk_level_aggregated: text(r.riskLevelAggregated),
      risk_state: text(r.riskState),
      risk_detail: text(r.riskDetail),
      risk_event_types:
        Array.isArray(r.riskEventTypes_v2) && r.riskEventTypes_v2.length ? r.riskEventTypes_v2 : undefined,
      error_code: errorCode,
      failure_reason: failureReason,
      additional_details: text(statusObj.additionalDetails),
      authentication_requirement: requirement,
      conditional_access_status: text(r.conditionalAccessStatus),
      is_interactive: bool(r.isInteractive),
      user_agent: text(r.userAgent),
      user: compactOrUndefined({ uid: text(r.userId), name: text(r.userDisplayName), email_addr: upn }),
      correlation_id: text(r.correlationId),
      location: compactOrUndefined({
        city: text(location.city),
        region: text(location.state),
        country,
        lat: at(location, "geoCoordinates", "latitude") ?? undefined,
        long: at(location, "geoCoordinates", "longitude") ?? undefined,
      }),
      device: compactOrUndefined({
        uid: text(device.deviceId),
        name: text(device.displayName),
        os: text(device.operatingSystem),
        browser: text(device.browser),
        is_compliant: bool(device.isCompliant),
        is_managed: bool(device.isManaged),
        trust_type: text(device.trustType),
      }),
    },
    raw: input,
  });
}

export const normalizeEntraSignIn = total("ENTRA_SIGNIN", normalizeRecord);
