/**
 * WINDOWS_SECURITY: one record of the Windows Security event log as an agent forwards it in JSON — the System
 * fields (`EventID`, `TimeCreated.SystemTime`, `Computer`, `Channel`, `EventRecordID`, `Keywords`) at the top or
 * under `System`, and the event's fields under `EventData` (an object, or `[{ Name, Value }]`) or, for 1102,
 * `UserData.LogFileCleared` →
 * - 4624 / 4625 / 4634 / 4647 (logon, failed logon, logoff) → OCSF Authentication (3002);
 * - 4688 (a new process) → OCSF Process Activity (1007, Launch) with `attributes.process`: its path, command line,
 *   process ids in decimal, parent, `account` (the `DOMAIN\user` it runs as) and `integrity_level` (named as Sysmon
 *   names it), which Sigma's `process_creation` rules read;
 * - 4720, 4722–4726, 4738, 4740, 4767 (user accounts) → OCSF Account Change (3001);
 * - 4728 / 4732 / 4756 and 4729 / 4733 / 4757 (a member added to / removed from a security group) → OCSF Group
 *   Management (3006, Add User / Remove User) with `attributes.group`;
 * - 1102 (the audit log was cleared) → OCSF Event Log Activity (1008, Clear);
 * - any other event → OCSF Base Event (0, Other), kept rather than refused so that an agent forwarding the whole
 *   log is not a stream of rejections.
 *
 * `operation` is the event id (`"4625"`), so rules and analysts use the ids Windows documents. The source event id is
 * `computer:EventRecordID` (the computer's name in lower case): the record number is unique in a computer's Security
 * log, so a re-read is a duplicate.
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  compactOrUndefined,
  describe,
  integer,
  isRecord,
  makeEvent,
  normalizeIp,
  normalizePort,
  severity,
  text,
  total,
  type Json,
} from "./common";
import { baseName, eventDataOf, field, readWindowsRecord } from "./windows-event";

/** Logon types (the `LogonType` of 4624/4625) by number. */
const LOGON_TYPES: Record<number, string> = {
  0: "System",
  2: "Interactive",
  3: "Network",
  4: "Batch",
  5: "Service",
  7: "Unlock",
  8: "NetworkCleartext",
  9: "NewCredentials",
  10: "RemoteInteractive",
  11: "CachedInteractive",
  12: "CachedRemoteInteractive",
  13: "CachedUnlock",
};

/** The NTSTATUS codes of failed logons (4625 `Status` / `SubStatus`) an analyst reads most often. */
const LOGON_FAILURES: Record<string, string> = {
  "0xc0000064": "unknown user name",
  "0xc000006a": "bad password",
  "0xc000006d": "bad user name or password",
  "0xc000006e": "account restriction",
  "0xc000006f": "outside the allowed logon hours",
  "0xc0000070": "workstation restriction",
  "0xc0000071": "password expired",
  "0xc0000072": "account disabled",
  "0xc0000133": "clocks out of sync",
  "0xc000015b": "logon type not granted",
  "0xc0000193": "account expired",
  "0xc0000224": "password must change",
  "0xc0000234": "account locked out",
};

/** Account Change activity_id per user-account event. */
const ACCOUNT_CHANGES: Record<number, [number, string]> = {
  4720: [1, "created"],
  4722: [2, "enabled"],
  4723: [3, "password change attempted"],
  4724: [4, "password reset attempted"],
  4725: [5, "disabled"],
  4726: [6, "deleted"],
  4738: [99, "changed"],
  4740: [9, "locked out"],
  4767: [99, "unlocked"],
};

/** Group Management: [activity_id, verb, group scope] per membership event. */
const GROUP_CHANGES: Record<number, [number, string, string]> = {
  4728: [3, "added to", "global"],
  4729: [4, "removed from", "global"],
  4732: [3, "added to", "local"],
  4733: [4, "removed from", "local"],
  4756: [3, "added to", "universal"],
  4757: [4, "removed from", "universal"],
};

