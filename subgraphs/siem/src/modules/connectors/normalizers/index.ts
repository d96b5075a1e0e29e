/**
 * Connector normalisers: one raw record of a connector kind in, one OCSF-aligned `NormalizedEvent` (or a
 * rejection with a reason) out. Pure and total: they never throw and never read the clock.
 */
import { storableText } from "../../../../../common/src/validation";
import type {
  ConnectorKind,
  NormalizedEvent,
  NormalizeRejection,
  Normalizer,
} from "../../events/event.model";
import { normalizeAwsCloudTrail } from "./aws-cloudtrail";
import { normalizeAzureActivity } from "./azure-activity";
import { isRecord } from "./common";
import { normalizeEntraSignIn } from "./entra-signin";
import { normalizeGcpAudit } from "./gcp-audit";
import { normalizeM365Audit } from "./m365-audit";
import { normalizeOcsf } from "./ocsf";
import { normalizeOktaSystemLog } from "./okta-system-log";
import { normalizeRampartAgent } from "./rampart-agent";
import { normalizeSyslogCef } from "./syslog-cef";
import { normalizeWindowsSecurity } from "./windows-security";
import { normalizeWindowsSysmon } from "./windows-sysmon";

export {
  attributesProblem,
  fewBrackets,
  isRejection,
  normalizeIp,
  normalizePort,
  recordDepthProblem,
  toIsoTime,
} from "./common";
export { parseCef, parseCefExtension, parseCefTime } from "./syslog-cef";

/** The normaliser of each connector kind. */
export const NORMALIZERS: Record<ConnectorKind, Normalizer> = {
  AZURE_ACTIVITY: normalizeAzureActivity,
  ENTRA_SIGNIN: normalizeEntraSignIn,
  AWS_CLOUDTRAIL: normalizeAwsCloudTrail,
  SYSLOG_CEF: normalizeSyslogCef,
  M365_AUDIT: normalizeM365Audit,
  OCSF: normalizeOcsf,
  OKTA_SYSTEM_LOG: normalizeOktaSystemLog,
  GCP_AUDIT: normalizeGcpAudit,
  WINDOWS_SECURITY: normalizeWindowsSecurity,
  WINDOWS_SYSMON: normalizeWindowsSysmon,
  RAMPART_AGENT: normalizeRampartAgent,
};

/** Normalises one record of a connector kind (an unknown kind is a rejection, not an exception). */
export function normalize(kind: ConnectorKind, record: unknown): NormalizedEvent | NormalizeRejection {
  const normalizer = Object.prototype.hasOwnProperty.call(NORMALIZERS, kind) ? NORMALIZERS[kind] : undefined;
  if (!normalizer) return { reason: `unknown connector kind ${JSON.stringify(String(kind))}` };
  return normalizer(record);
}

/** One NDJSON line: its parsed value, or why it could not be parsed. Lines are numbered from 1. */
/** One NDJSON line: a record (with the line's JSON text when the line is that record) or why it is not one. */
export type NdjsonLine = { line: number; value: unknown; text?: string } | { line: number; error: string };

/** Envelopes whose only field is a list of records (CloudTrail files, Azure/Entra diagnostic exports). */
const ENVELOPE_KEYS = new Set(["Records", "records"]);

/**
 * Parses NDJSON: splits on `\n` (a trailing `\r` and a leading BOM are dropped), skips blank lines and parses each
 * line as JSON; a malformed line gives `{ line, error }`. A line holding a record envelope — an object whose only
 * field is `Records` or `records` with an array (a CloudTrail log file, an Azure diagnostic-settings export) — gives
 * one entry per record, each with that line's number. Never throws.
 */
export function parseNdjson(text: string): NdjsonLine[] {
  const out: NdjsonLine[] = [];
  if (typeof text !== "string") return out;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (i === 0 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line) as unknown;
    } catch (err) {
      // The parser's message quotes the line, which may hold a NUL or (cut there) half a surrogate pair: the reason
      // goes into a queued body's receipt (jsonb), so it is made storable.
      const message = storableText(err instanceof Error ? err.message : String(err));
      out.push({ line: i + 1, error: `malformed JSON: ${message}` });
      continue;
    }
    const keys = isRecord(value) ? Object.keys(value) : [];
    if (isRecord(value) && keys.length === 1 && ENVELOPE_KEYS.has(keys[0]) && Array.isArray(value[keys[0]])) {
      for (const record of value[keys[0]] as unknown[]) out.push({ line: i + 1, value: record });
    } else {
      // The line itself is the record's JSON: stored as the raw record without serialising it again.
      out.push({ line: i + 1, value, text: line });
    }
  }
  return out;
}

/** Normalises NDJSON text of one connector kind: the events and the rejected lines (with reasons). */
export function normalizeNdjson(
  kind: ConnectorKind,
  text: string,
): {
  events: Array<{ line: number; event: NormalizedEvent }>;
  rejected: Array<{ line: number; reason: string }>;
} {
  const events: Array<{ line: number; event: NormalizedEvent }> = [];
  const rejected: Array<{ line: number; reason: string }> = [];
  for (const entry of parseNdjson(text)) {
    if ("error" in entry) {
      rejected.push({ line: entry.line, reason: entry.error });
      continue;
    }
    const result = normalize(kind, entry.value);
    if ("reason" in result) rejected.push({ line: entry.line, reason: result.reason });
    else events.push({ line: entry.line, event: result });
  }
  return { events, rejected };
}
