/**
 * WINDOWS_SYSMON: one record of the Microsoft-Windows-Sysmon/Operational log as an agent forwards it in JSON — the
 * same envelope as WINDOWS_SECURITY (System fields at the top or under `System`, `EventData` an object or
 * `[{ Name, Value }]`) →
 * - 1 (process created) → OCSF Process Activity (1007, Launch) with `attributes.process`: path, command line,
 *   current directory, pid and guid, `account` (Sysmon's `User`), `integrity_level`, `file` (original file name,
 *   product, company, description, version and `hashes`: `md5`, `sha1`, `sha256`, `imphash` parsed from `Hashes`)
 *   and `parent_process` (path, command line, pid, guid, account);
 * - 5 (process terminated) → Process Activity (1007, Terminate); 8 (remote thread) → Inject; 10 (process
 *   accessed) → Open, `attributes.process` the target and `attributes.actor_process` the source;
 * - 3 (network connection) → OCSF Network Activity (4001, Open): the source and destination address and port
 *   columns as Sysmon states them (for an inbound connection the source is the remote peer),
 *   `connection_info.direction` Inbound / Outbound from `Initiated`;
 * - 2, 11, 15, 23, 26 (file creation time changed, created, stream hash, deleted) → OCSF File System Activity
 *   (1001) with `attributes.file` (and its hashes when Sysmon computed them);
 * - 29 (an executable file written) → File System Activity, Create, with the file and its `hashes`; 27 and 28
 *   (the writing of an executable, the shredding of a file, blocked by Sysmon) → File System Activity, Create
 *   and Delete, status Failure with `action` Denied and `disposition` Blocked: what the process attempted;
 * - 6 and 7 (driver, image loaded) → OCSF Module Activity (1005, Load) with the loaded file in `attributes.file`;
 * - 12, 13, 14 (registry) → OCSF Registry Key Activity (201001: created, deleted, renamed) or Registry Value
 *   Activity (201004: set, deleted), with `attributes.reg_key` / `attributes.reg_value`;
 * - 22 (DNS query) → OCSF DNS Activity (4003, Query) with `attributes.query.hostname`, the answers and the status;
 * - the events OCSF has no class for — Sysmon's state (4) and configuration (16), raw disk reads (9), WMI event
 *   filters, consumers and their bindings (19, 20, 21), clipboard changes (24), process tampering (25), Sysmon's
 *   own errors (255, status Failure) — and any other event → OCSF Base Event (0, Other), kept with its fields
 *   and a message saying what happened.
 *
 * Every event keeps its `EventData` as `attributes.event_data`, which Sigma's Sysmon rules read by name;
 * `actor_user` is Sysmon's `User` and `operation` the event id (`"1"`). The source event id is
 * `computer:EventRecordID` (the computer's name in lower case), unique in a computer's Sysmon log.
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  bool,
  compactOrUndefined,
  describe,
  integer,
  makeEvent,
  normalizeIp,
  normalizePort,
  severity,
  total,
  type Json,
} from "./common";
import { baseName, eventDataOf, field, readWindowsRecord } from "./windows-event";

const CHANNEL = "Microsoft-Windows-Sysmon/Operational";

/** The algorithms of Sysmon's `Hashes` (`SHA1=…,MD5=…,SHA256=…,IMPHASH=…`) by the key they are kept under. */
const HASH_KEYS: Record<string, string> = { MD5: "md5", SHA1: "sha1", SHA256: "sha256", IMPHASH: "imphash" };
const HEX = /^[0-9a-fA-F]+$/;

/**
 * `Hashes` as `{ md5, sha1, sha256, imphash }` (lower-case hex), the form the threat-intelligence matcher reads by
 * algorithm (an imphash is not a file digest, so it is not matched as one); undefined when there is none.
 */
export function sysmonHashes(value: unknown): Json | undefined {
  const s = field(value);
  if (!s) return undefined;
  let out: Json | undefined;
  for (const part of s.split(",")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const key = HASH_KEYS[part.slice(0, eq).trim().toUpperCase()];
    const digest = part.slice(eq + 1).trim();
    if (!key || !HEX.test(digest)) continue;
    out ??= {};
    out[key] = digest.toLowerCase();
  }
  return out;
}

/** `DOMAIN\user` split as OCSF's user object. */
function userOf(account: string | null): Json | undefined {
  if (!account) return undefined;
  const slash = account.indexOf("\\");
  return slash === -1
    ? { name: account }
    : { name: account.slice(slash + 1), domain: account.slice(0, slash) };
}

/**
 * A process named by an event's `<prefix>Image`, `<prefix>ProcessId` and `<prefix>ProcessGuid` fields, with
 * `account` (the `DOMAIN\user` it runs as) and what else the event says of it.
 */