/** The bits of `Keywords` (a hex mask) that say how an audit event came out. */
const AUDIT_SUCCESS = 0x0020000000000000n;
const AUDIT_FAILURE = 0x0010000000000000n;

/** The outcome the record's `Keywords` state (`Audit Success`, a list of names, or the hex mask), if any. */
function keywordsStatus(value: unknown): NormalizedEvent["status"] | null {
  const names = Array.isArray(value) ? value.map((v) => text(v) ?? "").join(" ") : text(value);
  if (!names) return null;
  const lower = names.toLowerCase();
  if (/^0x[0-9a-f]{1,16}$/.test(lower)) {
    const mask = BigInt(lower);
    if (mask & AUDIT_FAILURE) return "Failure";
    if (mask & AUDIT_SUCCESS) return "Success";
    return null;
  }
  if (lower.includes("audit failure")) return "Failure";
  if (lower.includes("audit success")) return "Success";
  return null;
}

/** A process or logon id: Windows writes them in hex (`0x1a2c`); also taken as a decimal number. */
function hexId(value: unknown): number | null {
  const s = field(value);
  if (s !== null && /^0x[0-9a-f]{1,8}$/i.test(s)) return parseInt(s.slice(2), 16);
  return integer(value);
}

/** The source port of a logon: Windows writes 0 (or "-") when there is none. */
function sourcePort(value: unknown): number | null {
  const port = normalizePort(field(value));
  return port === 0 ? null : port;
}

/** `DOMAIN\user`, or the bare user name when the domain is not given. */
function account(name: unknown, domain: unknown): string | null {
  const user = field(name);
  if (!user) return null;
  const dom = field(domain);
  return dom ? `${dom}\\${user}` : user;
}

/**
 * The integrity level Sysmon names a 4688 `MandatoryLabel` by. Low is left out: Sysmon calls a low-integrity
 * AppContainer process's level `AppContainer`, and 4688 does not say whether a process is one.
 */
const INTEGRITY_LEVELS: Record<string, string> = {
  "S-1-16-8192": "Medium",
  "S-1-16-12288": "High",
  "S-1-16-16384": "System",
};

/** The NULL SID: 4688 names no target account (the new process runs as its creator). */
const NULL_SID = "S-1-0-0";
/** The LocalSystem account, which 4688 names by the computer's account (`CORP\WS01$`). */
const LOCAL_SYSTEM_SID = "S-1-5-18";

/**
 * The account a new process (4688) runs as, written `DOMAIN\user` as Sysmon's `User`: the target account when the
 * record names one (Windows 10 / Server 2016 and later write the target fields, the NULL SID when the process
 * runs as its creator), else the creator (the subject). Null when the record has no target fields (older
 * Windows: a service started as another account would be taken for its creator's) or a name or domain is
 * missing. LocalSystem is `NT AUTHORITY\SYSTEM`, as Sysmon names it on an English system.
 */
function processAccount(data: Json, version: number | null): string | null {
  if ((version === null || version < 2) && data.TargetUserSid === undefined) return null;
  const targetSid = field(data.TargetUserSid);
  const named = field(data.TargetUserName) !== null && targetSid !== NULL_SID;
  const sid = named ? targetSid : field(data.SubjectUserSid);
  if (sid?.toUpperCase() === LOCAL_SYSTEM_SID) return "NT AUTHORITY\\SYSTEM";
  const user = field(named ? data.TargetUserName : data.SubjectUserName);
  const domain = field(named ? data.TargetDomainName : data.SubjectDomainName);
  return user && domain ? `${domain}\\${user}` : null;
}

