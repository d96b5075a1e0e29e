/*
 * Agent telemetry: the records a workload-protection agent sends for a machine, one JSON object per NDJSON
 * line, discriminated by `kind` (process executions, file changes, installed-package snapshots, network
 * flows and logons). This module only validates and types them; it has no I/O.
 *
 * Validation is strict about values (UUIDs, ISO 8601 times with a zone, IP addresses, absolute paths,
 * SHA-256 digests, bounded lengths) and tolerant about shape: properties it does not know are dropped, so
 * a newer agent that adds a field is not rejected by an older platform.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { jsonProblem, plainJsonText, utf8LongerThan } from "../../../../common/src/validation";
import { normalizeIp } from "../../../../common/src/ip";
import {
  TELEMETRY_PATTERNS as PATTERNS,
  TELEMETRY_VALUES as VALUES,
  wellFormedChecker,
} from "./telemetry.fast";

/** Size limits of telemetry records. */
export const TELEMETRY_LIMITS = {
  /** Record id (agents use event record ids or UUIDs). */
  id: 200,
  /** Host name as the machine reports it. */
  host: 253,
  /** File-system paths (Linux PATH_MAX). */
  path: 4096,
  /** Command lines (the Windows command-line limit). */
  commandLine: 32_768,
  /** User and account names, e.g. `CONTOSO\\megan.bowen`. */
  user: 256,
  /** Code-signing subjects. */
  publisher: 1024,
  /** Packages in one snapshot. */
  packages: 20_000,
  /** Package names and versions. */
  packageField: 256,
  /** Free-text reasons (e.g. a logon failure reason). */
  text: 512,
  /** One NDJSON line (a full package snapshot fits comfortably). */
  lineBytes: 8 * 1024 * 1024,
} as const;

/** Record kinds, in documentation order. */
export const TELEMETRY_KINDS = ["process", "file", "packages", "flow", "logon"] as const;

/** Kind of a telemetry record. */
export type TelemetryKind = (typeof TELEMETRY_KINDS)[number];

const boundedText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !PATTERNS.controlChars.test(s), "must not contain control characters");

/** A machine's id, in its canonical (lower-case) form: one machine written two ways is still one machine. */
const uuid = z
  .string()
  .regex(PATTERNS.uuid, "must be a UUID")
  .transform((s) => s.toLowerCase());

const isoTime = z.iso
  .datetime({
    offset: true,
    error: (issue) =>
      issue.code === "invalid_format" ? "must be an ISO 8601 date-time with a time zone" : undefined,
  })
  .refine((t) => PATTERNS.zone.test(t), "must have a time zone offset between -15:59 and +15:59");

const recordId = z
  .string()
  .min(1)
  .max(TELEMETRY_LIMITS.id)
  .regex(PATTERNS.recordId, "must be printable ASCII without spaces");

const hostName = z.string().min(1).max(TELEMETRY_LIMITS.host).regex(PATTERNS.hostName, "must be a host name");

const absolutePath = z
  .string()
  .min(1)
  .max(TELEMETRY_LIMITS.path)
  .refine((p) => !p.includes("\u0000"), "must not contain NUL characters")
  .refine((p) => PATTERNS.absolutePath.test(p), "must be an absolute path");

const sha256 = z
  .string()
  .regex(PATTERNS.sha256, "must be a SHA-256 digest (64 hex digits)")
  .transform((s) => s.toLowerCase());

/**
 * An IPv4 or IPv6 address, kept in its canonical form (`normalizeIp`: IPv6 in RFC 5952 form, an IPv4-mapped
 * address as the IPv4 one): records are compared with JIT grants, flows and brute-force sources as text, and the
 * same address written two ways would be two sources.
 */
const ipAddress = z
  .string()
  .refine((s) => isIP(s) !== 0, "must be an IPv4 or IPv6 address")
  .transform((s) => normalizeIp(s) ?? s);

const port = z.number().int().min(0).max(65_535);

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const processId = z.number().int().min(0).max(4_294_967_295);

const base = {
  /** Record id, unique per machine; re-sent records with the same id are duplicates. */
  id: recordId,
  /** Rampart Resource id (UUID) of the machine. */
  resourceId: uuid,
  /** When the activity happened (ISO 8601 with a time zone). */
  time: isoTime,
  /** Host name the machine reports. */
  host: hostName,
};

/** A process execution (Sysmon event 1, auditd execve, EDR process creation). */
export const processRecordSchema = z.object({
  kind: z.literal("process"),
  ...base,
  pid: processId,
  parentPid: processId.optional(),
  /** Full path of the executable. */
  image: absolutePath,
  commandLine: z.string().max(TELEMETRY_LIMITS.commandLine),
  user: boundedText(TELEMETRY_LIMITS.user),
  sha256: sha256.optional(),
  /** Code-signing subject of the executable, e.g. `Microsoft Windows`. */
  publisher: boundedText(TELEMETRY_LIMITS.publisher).optional(),
  parentImage: absolutePath.optional(),
});