function processOf(
  data: Json,
  prefix: "" | "Source" | "Target" | "Parent",
  account: string | null,
  more?: Json,
): Json | undefined {
  const path = field(data[`${prefix}Image`]);
  return compactOrUndefined({
    name: baseName(path),
    path,
    pid: integer(field(data[`${prefix}ProcessId`])),
    // Event 10 writes `SourceProcessGUID`, the others `…ProcessGuid`.
    uid: field(data[`${prefix}ProcessGuid`] ?? data[`${prefix}ProcessGUID`]),
    account,
    ...more,
  });
}

/** A file's version information as Sysmon writes it for an image (events 1 and 7). */
function imageFileOf(data: Json, path: string | null): Json | undefined {
  return compactOrUndefined({
    name: baseName(path),
    path,
    original_name: field(data.OriginalFileName),
    product: field(data.Product),
    company_name: field(data.Company),
    desc: field(data.Description),
    version: field(data.FileVersion),
    hashes: sysmonHashes(data.Hashes),
  });
}

/** The registry events (12, 13, 14) by Sysmon's `EventType`: [class, activity, verb]. */
const REGISTRY_EVENTS: Record<string, [number, number, string]> = {
  createkey: [OCSF_CLASS.REGISTRY_KEY_ACTIVITY, 1, "created"],
  deletekey: [OCSF_CLASS.REGISTRY_KEY_ACTIVITY, 4, "deleted"],
  renamekey: [OCSF_CLASS.REGISTRY_KEY_ACTIVITY, 5, "renamed"],
  createvalue: [OCSF_CLASS.REGISTRY_VALUE_ACTIVITY, 2, "set"],
  setvalue: [OCSF_CLASS.REGISTRY_VALUE_ACTIVITY, 2, "set"],
  deletevalue: [OCSF_CLASS.REGISTRY_VALUE_ACTIVITY, 4, "deleted"],
};

/**
 * File System Activity per file event: its activity, what befell the file (for the message), whether the file is
 * an executable by the event's definition (27, 29: the message says so) and whether Sysmon blocked the activity
 * (27, 28: the event is what the process attempted, prevented).
 */
const FILE_EVENTS: Record<
  number,
  { activity: number; verb: string; executable?: boolean; blocked?: boolean }
> = {
  2: { activity: 6, verb: "had its creation time changed" },
  11: { activity: 1, verb: "created" },
  15: { activity: 1, verb: "given an alternate data stream" },
  23: { activity: 4, verb: "deleted" },
  26: { activity: 4, verb: "deleted" },
  27: { activity: 1, verb: "blocked from being created", executable: true, blocked: true },
  28: { activity: 4, verb: "blocked from being shredded", blocked: true },
  29: { activity: 1, verb: "created", executable: true },
};

/** DNS answers of event 22's `QueryResults` (`type:  5 cname.example;::ffff:192.0.2.1;`). */
function dnsAnswers(value: unknown): Json[] | undefined {
  const s = field(value);
  if (!s) return undefined;
  const answers: Json[] = [];
  for (const part of s.split(";")) {
    const item = part.trim();
    if (item === "") continue;
    const typed = /^type:\s*(\d+)\s+(.*)$/.exec(item);
    if (typed) answers.push({ type_id: Number(typed[1]), rdata: typed[2] });
    else {
      const ip = normalizeIp(item);
      answers.push(ip ? { type: ip.includes(":") ? "AAAA" : "A", rdata: ip } : { rdata: item });
    }
  }
  return answers.length ? answers : undefined;
}

/** `cmd.exe on WS-7…`: the process an event is about, for its message. */
function by(image: string | null, computer: string): string {
  return `${baseName(image) ?? "a process"} on ${computer}`;
}

/** `created` from Sysmon's `Operation` (`Created`, `Deleted`…) of a WMI event. */
function wmiVerb(data: Json): string {
  return field(data.Operation)?.toLowerCase() ?? "changed";
}

/**
 * The message of an event kept as a Base Event, in one line an analyst reads in an alert (a WMI consumer's name
 * and kind, the device read raw, the tampering Sysmon saw): it is preferred to a rendered `Message`, which for
 * Sysmon is every field on a line of its own. Null for an event id not known here.
 */
