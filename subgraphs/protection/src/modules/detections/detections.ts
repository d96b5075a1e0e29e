/*
 * Workload-protection detections over agent telemetry (the Defender for Servers analytics, in miniature):
 * a pure function from a batch of validated records, plus what the platform knows about each machine
 * (JIT-locked ports, application-control allowlists, FIM-watched paths), to security alerts in the shape
 * the SIEM ingests.
 *
 * Determinism: no clock, no randomness, output sorted by (startTime, sourceId). Every `sourceId` is built
 * from the records' own resource ids, record ids and time buckets, so re-processing the same records gives
 * the same ids and the SIEM's idempotent store (provider + sourceId) drops the repeats. Records that share a
 * resource id and record id are processed once.
 *
 * Windows: the brute-force window is the detection's time window; other grouped detections (application
 * control, critical files, JIT ports) emit at most one alert per key per clock hour (UTC). The detector is
 * stateless: an attack split across two batches is judged per batch.
 */
import { createHash } from "node:crypto";
import type { EntityType } from "../../../../common/src";
import type {
  FileRecord,
  FlowRecord,
  LogonRecord,
  ProcessRecord,
  TelemetryRecord,
} from "../telemetry/telemetry.model";
import {
  baseName,
  decodeEncodedCommand,
  downloadIndicators,
  extractUrls,
  findEncodedCommand,
} from "./powershell";
import { MAX_INDEXED_TEXT_BYTES, utf8LongerThan } from "../../../../common/src/validation";

/** What the platform knows about the machines, asked per record (answers are cached per batch). */
export interface DetectionContext {
  /**
   * JIT-locked inbound ports per resource id (ports that are closed except for approved requests), with
   * when each was locked (epoch ms; absent: always): traffic before that was not to a locked port.
   */
  jitLockedPorts: (
    resourceId: string,
  ) => Array<{ port: number; protocol: "TCP" | "UDP"; lockedSince?: number }>;
  /** Whether an executable is allowed for the machine's app-control group (null: the machine has no enforced/audited group). */
  appControlAllows: (
    resourceId: string,
    exe: { path: string; sha256?: string; publisher?: string },
  ) => boolean | null;
  /**
   * Since when (epoch ms) the machine's allow list applies (absent or null: always). An execution before it —
   * uploaded late — did not run under that allow list and is not judged by it.
   */
  appControlSince?: (resourceId: string) => number | null;
  /** Critical watched paths (FIM) for the machine. */
  isCriticalPath: (resourceId: string, path: string) => boolean;
  /**
   * Whether an approved JIT request opened the port to this source at that time (then the traffic is
   * the access JIT granted, not a bypass). Absent: no grants are known.
   */
  jitGrantCovers?: (
    resourceId: string,
    access: { port: number; protocol: "TCP" | "UDP"; srcIp: string; time: string },
  ) => boolean;
}

/** Kinds of detections, one per analytic. */
export const DETECTION_KINDS = [
  "encoded-powershell",
  "credential-dumping",
  "brute-force",
  "app-control-violation",
  "critical-file-change",
  "jit-port-access",
] as const;

/** Kind of a detection. */
export type DetectionKind = (typeof DETECTION_KINDS)[number];

/** Entity kinds of alerts (`ENTITY_TYPES`, shared with the SIEM). */
export type DetectionEntityType = EntityType;

/** An entity an alert is about. */
export interface DetectionEntity {
  type: DetectionEntityType;
  value: string;
}

/** Severity of a detection. */
export type DetectionSeverity = "LOW" | "MEDIUM" | "HIGH";