/** A file change seen by file-integrity monitoring. */
export const fileRecordSchema = z
  .object({
    kind: z.literal("file"),
    ...base,
    action: z.enum(VALUES.fileAction),
    path: absolutePath,
    /** For `renamed`: the path before the rename (an extension of the agent contract; optional). */
    previousPath: absolutePath.optional(),
    sha256: sha256.optional(),
    previousSha256: sha256.optional(),
    size: count.optional(),
    user: boundedText(TELEMETRY_LIMITS.user).optional(),
  })
  .superRefine((record, ctx) => {
    if (record.previousPath !== undefined && record.action !== "renamed")
      ctx.addIssue({
        code: "custom",
        path: ["previousPath"],
        message: "only allowed when action is renamed",
      });
  });

/** One installed package. */
export const installedPackageSchema = z.object({
  /** OSV ecosystem of the package. */
  ecosystem: z.enum(VALUES.ecosystem),
  name: boundedText(TELEMETRY_LIMITS.packageField),
  version: boundedText(TELEMETRY_LIMITS.packageField),
});

/** A full snapshot of the packages installed on a machine (OS packages and application dependencies). */
export const packagesRecordSchema = z.object({
  kind: z.literal("packages"),
  ...base,
  os: z.object({
    family: z.enum(VALUES.osFamily),
    /** The release (`12.4`, `3.19.1`, `9.4`): Debian and RPM hosts match advisories of its major, Alpine of major.minor. */
    version: boundedText(64),
    /**
     * Optional distribution name, free text (`AlmaLinux`, `Rocky Linux`, `Red Hat`): RPM hosts then match
     * only that distribution's advisories (of their major release); without it, those of every RPM
     * distribution for their major release.
     */
    distribution: boundedText(64).optional(),
  }),
  packages: z.array(installedPackageSchema).max(TELEMETRY_LIMITS.packages),
});

/** A network flow summary (NSG/VPC flow log style) as seen from the machine. */
export const flowRecordSchema = z
  .object({
    kind: z.literal("flow"),
    ...base,
    direction: z.enum(VALUES.direction),
    protocol: z.enum(VALUES.protocol),
    srcIp: ipAddress,
    srcPort: port.optional(),
    dstIp: ipAddress,
    dstPort: port.optional(),
    bytes: count.optional(),
    packets: count.optional(),
    action: z.enum(VALUES.flowAction),
  })
  .superRefine((record, ctx) => {
    if (record.protocol !== "ICMP") return;
    for (const key of ["srcPort", "dstPort"] as const)
      if (record[key] !== undefined)
        ctx.addIssue({ code: "custom", path: [key], message: "not applicable to ICMP" });
  });

/** A logon attempt (Windows 4624/4625, sshd auth log). */
export const logonRecordSchema = z
  .object({
    kind: z.literal("logon"),
    ...base,
    user: boundedText(TELEMETRY_LIMITS.user),
    logonType: z.enum(VALUES.logonType),
    srcIp: ipAddress.optional(),
    success: z.boolean(),
    failureReason: boundedText(TELEMETRY_LIMITS.text).optional(),
  })
  .superRefine((record, ctx) => {
    if (record.success && record.failureReason !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["failureReason"],
        message: "only allowed when success is false",
      });
  });

/** Any telemetry record, discriminated by `kind`. */
export const telemetryRecordSchema = z.discriminatedUnion("kind", [
  processRecordSchema,
  fileRecordSchema,
  packagesRecordSchema,
  flowRecordSchema,
  logonRecordSchema,
]);

/** A process execution. */
export type ProcessRecord = z.output<typeof processRecordSchema>;
/** A file change. */
export type FileRecord = z.output<typeof fileRecordSchema>;
/** A package of a snapshot. */
export type InstalledPackage = z.output<typeof installedPackageSchema>;
/** A snapshot of installed packages. */
export type PackagesRecord = z.output<typeof packagesRecordSchema>;
/** A network flow. */
export type FlowRecord = z.output<typeof flowRecordSchema>;
/** A logon attempt. */
export type LogonRecord = z.output<typeof logonRecordSchema>;
/** Any validated telemetry record. */
export type TelemetryRecord = z.output<typeof telemetryRecordSchema>;

/** The outcome of validating one record: the record, or why it was rejected. */
export type TelemetryParseResult = { record: TelemetryRecord } | { reason: string };

/** Accepts well-formed activity records without zod (telemetry.fast.ts); undefined sends a record to zod. */
const acceptWellFormed = wellFormedChecker(TELEMETRY_LIMITS);

