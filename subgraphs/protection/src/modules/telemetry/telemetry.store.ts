/*
 * How telemetry records are stored in `telemetry` (one day-partitioned table for every kind): the typed
 * columns the analyses filter on, the rest of the record in `details`, and the way back to a record.
 */
import { DayPartitions, type CopyColumn } from "../../../../common/src";
import type { TelemetryKind, TelemetryRecord } from "./telemetry.model";

/** The daily partitions of `telemetry` (`telemetry_pYYYYMMDD`). */
export const telemetryPartitions = new DayPartitions("protection", "telemetry");

/** The columns the ingest COPYs, in order, with their Postgres types (the COPY is binary). */
export const TELEMETRY_SCHEMA = [
  { name: "tenant_id", type: "text" },
  { name: "resource_id", type: "uuid" },
  { name: "record_id", type: "text" },
  { name: "time", type: "timestamptz" },
  { name: "kind", type: "text" },
  { name: "host", type: "text" },
  { name: "user_name", type: "text" },
  { name: "path", type: "text" },
  { name: "sha256", type: "text" },
  { name: "publisher", type: "text" },
  { name: "action", type: "text" },
  { name: "direction", type: "text" },
  { name: "protocol", type: "text" },
  { name: "src_ip", type: "inet" },
  { name: "src_port", type: "int4" },
  { name: "dst_ip", type: "inet" },
  { name: "dst_port", type: "int4" },
  { name: "success", type: "bool" },
  { name: "details", type: "jsonb" },
] as const satisfies readonly CopyColumn[];

/** The stored columns of `telemetry`, in the order the ingest COPYs them. */
export const TELEMETRY_COLUMNS = TELEMETRY_SCHEMA.map((c) => c.name);

/** Typed columns of one record (absent ones are NULL); `details` holds the other fields. */
type Typed = Partial<{
  user_name: string;
  path: string;
  sha256: string;
  publisher: string;
  action: string;
  direction: string;
  protocol: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  success: boolean;
  details: Record<string, unknown>;
}>;

function typedColumns(r: TelemetryRecord): Typed {
  switch (r.kind) {
    case "process":
      return {
        user_name: r.user,
        path: r.image,
        sha256: r.sha256,
        publisher: r.publisher,
        details: {
          pid: r.pid,
          parentPid: r.parentPid,
          commandLine: r.commandLine,
          parentImage: r.parentImage,
        },
      };
    case "file":
      return {
        user_name: r.user,
        path: r.path,
        sha256: r.sha256,
        action: r.action,
        details: { previousPath: r.previousPath, previousSha256: r.previousSha256, size: r.size },
      };
    case "packages":
      // The package list itself goes to the vulnerability assessment's snapshot of the machine.
      return { details: { os: r.os, packageCount: r.packages.length } };
    case "flow":
      return {
        action: r.action,
        direction: r.direction,
        protocol: r.protocol,
        src_ip: r.srcIp,
        src_port: r.srcPort,
        dst_ip: r.dstIp,
        dst_port: r.dstPort,
        details: { bytes: r.bytes, packets: r.packets },
      };
    case "logon":
      return {
        user_name: r.user,
        src_ip: r.srcIp,
        success: r.success,
        details: { logonType: r.logonType, failureReason: r.failureReason },
      };
  }
}

/** One COPY row of `telemetry` for a record (values in `TELEMETRY_COLUMNS` order). */
export function telemetryRow(tenantId: string, r: TelemetryRecord): unknown[] {
  const t = typedColumns(r);
  return [
    tenantId,
    r.resourceId,
    r.id,
    r.time,
    r.kind,
    r.host,
    t.user_name,
    t.path,
    t.sha256,
    t.publisher,
    t.action,
    t.direction,
    t.protocol,
    t.src_ip,
    t.src_port,
    t.dst_ip,
    t.dst_port,
    t.success,
    // jsonb: undefined fields vanish in JSON.stringify.
    JSON.stringify(t.details ?? {}),
  ];
}

/** A stored `telemetry` row as pg returns it. */
export interface TelemetryRow {
  resource_id: string;
  record_id: string;
  time: Date | string;
  kind: TelemetryKind;
  host: string;
  user_name: string | null;
  path: string | null;
  sha256: string | null;
  publisher: string | null;
  action: string | null;
  direction: string | null;
  protocol: string | null;
  src_ip: string | null;
  src_port: number | null;
  dst_ip: string | null;
  dst_port: number | null;
  success: boolean | null;
  details: Record<string, unknown>;
}

/** Drops null and undefined properties (optional record fields are absent, never null). */
function present(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null && v !== undefined));
}

/**
 * The record a stored row came from (for `packages`, without the package list). Detections read
 * stored telemetry back through this, e.g. the earlier part of a brute-force attack.
 */
export function recordFromRow(row: TelemetryRow): TelemetryRecord {
  const base = {
    id: row.record_id,
    resourceId: row.resource_id,
    time: new Date(row.time).toISOString(),
    host: row.host,
  };
  const d = row.details ?? {};
  switch (row.kind) {
    case "process":
      return present({
        kind: "process",
        ...base,
        user: row.user_name,
        image: row.path,
        sha256: row.sha256,
        publisher: row.publisher,
        ...d,
      }) as TelemetryRecord;
    case "file":
      return present({
        kind: "file",
        ...base,
        user: row.user_name,
        path: row.path,
        sha256: row.sha256,
        action: row.action,
        ...d,
      }) as TelemetryRecord;
    case "packages":
      return { kind: "packages", ...base, os: d.os, packages: [] } as TelemetryRecord;
    case "flow":
      return present({
        kind: "flow",
        ...base,
        action: row.action,
        direction: row.direction,
        protocol: row.protocol,
        srcIp: row.src_ip,
        srcPort: row.src_port,
        dstIp: row.dst_ip,
        dstPort: row.dst_port,
        ...d,
      }) as TelemetryRecord;
    case "logon":
      return present({
        kind: "logon",
        ...base,
        user: row.user_name,
        srcIp: row.src_ip,
        success: row.success,
        ...d,
      }) as TelemetryRecord;
  }
}
