/*
 * The fast acceptance path of telemetry validation. Nearly every record an agent sends is well formed, and
 * running it through zod's discriminated union costs more than everything else the protection service does
 * per record (bench/README.md, telemetry); a package snapshot's hundreds of packages cost zod ~10 µs each.
 * `wellFormedChecker` checks every kind directly, with the same rules and the same patterns as the zod
 * schemas in telemetry.model.ts, and builds the same output.
 * It may only say "valid, here is the record" or "not sure": anything it does not accept goes to zod, which
 * decides and explains. So it can never reject a good record or word an error differently; the one risk is
 * accepting what zod would refuse, which telemetry.fast.test.ts checks against zod over generated records
 * and every single-field corruption of them.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { normalizeIp } from "../../../../common/src/ip";
import type { TelemetryRecord } from "./telemetry.model";

/** Patterns shared with the zod schemas (telemetry.model.ts), so both paths test the same thing. */
export const TELEMETRY_PATTERNS = {
  controlChars: /[\u0000-\u001f\u007f]/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  recordId: /^[\x21-\x7e]+$/,
  hostName: /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/,
  /** Absolute POSIX path, Windows drive path (`C:\`) or UNC/device path (`\\server\share`, `\\?\C:\`). */
  absolutePath: /^(?:\/|[A-Za-z]:[\\/]|\\\\)/,
  sha256: /^[0-9a-f]{64}$/i,
  /** A time's zone: `Z`, or an offset Postgres can read back (it refuses offsets beyond ±15:59). */
  zone: /(?:Z|[+-](?:0\d|1[0-5]):[0-5]\d)$/,
} as const;

/** Allowed values of the enumerated fields, shared with the zod schemas (telemetry.model.ts). */
export const TELEMETRY_VALUES = {
  fileAction: ["created", "modified", "deleted", "renamed"],
  direction: ["inbound", "outbound"],
  protocol: ["TCP", "UDP", "ICMP"],
  flowAction: ["allowed", "denied"],
  logonType: ["interactive", "remote_interactive", "network", "service", "ssh"],
  osFamily: ["debian", "alpine", "rhel", "windows"],
  ecosystem: ["npm", "PyPI", "Debian", "Alpine", "RPM", "Maven", "Go", "crates.io"],
} as const;

/** Whether `v` is one of `values`. */
const oneOf = (values: readonly string[], v: unknown): v is string =>
  typeof v === "string" && values.includes(v);

/** The pattern `z.iso.datetime({ offset: true })` applies (an ISO 8601 date-time with a zone). */
const DATETIME = z.core.regexes.datetime({ offset: true });

