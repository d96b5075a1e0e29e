/**
 * SYSLOG_CEF: one syslog line carrying a CEF payload (or an object `{ "message": "<line>" }`) →
 * - proxy events (`request` URL or `requestMethod` present) → OCSF HTTP Activity (4002);
 * - everything else (firewall traffic…) → OCSF Network Activity (4001).
 *
 * The line may have an RFC 5424 header (`<134>1 2026-11-20T08:55:00Z host app - - - CEF:0|…`), an RFC 3164 header
 * (`<134>Nov 20 08:55:00 host CEF:0|…`, optionally with a year), or none. The time comes from the CEF `rt`
 * (epoch ms or `MMM dd [yyyy] HH:mm:ss[.SSS] [zone]`), else the syslog timestamp, else `start`/`end`. A CEF date
 * without a year takes the year that puts it next to the syslog header's full timestamp; an RFC 3164 timestamp
 * without a year is not used; with no placeable time at all the record is rejected (the clock is never read).
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  MONTHS,
  compactOrUndefined,
  describe,
  fingerprints,
  hostOfUrl,
  isRecord,
  isoOfMillis,
  makeEvent,
  normalizeIp,
  normalizePort,
  recordDigest,
  rejection,
  severity,
  text,
  toIsoTime,
  total,
  utcMillis,
  zoneOffsetMinutes,
  type Json,
} from "./common";

/** A parsed CEF record. */
export interface CefRecord {
  version: string;
  deviceVendor: string;
  deviceProduct: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: string;
  extension: Record<string, string>;
}

interface SyslogHeader {
  format: "rfc5424" | "rfc3164" | "none" | "unknown";
  hostname: string | null;
  app: string | null;
  /** ISO time when the header had a full timestamp. */
  time: string | null;
  /** Calendar fields of an RFC 3164 timestamp without a year. */
  partial: {
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
    fraction?: string;
  } | null;
}

// ---------------------------------------------------------------------------------------------------------
// CEF parsing
// ---------------------------------------------------------------------------------------------------------

