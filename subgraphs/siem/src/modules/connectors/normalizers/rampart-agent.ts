/*
 * RAMPART_AGENT: one record of the platform's own workload-protection agent, as protection relays it (the agent's
 * telemetry contract: `kind`, `id`, `resourceId`, `time`, `host` and the kind's fields; see protection's
 * telemetry.model.ts). Protection validated the record when the agent sent it; the SIEM checks what it relies on
 * again, since any INGESTOR may post this connector.
 *
 * - process → Process Activity (1007), Launch: `process` with `name`, `path`, `pid`, `cmd_line`, `user`,
 *   `file.hashes.sha256`, `file.signature.signer` and `parent_process` (pid, path);
 * - file → File System Activity (1001): created 1, modified 3 (also permissions/owner changes), deleted 4,
 *   renamed 5; `file` with `path`, `hashes.sha256`, `size`, and `prev_file` for renames and previous contents;
 * - flow → Network Activity (4001), Traffic: src/dst ip and port, `connection_info.direction` and protocol,
 *   `traffic` bytes and packets, `action` Allowed/Denied;
 * - logon → Authentication (3002), Logon: `actor_user` the account, `status` Success/Failure with the reason,
 *   `logon_type`, `src_ip`;
 * - packages: rejected (protection does not relay snapshots: they are inventory, kept for vulnerability assessment).
 *
 * `device` is the machine's host name and `resource_id` its Rampart resource id (the machine's events are found by
 * either). `source_event_id` is `resourceId:kind:time:id`, protection's own key of a record, so a record relayed
 * again is a duplicate of the stored event.
 */
import { isIP } from "node:net";
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  bool,
  compactOrUndefined,
  describe,
  integer,
  isRecord,
  makeEvent,
  normalizePort,
  rejection,
  severity,
  text,
  toIsoTime,
  total,
  type Json,
} from "./common";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHA256 = /^[0-9a-f]{64}$/i;
const RECORD_ID = /^[\x21-\x7e]{1,200}$/;
const KINDS = ["process", "file", "flow", "logon", "packages"] as const;

/** OCSF File System Activity activity_id by the agent's file action. */
const FILE_ACTIVITY: Record<string, [number, string]> = {
  created: [1, "created"],
  modified: [3, "modified"],
  deleted: [4, "deleted"],
  renamed: [5, "renamed"],
};

function baseName(path: string | null): string | null {
  if (!path) return null;
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || null;
}

function sha256Of(value: unknown): string | null {
  const s = text(value);
  return s && SHA256.test(s) ? s.toLowerCase() : null;
}

function ipOf(value: unknown): string | null {
  const s = text(value);
  return s && isIP(s) ? s.toLowerCase() : null;
}

/** `DOMAIN\user` as OCSF's user object. */
function userOf(account: string | null): Json | undefined {
  if (!account) return undefined;
  const slash = account.indexOf("\\");
  return slash === -1
    ? { name: account }
    : { name: account.slice(slash + 1), domain: account.slice(0, slash) };
}