/** Size limits the fast path needs (the same values as `TELEMETRY_LIMITS`, which imports none of this). */
export interface FastLimits {
  id: number;
  host: number;
  path: number;
  commandLine: number;
  user: number;
  publisher: number;
  text: number;
  packageField: number;
  packages: number;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const P = TELEMETRY_PATTERNS;
const V = TELEMETRY_VALUES;
const MAX_PID = 4_294_967_295;

const isText = (v: unknown, max: number): v is string =>
  typeof v === "string" && v.length >= 1 && v.length <= max && !P.controlChars.test(v);

const isInt = (v: unknown, max: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;

const isIp = (v: unknown): v is string => typeof v === "string" && isIP(v) !== 0;

const isSha256 = (v: unknown): v is string => typeof v === "string" && P.sha256.test(v);

/**
 * Copies the optional fields that are present and valid into `out`; false when one is present but invalid.
 * Absent (undefined) optional fields stay absent, as zod leaves them.
 */
function optional(
  value: Json,
  out: Json,
  checks: Record<string, (v: unknown) => boolean>,
  transform?: Record<string, (v: string) => string>,
): boolean {
  for (const key in checks) {
    const v = value[key];
    if (v === undefined) continue;
    if (!checks[key](v)) return false;
    out[key] = transform?.[key] ? transform[key](v as string) : v;
  }
  return true;
}

/** Builds the well-formed-record checker for the given limits. */
export function wellFormedChecker(limits: FastLimits): (value: Json) => TelemetryRecord | undefined {
  const isPath = (v: unknown): v is string =>
    typeof v === "string" &&
    v.length >= 1 &&
    v.length <= limits.path &&
    !v.includes("\u0000") &&
    P.absolutePath.test(v);
  const lower = { sha256: (s: string) => s.toLowerCase(), previousSha256: (s: string) => s.toLowerCase() };

  /** The fields every record has, in schema order; undefined unless all are valid. */
  function base(value: Json, kind: string): Json | undefined {
    const { id, resourceId, time, host } = value;
    if (typeof id !== "string" || id.length < 1 || id.length > limits.id || !P.recordId.test(id))
      return undefined;
    if (typeof resourceId !== "string" || !P.uuid.test(resourceId)) return undefined;
    if (typeof time !== "string" || !DATETIME.test(time)) return undefined;
    if (time.charCodeAt(time.length - 1) !== 90 /* Z */ && !P.zone.test(time)) return undefined;
    if (typeof host !== "string" || host.length < 1 || host.length > limits.host || !P.hostName.test(host))
      return undefined;
    // One machine, one id: the canonical (lower-case) form, as Postgres answers it.
    return { kind, id, resourceId: resourceId.toLowerCase(), time, host };
  }

  function processRecord(value: Json): Json | undefined {
    const out = base(value, "process");
    if (!out || !isInt(value.pid, MAX_PID)) return undefined;
    out.pid = value.pid;
    if (!optional(value, out, { parentPid: (v) => isInt(v, MAX_PID) })) return undefined;
    if (!isPath(value.image)) return undefined;
    out.image = value.image;
    const { commandLine } = value;
    if (typeof commandLine !== "string" || commandLine.length > limits.commandLine) return undefined;
    out.commandLine = commandLine;
    if (!isText(value.user, limits.user)) return undefined;
    out.user = value.user;
    const ok = optional(
      value,
      out,
      {
        sha256: isSha256,
        publisher: (v) => isText(v, limits.publisher),
        parentImage: isPath,
      },
      lower,
    );
    return ok ? out : undefined;
  }

  function fileRecord(value: Json): Json | undefined {
    const out = base(value, "file");
    const { action } = value;
    if (!out || !oneOf(V.fileAction, action)) return undefined;
    out.action = action;
    if (!isPath(value.path)) return undefined;
    out.path = value.path;
    const ok = optional(
      value,
      out,
      {
        previousPath: isPath,
        sha256: isSha256,
        previousSha256: isSha256,
        size: (v) => isInt(v, Number.MAX_SAFE_INTEGER),
        user: (v) => isText(v, limits.user),
      },
      lower,
    );
    // A previous path belongs to a rename only (zod says so with a message).
    if (!ok || (out.previousPath !== undefined && action !== "renamed")) return undefined;
    return out;
  }

  function flowRecord(value: Json): Json | undefined {
    const out = base(value, "flow");
    const { direction, protocol, action } = value;
    if (!out || !oneOf(V.direction, direction)) return undefined;
    out.direction = direction;
    if (!oneOf(V.protocol, protocol)) return undefined;
    out.protocol = protocol;
    if (!isIp(value.srcIp)) return undefined;
    out.srcIp = normalizeIp(value.srcIp) ?? value.srcIp;
    if (!optional(value, out, { srcPort: (v) => isInt(v, 65_535) })) return undefined;
    if (!isIp(value.dstIp)) return undefined;
    out.dstIp = normalizeIp(value.dstIp) ?? value.dstIp;
    const counter = (v: unknown) => isInt(v, Number.MAX_SAFE_INTEGER);
    if (!optional(value, out, { dstPort: (v) => isInt(v, 65_535), bytes: counter, packets: counter }))
      return undefined;
    if (!oneOf(V.flowAction, action)) return undefined;
    out.action = action;
    // Ports do not apply to ICMP (zod says so with a message).
    if (protocol === "ICMP" && (out.srcPort !== undefined || out.dstPort !== undefined)) return undefined;
    return out;
  }

  function logonRecord(value: Json): Json | undefined {
    const out = base(value, "logon");
    if (!out || !isText(value.user, limits.user)) return undefined;
    out.user = value.user;
    const { logonType, success } = value;
    if (!oneOf(V.logonType, logonType)) return undefined;
    out.logonType = logonType;
    if (!optional(value, out, { srcIp: isIp })) return undefined;
    if (typeof out.srcIp === "string") out.srcIp = normalizeIp(out.srcIp) ?? out.srcIp;
    if (typeof success !== "boolean") return undefined;
    out.success = success;
    if (!optional(value, out, { failureReason: (v) => isText(v, limits.text) })) return undefined;
    // A failure reason belongs to a failed logon only (zod says so with a message).
    if (success && out.failureReason !== undefined) return undefined;
    return out;
  }

  function packagesRecord(value: Json): Json | undefined {
    const out = base(value, "packages");
    const { os, packages } = value;
    if (!out || !isObject(os)) return undefined;
    const { family, version, distribution } = os;
    if (!oneOf(V.osFamily, family)) return undefined;
    if (!isText(version, 64)) return undefined;
    const system: Json = { family, version };
    if (distribution !== undefined) {
      if (!isText(distribution, 64)) return undefined;
      system.distribution = distribution;
    }
    out.os = system;
    if (!Array.isArray(packages) || packages.length > limits.packages) return undefined;
    const list: Json[] = new Array<Json>(packages.length);
    for (let i = 0; i < packages.length; i++) {
      const p: unknown = packages[i];
      if (!isObject(p)) return undefined;
      const { ecosystem, name, version: v } = p;
      if (!oneOf(V.ecosystem, ecosystem)) return undefined;
      if (!isText(name, limits.packageField) || !isText(v, limits.packageField)) return undefined;
      list[i] = { ecosystem, name, version: v };
    }
    out.packages = list;
    return out;
  }

  return (value) => {
    let out: Json | undefined;
    switch (value.kind) {
      case "process":
        out = processRecord(value);
        break;
      case "file":
        out = fileRecord(value);
        break;
      case "flow":
        out = flowRecord(value);
        break;
      case "logon":
        out = logonRecord(value);
        break;
      case "packages":
        out = packagesRecord(value);
        break;
      default:
        // Unknown kinds: zod says which are known.
        return undefined;
    }
    return out as TelemetryRecord | undefined;
  };
}
