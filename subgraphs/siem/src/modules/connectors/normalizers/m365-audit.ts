/**
 * M365_AUDIT: one Office 365 Management Activity API record (common schema plus workload fields) →
 * - `UserLoggedIn` / `UserLoginFailed` → OCSF Authentication (3002, Logon);
 * - SharePoint/OneDrive file, folder and sharing operations → OCSF Web Resources Activity (6001);
 * - everything else (mailbox access, inbox rules, `Set-Mailbox`, admin cmdlets…) → OCSF API Activity (6003).
 *
 * `CreationTime` has no zone and is UTC. `ClientIP` may carry a port (`203.0.113.5:53211`) or be a bracketed IPv6
 * address with a port (`[2001:db8::5]:443`).
 */
import { OCSF_CLASS, type NormalizedEvent, type NormalizeRejection } from "../../events/event.model";
import {
  at,
  compactOrUndefined,
  describe,
  hostOfUrl,
  isRecord,
  makeEvent,
  normalizeIp,
  portOfAddress,
  rejection,
  severity,
  text,
  toIsoTime,
  total,
  type Json,
} from "./common";

/** Web Resources Activity activity_id per SharePoint/OneDrive operation. */
const WEB_RESOURCE_ACTIVITY: Record<string, number> = {
  FileAccessed: 2,
  FileAccessedExtended: 2,
  FilePreviewed: 2,
  FolderAccessed: 2,
  PageViewed: 2,
  PageViewedExtended: 2,
  FileDownloaded: 7,
  FileSyncDownloadedFull: 7,
  FileSyncDownloadedPartial: 7,
  FileUploaded: 6,
  FileSyncUploadedFull: 6,
  FileSyncUploadedPartial: 6,
  FolderCreated: 1,
  FileCopied: 1,
  FolderCopied: 1,
  FileModified: 3,
  FileModifiedExtended: 3,
  FileRenamed: 3,
  FileMoved: 3,
  FolderModified: 3,
  FolderRenamed: 3,
  FolderMoved: 3,
  FileCheckedIn: 3,
  FileCheckedOut: 3,
  FileRestored: 3,
  FileDeleted: 4,
  FileDeletedFirstStageRecycleBin: 4,
  FileDeletedSecondStageRecycleBin: 4,
  FileRecycled: 4,
  FolderDeleted: 4,
  FolderRecycled: 4,
  SearchQueryPerformed: 5,
  SharingSet: 8,
  SharingInvitationCreated: 8,
  SharingInheritanceBroken: 8,
  AnonymousLinkCreated: 8,
  AnonymousLinkUsed: 8,
  CompanyLinkCreated: 8,
  SecureLinkCreated: 8,
  AddedToSecureLink: 8,
};

const FILE_WORKLOADS = new Set(["sharepoint", "onedrive"]);
const FORWARD_PARAMETERS = [
  "ForwardTo",
  "ForwardAsAttachmentTo",
  "RedirectTo",
  "ForwardingSmtpAddress",
  "ForwardingAddress",
];

/** API Activity activity_id from an operation/cmdlet name. */
function apiActivity(operation: string): number {
  if (/^(New|Add|Create)/i.test(operation)) return 1;
  if (/^(Get|Search|MailItemsAccessed|MessageBind|Read)/i.test(operation)) return 2;
  if (/^(Set|Update|Enable|Disable|Change|Move|Reset)/i.test(operation)) return 3;
  if (/^(Remove|Delete|HardDelete|SoftDelete|Purge)/i.test(operation)) return 4;
  return 99;
}

function resultStatus(value: unknown, workload: string | null): NormalizedEvent["status"] {
  const s = text(value)?.toLowerCase();
  if (s === undefined || s === null) {
    // SharePoint/OneDrive records carry no ResultStatus: they record operations that took place.
    return workload && FILE_WORKLOADS.has(workload.toLowerCase()) ? "Success" : "Unknown";
  }
  if (["succeeded", "success", "true", "partiallysucceeded"].includes(s)) return "Success";
  if (["failed", "failure", "false"].includes(s)) return "Failure";
  return "Unknown";
}

/** `[{ Name, Value }]` (ExtendedProperties, Parameters…) as an object. */
function nameValues(list: unknown): Json | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: Json = {};
  for (const item of list) {
    if (!isRecord(item)) continue;
    const name = text(item.Name);
    if (name) out[name] = item.Value ?? null;
  }
  return Object.keys(out).length ? out : undefined;
}

function forwardTarget(parameters: Json | undefined): string | null {
  if (!parameters) return null;
  for (const key of FORWARD_PARAMETERS) {
    const value = text(parameters[key]);
    if (value) return value.replace(/^smtp:/i, "");
  }
  return null;
}

