/*
 * The status of each report for one machine, from what protection knows about it. Pure functions; the
 * causes are stable texts (no counters that move with every batch of telemetry), so a report changes — and
 * is sent to posture again — only when its status or its reason changes.
 */
import { compareVersions, type Ecosystem } from "../vulnerabilities/versions";
import type { ReportStatus } from "./definitions";

/** A report's desired state; null: not reported for the machine. */
export type Report = { status: ReportStatus; cause: string | null } | null;

/** An open vulnerability finding, as the reports need it. */
export interface OpenFinding {
  advisoryId: string;
  cve: string | null;
  ecosystem: string;
  package: string;
  installedVersion: string;
  fixedVersion: string | null;
  severity: string;
}

/** The machine's package snapshot: only its operating-system family matters here. */
export interface SnapshotInfo {
  family: string;
}

/** The package ecosystem of each operating-system family's package manager. */
const OS_ECOSYSTEM: Record<string, Ecosystem | undefined> = {
  debian: "Debian",
  alpine: "Alpine",
  rhel: "RPM",
};
const SEVERITY_ORDER = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];
const LISTED = 5;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `a, b, c and 2 more`. */
function listed(items: string[]): string {
  const shown = items.slice(0, LISTED).join(", ");
  return items.length > LISTED ? `${shown} and ${items.length - LISTED} more` : shown;
}

