/**
 * What the Windows event log connectors (WINDOWS_SECURITY, WINDOWS_SYSMON) share: the envelope an agent forwards a
 * record of any channel in — the System fields (`EventID`, `TimeCreated.SystemTime`, `Computer`, `Channel`,
 * `EventRecordID`) at the top or under `System`, the event's fields under `EventData` (an object, or
 * `[{ Name, Value }]`) — and the way Windows writes a missing value.
 */
import type { NormalizeRejection } from "../../events/event.model";
import { describe, integer, isRecord, rejection, text, toIsoTime, type Json } from "./common";

/** Windows writes "-" (and sometimes "") for a field it has no value for. */
export function field(value: unknown): string | null {
  const s = text(value);
  return s === null || s === "-" ? null : s;
}

/** `EventData` as an object: an object as given, or `[{ Name, Value }]` / `[{ Name, "#text" }]` (rendered XML). */
export function eventDataOf(value: unknown): Json | null {
  if (isRecord(value))
    return isRecord(value.Data) || Array.isArray(value.Data) ? eventDataOf(value.Data) : value;
  if (!Array.isArray(value)) return null;
  const out: Json = {};
  for (const item of value) {
    if (!isRecord(item)) continue;
    const name = text(item.Name);
    if (name) out[name] = item.Value ?? item["#text"] ?? null;
  }
  return out;
}

/** The file name of a Windows path (`C:\Windows\System32\cmd.exe` → `cmd.exe`). */
export function baseName(path: string | null): string | null {
  if (!path) return null;
  const name = path.slice(Math.max(path.lastIndexOf("\\"), path.lastIndexOf("/")) + 1);
  return name === "" ? null : name;
}

/** The System fields of a record, read and checked: what every Windows event has, whatever its channel. */
export interface WindowsRecord {
  /** The record with the System fields at its top (a copy only when they were under `System`). */
  record: Json;
  eventId: number;
  /** `TimeCreated.SystemTime` as ISO 8601 UTC. */
  time: string;
  computer: string;
  recordId: number;
  channel: string | null;
  /** The provider's name (`Provider.Name` of rendered XML, or a flat `ProviderName`). */
  provider: string | null;
}

/**
 * Reads a record's System fields, or says why it cannot be used: EventID 0–65535, a parseable TimeCreated, a
 * Computer and a non-negative EventRecordID are required. `channelProblem` tells a channel the connector does
 * not take; its answer is the rejection.
 */
export function readWindowsRecord(
  input: unknown,
  channelProblem: (channel: string) => string | null,
): WindowsRecord | NormalizeRejection {
  if (!isRecord(input))
    return rejection(`expected a Windows event record (JSON object), got ${describe(input)}`);
  const record = isRecord(input.System) ? { ...input, ...input.System } : input;
  const rawId = isRecord(record.EventID) ? (record.EventID.Value ?? record.EventID["#text"]) : record.EventID;
  if (rawId === undefined) return rejection("missing EventID");
  const eventId = integer(rawId);
  if (eventId === null || eventId < 0 || eventId > 65535)
    return rejection(`EventID must be an integer 0–65535, got ${describe(rawId)}`);
  const rawTime = isRecord(record.TimeCreated)
    ? record.TimeCreated.SystemTime
    : (record.TimeCreated ?? record.SystemTime);
  if (rawTime === undefined) return rejection("missing TimeCreated.SystemTime");
  const time = toIsoTime(rawTime);
  if (!time) return rejection(`unparseable TimeCreated.SystemTime ${describe(rawTime)}`);
  const computer = text(record.Computer);
  if (!computer) return rejection("missing Computer");
  if (record.EventRecordID === undefined) return rejection("missing EventRecordID");
  const recordId = integer(record.EventRecordID);
  if (recordId === null || recordId < 0)
    return rejection(`EventRecordID must be a non-negative integer, got ${describe(record.EventRecordID)}`);
  const channel = text(record.Channel);
  const problem = channel === null ? null : channelProblem(channel);
  if (problem) return rejection(problem);
  if (record.EventData !== undefined && !isRecord(record.EventData) && !Array.isArray(record.EventData))
    return rejection(`EventData must be an object, got ${describe(record.EventData)}`);
  const provider = isRecord(record.Provider) ? text(record.Provider.Name) : text(record.ProviderName);
  return { record, eventId, time, computer, recordId, channel, provider };
}