function normalizeRecord(record: unknown): NormalizedEvent | NormalizeRejection {
  if (!isRecord(record)) return rejection(`expected an audit record (JSON object), got ${describe(record)}`);
  const id = text(record.Id);
  if (!id) return rejection("missing Id");
  if (record.CreationTime === undefined) return rejection("missing CreationTime");
  const time = toIsoTime(record.CreationTime);
  if (!time) return rejection(`unparseable CreationTime ${describe(record.CreationTime)}`);
  const operation = text(record.Operation);
  if (!operation) return rejection("missing Operation");

  const workload = text(record.Workload);
  const user = text(record.UserId);
  const rawIp = record.ClientIP ?? record.ClientIPAddress ?? record.ActorIpAddress;
  const extended = nameValues(record.ExtendedProperties);
  const parameters = nameValues(record.Parameters);
  const objectId = text(record.ObjectId);
  const url = objectId && /^https?:\/\//i.test(objectId) ? objectId : null;
  const siteUrl = text(record.SiteUrl);
  const userAgent =
    text(record.UserAgent) ?? text(extended?.UserAgent) ?? text(record.ClientInfoString) ?? null;
  const forwardTo = forwardTarget(parameters);
  const common: Json = {
    workload,
    record_type: record.RecordType,
    organization_id: text(record.OrganizationId),
    user_type: record.UserType,
    user_key: text(record.UserKey),
    user_agent: userAgent,
    app: text(record.ApplicationDisplayName) ?? text(at(record, "AppAccessContext", "ClientAppName")),
    app_id: text(record.ApplicationId) ?? text(record.AppId),
    object_id: objectId,
    result_status: text(record.ResultStatus),
    extended_properties: extended,
    parameters,
    forward_to: forwardTo,
    mailbox_owner: text(record.MailboxOwnerUPN),
    client_ip: rawIp !== undefined && normalizeIp(rawIp) === null ? text(rawIp) : undefined,
  };
  const base = {
    source_event_id: id,
    time,
    actor_user: user,
    src_ip: normalizeIp(rawIp),
    src_port: portOfAddress(rawIp),
    operation,
    raw: record,
  };

  if (operation === "UserLoggedIn" || operation === "UserLoginFailed") {
    const status =
      operation === "UserLoginFailed"
        ? "Failure"
        : resultStatus(record.ResultStatus, workload) === "Failure"
          ? "Failure"
          : "Success";
    const logonError = text(record.LogonError);
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.AUTHENTICATION,
      activity_id: 1,
      severity_id: severity(status === "Failure" ? 2 : 1),
      status,
      message: `${operation === "UserLoggedIn" ? "Sign-in succeeded" : "Sign-in failed"} for ${user ?? "unknown user"}${logonError ? `: ${logonError}` : ""}`,
      resource_id: objectId,
      attributes: { ...common, failure_reason: logonError, error_code: text(record.ErrorNumber) },
    });
  }

  const fileOperation =
    operation in WEB_RESOURCE_ACTIVITY || (workload !== null && FILE_WORKLOADS.has(workload.toLowerCase()));
  if (fileOperation) {
    const fileName = text(record.SourceFileName);
    const folder = text(record.SourceRelativeUrl);
    return makeEvent({
      ...base,
      class_uid: OCSF_CLASS.WEB_RESOURCES_ACTIVITY,
      activity_id: WEB_RESOURCE_ACTIVITY[operation] ?? 99,
      severity_id: severity(1),
      status: resultStatus(record.ResultStatus, workload),
      message: `${operation} by ${user ?? "unknown user"}${fileName ? `: ${fileName}` : objectId ? `: ${objectId}` : ""}`,
      device: text(record.DeviceDisplayName),
      resource_id: objectId,
      attributes: {
        ...common,
        file: fileName
          ? compactOrUndefined({
              name: fileName,
              path: folder ? `${folder.replace(/\/$/, "")}/${fileName}` : undefined,
              type: text(record.SourceFileExtension) ?? undefined,
            })
          : undefined,
        url,
        domain: hostOfUrl(url ?? siteUrl ?? "") ?? undefined,
        site_url: siteUrl,
        item_type: text(record.ItemType),
        is_managed_device: typeof record.IsManagedDevice === "boolean" ? record.IsManagedDevice : undefined,
        target_user: text(record.TargetUserOrGroupName),
      },
    });
  }

  const status = resultStatus(record.ResultStatus, workload);
  return makeEvent({
    ...base,
    class_uid: OCSF_CLASS.API_ACTIVITY,
    activity_id: apiActivity(operation),
    severity_id: severity(status === "Failure" ? 2 : 1),
    status,
    message: `${operation} by ${user ?? "unknown user"}${objectId ? ` on ${objectId}` : ""}${forwardTo ? ` (forwards to ${forwardTo})` : ""}`,
    resource_id: objectId,
    attributes: {
      ...common,
      operation_count: typeof record.OperationCount === "number" ? record.OperationCount : undefined,
      operation_properties: nameValues(record.OperationProperties),
      email: forwardTo ?? undefined,
    },
  });
}

export const normalizeM365Audit = total("M365_AUDIT", normalizeRecord);