/** "Machines should have vulnerability findings resolved": any open finding makes the machine unhealthy. */
export function vulnerabilitiesReport(
  snapshot: SnapshotInfo | null,
  findings: readonly OpenFinding[],
): Report {
  if (!snapshot) return null;
  if (findings.length === 0)
    return { status: "HEALTHY", cause: "No open vulnerabilities in the installed packages." };
  const bySeverity = SEVERITY_ORDER.map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s.toLowerCase()}`);
  const sorted = [...findings].sort(
    (a, b) =>
      SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
      (a.advisoryId < b.advisoryId ? -1 : a.advisoryId > b.advisoryId ? 1 : 0) ||
      (a.package < b.package ? -1 : 1),
  );
  const packages = new Set(findings.map((f) => `${f.ecosystem}/${f.package}`)).size;
  return {
    status: "UNHEALTHY",
    cause:
      `${plural(findings.length, "open vulnerability", "open vulnerabilities")} (${bySeverity.join(", ")}) in ${plural(packages, "package")}: ` +
      listed(sorted.map((f) => `${f.cve ?? f.advisoryId} (${f.package} ${f.installedVersion})`)),
  };
}

/**
 * "System updates should be installed": unhealthy when an operating-system package has an open finding
 * that a newer version fixes. Reported for Debian, Alpine and RPM-based machines (their package managers
 * are what the agent inventories).
 */
export function systemUpdatesReport(snapshot: SnapshotInfo | null, findings: readonly OpenFinding[]): Report {
  const ecosystem = snapshot ? OS_ECOSYSTEM[snapshot.family] : undefined;
  if (!ecosystem) return null;
  const fixable = new Map<string, { installed: string; fixed: string }>();
  for (const f of findings) {
    if (f.ecosystem !== ecosystem || !f.fixedVersion) continue;
    const kept = fixable.get(f.package);
    if (!kept || compareVersions(ecosystem, f.fixedVersion, kept.fixed) > 0)
      fixable.set(f.package, { installed: f.installedVersion, fixed: f.fixedVersion });
  }
  if (fixable.size === 0)
    return { status: "HEALTHY", cause: "No security updates are pending for operating-system packages." };
  const updates = [...fixable.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([pkg, v]) => `${pkg} ${v.installed} → ${v.fixed}`);
  return {
    status: "UNHEALTHY",
    cause: `${plural(fixable.size, "security update")} missing: ${listed(updates)}`,
  };
}

/** Management ports the report covers, with their service names. */
export const MANAGEMENT_PORTS: Readonly<Record<number, string>> = { 22: "SSH", 3389: "RDP" };

/** Internet traffic seen reaching a management port of the machine. */
export interface PortExposure {
  port: number;
  firstSeen: Date;
}

/** A port of the machine's JIT policy. */
export interface JitPortInfo {
  number: number;
  protocol: string;
}

const label = (port: number) => `${MANAGEMENT_PORTS[port] ?? "port"} (${port}/TCP)`;

/**
 * "Management ports should be protected with just-in-time network access control". Protection cannot
 * see the network security group rules from a relay (they are posture's), so the evidence that a port is
 * open to the internet is traffic: allowed inbound flows from internet addresses to 22 or 3389. Unhealthy
 * while such a port is not locked by the machine's JIT policy (TCP or ANY); healthy when every exposed port
 * is, or when the policy locks a management port and no exposure was seen; not reported otherwise. A policy
 * that is not enforced (`enforced` false: its account's SERVERS plan is not on STANDARD, so the agent locks
 * nothing) locks no port: unhealthy when it names a management port or a port is exposed, saying why.
 */
export function managementPortsReport(
  exposure: readonly PortExposure[],
  jit: readonly JitPortInfo[] | null,
  enforced = true,
): Report {
  // The ports the policy names for TCP (what SSH and RDP use), and the management ports among them.
  const locked = new Set(
    (jit ?? []).filter((p) => p.protocol === "TCP" || p.protocol === "ANY").map((p) => p.number),
  );
  const lockedManagement = Object.keys(MANAGEMENT_PORTS)
    .map(Number)
    .filter((p) => locked.has(p));
  const exposed = [...exposure].sort((a, b) => a.port - b.port);
  const reached = (list: readonly PortExposure[]) =>
    list
      .map((e) => `internet traffic reached ${label(e.port)} since ${e.firstSeen.toISOString()}`)
      .join("; ");
  if (jit && !enforced) {
    if (!exposed.length && !lockedManagement.length) return null;
    const named = lockedManagement.length ? ` for ${lockedManagement.map(label).join(" and ")}` : "";
    return {
      status: "UNHEALTHY",
      cause:
        (exposed.length ? `${reached(exposed)}; the` : "The") +
        ` just-in-time policy${named} is not enforced: ` +
        "the SERVERS plan of the machine's account is not on the STANDARD tier, so the agent locks no port.",
    };
  }
  const open = exposed.filter((e) => !locked.has(e.port));
  if (open.length)
    return {
      status: "UNHEALTHY",
      cause:
        reached(open) +
        (jit ? "; the just-in-time policy does not lock it" : "; no just-in-time policy locks it") +
        ".",
    };
  if (exposed.length)
    return {
      status: "HEALTHY",
      cause: `Just-in-time access locks ${exposed.map((e) => label(e.port)).join(" and ")}, which internet traffic reached.`,
    };
  if (lockedManagement.length)
    return {
      status: "HEALTHY",
      cause: `Just-in-time access locks ${lockedManagement.map(label).join(" and ")}.`,
    };
  return null;
}

/** The machine's application-control group, as the report needs it. */
export interface GroupInfo {
  name: string;
  mode: string;
  /** Whether the machine's SERVERS plan is on STANDARD: only then does its agent receive the allow list. */
  covered: boolean;
  approved: number;
  recommended: number;
}

/** Why an applied allow list does not protect a machine that no plan covers: for report causes. */
export const APP_CONTROL_NOT_COVERED_REASON =
  "the SERVERS plan of the machine's account is not on the STANDARD tier, so its agent receives no allow list to apply";

/**
 * "Adaptive application controls should be enabled": machines of a learned group are unhealthy until the
 * group's allow list is applied (AUDIT or ENFORCE) on a machine that workload protection covers (its agent
 * applies the list only then); machines in no group are not reported.
 */
export function appControlReport(group: GroupInfo | null): Report {
  if (!group) return null;
  if (group.mode === "AUDIT" || group.mode === "ENFORCE")
    return group.covered
      ? {
          status: "HEALTHY",
          cause: `Group "${group.name}" applies an allow list of ${plural(group.approved, "approved rule")} in ${group.mode} mode.`,
        }
      : {
          status: "UNHEALTHY",
          cause: `Group "${group.name}" has an allow list in ${group.mode} mode, but ${APP_CONTROL_NOT_COVERED_REASON}.`,
        };
  return {
    status: "UNHEALTHY",
    cause: `Group "${group.name}" has ${plural(group.recommended + group.approved, "recommended rule")} but no allow list in AUDIT or ENFORCE mode.`,
  };
}
