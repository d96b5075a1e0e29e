import { Plans1764300000000 } from "./1764300000000-plans";
import { Vulnerabilities1764900000000 } from "./1764900000000-vulnerabilities";
import { OutboxPosition1764950000000 } from "./1764950000000-outbox-position";
import { Telemetry1765000000000 } from "./1765000000000-telemetry";
import { Jit1765100000000 } from "./1765100000000-jit";
import { AppControlFim1765200000000 } from "./1765200000000-appcontrol-fim";
import { TelemetryOneIndex1765400000000 } from "./1765400000000-telemetry-one-index";
import { VulnerabilityMatching1765500000000 } from "./1765500000000-vulnerability-matching";
import { VulnerabilityMatchStatus1765600000000 } from "./1765600000000-vulnerability-match-status";
import { JitAuditResource1765900000000 } from "./1765900000000-jit-audit-resource";
import { FimBaselineKey1766000000000 } from "./1766000000000-fim-baseline-key";
import { AppControlAppliedSince1766620000000 } from "./1766620000000-appcontrol-applied-since";
import { OutboxRebases1766930000000 } from "./1766930000000-outbox-rebases";
import { OutboxIdentity1767000000000 } from "./1767000000000-outbox-identity";
import { VulnerabilityFindingsTenant1767100000000 } from "./1767100000000-vulnerability-findings-tenant";
import { AppControlRevokeManual1767110000000 } from "./1767110000000-appcontrol-revoke-manual";
import { ProtectionAuditRead1767200000000 } from "./1767200000000-audit-read";
import { AgentCredentialPolicy1767260000000 } from "./1767260000000-agent-credential-policy";
import { OutboxBody1767390000000 } from "./1767390000000-outbox-body";
import { DetectionsByAlert1767400000000 } from "./1767400000000-detections-by-alert";
import { JitPolicyAccount1767410000000 } from "./1767410000000-jit-policy-account";
import { ResourceAccounts1767430000000 } from "./1767430000000-resource-accounts";
import { RemovedAccounts1767440000000 } from "./1767440000000-removed-accounts";

/** Protection's migrations, oldest first. */
export const protectionMigrations = [
  Plans1764300000000,
  Vulnerabilities1764900000000,
  OutboxPosition1764950000000,
  Telemetry1765000000000,
  Jit1765100000000,
  AppControlFim1765200000000,
  TelemetryOneIndex1765400000000,
  VulnerabilityMatching1765500000000,
  VulnerabilityMatchStatus1765600000000,
  JitAuditResource1765900000000,
  FimBaselineKey1766000000000,
  AppControlAppliedSince1766620000000,
  OutboxRebases1766930000000,
  OutboxIdentity1767000000000,
  VulnerabilityFindingsTenant1767100000000,
  AppControlRevokeManual1767110000000,
  ProtectionAuditRead1767200000000,
  AgentCredentialPolicy1767260000000,
  OutboxBody1767390000000,
  DetectionsByAlert1767400000000,
  JitPolicyAccount1767410000000,
  ResourceAccounts1767430000000,
  RemovedAccounts1767440000000,
];