/** At most this many issues are named in a rejection reason. */
const MAX_REASONS = 3;

function describe(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "array";
  return typeof input;
}

type Issue = Parameters<z.core.$ZodErrorMap>[0];

/** Short, field-oriented messages (the path is prepended by `formatPath`). */
function messageFor(issue: Issue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "required";
      if (issue.expected === "int") return "must be an integer";
      return `expected ${issue.expected}, got ${describe(issue.input)}`;
    case "too_big": {
      const max = Number(issue.maximum).toLocaleString("en-US");
      if (issue.origin === "string") return `at most ${max} characters`;
      if (issue.origin === "array") return `at most ${max} items`;
      return `must be at most ${max}`;
    }
    case "too_small": {
      const min = Number(issue.minimum);
      if (issue.origin === "string") return min === 1 ? "must not be empty" : `at least ${min} characters`;
      if (issue.origin === "array") return `at least ${min} items`;
      return `must be at least ${min}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map(String).join(", ")}`;
    case "invalid_union":
      if (issue.path?.at(-1) === "kind" || (issue as { discriminator?: string }).discriminator === "kind") {
        const given = (issue.input as { kind?: unknown } | undefined)?.kind;
        return `${given === undefined ? "required, " : ""}must be one of ${TELEMETRY_KINDS.join(", ")}`;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** `packages[3].version`: keys joined with dots, array indexes in brackets. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || "record";
}

/**
 * Why a valid record cannot be stored, or null: a string Postgres cannot hold (a NUL, or an unpaired surrogate
 * that jsonb refuses and text would silently replace). `text` is the record's JSON as received, when there is
 * one, and almost every line is ruled out by it (`plainJsonText`) without walking its record.
 */
function storageProblem(record: TelemetryRecord, text: string | undefined): string | null {
  if (text !== undefined && plainJsonText(text)) return null;
  const problem = jsonProblem(record);
  return problem && `${problem.path || "record"}: ${problem.message}`;
}

/**
 * Validates one telemetry record (one parsed NDJSON line, whose text is `text`). Never throws: returns the
 * typed record (unknown properties dropped, machine ids and hashes lower-cased) or a reason naming the faulty
 * field, e.g. `packages[3].version: required` (up to three faults, separated by `; `).
 */
export function parseTelemetryRecord(value: unknown, text?: string): TelemetryParseResult {
  try {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      return { reason: `record: expected object, got ${describe(value)}` };
    // Refuse oversized snapshots before validating every package in them.
    const packages = (value as { packages?: unknown }).packages;
    if (Array.isArray(packages) && packages.length > TELEMETRY_LIMITS.packages)
      return { reason: `packages: at most ${TELEMETRY_LIMITS.packages.toLocaleString("en-US")} items` };
    const wellFormed = acceptWellFormed(value as Record<string, unknown>);
    const result = wellFormed
      ? { success: true as const, data: wellFormed }
      : telemetryRecordSchema.safeParse(value, { error: messageFor });
    if (result.success) {
      const unstorable = storageProblem(result.data, text);
      return unstorable ? { reason: unstorable } : { record: result.data };
    }
    // One fault per field: the first check that failed.
    const byPath = new Map<string, string>();
    for (const issue of result.error.issues) {
      const path = formatPath(issue.path);
      if (!byPath.has(path)) byPath.set(path, `${path}: ${issue.message}`);
    }
    const issues = [...byPath.values()];
    const reasons = issues.slice(0, MAX_REASONS);
    if (issues.length > MAX_REASONS) reasons.push(`and ${issues.length - MAX_REASONS} more`);
    return { reason: reasons.join("; ") };
  } catch (error) {
    // Hostile input (throwing getters, proxies) must not escape as an exception.
    return { reason: `record: unreadable (${error instanceof Error ? error.message : String(error)})` };
  }
}

/** One line of an NDJSON batch: its 1-based line number and the record or the reason it was rejected. */
export type TelemetryLine = { line: number } & TelemetryParseResult;

/**
 * Splits an NDJSON batch into lines and validates each (blank lines are skipped). Never throws; a line
 * that is not JSON is rejected with `line: invalid JSON (…)`.
 */
export function parseTelemetryNdjson(text: string): TelemetryLine[] {
  const out: TelemetryLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (!raw) continue;
    const line = i + 1;
    if (utf8LongerThan(raw, TELEMETRY_LIMITS.lineBytes)) {
      out.push({ line, reason: `line: longer than ${TELEMETRY_LIMITS.lineBytes} bytes` });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      out.push({ line, reason: `line: invalid JSON (${(error as Error).message})` });
      continue;
    }
    out.push({ line, ...parseTelemetryRecord(value, raw) });
  }
  return out;
}