function otherMessage(eventId: number, data: Json, user: string | null, computer: string): string | null {
  const image = field(data.Image);
  const account = `${user ?? "an unknown account"} on ${computer}`;
  switch (eventId) {
    case 4:
      return `Sysmon service state ${field(data.State) ?? "unknown"} on ${computer}`;
    case 16:
      return `Sysmon configuration ${field(data.Configuration) ?? "unknown"} loaded on ${computer}`;
    case 9:
      return `${by(image, computer)} read the raw device ${field(data.Device) ?? "unknown"}`;
    case 19:
      return `WMI event filter ${field(data.Name) ?? "unknown"} ${wmiVerb(data)} by ${account}`;
    case 20:
      return `WMI event consumer ${field(data.Name) ?? "unknown"} (${field(data.Type) ?? "unknown type"}) ${wmiVerb(data)} by ${account}`;
    case 21:
      return `WMI binding of ${field(data.Consumer) ?? "unknown consumer"} to ${field(data.Filter) ?? "unknown filter"} ${wmiVerb(data)} by ${account}`;
    case 24:
      return `Clipboard changed in ${by(image, computer)}${field(data.ClientInfo) ? ` (${field(data.ClientInfo)})` : ""}`;
    case 25:
      return `Process tampering in ${by(image, computer)}: ${field(data.Type) ?? "unknown"}`;
    case 255:
      return `Sysmon error ${field(data.ID) ?? "unknown"} on ${computer}: ${field(data.Description) ?? "no description"}`;
    default:
      return null;
  }
}

