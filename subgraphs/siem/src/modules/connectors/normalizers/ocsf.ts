/**
 * OCSF: an event that is already OCSF JSON (any class). The source event id is `metadata.uid`, or for an event without
 * one a digest of the event (`recordDigest`). The columns are read from their OCSF places; every other
 * field of the event is kept in `attributes` under its OCSF name. For matching across connectors, `attributes.url`
 * is the URL string (the OCSF url object moves to `url_info`) and `attributes.domain` the queried / requested host.
 */
import type { NormalizedEvent, NormalizeRejection } from "../../events/event.model";
import {
  at,
  bool,
  countryCode,
  describe,
  hostOfUrl,
  integer,
  isRecord,
  makeEvent,
  normalizeIp,
  normalizePort,
  recordDigest,
  rejection,
  severity,
  text,
  toIsoTime,
  total,
  type Json,
} from "./common";

/** Fields that become columns (the rest of the event goes to attributes). */
const COLUMN_FIELDS = new Set([
  "class_uid",
  "activity_id",
  "time",
  "severity_id",
  "status",
  "status_id",
  "message",
]);

const SEVERITY_NAMES: Record<string, number> = {
  unknown: 0,
  informational: 1,
  info: 1,
  low: 2,
  medium: 3,
  high: 4,
  critical: 5,
  fatal: 6,
};

function statusOf(record: Json): NormalizedEvent["status"] {
  const id = integer(record.status_id);
  if (id === 1) return "Success";
  if (id === 2) return "Failure";
  const s = text(record.status)?.toLowerCase();
  if (s === "success") return "Success";
  if (s === "failure") return "Failure";
  return "Unknown";
}

function severityOf(record: Json): NormalizedEvent["severity_id"] {
  const id = integer(record.severity_id);
  if (id !== null && id >= 0 && id <= 6) return severity(id);
  const named = text(record.severity)?.toLowerCase();
  return severity(named !== undefined && named !== null ? (SEVERITY_NAMES[named] ?? 0) : 0);
}

/** A URL string from an OCSF url object (`url_string`, or scheme/hostname/path parts) or a string. */
function urlString(value: unknown): string | null {
  if (typeof value === "string") return text(value);
  if (!isRecord(value)) return null;
  const whole = text(value.url_string);
  if (whole) return whole;
  const host = text(value.hostname);
  if (!host) return null;
  const scheme = text(value.scheme) ?? "http";
  const port = normalizePort(value.port);
  return `${scheme}://${host}${port !== null ? `:${port}` : ""}${text(value.path) ?? "/"}${text(value.query_string) ? `?${text(value.query_string)}` : ""}`;
}

function normalizeRecord(record: unknown): NormalizedEvent | NormalizeRejection {
  if (!isRecord(record)) return rejection(`expected an OCSF event (JSON object), got ${describe(record)}`);
  const classUid = record.class_uid;
  if (typeof classUid !== "number" || !Number.isInteger(classUid) || classUid <= 0) {
    return rejection(`class_uid must be a positive integer, got ${describe(classUid)}`);
  }
  const rawTime = record.time ?? record.time_dt;
  if (rawTime === undefined) return rejection("missing time");
  const time = toIsoTime(rawTime);
  if (!time) return rejection(`unparseable time ${describe(rawTime)}`);
  // `metadata.uid` is optional in OCSF (flow logs, for one, have none): such an event is identified by its digest.
  const id =
    text(at(record, "metadata", "uid")) ??
    text(record.uid) ??
    text(at(record, "finding_info", "uid")) ??
    recordDigest(record);

  let activity = integer(record.activity_id);
  if (activity === null) {
    const typeUid = integer(record.type_uid);
    activity = typeUid !== null && Math.floor(typeUid / 100) === classUid ? typeUid % 100 : 0;
  }

  const attributes: Json = {};
  for (const [key, value] of Object.entries(record)) if (!COLUMN_FIELDS.has(key)) attributes[key] = value;

  const url = urlString(record.url) ?? urlString(at(record, "http_request", "url"));
  if (isRecord(record.url)) attributes.url_info = record.url;
  if (url) attributes.url = url;
  const domain =
    text(at(record, "query", "hostname")) ??
    (isRecord(record.url) ? text(record.url.hostname) : null) ??
    text(at(record, "http_request", "url", "hostname")) ??
    (url ? hostOfUrl(url) : null);
  if (domain && !normalizeIp(domain)) attributes.domain = domain.toLowerCase().replace(/\.$/, "");
  const userAgent = text(at(record, "http_request", "user_agent"));
  if (userAgent && attributes.user_agent === undefined) attributes.user_agent = userAgent;
  const mfa = bool(record.is_mfa);
  if (mfa !== null && attributes.mfa === undefined) attributes.mfa = mfa;

  const user =
    text(at(record, "actor", "user", "name")) ??
    text(at(record, "actor", "user", "uid")) ??
    text(at(record, "actor", "user", "email_addr")) ??
    text(at(record, "user", "name")) ??
    text(at(record, "user", "uid"));
  const resources = Array.isArray(record.resources) ? record.resources : [];
  const resourceId =
    (resources.length ? text(at(resources[0], "uid")) : null) ?? text(at(record, "resource", "uid"));

  return makeEvent({
    source_event_id: id,
    time,
    class_uid: classUid,
    activity_id: activity,
    severity_id: severityOf(record),
    status: statusOf(record),
    message: text(record.message),
    actor_user: user,
    src_ip: normalizeIp(at(record, "src_endpoint", "ip")),
    src_port: normalizePort(at(record, "src_endpoint", "port")),
    dst_ip: normalizeIp(at(record, "dst_endpoint", "ip")),
    dst_port: normalizePort(at(record, "dst_endpoint", "port")),
    device:
      text(at(record, "device", "hostname")) ??
      text(at(record, "device", "name")) ??
      text(at(record, "src_endpoint", "hostname")),
    resource_id: resourceId,
    operation: text(at(record, "api", "operation")),
    src_country: countryCode(at(record, "src_endpoint", "location", "country")),
    attributes,
    raw: record,
  });
}

export const normalizeOcsf = total("OCSF", normalizeRecord);
