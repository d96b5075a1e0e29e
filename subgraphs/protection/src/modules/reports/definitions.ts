/*
 * What workload protection reports to posture: one external assessment type per definition key, counted
 * toward one of posture's built-in security controls (`subgraphs/posture/data/benchmark/v1/controls.yaml`).
 * Posture takes title, severity, control and remediation from the reported records
 * (`upsertAssessments`), so these texts are what users see as the recommendation.
 */

/** The reports, by short name. */
export const REPORT_KINDS = ["vulnerabilities", "system-updates", "management-ports", "app-control"] as const;

/** A report's short name. */
export type ReportKind = (typeof REPORT_KINDS)[number];

/** Status of an assessment, as posture's `AssessmentStatus`. */
export type ReportStatus = "HEALTHY" | "UNHEALTHY" | "NOT_APPLICABLE";

/** How one report appears in posture. */
export interface ReportDefinition {
  /** posture's `definitionKey`. */
  key: string;
  title: string;
  description: string;
  severity: "HIGH" | "MEDIUM" | "LOW";
  /** posture's security control id. */
  controlId: string;
  remediation: string[];
}

/** The definitions, by report kind. */
export const REPORT_DEFINITIONS: Record<ReportKind, ReportDefinition> = {
  vulnerabilities: {
    key: "protection/vulnerabilities",
    title: "Machines should have vulnerability findings resolved",
    description:
      "Workload protection matched the packages installed on the machine against vulnerability advisories (OSV) and found open vulnerabilities. Unpatched vulnerabilities are the most common way attackers get in and move laterally.",
    severity: "HIGH",
    controlId: "remediate-vulnerabilities",
    remediation: [
      "Open the machine's vulnerability findings (Resource.vulnerabilities) and start with CRITICAL and HIGH ones.",
      "Upgrade each vulnerable package to its fixed version, or remove it if it is not needed.",
      "Send a new package inventory: fixed findings close automatically and this assessment turns healthy.",
    ],
  },
  "system-updates": {
    key: "protection/system-updates",
    title: "System updates should be installed on your machines",
    description:
      "Security updates are available for operating-system packages installed on the machine (Debian, Alpine or RPM-based). Missing system updates leave known, fixed vulnerabilities open.",
    severity: "HIGH",
    controlId: "apply-system-updates",
    remediation: [
      "Install the pending security updates with the system's package manager (apt-get upgrade, apk upgrade, dnf update).",
      "Restart the services (or the machine) that use the updated libraries.",
      "Automate security updates (unattended-upgrades, dnf-automatic) so they do not wait for a person.",
    ],
  },
  "management-ports": {
    key: "protection/management-ports",
    title:
      "Management ports of virtual machines should be protected with just-in-time network access control",
    description:
      "Internet traffic reached the machine's SSH (22) or RDP (3389) port, and no just-in-time policy locks it. Exposed management ports are scanned and brute-forced within minutes.",
    severity: "HIGH",
    controlId: "secure-management-ports",
    remediation: [
      "Set a just-in-time policy on the machine covering its management ports (setJitPolicy): they stay locked except for approved, time-bound requests.",
      "Remove network security group rules that allow SSH or RDP from the internet; use a bastion host or a VPN instead.",
    ],
  },
  "app-control": {
    key: "protection/app-control",
    title: "Adaptive application controls for defining safe applications should be enabled on your machines",
    description:
      "Workload protection learned which applications the machine and similar machines run and recommends an allow list, but it is not applied. An allow list in audit or enforce mode reveals (or blocks) malware and unwanted software.",
    severity: "HIGH",
    controlId: "apply-adaptive-application-control",
    remediation: [
      "Review the recommended rules of the machine's application-control group (appControlGroups) and approve the ones to allow (approveAppControlRules).",
      "Set the group's mode to AUDIT (setAppControlMode): executions outside the allow list raise alerts.",
      "Once no unexpected alerts appear, switch the group to ENFORCE.",
    ],
  },
};

/** Outbox topic: a report changed (its current row in `posture_reports` is to be delivered). */
export const POSTURE_ASSESSMENT_TOPIC = "posture.assessment";

/** The payload of a `posture.assessment` event. */
export interface PostureAssessmentPayload {
  resourceId: string;
  definitionKey: string;
  version: number;
  status: ReportStatus;
}
