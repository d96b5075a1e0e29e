/**
 * OKTA_SYSTEM_LOG: one Okta System Log API `LogEvent` →
 * - sign-ins (`user.session.start`, `user.authentication.*`) → OCSF Authentication (3002, Logon); `user.session.end`
 *   → Logoff;
 * - user lifecycle, password and MFA factor changes (`user.lifecycle.*`, `user.account.*_password`,
 *   `user.account.lock`, `user.mfa.factor.*`) → OCSF Account Change (3001);
 * - admin privilege grants and revocations (`user.account.privilege.*`) → OCSF User Access Management (3005);
 * - group membership (`group.user_membership.add` / `.remove`) → OCSF Group Management (3006);
 * - everything else (policies, applications, settings…) → OCSF API Activity (6003).
 *
 * `operation` is the `eventType`; `actor_user` the actor's `alternateId` (the login, an e-mail address). Okta names
 * the client's country in English (`United States`): `src_country` is its ISO 3166 alpha-2 code.
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  at,
  compactOrUndefined,
  countryCode,
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

/** Account Change activity_id per event type. */
const ACCOUNT_CHANGES: Record<string, number> = {
  "user.lifecycle.create": 1,
  "user.lifecycle.activate": 2,
  "user.lifecycle.reactivate": 2,
  "user.lifecycle.unsuspend": 2,
  "user.account.update_password": 3,
  "user.account.reset_password": 4,
  "user.lifecycle.deactivate": 5,
  "user.lifecycle.suspend": 5,
  "user.lifecycle.delete.initiated": 6,
  "user.lifecycle.delete.completed": 6,
  "user.account.lock": 9,
  "user.account.lock.limit": 9,
  "user.mfa.factor.activate": 10,
  "user.mfa.factor.deactivate": 11,
  "user.mfa.factor.reset_all": 11,
  "user.mfa.factor.suspend": 11,
};

/** Okta's `outcome.result` values that mean the action did not take place. */
const FAILED_RESULTS = new Set(["FAILURE", "DENY", "REJECTED", "ABANDONED"]);
const SUCCEEDED_RESULTS = new Set(["SUCCESS", "ALLOW"]);

/** `severity` (DEBUG, INFO, WARN, ERROR) as an OCSF severity_id. */
const SEVERITIES: Record<string, number> = { DEBUG: 1, INFO: 1, WARN: 3, ERROR: 4 };

let countryNames: Map<string, string> | null = null;

/**
 * ISO 3166 alpha-2 of an English country name (`United States` → `US`), or of an alpha-2 code, else null. The
 * table is built once from the runtime's region names (the names Okta's geolocation uses), so no list is kept here.
 */
function countryOfName(value: unknown): string | null {
  const code = countryCode(value);
  if (code) return code;
  const name = text(value)?.toLowerCase();
  if (!name) return null;
  if (!countryNames) {
    const names = new Map<string, string>();
    const display = new Intl.DisplayNames(["en"], { type: "region", fallback: "none" });
    for (let a = 65; a <= 90; a++) {
      for (let b = 65; b <= 90; b++) {
        const alpha2 = String.fromCharCode(a, b);
        const english = display.of(alpha2);
        if (english) names.set(english.toLowerCase(), alpha2);
      }
    }
    for (const [alias, alpha2] of [
      ["united states of america", "US"],
      ["czech republic", "CZ"],
      ["republic of korea", "KR"],
      ["russian federation", "RU"],
    ] as const)
      names.set(alias, alpha2);
    countryNames = names;
  }
  return countryNames.get(name) ?? null;
}

/** API Activity activity_id from the last word of an event type (`policy.lifecycle.update` → Update). */
function apiActivity(eventType: string): number {
  const verb = eventType.slice(eventType.lastIndexOf(".") + 1);
  if (/^(create|add|activate|assign|grant)/.test(verb)) return 1;
  if (/^(read|get|list|search|export|view)/.test(verb)) return 2;
  if (/^(update|modify|change|reset|override|deactivate|suspend|unsuspend|reactivate)/.test(verb)) return 3;
  if (/^(delete|remove|revoke|unassign)/.test(verb)) return 4;
  return 99;
}

/** An actor or target as OCSF-like names. */
function party(value: unknown): Json | undefined {
  if (!isRecord(value)) return undefined;
  return compactOrUndefined({
    uid: text(value.id),
    type: text(value.type),
    alternate_id: text(value.alternateId),
    name: text(value.displayName),
  });
}