function normalizeRecord(input: unknown): NormalizedEvent | NormalizeRejection {
  const read = readWindowsRecord(input, (channel) =>
    channel.toLowerCase() === "security"
      ? null
      : `Channel ${describe(channel)} is not the Security log (WINDOWS_SECURITY takes Security events)`,
  );
  if ("reason" in read) return read;
  const { record, eventId, time, computer, recordId, channel, provider } = read;
  const data =
    eventDataOf(record.EventData) ??
    (isRecord(record.UserData) ? eventDataOf(Object.values(record.UserData)[0]) : null) ??
    {};

  const subject = account(data.SubjectUserName, data.SubjectDomainName);
  const target = account(data.TargetUserName, data.TargetDomainName);
  const common: Json = {
    event_id: eventId,
    record_id: recordId,
    channel: channel ?? "Security",
    provider,
    task: text(record.Task),
    keywords: Array.isArray(record.Keywords) ? record.Keywords : text(record.Keywords),
    subject: compactOrUndefined({
      name: field(data.SubjectUserName),
      domain: field(data.SubjectDomainName),
      uid: field(data.SubjectUserSid),
      logon_id: field(data.SubjectLogonId),
    }),
    event_data: Object.keys(data).length ? data : undefined,
  };
  const stated = keywordsStatus(record.Keywords);
  const base = {
    // Host names compare without case: an agent that changes the case of `Computer` re-sends the same records.
    source_event_id: `${computer.toLowerCase()}:${recordId}`,
    time,
    device: computer,
    operation: String(eventId),
    raw: input,
  };

  if (eventId === 4624 || eventId === 4625 || eventId === 4634 || eventId === 4647) {
    const logoff = eventId === 4634 || eventId === 4647;
    const status = stated ?? (eventId === 4625 ? "Failure" : "Success");
    const logonType = integer(data.LogonType);
    const failureCode = field(data.SubStatus) ?? field(data.Status);
    const code = failureCode && failureCode !== "0x0" ? failureCode.toLowerCase() : null;
    // FailureReason is often an unrendered message id (`%%2313`): the status code says more.
    const statedReason = field(data.FailureReason);
    const reason =
      status === "Failure"
        ? ((code ? LOGON_FAILURES[code] : null) ??
          (statedReason && !statedReason.startsWith("%%") ? statedReason : null))
        : null;
    const user = eventId === 4647 ? (target ?? subject) : target;
    const typeName = logonType === null ? null : (LOGON_TYPES[logonType] ?? null);
    const verb = logoff ? "Logoff" : status === "Failure" ? "Failed logon" : "Logon";
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.AUTHENTICATION,
      activity_id: logoff ? 2 : 1,
      severity_id: severity(status === "Failure" ? 2 : 1),
      status,
      message: `${verb} of ${user ?? "unknown account"} on ${computer}${typeName ? ` (${typeName})` : ""}${field(data.IpAddress) ? ` from ${field(data.IpAddress)}` : ""}${reason ? `: ${reason}` : code ? `: ${code}` : ""}`,
      actor_user: user,
      src_ip: normalizeIp(field(data.IpAddress)),
      src_port: sourcePort(data.IpPort),
      attributes: {
        ...common,
        logon_type: logonType,
        logon_type_name: typeName,
        logon_id: field(data.TargetLogonId),
        logon_process: field(data.LogonProcessName),
        auth_package: field(data.AuthenticationPackageName),
        workstation: field(data.WorkstationName),
        process: compactOrUndefined({
          name: baseName(field(data.ProcessName)),
          path: field(data.ProcessName),
        }),
        user: compactOrUndefined({
          name: field(data.TargetUserName),
          domain: field(data.TargetDomainName),
          uid: field(data.TargetUserSid),
        }),
        failure_status: field(data.Status),
        failure_substatus: field(data.SubStatus),
        failure_reason: reason,
        elevated_token: field(data.ElevatedToken),
      },
    });
  }

  if (eventId === 4688) {
    const path = field(data.NewProcessName);
    const parent = field(data.ParentProcessName);
    const cmdLine = field(data.CommandLine);
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.PROCESS_ACTIVITY,
      activity_id: 1,
      severity_id: severity(1),
      status: stated ?? "Success",
      message: `Process ${baseName(path) ?? "unknown"} started on ${computer} by ${subject ?? "unknown account"}`,
      actor_user: subject,
      attributes: {
        ...common,
        process: compactOrUndefined({
          name: baseName(path),
          path,
          pid: hexId(data.NewProcessId),
          cmd_line: cmdLine,
          file: compactOrUndefined({ name: baseName(path), path }),
          integrity: field(data.MandatoryLabel),
          integrity_level: INTEGRITY_LEVELS[field(data.MandatoryLabel)?.toUpperCase() ?? ""],
          token_elevation: field(data.TokenElevationType),
          parent_process: compactOrUndefined({
            name: baseName(parent),
            path: parent,
            pid: hexId(data.ProcessId),
          }),
          user: compactOrUndefined({
            name: field(data.TargetUserName),
            domain: field(data.TargetDomainName),
          }),
          account: processAccount(data, integer(record.Version)),
        }),
      },
    });
  }

  const accountChange = ACCOUNT_CHANGES[eventId];
  if (accountChange) {
    const [activity, verb] = accountChange;
    const status = stated ?? "Success";
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.ACCOUNT_CHANGE,
      activity_id: activity,
      severity_id: severity(eventId === 4720 || eventId === 4726 || eventId === 4740 ? 3 : 1),
      status,
      message: `Account ${target ?? "unknown"} ${verb} on ${computer} by ${subject ?? "unknown account"}`,
      actor_user: subject,
      attributes: {
        ...common,
        user: compactOrUndefined({
          name: field(data.TargetUserName),
          domain: field(data.TargetDomainName),
          uid: field(data.TargetSid),
        }),
        target_user: target,
      },
    });
  }

  const groupChange = GROUP_CHANGES[eventId];
  if (groupChange) {
    const [activity, verb, scope] = groupChange;
    const group = account(data.TargetUserName, data.TargetDomainName);
    // MemberName is a distinguished name (CN=Lee Gu,OU=…) for domain accounts and "-" for local ones.
    const member = field(data.MemberName);
    const memberName = member
      ? (/^CN=((?:\\,|[^,])+)/i.exec(member)?.[1]?.replace(/\\,/g, ",") ?? member)
      : null;
    const memberLabel = memberName ?? field(data.MemberSid) ?? "unknown member";
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.GROUP_MANAGEMENT,
      activity_id: activity,
      severity_id: severity(activity === 3 ? 3 : 1),
      status: stated ?? "Success",
      message: `${memberLabel} ${verb} security-enabled ${scope} group ${group ?? "unknown"} on ${computer} by ${subject ?? "unknown account"}`,
      actor_user: subject,
      attributes: {
        ...common,
        group: compactOrUndefined({
          name: field(data.TargetUserName),
          domain: field(data.TargetDomainName),
          uid: field(data.TargetSid),
          type: `security-enabled ${scope}`,
        }),
        member: compactOrUndefined({ name: memberName, dn: member, uid: field(data.MemberSid) }),
      },
    });
  }

  if (eventId === 1102) {
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.EVENT_LOG_ACTIVITY,
      activity_id: 1,
      severity_id: severity(4),
      status: stated ?? "Success",
      message: `The Security log on ${computer} was cleared by ${subject ?? "unknown account"}`,
      actor_user: subject,
      attributes: { ...common, log_name: "Security" },
    });
  }

  return makeEvent({
    ...base,
    class_uid: OCSF_CLASS.BASE_EVENT,
    activity_id: 99,
    severity_id: severity(stated === "Failure" ? 2 : 1),
    status: stated ?? "Unknown",
    message: field(record.Message) ?? `Windows Security event ${eventId} on ${computer}`,
    actor_user: subject ?? target,
    src_ip: normalizeIp(field(data.IpAddress)),
    src_port: sourcePort(data.IpPort),
    attributes: common,
  });
}

export const normalizeWindowsSecurity = total("WINDOWS_SECURITY", normalizeRecord);