/** A security alert raised from telemetry (a SIEM `NewAlert` with provider WORKLOAD_PROTECTION, plus evidence). */
export interface Detection {
  kind: DetectionKind;
  /** Stable id: the same records always give the same id. */
  sourceId: string;
  title: string;
  description: string;
  severity: DetectionSeverity;
  /** MITRE ATT&CK tactic names, e.g. `CredentialAccess`. */
  tactics: string[];
  /** MITRE ATT&CK technique ids, e.g. `T1003.001`. */
  techniques: string[];
  entities: DetectionEntity[];
  /** Remediation steps, in order. */
  remediation: string[];
  /** Rampart Resource id of the machine. */
  resourceId: string;
  /** ISO 8601 (UTC) time of the first record of the activity. */
  startTime: string;
  /** ISO 8601 (UTC) time of the last record of the activity. */
  endTime: string;
  /** The relevant record fields (bounded). */
  evidence: Record<string, unknown>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Brute force: the sliding window and thresholds. */
export const BRUTE_FORCE = {
  windowMs: 10 * MINUTE,
  failedLogons: 20,
  inboundFlows: 50,
  ports: [22, 3389] as readonly number[],
  logonTypes: ["ssh", "remote_interactive", "network"] as readonly string[],
} as const;
/** Evidence bounds. */
const MAX_TEXT = 4096;
const MAX_LIST = 20;
const MAX_RECORD_IDS = 50;

// ---------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------

const ms = (time: string): number => Date.parse(time);
const iso = (millis: number): string => new Date(millis).toISOString();
const hourBucket = (millis: number): string => iso(Math.floor(millis / HOUR) * HOUR);

function clip(text: string, max = MAX_TEXT): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Short stable digest for keys that may be long (paths). */
function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

const isWindowsPath = (path: string): boolean => /^(?:[A-Za-z]:[\\/]|\\\\)/.test(path);

/** Windows paths compare case-insensitively with either separator; POSIX paths as they are. */
function normalizePath(path: string): string {
  return isWindowsPath(path) ? path.replace(/\//g, "\\").toLowerCase() : path;
}

/** Built-in Windows service identities (no password to reset). */
function isBuiltinAccount(user: string): boolean {
  return /^(?:nt authority\\.*|system|local service|network service)$/i.test(user);
}

/** Drops properties whose value is undefined (evidence is stored as JSON). */
function compact(evidence: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(evidence).filter(([, v]) => v !== undefined));
}

function uniq<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

function entities(list: Array<DetectionEntity | null | undefined | false>): DetectionEntity[] {
  const seen = new Map<string, DetectionEntity>();
  for (const e of list) {
    // The SIEM indexes entity values and refuses a whole alert with one past MAX_INDEXED_TEXT_BYTES. Agents report
    // paths of up to 4,096 characters: such a value stays in the evidence only.
    if (!e || !e.value || utf8LongerThan(e.value, MAX_INDEXED_TEXT_BYTES)) continue;
    const key = `${e.type}|${e.value.toLowerCase()}`;
    if (!seen.has(key)) seen.set(key, e);
  }
  return [...seen.values()];
}

const plural = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

const byTime = <T extends { time: string; id: string }>(a: T, b: T): number =>
  ms(a.time) - ms(b.time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

// ---------------------------------------------------------------------------------------------------------
// Encoded PowerShell (T1059.001, T1027)
// ---------------------------------------------------------------------------------------------------------

function detectEncodedPowerShell(p: ProcessRecord): Detection | null {
  const found = findEncodedCommand(p.image, p.commandLine);
  if (!found) return null;
  const decoded = decodeEncodedCommand(found.payload);
  const indicators = decoded ? downloadIndicators(decoded.text) : [];
  const urls = decoded ? extractUrls(decoded.text) : [];
  const downloads = indicators.length > 0;
  const exe = baseName(p.image);
  const what = !decoded
    ? "The payload is not valid base64, so PowerShell refused it, but hiding a command this way is itself suspicious."
    : downloads
      ? `The decoded command downloads and runs content from the internet (${indicators.join(", ")})${urls.length ? ` — ${urls.join(", ")}` : ""}: a typical download cradle used by malware loaders.`
      : "Encoding hides the command from casual review and from simple command-line monitoring; review the decoded command in the evidence.";
  return {
    kind: "encoded-powershell",
    sourceId: `encoded-powershell:${p.resourceId}:${p.id}`,
    title: `Suspicious encoded PowerShell command on ${p.host}`,
    description:
      `${exe} ran on ${p.host} as ${p.user} with a base64-encoded command (${found.parameter}). ${what}` +
      (p.parentImage ? ` Parent process: ${p.parentImage}.` : ""),
    severity: downloads ? "HIGH" : "MEDIUM",
    tactics: ["Execution", "DefenseEvasion"],
    techniques: ["T1059.001", "T1027"],
    entities: entities([
      { type: "HOST", value: p.host },
      { type: "ACCOUNT", value: p.user },
      { type: "PROCESS", value: p.image },
      p.sha256 ? { type: "FILE_HASH", value: p.sha256 } : null,
      ...urls.map((u): DetectionEntity => ({ type: "URL", value: u })),
      ...urls.map((u): DetectionEntity | null => {
        const hostname = URL.canParse(u) ? new URL(u).hostname : "";
        return hostname && !/^[\d.]+$|:/.test(hostname) ? { type: "DOMAIN", value: hostname } : null;
      }),
    ]),
    remediation: [
      `Review the decoded command and the process tree on ${p.host}; if the activity is not expected, isolate the machine.`,
      ...(downloads
        ? [
            "Block the URLs and domains it contacted, and look for the downloaded payload on disk and in memory.",
          ]
        : []),
      ...(isBuiltinAccount(p.user)
        ? []
        : [`Reset the credentials of ${p.user} if the account may be compromised.`]),
      "Enable PowerShell script block logging and Constrained Language Mode, and restrict PowerShell with application control.",
    ],
    resourceId: p.resourceId,
    startTime: iso(ms(p.time)),
    endTime: iso(ms(p.time)),
    evidence: compact({
      recordId: p.id,
      image: p.image,
      commandLine: clip(p.commandLine),
      user: p.user,
      pid: p.pid,
      parentPid: p.parentPid,
      parentImage: p.parentImage,
      sha256: p.sha256,
      parameter: found.parameter,
      host: found.host,
      decodedCommand: decoded?.text ?? null,
      decodedTruncated: decoded?.truncated ?? false,
      decodeError: decoded ? undefined : "payload is not valid base64",
      downloadIndicators: indicators,
      urls,
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Credential dumping (T1003)
// ---------------------------------------------------------------------------------------------------------

interface DumpMatch {
  method: "mimikatz" | "procdump-lsass" | "comsvcs-minidump" | "registry-hive-save";
  /** What matched (a marker or the hive). */
  marker: string;
  techniques: string[];
  title: (host: string) => string;
  summary: string;
}

const MIMIKATZ_IMAGE = /^(?:mimikatz|mimilib|mimidrv)(?:\.exe|\.dll|\.sys)?$/i;
const MIMIKATZ_PUBLISHER = /gentilkiwi|benjamin delpy/i;
const MIMIKATZ_MARKER =
  /\b(?:sekurlsa::[a-z]+|lsadump::(?:sam|secrets|cache|lsa|dcsync|setntlm)|privilege::debug|token::elevate|kerberos::(?:golden|ptt|tgt)|crypto::(?:capi|cng)|dpapi::[a-z]+|vault::cred|misc::(?:memssp|skeleton)|invoke-mimikatz)\b/gi;
const PROCDUMP_IMAGE = /^procdump(?:64a?)?\.exe$/i;
const LSASS = /\blsass(?:\.exe)?\b/i;
const FULL_DUMP_SWITCH = /(?:^|\s)[-/]ma(?:\s|$)/i;
const COMSVCS_MINIDUMP = /comsvcs(?:\.dll)?["']?\s*[,\s]\s*(?:minidump\b|#\+?0*24\b)/i;
const REG_SAVE_HIVE =
  /(?:^|[\s\\/"])reg(?:\.exe)?"?\s+(?:save|export)\s+"?(?:hklm|hkey_local_machine)\\(sam|security|system)"?(?=\s|$)/i;

/** The text a process runs: its command line, plus the decoded script of a PowerShell `-EncodedCommand`. */
function executedText(p: ProcessRecord): string {
  const encoded = findEncodedCommand(p.image, p.commandLine);
  const decoded = encoded ? decodeEncodedCommand(encoded.payload) : null;
  return decoded ? `${p.commandLine}\n${decoded.text}` : p.commandLine;
}

function matchCredentialDumping(p: ProcessRecord): DumpMatch | null {
  const exe = baseName(p.image);
  const cmd = executedText(p);
  const markers = uniq([...cmd.matchAll(MIMIKATZ_MARKER)].map((m) => m[0].toLowerCase()));
  if (MIMIKATZ_IMAGE.test(exe) || (p.publisher && MIMIKATZ_PUBLISHER.test(p.publisher)) || markers.length) {
    const marker = markers.length ? markers.join(", ") : exe;
    const extra = /lsadump::sam/i.test(cmd)
      ? ["T1003.002"]
      : /lsadump::(?:secrets|lsa)/i.test(cmd)
        ? ["T1003.004"]
        : /lsadump::dcsync/i.test(cmd)
          ? ["T1003.006"]
          : [];
    return {
      method: "mimikatz",
      marker,
      techniques: ["T1003", "T1003.001", ...extra],
      title: (host) => `Credential theft tool Mimikatz ran on ${host}`,
      summary: `Mimikatz (${marker}) reads credentials — NTLM hashes, Kerberos tickets and clear-text passwords — from LSASS memory and the registry.`,
    };
  }
  if (LSASS.test(cmd) && (PROCDUMP_IMAGE.test(exe) || FULL_DUMP_SWITCH.test(cmd)))
    return {
      method: "procdump-lsass",
      marker: "lsass",
      techniques: ["T1003", "T1003.001"],
      title: (host) => `LSASS process memory dumped on ${host}`,
      summary: `${exe} wrote a full memory dump of the LSASS process, which holds the credentials of every signed-in user; attackers extract them offline with Mimikatz or pypykatz.`,
    };
  if (COMSVCS_MINIDUMP.test(cmd))
    return {
      method: "comsvcs-minidump",
      marker: "comsvcs.dll MiniDump",
      techniques: ["T1003", "T1003.001"],
      title: (host) => `LSASS memory dumped with comsvcs.dll on ${host}`,
      summary: `${exe} called the MiniDump export of comsvcs.dll, a built-in way ("living off the land") to dump LSASS memory without bringing a tool.`,
    };
  const hive = REG_SAVE_HIVE.exec(cmd)?.[1]?.toUpperCase();
  if (hive)
    return {
      method: "registry-hive-save",
      marker: `HKLM\\${hive}`,
      techniques: ["T1003", hive === "SECURITY" ? "T1003.004" : "T1003.002"],
      title: (host) => `Registry hive HKLM\\${hive} saved to disk on ${host}`,
      summary: `reg.exe saved the HKLM\\${hive} hive to a file; with the SYSTEM hive's boot key, the SAM and SECURITY hives yield local account hashes and LSA secrets offline.`,
    };
  return null;
}

function detectCredentialDumping(p: ProcessRecord): Detection | null {
  const match = matchCredentialDumping(p);
  if (!match) return null;
  return {
    kind: "credential-dumping",
    sourceId: `credential-dumping:${p.resourceId}:${p.id}`,
    title: match.title(p.host),
    description: `${match.summary} It ran on ${p.host} as ${p.user}: ${clip(p.commandLine, 512)}`,
    severity: "HIGH",
    tactics: ["CredentialAccess"],
    techniques: match.techniques,
    entities: entities([
      { type: "HOST", value: p.host },
      { type: "ACCOUNT", value: p.user },
      { type: "PROCESS", value: p.image },
      p.sha256 ? { type: "FILE_HASH", value: p.sha256 } : null,
    ]),
    remediation: [
      `Isolate ${p.host} and investigate how ${p.user} came to run this command.`,
      "Treat every credential used on the machine since the compromise as stolen: reset the passwords of accounts that signed in there and rotate service-account and local administrator passwords (LAPS).",
      "If a domain account with privileges was exposed, reset the KRBTGT password twice and review recent sign-ins.",
      "Enable LSA protection (RunAsPPL) and Credential Guard, and block credential-stealing tools with attack surface reduction rules.",
    ],
    resourceId: p.resourceId,
    startTime: iso(ms(p.time)),
    endTime: iso(ms(p.time)),
    evidence: compact({
      recordId: p.id,
      method: match.method,
      marker: match.marker,
      image: p.image,
      commandLine: clip(p.commandLine),
      user: p.user,
      pid: p.pid,
      parentImage: p.parentImage,
      sha256: p.sha256,
      publisher: p.publisher,
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Brute force on management ports (T1110)
// ---------------------------------------------------------------------------------------------------------

type AttackEvent =
  | { t: number; srcIp: string; record: LogonRecord; flow?: never }
  | { t: number; srcIp: string; flow: FlowRecord; record?: never };

/** Index of the record that completes the first window of `threshold` events within `windowMs`, or -1. */
function firstDenseWindow(times: readonly number[], threshold: number, windowMs: number): number {
  for (let j = threshold - 1; j < times.length; j++)
    if (times[j] - times[j - threshold + 1] <= windowMs) return j;
  return -1;
}

function serviceLabel(failures: readonly LogonRecord[], flows: readonly FlowRecord[]): string {
  const votes = new Map<string, number>();
  const vote = (label: string) => votes.set(label, (votes.get(label) ?? 0) + 1);
  for (const f of failures)
    vote(f.logonType === "ssh" ? "SSH" : f.logonType === "remote_interactive" ? "RDP" : "network logon");
  for (const f of flows) vote(f.dstPort === 22 ? "SSH" : "RDP");
  return [...votes.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
}

function detectBruteForce(records: readonly TelemetryRecord[]): Detection[] {
  const attacks: Array<{ key: string; event: AttackEvent }> = [];
  const successes: LogonRecord[] = [];
  for (const r of records) {
    if (r.kind === "logon" && r.srcIp && BRUTE_FORCE.logonTypes.includes(r.logonType)) {
      if (r.success) successes.push(r);
      else
        attacks.push({
          key: `${r.resourceId}|${r.srcIp}`,
          event: { t: ms(r.time), srcIp: r.srcIp, record: r },
        });
    } else if (
      r.kind === "flow" &&
      r.direction === "inbound" &&
      r.protocol !== "ICMP" &&
      r.dstPort !== undefined &&
      BRUTE_FORCE.ports.includes(r.dstPort)
    )
      attacks.push({ key: `${r.resourceId}|${r.srcIp}`, event: { t: ms(r.time), srcIp: r.srcIp, flow: r } });
  }
  const successesBySource = groupBy(successes, (s) => `${s.resourceId}|${s.srcIp}`);
  const out: Detection[] = [];
  for (const [key, group] of groupBy(attacks, (a) => a.key)) {
    const events = group
      .map((a) => a.event)
      .sort((a, b) => a.t - b.t || ((a.record ?? a.flow).id < (b.record ?? b.flow).id ? -1 : 1));
    // Episodes: runs of attack events with no gap longer than the window.
    const episodes: AttackEvent[][] = [];
    for (const e of events) {
      const last = episodes.at(-1);
      if (last && e.t - last[last.length - 1].t <= BRUTE_FORCE.windowMs) last.push(e);
      else episodes.push([e]);
    }
    for (const episode of episodes) {
      const failures = episode.flatMap((e) => (e.record ? [e.record] : []));
      const flows = episode.flatMap((e) => (e.flow ? [e.flow] : []));
      const failureTimes = failures.map((f) => ms(f.time));
      const flowTimes = flows.map((f) => ms(f.time));
      const f = firstDenseWindow(failureTimes, BRUTE_FORCE.failedLogons, BRUTE_FORCE.windowMs);
      const n = firstDenseWindow(flowTimes, BRUTE_FORCE.inboundFlows, BRUTE_FORCE.windowMs);
      if (f < 0 && n < 0) continue;
      const windowStart = Math.min(
        f < 0 ? Infinity : failureTimes[f - BRUTE_FORCE.failedLogons + 1],
        n < 0 ? Infinity : flowTimes[n - BRUTE_FORCE.inboundFlows + 1],
      );
      const first = episode[0];
      const lastEvent = episode[episode.length - 1];
      const anchor = first.record ?? first.flow;
      const srcIp = first.srcIp;
      const success = (successesBySource.get(key) ?? [])
        .filter((s) => ms(s.time) >= first.t && ms(s.time) <= lastEvent.t + BRUTE_FORCE.windowMs)
        .sort(byTime)[0];
      const label = serviceLabel(failures, flows);
      const host = anchor.host;
      const users = uniq(failures.map((x) => x.user));
      const denied = flows.filter((x) => x.action === "denied").length;
      const logonBased = f >= 0;
      // Password spraying: many accounts, about one or two guesses each; otherwise password guessing.
      const spraying = users.length >= 5 && failures.length <= users.length * 2;
      const subTechnique = logonBased ? (spraying ? "T1110.003" : "T1110.001") : null;
      const end = Math.max(lastEvent.t, success ? ms(success.time) : 0);
      const minutes = Math.max(1, Math.round((lastEvent.t - first.t) / MINUTE));
      const activity = [
        failures.length
          ? `${plural(failures.length, "failed logon")} for ${plural(users.length, "user name")}`
          : "",
        flows.length
          ? `${plural(flows.length, "inbound connection")} to port ${uniq(flows.map((x) => x.dstPort)).join("/")}`
          : "",
      ]
        .filter(Boolean)
        .join(" and ");
      out.push({
        kind: "brute-force",
        sourceId: `brute-force:${anchor.resourceId}:${srcIp}:${iso(Math.floor(windowStart / BRUTE_FORCE.windowMs) * BRUTE_FORCE.windowMs)}`,
        title: success
          ? `Successful ${label} brute force attack on ${host}`
          : logonBased
            ? `Failed ${label} brute force attack on ${host}`
            : `Possible ${label} brute force attack on ${host}`,
        description:
          `${activity} came from ${srcIp} within ${plural(minutes, "minute")}.` +
          (success
            ? ` Then ${success.user} signed in successfully from the same address (${success.logonType}) at ${iso(ms(success.time))}: the account is probably compromised.`
            : logonBased
              ? " No successful logon from that address was observed."
              : ` No logon telemetry confirms the attempts${denied ? `; ${denied} of the connections were denied` : ""}.`),
        severity: success ? "HIGH" : "MEDIUM",
        tactics: success ? ["CredentialAccess", "InitialAccess"] : ["CredentialAccess"],
        techniques: ["T1110", ...(subTechnique ? [subTechnique] : []), ...(success ? ["T1078"] : [])],
        entities: entities([
          { type: "HOST", value: host },
          { type: "IP", value: srcIp },
          success ? { type: "ACCOUNT", value: success.user } : null,
        ]),
        remediation: [
          ...(success
            ? [
                `Treat ${host} as compromised: isolate it, end the sessions of ${success.user} and reset its credentials and SSH keys.`,
              ]
            : []),
          `Block ${srcIp} at the network security group, security group or firewall.`,
          `Close the management port to the internet: use just-in-time VM access or a bastion instead of exposing ${label === "SSH" ? "SSH (22)" : label === "RDP" ? "RDP (3389)" : "management ports"}.`,
          label === "SSH"
            ? "Disable password authentication for SSH and allow key-based sign-in only."
            : "Enforce strong passwords and account lockout, and require Network Level Authentication.",
        ],
        resourceId: anchor.resourceId,
        startTime: iso(first.t),
        endTime: iso(end),
        evidence: compact({
          sourceIp: srcIp,
          windowStart: iso(windowStart),
          failedLogons: failures.length,
          users: users.slice(0, MAX_LIST),
          distinctUsers: users.length,
          logonTypes: uniq(failures.map((x) => x.logonType)),
          failureReasons: uniq(failures.flatMap((x) => (x.failureReason ? [x.failureReason] : []))).slice(
            0,
            MAX_LIST,
          ),
          inboundFlows: flows.length,
          deniedFlows: denied,
          ports: uniq(flows.map((x) => x.dstPort)),
          successfulLogon: success
            ? { recordId: success.id, user: success.user, logonType: success.logonType, time: success.time }
            : null,
          recordIds: episode.map((e) => (e.record ?? e.flow).id).slice(0, MAX_RECORD_IDS),
        }),
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Application control (T1204)
// ---------------------------------------------------------------------------------------------------------

function detectAppControl(processes: readonly ProcessRecord[], ctx: DetectionContext): Detection[] {
  const cache = new Map<string, boolean | null>();
  const violations = processes.filter((p) => {
    const since = ctx.appControlSince?.(p.resourceId) ?? null;
    if (since !== null && ms(p.time) < since) return false;
    const key = `${p.resourceId}|${p.image}|${p.sha256 ?? ""}|${p.publisher ?? ""}`;
    if (!cache.has(key))
      cache.set(
        key,
        ctx.appControlAllows(p.resourceId, {
          path: p.image,
          ...(p.sha256 ? { sha256: p.sha256 } : {}),
          ...(p.publisher ? { publisher: p.publisher } : {}),
        }),
      );
    return cache.get(key) === false;
  });
  const groups = groupBy(
    violations,
    (p) => `${p.resourceId}|${normalizePath(p.image)}|${hourBucket(ms(p.time))}`,
  );
  return [...groups.values()].map((group) => {
    const runs = [...group].sort(byTime);
    const p = runs[0];
    const last = runs[runs.length - 1];
    const hour = hourBucket(ms(p.time));
    const users = uniq(runs.map((r) => r.user));
    const hashes = uniq(runs.flatMap((r) => (r.sha256 ? [r.sha256] : [])));
    return {
      kind: "app-control-violation",
      sourceId: `app-control:${p.resourceId}:${digest(normalizePath(p.image))}:${hour}`,
      title: `Executable not allowed by application control ran on ${p.host}`,
      description:
        `${p.image} is not allowed by the application control policy of ${p.host}, yet it ran ${plural(runs.length, "time")} ` +
        `as ${users.join(", ")}${p.publisher ? ` (signed by ${p.publisher})` : " (unsigned or unknown publisher)"}. ` +
        "Unexpected executables on a locked-down server are often dropped malware, coin miners or unapproved tools.",
      severity: "MEDIUM",
      tactics: ["Execution"],
      techniques: ["T1204"],
      entities: entities([
        { type: "HOST", value: p.host },
        ...users.map((u): DetectionEntity => ({ type: "ACCOUNT", value: u })),
        { type: "PROCESS", value: p.image },
        ...hashes.map((h): DetectionEntity => ({ type: "FILE_HASH", value: h })),
      ]),
      remediation: [
        `Find out how ${baseName(p.image)} got onto ${p.host} and who ran it; check the file's hash against threat intelligence.`,
        "If it is malicious, stop the process, delete the file and investigate the machine for persistence.",
        "If it is legitimate, add it to the application control group's allowlist by publisher or hash rather than by path.",
        "Move the group from audit to enforce mode once the allowlist is complete.",
      ],
      resourceId: p.resourceId,
      startTime: iso(ms(p.time)),
      endTime: iso(ms(last.time)),
      evidence: compact({
        image: p.image,
        sha256: hashes,
        publisher: p.publisher,
        executions: runs.length,
        users,
        commandLines: uniq(runs.map((r) => clip(r.commandLine, 1024))).slice(0, 5),
        parentImages: uniq(runs.flatMap((r) => (r.parentImage ? [r.parentImage] : []))).slice(0, 5),
        hour,
        recordIds: runs.map((r) => r.id).slice(0, MAX_RECORD_IDS),
      }),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Critical file changes (T1565; T1098 for authentication files)
// ---------------------------------------------------------------------------------------------------------

type FileClass = "accounts" | "sudoers" | "ssh-keys" | "hosts" | "other";

/** What a critical path is, from its normalised form. */
export function classifyCriticalFile(path: string): FileClass {
  const p = normalizePath(path);
  if (/^\/etc\/(?:passwd|shadow|gshadow|group)$/.test(p)) return "accounts";
  if (/^\/etc\/sudoers(?:$|\.d\/)/.test(p)) return "sudoers";
  if (/[/\\](?:administrators_)?authorized_keys2?$/.test(p)) return "ssh-keys";
  if (p === "/etc/hosts" || /^[a-z]:\\windows\\system32\\drivers\\etc\\hosts$/.test(p)) return "hosts";
  return "other";
}

const FILE_CLASS: Record<
  FileClass,
  { label: string; tactics: string[]; techniques: string[]; high: boolean }
> = {
  accounts: { label: "Account database", tactics: ["Persistence"], techniques: ["T1098"], high: true },
  sudoers: {
    label: "Sudo configuration",
    tactics: ["Persistence", "PrivilegeEscalation"],
    techniques: ["T1098", "T1548.003"],
    high: true,
  },
  "ssh-keys": {
    label: "SSH authorized keys",
    tactics: ["Persistence"],
    techniques: ["T1098", "T1098.004"],
    high: true,
  },
  // Not an account file, but redirecting names (update servers, identity providers) is as serious.
  hosts: { label: "Hosts file", tactics: ["Impact"], techniques: ["T1565", "T1565.001"], high: true },
  other: { label: "Critical file", tactics: ["Impact"], techniques: ["T1565", "T1565.001"], high: false },
};

function detectCriticalFiles(files: readonly FileRecord[], ctx: DetectionContext): Detection[] {
  const cache = new Map<string, boolean>();
  const critical = (resourceId: string, path: string): boolean => {
    const key = `${resourceId}|${path}`;
    if (!cache.has(key)) cache.set(key, ctx.isCriticalPath(resourceId, path));
    return cache.get(key) as boolean;
  };
  const hits = files.flatMap((f) => {
    // A rename away from a watched path counts as a change to that path.
    const watched = [f.path, ...(f.previousPath ? [f.previousPath] : [])].find((p) =>
      critical(f.resourceId, p),
    );
    return watched ? [{ f, watched }] : [];
  });
  const groups = groupBy(
    hits,
    ({ f, watched }) => `${f.resourceId}|${normalizePath(watched)}|${hourBucket(ms(f.time))}`,
  );
  return [...groups.values()].map((group) => {
    const changes = [...group].sort((a, b) => byTime(a.f, b.f));
    const { f, watched } = changes[0];
    const last = changes[changes.length - 1].f;
    const cls = classifyCriticalFile(watched);
    const meta = FILE_CLASS[cls];
    const actions = uniq(changes.map((c) => c.f.action));
    const verb = actions.length === 1 ? actions[0] : "changed";
    const users = uniq(changes.flatMap((c) => (c.f.user ? [c.f.user] : [])));
    const hashes = uniq(changes.flatMap((c) => (c.f.sha256 ? [c.f.sha256] : [])));
    const hour = hourBucket(ms(f.time));
    const shownPath = clip(watched, 200);
    return {
      kind: "critical-file-change",
      sourceId: `critical-file:${f.resourceId}:${digest(normalizePath(watched))}:${hour}`,
      title: `${meta.label} ${shownPath} ${verb} on ${f.host}`,
      description:
        `File integrity monitoring saw ${plural(changes.length, "change")} (${actions.join(", ")}) to ${watched} on ${f.host}` +
        `${users.length ? ` by ${users.join(", ")}` : ""}. ` +
        (cls === "accounts"
          ? "Changes to the account database can add users or backdoor existing ones."
          : cls === "sudoers"
            ? "Changes to sudo rules can grant an account root privileges."
            : cls === "ssh-keys"
              ? "A new authorized key gives its holder password-less SSH access that survives password resets."
              : cls === "hosts"
                ? "Hosts file entries override DNS and can redirect traffic to attacker-controlled servers."
                : "The path is on the machine's critical watch list; unexpected changes can mean tampering (for example a web skimmer injected into a web root)."),
      severity: meta.high ? "HIGH" : "MEDIUM",
      tactics: meta.tactics,
      techniques: meta.techniques,
      entities: entities([
        { type: "HOST", value: f.host },
        ...users.map((u): DetectionEntity => ({ type: "ACCOUNT", value: u })),
        ...hashes.map((h): DetectionEntity => ({ type: "FILE_HASH", value: h })),
      ]),
      remediation: [
        `Compare ${watched} with its last known-good version and confirm the change with the machine's owner or a change ticket.`,
        ...(cls === "accounts" || cls === "sudoers"
          ? ["Remove unknown accounts or sudo rules, and review logons of the accounts involved."]
          : cls === "ssh-keys"
            ? ["Remove keys you cannot attribute, and review recent SSH logons to the account."]
            : cls === "hosts"
              ? ["Remove entries that redirect well-known names, and flush the DNS cache."]
              : [
                  "Restore the file from a trusted source (redeploy) if the change was not part of a release.",
                ]),
        "If the change is not explained, investigate the machine for compromise.",
      ],
      resourceId: f.resourceId,
      startTime: iso(ms(f.time)),
      endTime: iso(ms(last.time)),
      evidence: compact({
        path: watched,
        fileClass: cls,
        changes: changes.slice(0, MAX_LIST).map(({ f: c }) => ({
          recordId: c.id,
          time: c.time,
          action: c.action,
          path: c.path,
          previousPath: c.previousPath,
          sha256: c.sha256,
          previousSha256: c.previousSha256,
          size: c.size,
          user: c.user,
        })),
        hour,
      }),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Traffic to a JIT-locked port (T1133)
// ---------------------------------------------------------------------------------------------------------

/** Ports that a successful remote logon implies. */
const LOGON_PORT: Partial<Record<LogonRecord["logonType"], number>> = { ssh: 22, remote_interactive: 3389 };

function detectJitBypass(records: readonly TelemetryRecord[], ctx: DetectionContext): Detection[] {
  // Per machine: when each `protocol/port` was locked. A record older than that (agents upload late, up
  // to the retention) is traffic from before the policy, not past it.
  const locked = new Map<string, Map<string, number>>();
  const isLocked = (resourceId: string, port: number, protocol: string, time: string): boolean => {
    let since = locked.get(resourceId);
    if (!since) {
      since = new Map(
        ctx.jitLockedPorts(resourceId).map((p) => [`${p.protocol}/${p.port}`, p.lockedSince ?? -Infinity]),
      );
      locked.set(resourceId, since);
    }
    const from = since.get(`${protocol}/${port}`);
    return from !== undefined && ms(time) >= from;
  };
  type Hit = { record: FlowRecord | LogonRecord; port: number; protocol: "TCP" | "UDP"; srcIp: string };
  const granted = (h: Hit): boolean =>
    h.srcIp !== "unknown" &&
    (ctx.jitGrantCovers?.(h.record.resourceId, {
      port: h.port,
      protocol: h.protocol,
      srcIp: h.srcIp,
      time: h.record.time,
    }) ??
      false);
  const hits: Hit[] = [];
  for (const r of records) {
    let hit: Hit | undefined;
    if (
      r.kind === "flow" &&
      r.direction === "inbound" &&
      r.action === "allowed" &&
      r.protocol !== "ICMP" &&
      r.dstPort !== undefined &&
      isLocked(r.resourceId, r.dstPort, r.protocol, r.time)
    )
      hit = { record: r, port: r.dstPort, protocol: r.protocol, srcIp: r.srcIp };
    else if (r.kind === "logon" && r.success) {
      const port = LOGON_PORT[r.logonType];
      if (port !== undefined && isLocked(r.resourceId, port, "TCP", r.time))
        hit = { record: r, port, protocol: "TCP", srcIp: r.srcIp ?? "unknown" };
    }
    if (hit && !granted(hit)) hits.push(hit);
  }
  const groups = groupBy(
    hits,
    (h) => `${h.record.resourceId}|${h.protocol}/${h.port}|${h.srcIp}|${hourBucket(ms(h.record.time))}`,
  );
  return [...groups.values()].map((group) => {
    const sorted = [...group].sort((a, b) => byTime(a.record, b.record));
    const { record: r, port, protocol, srcIp } = sorted[0];
    const last = sorted[sorted.length - 1].record;
    const flows = sorted.flatMap((h) => (h.record.kind === "flow" ? [h.record] : []));
    const logons = sorted.flatMap((h) => (h.record.kind === "logon" ? [h.record] : []));
    const users = uniq(logons.map((l) => l.user));
    const hour = hourBucket(ms(r.time));
    const fromText = srcIp === "unknown" ? "an unknown source" : srcIp;
    return {
      kind: "jit-port-access",
      sourceId: `jit-port:${r.resourceId}:${protocol}-${port}:${srcIp}:${hour}`,
      title: `Inbound traffic reached JIT-locked port ${port}/${protocol} on ${r.host}`,
      description:
        `Port ${port}/${protocol} on ${r.host} is protected by just-in-time access and should be closed unless a request is approved, ` +
        `yet ${[flows.length ? plural(flows.length, "allowed inbound flow") : "", logons.length ? plural(logons.length, "successful logon") : ""].filter(Boolean).join(" and ")} ` +
        `from ${fromText} reached it${users.length ? ` (signed in: ${users.join(", ")})` : ""}. ` +
        "A network rule outside JIT control (or a host firewall change) is probably exposing the port.",
      severity: "HIGH",
      tactics: ["InitialAccess"],
      techniques: ["T1133"],
      entities: entities([
        { type: "HOST", value: r.host },
        srcIp !== "unknown" ? { type: "IP", value: srcIp } : null,
        ...users.map((u): DetectionEntity => ({ type: "ACCOUNT", value: u })),
      ]),
      remediation: [
        `Find and remove the network security group, security group or firewall rule that opens ${port}/${protocol} outside JIT control.`,
        ...(srcIp !== "unknown"
          ? [`Check whether ${srcIp} is a known administrator address; if not, block it.`]
          : []),
        ...(users.length
          ? [
              `Review what ${users.join(", ")} did during the session and reset the credentials if the access was not expected.`,
            ]
          : []),
        "Request JIT access for legitimate administration instead of keeping the port open.",
      ],
      resourceId: r.resourceId,
      startTime: iso(ms(r.time)),
      endTime: iso(ms(last.time)),
      evidence: compact({
        port,
        protocol,
        sourceIp: srcIp,
        allowedFlows: flows.length,
        bytes: flows.reduce((sum, f) => sum + (f.bytes ?? 0), 0),
        logons: logons
          .slice(0, MAX_LIST)
          .map((l) => ({ recordId: l.id, user: l.user, logonType: l.logonType, time: l.time })),
        hour,
        recordIds: sorted.map((h) => h.record.id).slice(0, MAX_RECORD_IDS),
      }),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------------------

/**
 * Runs every detection over a batch of validated telemetry records (any order, any mix of machines) and
 * returns the alerts, sorted by start time then source id. Deterministic; duplicate records (same resource
 * id and record id) count once; `ctx` is asked at most once per distinct question.
 *
 * `history`: records stored before the batch that the windowed analytic (brute force) looks back at. Only
 * brute force sees them: every other analytic judged them when they arrived, with what was true then (a
 * JIT grant that has since ended, for instance), and must not judge them again.
 */
export function detect(
  records: readonly TelemetryRecord[],
  ctx: DetectionContext,
  history: readonly TelemetryRecord[] = [],
): Detection[] {
  const seen = new Set<string>();
  const keyed: Array<{ r: TelemetryRecord; t: number; fresh: boolean }> = [];
  for (const r of records) {
    const key = `${r.resourceId}|${r.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    keyed.push({ r, t: ms(r.time), fresh: true });
  }
  for (const r of history) {
    const key = `${r.resourceId}|${r.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    keyed.push({ r, t: ms(r.time), fresh: false });
  }
  // byTime's order, with each time parsed once (a batch holds tens of thousands of records).
  keyed.sort((a, b) => a.t - b.t || (a.r.id < b.r.id ? -1 : a.r.id > b.r.id ? 1 : 0));
  const unique = keyed.map((k) => k.r);
  const fresh = history.length ? keyed.filter((k) => k.fresh).map((k) => k.r) : unique;
  const processes = fresh.filter((r): r is ProcessRecord => r.kind === "process");
  const files = fresh.filter((r): r is FileRecord => r.kind === "file");
  const detections: Detection[] = [
    ...processes.flatMap((p) =>
      [detectEncodedPowerShell(p), detectCredentialDumping(p)].filter((d) => d !== null),
    ),
    ...detectBruteForce(unique),
    ...detectAppControl(processes, ctx),
    ...detectCriticalFiles(files, ctx),
    ...detectJitBypass(fresh, ctx),
  ];
  return detections.sort((a, b) =>
    a.startTime < b.startTime
      ? -1
      : a.startTime > b.startTime
        ? 1
        : a.sourceId < b.sourceId
          ? -1
          : a.sourceId > b.sourceId
            ? 1
            : 0,
  );
}
