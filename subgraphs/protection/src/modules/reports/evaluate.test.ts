import { REPORT_DEFINITIONS, REPORT_KINDS } from "./definitions";
import {
  appControlReport,
  managementPortsReport,
  systemUpdatesReport,
  vulnerabilitiesReport,
  type OpenFinding,
} from "./evaluate";

const finding = (patch: Partial<OpenFinding>): OpenFinding => ({
  advisoryId: "DSA-1",
  cve: null,
  ecosystem: "Debian",
  package: "openssl",
  installedVersion: "3.0.11-1~deb12u1",
  fixedVersion: "3.0.13-1~deb12u1",
  severity: "HIGH",
  ...patch,
});

describe("reports to posture", () => {
  it("count toward posture's built-in controls", () => {
    expect(REPORT_KINDS.map((k) => [REPORT_DEFINITIONS[k].key, REPORT_DEFINITIONS[k].controlId])).toEqual([
      ["protection/vulnerabilities", "remediate-vulnerabilities"],
      ["protection/system-updates", "apply-system-updates"],
      ["protection/management-ports", "secure-management-ports"],
      ["protection/app-control", "apply-adaptive-application-control"],
    ]);
  });

  it("vulnerabilities: unhealthy with the findings listed by severity; healthy with none; not reported without inventory", () => {
    expect(vulnerabilitiesReport(null, [])).toBeNull();
    expect(vulnerabilitiesReport({ family: "debian" }, [])).toEqual({
      status: "HEALTHY",
      cause: "No open vulnerabilities in the installed packages.",
    });
    expect(
      vulnerabilitiesReport({ family: "debian" }, [
        finding({ advisoryId: "DSA-2", package: "libssl3", severity: "MEDIUM" }),
        finding({ advisoryId: "DSA-1", cve: "CVE-2024-5535", severity: "CRITICAL" }),
        finding({
          advisoryId: "GHSA-x",
          ecosystem: "npm",
          package: "lodash",
          installedVersion: "4.17.20",
          severity: "HIGH",
        }),
      ]),
    ).toEqual({
      status: "UNHEALTHY",
      cause:
        "3 open vulnerabilities (1 critical, 1 high, 1 medium) in 3 packages: CVE-2024-5535 (openssl 3.0.11-1~deb12u1), GHSA-x (lodash 4.17.20), DSA-2 (libssl3 3.0.11-1~deb12u1)",
    });
  });

  it("system updates: OS packages with a fixed version, the newest fix per package", () => {
    expect(systemUpdatesReport({ family: "windows" }, [finding({})])).toBeNull();
    expect(
      systemUpdatesReport({ family: "debian" }, [
        finding({ advisoryId: "DSA-1", fixedVersion: "3.0.13-1~deb12u1" }),
        finding({ advisoryId: "DSA-2", fixedVersion: "3.0.14-1~deb12u1" }),
        finding({ ecosystem: "npm", package: "lodash" }),
        finding({ package: "zlib", fixedVersion: null }),
      ]),
    ).toEqual({
      status: "UNHEALTHY",
      cause: "1 security update missing: openssl 3.0.11-1~deb12u1 → 3.0.14-1~deb12u1",
    });
    expect(systemUpdatesReport({ family: "alpine" }, [finding({})])).toMatchObject({ status: "HEALTHY" });
  });

  it("management ports: unhealthy while internet traffic reaches a port no JIT policy locks", () => {
    const ssh = { port: 22, firstSeen: new Date("2026-11-27T06:12:00Z") };
    expect(managementPortsReport([], null)).toBeNull();
    expect(managementPortsReport([ssh], null)).toEqual({
      status: "UNHEALTHY",
      cause:
        "internet traffic reached SSH (22/TCP) since 2026-11-27T06:12:00.000Z; no just-in-time policy locks it.",
    });
    expect(managementPortsReport([ssh], [{ number: 3389, protocol: "TCP" }])).toMatchObject({
      status: "UNHEALTHY",
    });
    expect(managementPortsReport([ssh], [{ number: 22, protocol: "UDP" }])).toMatchObject({
      status: "UNHEALTHY",
    });
    expect(managementPortsReport([ssh], [{ number: 22, protocol: "ANY" }])).toEqual({
      status: "HEALTHY",
      cause: "Just-in-time access locks SSH (22/TCP), which internet traffic reached.",
    });
    expect(managementPortsReport([], [{ number: 3389, protocol: "TCP" }])).toEqual({
      status: "HEALTHY",
      cause: "Just-in-time access locks RDP (3389/TCP).",
    });
    expect(managementPortsReport([], [{ number: 443, protocol: "TCP" }])).toBeNull();
  });

  it("management ports: a JIT policy that is not enforced locks nothing", () => {
    const ssh = { port: 22, firstSeen: new Date("2026-11-27T06:12:00Z") };
    const rdp = [{ number: 3389, protocol: "TCP" }];
    expect(managementPortsReport([], rdp, false)).toEqual({
      status: "UNHEALTHY",
      cause:
        "The just-in-time policy for RDP (3389/TCP) is not enforced: the SERVERS plan of the machine's account is not on the STANDARD tier, so the agent locks no port.",
    });
    expect(managementPortsReport([ssh], [{ number: 22, protocol: "ANY" }], false)).toEqual({
      status: "UNHEALTHY",
      cause:
        "internet traffic reached SSH (22/TCP) since 2026-11-27T06:12:00.000Z; the just-in-time policy for SSH (22/TCP) is not enforced: the SERVERS plan of the machine's account is not on the STANDARD tier, so the agent locks no port.",
    });
    expect(managementPortsReport([], [{ number: 443, protocol: "TCP" }], false)).toBeNull();
    expect(managementPortsReport([], rdp, true)).toMatchObject({ status: "HEALTHY" });
  });

  it("application control: unhealthy until the group's allow list is applied on a covered machine", () => {
    expect(appControlReport(null)).toBeNull();
    const group = { name: "web-1, web-2", mode: "NONE", covered: true, approved: 0, recommended: 7 };
    expect(appControlReport(group)).toEqual({
      status: "UNHEALTHY",
      cause: 'Group "web-1, web-2" has 7 recommended rules but no allow list in AUDIT or ENFORCE mode.',
    });
    // Not applied and not covered: the missing allow list is the first thing to fix.
    expect(appControlReport({ ...group, covered: false })).toEqual(appControlReport(group));
    const web = { name: "web", mode: "AUDIT", covered: true, approved: 1, recommended: 6 };
    expect(appControlReport(web)).toEqual({
      status: "HEALTHY",
      cause: 'Group "web" applies an allow list of 1 approved rule in AUDIT mode.',
    });
    // Applied, but the agent of an uncovered machine never receives the list.
    for (const mode of ["AUDIT", "ENFORCE"])
      expect(appControlReport({ ...web, mode, covered: false })).toEqual({
        status: "UNHEALTHY",
        cause: `Group "web" has an allow list in ${mode} mode, but the SERVERS plan of the machine's account is not on the STANDARD tier, so its agent receives no allow list to apply.`,
      });
  });
});