/** Splits the 7 header fields after `CEF:` on unescaped `|` (unescaping `\|` and `\\`); the rest is the extension. */
function splitHeader(payload: string): { fields: string[]; extension: string } | null {
  const fields: string[] = [];
  let current = "";
  let i = 0;
  for (; i < payload.length && fields.length < 7; i++) {
    const c = payload[i];
    if (c === "\\" && (payload[i + 1] === "|" || payload[i + 1] === "\\")) {
      current += payload[i + 1];
      i++;
    } else if (c === "|") {
      fields.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  return fields.length === 7 ? { fields, extension: payload.slice(i) } : null;
}

function unescapeValue(value: string): string {
  return value.replace(/\\([\\=|nr])/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c));
}

/**
 * Parses a CEF extension (`key=value key2=value with spaces …`): a key is a run of `[A-Za-z0-9_.[\]-]` at the start
 * or after whitespace, followed by an unescaped `=`; its value runs to the space before the next key. Values are
 * unescaped (`\=`, `\\`, `\|`, `\n`, `\r`).
 */
export function parseCefExtension(extension: string): Record<string, string> {
  const out: Record<string, string> = {};
  const keyPattern = /(^|\s)([A-Za-z0-9_.[\]-]+)=/g;
  const keys: Array<{ key: string; start: number; valueStart: number }> = [];
  for (let m = keyPattern.exec(extension); m !== null; m = keyPattern.exec(extension)) {
    keys.push({ key: m[2], start: m.index, valueStart: keyPattern.lastIndex });
  }
  keys.forEach(({ key, valueStart }, i) => {
    const end = i + 1 < keys.length ? keys[i + 1].start : extension.length;
    out[key] = unescapeValue(extension.slice(valueStart, end).trimEnd());
  });
  return out;
}

/** Parses `CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension`, or null when malformed. */
export function parseCef(payload: string): CefRecord | null {
  if (!payload.startsWith("CEF:")) return null;
  const split = splitHeader(payload.slice(4));
  if (!split) return null;
  const [version, deviceVendor, deviceProduct, deviceVersion, signatureId, name, sev] = split.fields;
  if (!/^\s*\d+(\.\d+)?\s*$/.test(version)) return null;
  return {
    version: version.trim(),
    deviceVendor,
    deviceProduct,
    deviceVersion,
    signatureId,
    name,
    severity: sev.trim(),
    extension: parseCefExtension(split.extension),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Syslog header and times
// ---------------------------------------------------------------------------------------------------------

const RFC5424 = /^<(\d{1,3})>\d{1,2} (\S+) (\S+) (\S+) (\S+) (\S+)/;
const RFC3164 =
  /^(?:<(\d{1,3})>)?([A-Za-z]{3}) +(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?: +(\S+))?/;
const ISO_HEADER = /^(?:<(\d{1,3})>)?(\d{4}-\d{2}-\d{2}T\S+)(?: +(\S+))?/;

function nil(value: string | undefined): string | null {
  return value === undefined || value === "-" || value.endsWith(":") ? null : value;
}

function parseSyslog(prefix: string): SyslogHeader {
  const p = prefix.trim();
  if (p === "") return { format: "none", hostname: null, app: null, time: null, partial: null };
  const r5424 = RFC5424.exec(p);
  if (r5424) {
    return {
      format: "rfc5424",
      time: r5424[2] === "-" ? null : toIsoTime(r5424[2]),
      hostname: nil(r5424[3]),
      app: nil(r5424[4]),
      partial: null,
    };
  }
  const iso = ISO_HEADER.exec(p);
  if (iso)
    return { format: "rfc3164", time: toIsoTime(iso[2]), hostname: nil(iso[3]), app: null, partial: null };
  const r3164 = RFC3164.exec(p);
  if (r3164) {
    const month = MONTHS[r3164[2].toLowerCase()];
    const [day, hour, minute, second] = [r3164[3], r3164[5], r3164[6], r3164[7]].map(Number);
    const fields = { month, day, hour, minute, second, fraction: r3164[8] };
    let time: string | null = null;
    if (month !== undefined && r3164[4]) {
      const ms = utcMillis(Number(r3164[4]), month, day, hour, minute, second, r3164[8], 0);
      time = ms === null ? null : isoOfMillis(ms);
    }
    return {
      format: "rfc3164",
      time,
      hostname: nil(r3164[9]),
      app: null,
      partial: month !== undefined && !r3164[4] ? fields : null,
    };
  }
  return { format: "unknown", hostname: null, app: null, time: null, partial: null };
}

const CEF_DATE =
  /^([A-Za-z]{3}) +(\d{1,2})(?: (\d{4}))? (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?: +(Z|UTC|GMT|[+-]\d{2}:?\d{2}))?$/i;

const HALF_YEAR_MS = 183 * 86_400_000;

/**
 * A CEF date (`rt`, `start`, `end`): epoch ms, `MMM dd [yyyy] HH:mm:ss[.SSS] [zone]` or ISO 8601. A date without a
 * year takes the year that puts it within half a year of `near` (the syslog header's time), so that a record logged
 * on 31 December and sent on 1 January keeps its year; without `near` it cannot be placed (null).
 */
export function parseCefTime(value: string, near: string | null): string | null {
  const v = value.trim();
  if (/^\d+$/.test(v)) return toIsoTime(Number(v));
  const m = CEF_DATE.exec(v);
  if (m) {
    const month = MONTHS[m[1].toLowerCase()];
    const nearMs = near === null ? Number.NaN : Date.parse(near);
    const offset = zoneOffsetMinutes(m[8]);
    if (month === undefined || offset === null || (!m[3] && !Number.isFinite(nearMs))) return null;
    const at = (year: number) =>
      utcMillis(year, month, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]), m[7], offset);
    let ms: number | null;
    if (m[3]) ms = at(Number(m[3]));
    else {
      const year = new Date(nearMs).getUTCFullYear();
      ms = at(year);
      if (ms !== null && ms - nearMs > HALF_YEAR_MS) ms = at(year - 1);
      else if (ms !== null && nearMs - ms > HALF_YEAR_MS) ms = at(year + 1);
    }
    return ms === null ? null : isoOfMillis(ms);
  }
  return toIsoTime(v);
}

// ---------------------------------------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------------------------------------

/** CEF severity (0–10 or Low/Medium/High/Very-High) → OCSF severity_id. */
export function cefSeverity(value: string): NormalizedEvent["severity_id"] {
  if (/^\d{1,2}$/.test(value)) {
    const n = Number(value);
    if (n <= 3) return severity(2);
    if (n <= 6) return severity(3);
    if (n <= 8) return severity(4);
    if (n <= 10) return severity(5);
    return severity(0);
  }
  switch (value.toLowerCase().replace(/[\s_-]/g, "")) {
    case "low":
      return severity(2);
    case "medium":
      return severity(3);
    case "high":
      return severity(4);
    case "veryhigh":
    case "critical":
      return severity(5);
    default:
      return severity(0);
  }
}

interface Disposition {
  action: string | null;
  action_id: number | null;
  /** OCSF Network Activity activity_id. */
  network: number;
}

/** Firewall/proxy action (`act`) → OCSF action and Network Activity activity. */
function dispositionOf(act: string | null): Disposition {
  const a = act?.toLowerCase() ?? "";
  if (/^(allow|allowed|accept|accepted|permit|permitted|pass|passed)$/.test(a)) {
    return { action: "Allowed", action_id: 1, network: 1 };
  }
  if (/^(close|closed|timeout|end)$/.test(a)) return { action: "Allowed", action_id: 1, network: 2 };
  if (/reset|rst/.test(a)) return { action: "Denied", action_id: 2, network: 3 };
  if (
    /^(deny|denied|drop|dropped|block|blocked|reject|rejected|refuse|refused|prevent|prevented|discard|discarded)/.test(
      a,
    )
  ) {
    return { action: "Denied", action_id: 2, network: 5 };
  }
  return { action: act, action_id: act ? 99 : null, network: 6 };
}

function outcomeStatus(outcome: string | null): NormalizedEvent["status"] {
  const o = outcome?.toLowerCase() ?? "";
  if (/^(success|succeeded|successful|allowed|ok|[23]\d\d)$/.test(o)) return "Success";
  if (/^(fail|failed|failure|denied|blocked|[45]\d\d)$/.test(o)) return "Failure";
  return "Unknown";
}

const HTTP_ACTIVITY: Record<string, number> = {
  CONNECT: 1,
  DELETE: 2,
  GET: 3,
  HEAD: 4,
  OPTIONS: 5,
  POST: 6,
  PUT: 7,
  TRACE: 8,
};

const PROTOCOLS: Record<string, [string, number]> = {
  "1": ["icmp", 1],
  icmp: ["icmp", 1],
  "6": ["tcp", 6],
  tcp: ["tcp", 6],
  "17": ["udp", 17],
  udp: ["udp", 17],
  "58": ["ipv6-icmp", 58],
  "ipv6-icmp": ["ipv6-icmp", 58],
  icmp6: ["ipv6-icmp", 58],
};

/** Custom fields (`cs1`… with `cs1Label`…) keyed by their labels. */
function customFields(ext: Record<string, string>): Json | undefined {
  const out: Json = {};
  for (const [key, value] of Object.entries(ext)) {
    if (!/^(cs\d|cn\d|cfp\d|c6a\d|flexString\d|flexNumber\d|flexDate\d|deviceCustomDate\d)$/.test(key))
      continue;
    const label = text(ext[`${key}Label`]);
    if (label) out[label] = value;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The record's id: the device's `externalId` or ArcSight's `eventId`, else a digest of the whole line (header
 * included), so the same line sent again is a duplicate. Custom numbers (`cn1`… — a rule, policy or session id,
 * shared by many events) are never taken for it: they would fold distinct events of the same second into one.
 */
function sourceEventId(ext: Record<string, string>, line: string): string {
  return text(ext.externalId) ?? text(ext.eventId) ?? recordDigest(line);
}

function normalizeRecord(record: unknown): NormalizedEvent | NormalizeRejection {
  let line: string | null = null;
  if (typeof record === "string") line = record;
  else if (isRecord(record) && typeof record.message === "string") line = record.message;
  if (line === null) {
    return rejection(
      isRecord(record)
        ? "expected an object with a string `message` (a syslog line with a CEF payload)"
        : `expected a syslog line (string) or { "message": … }, got ${describe(record)}`,
    );
  }
  const at = /(^|[\s:>])CEF:/.exec(line);
  if (!at) return rejection("no CEF payload (CEF:…) in the line");
  const cefStart = at.index + at[1].length;
  const cef = parseCef(line.slice(cefStart));
  if (!cef) {
    return rejection(
      "malformed CEF header: expected CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension",
    );
  }
  const header = parseSyslog(line.slice(0, cefStart));
  const ext = cef.extension;
  const envelope = isRecord(record) ? record : {};

  // Time: rt, then the syslog header, then start/end, then a collector's timestamp on the object form.
  let time: string | null = null;
  if (ext.rt) time = parseCefTime(ext.rt, header.time);
  if (!time && header.time) time = header.time;
  if (!time && ext.start) time = parseCefTime(ext.start, header.time);
  if (!time && ext.end) time = parseCefTime(ext.end, header.time);
  if (!time) time = toIsoTime(envelope.timestamp ?? envelope["@timestamp"] ?? envelope.time);
  if (!time) {
    if (ext.rt) return rejection(`unparseable CEF rt ${describe(ext.rt)}`);
    if (header.partial) return rejection("the syslog timestamp has no year and the CEF payload has no rt");
    return rejection("no time: neither a CEF rt nor a syslog timestamp");
  }

  const act = text(ext.act);
  const disposition = dispositionOf(act);
  const requestUrl = text(ext.request);
  const method = text(ext.requestMethod)?.toUpperCase() ?? null;
  const isHttp = requestUrl !== null || method !== null;
  const urlHost = requestUrl ? hostOfUrl(requestUrl) : null;
  const urlHostIp = urlHost ? normalizeIp(urlHost) : null;
  const dhost = text(ext.dhost);
  const domain = isHttp
    ? urlHost && !urlHostIp
      ? urlHost
      : dhost && !normalizeIp(dhost)
        ? dhost.toLowerCase()
        : null
    : null;
  const status =
    disposition.action === "Allowed"
      ? "Success"
      : disposition.action === "Denied"
        ? "Failure"
        : outcomeStatus(text(ext.outcome));
  const proto = text(ext.proto)?.toLowerCase() ?? null;
  const protocol = proto ? (PROTOCOLS[proto] ?? [proto, undefined]) : null;
  const reporter = text(ext.dvchost) ?? header.hostname ?? text(envelope.host) ?? text(envelope.hostname);
  const srcHost = text(ext.shost);
  const userAgent = text(ext.requestClientApplication);
  const dstIp = normalizeIp(ext.dst) ?? normalizeIp(ext.c6a3) ?? (isHttp ? urlHostIp : null);

  return makeEvent({
    source_event_id: sourceEventId(ext, line),
    time,
    class_uid: isHttp ? OCSF_CLASS.HTTP_ACTIVITY : OCSF_CLASS.NETWORK_ACTIVITY,
    activity_id: isHttp ? (method ? (HTTP_ACTIVITY[method] ?? 99) : 0) : disposition.network,
    severity_id: cefSeverity(cef.severity),
    status,
    message: text(ext.msg) ?? text(cef.name),
    actor_user: text(ext.suser),
    src_ip: normalizeIp(ext.src) ?? normalizeIp(ext.c6a2),
    src_port: normalizePort(ext.spt),
    dst_ip: dstIp,
    dst_port: normalizePort(ext.dpt),
    device: (isHttp ? srcHost : (dhost ?? srcHost)) ?? reporter,
    resource_id: null,
    operation: act ?? text(cef.name),
    attributes: {
      action: disposition.action,
      action_id: disposition.action_id,
      disposition: act,
      outcome: text(ext.outcome),
      protocol: protocol ? protocol[0] : undefined,
      connection_info: compactOrUndefined({
        protocol_name: protocol ? protocol[0] : undefined,
        protocol_num: protocol ? protocol[1] : undefined,
        direction:
          ext.deviceDirection === "0" ? "Inbound" : ext.deviceDirection === "1" ? "Outbound" : undefined,
      }),
      url: requestUrl,
      domain,
      http_request: isHttp
        ? compactOrUndefined({
            url: requestUrl,
            http_method: method,
            user_agent: userAgent,
            referrer: text(ext.requestContext),
          })
        : undefined,
      user_agent: userAgent,
      app: text(ext.app),
      category: text(ext.cat),
      src_hostname: srcHost,
      dst_hostname: dhost,
      dst_user: text(ext.duser),
      src_translated_ip: normalizeIp(ext.sourceTranslatedAddress) ?? undefined,
      bytes_in: ext.in !== undefined && /^\d+$/.test(ext.in) ? Number(ext.in) : undefined,
      bytes_out: ext.out !== undefined && /^\d+$/.test(ext.out) ? Number(ext.out) : undefined,
      file: text(ext.fname)
        ? compactOrUndefined({ name: text(ext.fname), hashes: fingerprints(text(ext.fileHash)) })
        : undefined,
      reporter: compactOrUndefined({
        hostname: reporter,
        syslog_app: header.app,
        syslog_format: header.format,
      }),
      metadata: {
        product: compactOrUndefined({
          vendor_name: text(cef.deviceVendor),
          name: text(cef.deviceProduct),
          version: text(cef.deviceVersion),
        }),
        event_code: text(cef.signatureId),
      },
      cef: { version: cef.version, signature_id: cef.signatureId, name: cef.name, severity: cef.severity },
      custom: customFields(ext),
      extensions: ext,
    },
    raw: record,
  });
}

export const normalizeSyslogCef = total("SYSLOG_CEF", normalizeRecord);