function normalizeRecord(input: unknown): NormalizedEvent | NormalizeRejection {
  if (!isRecord(input))
    return rejection(`a Rampart agent record must be a JSON object, not ${describe(input)}`);
  const kind = text(input.kind);
  if (!kind || !(KINDS as readonly string[]).includes(kind))
    return rejection(`kind ${describe(input.kind)} is not one of ${KINDS.join(", ")}`);
  const id = text(input.id);
  if (!id || !RECORD_ID.test(id)) return rejection("id must be 1 to 200 printable ASCII characters");
  const resourceId = text(input.resourceId);
  if (!resourceId || !UUID.test(resourceId)) return rejection("resourceId must be a UUID");
  const time = toIsoTime(input.time);
  if (!time) return rejection(`time ${describe(input.time)} is not a date-time`);
  const host = text(input.host);
  if (!host) return rejection("host is missing");

  const base = {
    // Protection's key of a record (machine, kind, time, record id): relayed again, it is a duplicate here too.
    source_event_id: `${resourceId.toLowerCase()}:${kind}:${time}:${id}`,
    time,
    device: host,
    resource_id: resourceId.toLowerCase(),
    operation: kind,
    severity_id: severity(1),
    raw: input,
  };
  const common = { record_id: id, kind };

  if (kind === "process") {
    const image = text(input.image);
    const user = text(input.user);
    const parentImage = text(input.parentImage);
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.PROCESS_ACTIVITY,
      activity_id: 1,
      status: "Success",
      actor_user: user,
      message: `Process ${baseName(image) ?? "unknown"} started on ${host} by ${user ?? "unknown account"}`,
      attributes: {
        ...common,
        process: compactOrUndefined({
          name: baseName(image),
          path: image,
          pid: integer(input.pid),
          cmd_line: typeof input.commandLine === "string" ? input.commandLine : null,
          account: user,
          user: userOf(user),
          file: compactOrUndefined({
            name: baseName(image),
            path: image,
            hashes: compactOrUndefined({ sha256: sha256Of(input.sha256) }),
            signature: compactOrUndefined({ signer: text(input.publisher) }),
          }),
          parent_process: compactOrUndefined({
            name: baseName(parentImage),
            path: parentImage,
            pid: integer(input.parentPid),
          }),
        }),
      },
    });
  }

  if (kind === "file") {
    const path = text(input.path);
    const action = text(input.action) ?? "";
    const [activity, verb] = FILE_ACTIVITY[action] ?? [3, action || "changed"];
    const user = text(input.user);
    const previousPath = text(input.previousPath);
    const previousSha = sha256Of(input.previousSha256);
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.FILE_ACTIVITY,
      activity_id: activity,
      status: "Success",
      actor_user: user,
      message: `File ${path ?? "unknown"} ${verb} on ${host}`,
      attributes: {
        ...common,
        action_name: action || null,
        actor: compactOrUndefined({ user: userOf(user) }),
        file: compactOrUndefined({
          name: baseName(path),
          path,
          size: integer(input.size),
          hashes: compactOrUndefined({ sha256: sha256Of(input.sha256) }),
        }),
        prev_file:
          previousPath || previousSha
            ? compactOrUndefined({
                name: baseName(previousPath ?? path),
                path: previousPath ?? path,
                hashes: compactOrUndefined({ sha256: previousSha }),
              })
            : undefined,
      },
    });
  }

  if (kind === "flow") {
    const direction = text(input.direction);
    const protocol = text(input.protocol);
    const action = text(input.action);
    const denied = action === "denied";
    const src = ipOf(input.srcIp);
    const dst = ipOf(input.dstIp);
    const dstPort = normalizePort(input.dstPort);
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.NETWORK_ACTIVITY,
      activity_id: 6,
      status: denied ? "Failure" : "Success",
      src_ip: src,
      src_port: normalizePort(input.srcPort),
      dst_ip: dst,
      dst_port: dstPort,
      message: `${direction === "inbound" ? "Inbound" : "Outbound"} ${protocol ?? ""} flow ${src ?? "unknown"} → ${dst ?? "unknown"}${dstPort === null ? "" : `:${dstPort}`} on ${host}${denied ? " (denied)" : ""}`,
      attributes: {
        ...common,
        action: denied ? "Denied" : "Allowed",
        action_id: denied ? 2 : 1,
        connection_info: compactOrUndefined({
          protocol_name: protocol?.toLowerCase(),
          direction: direction === "inbound" ? "Inbound" : direction === "outbound" ? "Outbound" : null,
          direction_id: direction === "inbound" ? 1 : direction === "outbound" ? 2 : null,
        }),
        traffic: compactOrUndefined({ bytes: integer(input.bytes), packets: integer(input.packets) }),
      },
    });
  }

  if (kind === "logon") {
    const user = text(input.user);
    const success = bool(input.success);
    const reason = text(input.failureReason);
    const src = ipOf(input.srcIp);
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.AUTHENTICATION,
      activity_id: 1,
      severity_id: severity(success === false ? 2 : 1),
      status: success === null ? "Unknown" : success ? "Success" : "Failure",
      actor_user: user,
      src_ip: src,
      message: `${success === false ? "Failed logon" : "Logon"} of ${user ?? "unknown account"} to ${host}${src ? ` from ${src}` : ""}${reason ? `: ${reason}` : ""}`,
      attributes: {
        ...common,
        user: userOf(user),
        logon_type: text(input.logonType),
        status_detail: reason,
        src_endpoint: src ? { ip: src } : undefined,
        dst_endpoint: { hostname: host },
      },
    });
  }

  return rejection(
    "packages snapshots are not events: protection keeps them for vulnerability assessment and does not relay them",
  );
}

export const normalizeRampartAgent = total("RAMPART_AGENT", normalizeRecord);