function normalizeRecord(record: unknown): NormalizedEvent | NormalizeRejection {
  if (!isRecord(record)) return rejection(`expected an Okta LogEvent (JSON object), got ${describe(record)}`);
  const id = text(record.uuid);
  if (!id) return rejection("missing uuid");
  if (record.published === undefined) return rejection("missing published");
  const time = toIsoTime(record.published);
  if (!time) return rejection(`unparseable published ${describe(record.published)}`);
  const eventType = text(record.eventType);
  if (!eventType) return rejection("missing eventType");
  if (record.actor !== undefined && !isRecord(record.actor))
    return rejection(`actor must be an object, got ${describe(record.actor)}`);
  if (record.target !== undefined && record.target !== null && !Array.isArray(record.target))
    return rejection(`target must be a list, got ${describe(record.target)}`);
  if (record.outcome !== undefined && record.outcome !== null && !isRecord(record.outcome))
    return rejection(`outcome must be an object, got ${describe(record.outcome)}`);

  const actor = isRecord(record.actor) ? record.actor : {};
  const user = text(actor.alternateId) ?? text(actor.displayName) ?? text(actor.id);
  const client = isRecord(record.client) ? record.client : {};
  const geo = isRecord(client.geographicalContext) ? client.geographicalContext : {};
  const outcome = isRecord(record.outcome) ? record.outcome : {};
  const result = text(outcome.result)?.toUpperCase() ?? null;
  const reason = text(outcome.reason);
  const status: NormalizedEvent["status"] =
    result === null || !(FAILED_RESULTS.has(result) || SUCCEEDED_RESULTS.has(result))
      ? "Unknown"
      : FAILED_RESULTS.has(result)
        ? "Failure"
        : "Success";
  const targets = Array.isArray(record.target)
    ? record.target.map(party).filter((t): t is Json => t !== undefined)
    : [];
  const targetUser = targets.find((t) => t.type === "User");
  const stated = SEVERITIES[text(record.severity)?.toUpperCase() ?? ""] ?? 1;
  const displayMessage = text(record.displayMessage);
  const debugData = at(record, "debugContext", "debugData");
  const country = countryOfName(geo.country);
  const rawIp = text(client.ipAddress);
  const srcIp = normalizeIp(rawIp);
  const attributes: Json = {
    event_type: eventType,
    display_message: displayMessage,
    legacy_event_type: text(record.legacyEventType),
    outcome: compactOrUndefined({ result, reason }),
    failure_reason: status === "Failure" ? reason : undefined,
    severity: text(record.severity),
    actor: party(actor),
    user_agent: text(at(client, "userAgent", "rawUserAgent")),
    os: text(at(client, "userAgent", "os")),
    browser: text(at(client, "userAgent", "browser")),
    device_type: text(client.device),
    zone: text(client.zone),
    client_ip: rawIp && !srcIp ? rawIp : undefined,
    location: compactOrUndefined({
      city: text(geo.city),
      region: text(geo.state),
      country,
      country_name: text(geo.country),
      postal_code: text(geo.postalCode),
      lat: at(geo, "geolocation", "lat") ?? undefined,
      long: at(geo, "geolocation", "lon") ?? undefined,
    }),
    targets: targets.length ? targets : undefined,
    target_user: targetUser ? (text(targetUser.alternate_id) ?? text(targetUser.uid)) : undefined,
    session_id: text(at(record, "authenticationContext", "externalSessionId")),
    auth_provider: text(at(record, "authenticationContext", "authenticationProvider")),
    credential_type: text(at(record, "authenticationContext", "credentialType")),
    transaction_id: text(at(record, "transaction", "id")),
    request_uri: text(at(debugData, "requestUri")),
    threat_suspected: text(at(debugData, "threatSuspected")),
    risk: text(at(debugData, "risk")),
    debug_data: isRecord(debugData) ? debugData : undefined,
  };
  const base = {
    source_event_id: id,
    time,
    status,
    severity_id: severity(Math.max(stated, status === "Failure" ? 2 : 1)),
    actor_user: user,
    src_ip: srcIp,
    src_country: country,
    operation: eventType,
    raw: record,
  };
  const because = reason && status !== "Success" ? `: ${reason}` : "";

  if (
    eventType === "user.session.start" ||
    eventType === "user.session.end" ||
    eventType.startsWith("user.authentication.")
  ) {
    const logoff = eventType === "user.session.end";
    const mfa = eventType === "user.authentication.auth_via_mfa" ? true : undefined;
    const verb = logoff
      ? "Sign-out"
      : status === "Failure"
        ? "Sign-in failed"
        : status === "Success"
          ? "Sign-in succeeded"
          : "Sign-in attempted";
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.AUTHENTICATION,
      activity_id: logoff ? 2 : 1,
      message: `${verb} for ${user ?? "unknown user"}${displayMessage ? ` (${displayMessage})` : ""}${because}`,
      attributes: { ...attributes, mfa },
    });
  }

  const subject = targetUser ? (text(targetUser.alternate_id) ?? text(targetUser.name)) : null;
  const about = `${displayMessage ?? eventType} by ${user ?? "unknown actor"}${subject ? ` for ${subject}` : ""}${because}`;
  const accountActivity = ACCOUNT_CHANGES[eventType];
  if (accountActivity !== undefined) {
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.ACCOUNT_CHANGE,
      activity_id: accountActivity,
      message: about,
      attributes,
    });
  }
  if (eventType.startsWith("user.account.privilege.")) {
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.USER_ACCESS_MANAGEMENT,
      activity_id: eventType.endsWith(".revoke") ? 2 : 1,
      message: about,
      attributes: { ...attributes, privileges: at(debugData, "privilegeGranted") ?? undefined },
    });
  }
  if (eventType === "group.user_membership.add" || eventType === "group.user_membership.remove") {
    const group = targets.find((t) => t.type === "UserGroup");
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.GROUP_MANAGEMENT,
      activity_id: eventType.endsWith(".add") ? 3 : 4,
      message: about,
      attributes: {
        ...attributes,
        group: group ? compactOrUndefined({ uid: group.uid, name: group.name }) : undefined,
      },
    });
  }
  const resource = targets.find((t) => t.type !== "User");
  return makeEvent({
    ...base,
    class_uid: OCSF_CLASS.API_ACTIVITY,
    activity_id: apiActivity(eventType),
    message: about,
    resource_id: resource ? text(resource.uid) : null,
    attributes,
  });
}

export const normalizeOktaSystemLog = total("OKTA_SYSTEM_LOG", normalizeRecord);