function normalizeRecord(input: unknown): NormalizedEvent | NormalizeRejection {
  const read = readWindowsRecord(input, (channel) =>
    channel.toLowerCase() === CHANNEL.toLowerCase()
      ? null
      : `Channel ${describe(channel)} is not the Sysmon log (WINDOWS_SYSMON takes ${CHANNEL} events)`,
  );
  if ("reason" in read) return read;
  const { record, eventId, time, computer, recordId, channel, provider } = read;
  const data = eventDataOf(record.EventData) ?? {};
  const user = field(data.User);
  const image = field(data.Image);
  const common: Json = {
    event_id: eventId,
    record_id: recordId,
    channel: channel ?? CHANNEL,
    provider,
    rule_name: field(data.RuleName),
    event_data: Object.keys(data).length ? data : undefined,
  };
  const base = {
    // Host names compare without case: an agent that changes the case of `Computer` re-sends the same records.
    source_event_id: `${computer.toLowerCase()}:${recordId}`,
    time,
    device: computer,
    operation: String(eventId),
    actor_user: user,
    severity_id: severity(1),
    status: "Success" as const,
    raw: input,
  };

  if (eventId === 1) {
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.PROCESS_ACTIVITY,
      activity_id: 1,
      message: `Process ${baseName(image) ?? "unknown"} started on ${computer} by ${user ?? "unknown account"}`,
      attributes: {
        ...common,
        process: processOf(data, "", user, {
          cmd_line: field(data.CommandLine),
          current_directory: field(data.CurrentDirectory),
          file: imageFileOf(data, image),
          integrity_level: field(data.IntegrityLevel),
          user: userOf(user),
          logon_id: field(data.LogonId),
          session_id: integer(field(data.TerminalSessionId)),
          parent_process: processOf(data, "Parent", field(data.ParentUser), {
            cmd_line: field(data.ParentCommandLine),
          }),
        }),
      },
    });
  }

  if (eventId === 5 || eventId === 8 || eventId === 10) {
    const terminated = eventId === 5;
    const target = terminated ? processOf(data, "", user) : processOf(data, "Target", field(data.TargetUser));
    const verb = terminated ? "ended" : eventId === 8 ? "got a remote thread from" : "was opened by";
    const actor = terminated ? undefined : processOf(data, "Source", field(data.SourceUser));
    return makeEvent({
      ...base,
      actor_user: terminated ? user : field(data.SourceUser),
      class_uid: OCSF_CLASS.PROCESS_ACTIVITY,
      activity_id: terminated ? 2 : eventId === 8 ? 4 : 3,
      message: `Process ${target?.name ?? "unknown"} on ${computer} ${verb}${actor ? ` ${actor.name ?? "a process"}` : ""}`,
      attributes: {
        ...common,
        process: target,
        actor_process: actor,
        granted_access: field(data.GrantedAccess),
      },
    });
  }

  if (eventId === 3) {
    const initiated = bool(field(data.Initiated));
    const src = field(data.SourceIp);
    const dst = field(data.DestinationIp);
    const dstPort = normalizePort(field(data.DestinationPort));
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.NETWORK_ACTIVITY,
      activity_id: 1,
      message:
        initiated === false
          ? `Inbound connection to ${by(image, computer)} (port ${dstPort ?? "unknown"}) from ${src ?? "unknown"}`
          : `${by(image, computer)} connected to ${field(data.DestinationHostname) ?? dst ?? "unknown"} port ${dstPort ?? "unknown"}`,
      src_ip: normalizeIp(src),
      src_port: normalizePort(field(data.SourcePort)),
      dst_ip: normalizeIp(dst),
      dst_port: dstPort,
      attributes: {
        ...common,
        process: processOf(data, "", user),
        initiated,
        connection_info: compactOrUndefined({
          protocol_name: field(data.Protocol)?.toLowerCase(),
          direction: initiated === null ? null : initiated ? "Outbound" : "Inbound",
          direction_id: initiated === null ? null : initiated ? 2 : 1,
        }),
        src_endpoint: compactOrUndefined({
          hostname: field(data.SourceHostname),
          port_name: field(data.SourcePortName),
        }),
        dst_endpoint: compactOrUndefined({
          hostname: field(data.DestinationHostname),
          port_name: field(data.DestinationPortName),
        }),
      },
    });
  }

  const fileEvent = FILE_EVENTS[eventId];
  if (fileEvent) {
    const path = field(data.TargetFilename);
    const { activity, verb, executable, blocked } = fileEvent;
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.FILE_ACTIVITY,
      activity_id: activity,
      ...(blocked ? { status: "Failure" as const } : {}),
      message: `${executable ? "Executable file" : "File"} ${path ?? "unknown"} ${verb} by ${by(image, computer)}`,
      attributes: {
        ...common,
        ...(blocked ? { action: "Denied", action_id: 2, disposition: "Blocked", disposition_id: 2 } : {}),
        process: processOf(data, "", user),
        file: compactOrUndefined({
          name: baseName(path),
          path,
          created_time: field(data.CreationUtcTime),
          hashes: sysmonHashes(data.Hashes ?? data.Hash),
          is_executable: bool(field(data.IsExecutable)),
        }),
      },
    });
  }

  if (eventId === 6 || eventId === 7) {
    const loaded = field(data.ImageLoaded);
    const signature = compactOrUndefined({
      signed: bool(field(data.Signed)),
      signer: field(data.Signature),
      status: field(data.SignatureStatus),
    });
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.MODULE_ACTIVITY,
      activity_id: 1,
      message:
        eventId === 6
          ? `Driver ${loaded ?? "unknown"} loaded on ${computer}`
          : `${baseName(loaded) ?? "A module"} loaded by ${by(image, computer)}`,
      attributes: {
        ...common,
        process: processOf(data, "", user),
        file: compactOrUndefined({ ...imageFileOf(data, loaded), signature }),
      },
    });
  }

  if (eventId === 12 || eventId === 13 || eventId === 14) {
    const eventType = field(data.EventType)?.toLowerCase() ?? "";
    const [classUid, activity, verb] =
      REGISTRY_EVENTS[eventType] ??
      (eventId === 13
        ? REGISTRY_EVENTS.setvalue
        : eventId === 14
          ? REGISTRY_EVENTS.renamekey
          : [OCSF_CLASS.REGISTRY_KEY_ACTIVITY, 99, "changed"]);
    const path = field(data.TargetObject);
    const isValue = classUid === OCSF_CLASS.REGISTRY_VALUE_ACTIVITY;
    return makeEvent({
      ...base,
      class_uid: classUid,
      activity_id: activity,
      message: `Registry ${isValue ? "value" : "key"} ${path ?? "unknown"} ${verb} by ${by(image, computer)}`,
      attributes: {
        ...common,
        process: processOf(data, "", user),
        [isValue ? "reg_value" : "reg_key"]: compactOrUndefined({
          path,
          data: field(data.Details),
          new_path: field(data.NewName),
        }),
      },
    });
  }

  if (eventId === 22) {
    const name = field(data.QueryName);
    const rcode = integer(field(data.QueryStatus));
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.DNS_ACTIVITY,
      activity_id: 1,
      status: rcode === null ? "Unknown" : rcode === 0 ? "Success" : "Failure",
      message: `${by(image, computer)} looked up ${name ?? "unknown"}`,
      attributes: {
        ...common,
        process: processOf(data, "", user),
        query: compactOrUndefined({ hostname: name }),
        answers: dnsAnswers(data.QueryResults),
        rcode_id: rcode,
      },
    });
  }

  return makeEvent({
    ...base,
    class_uid: OCSF_CLASS.BASE_EVENT,
    activity_id: 99,
    status: eventId === 255 ? "Failure" : "Unknown",
    message:
      otherMessage(eventId, data, user, computer) ??
      field(record.Message) ??
      `Sysmon event ${eventId} on ${computer}`,
    attributes: { ...common, process: processOf(data, "", user) },
  });
}

export const normalizeWindowsSysmon = total("WINDOWS_SYSMON", normalizeRecord);
