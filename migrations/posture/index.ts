import { Inventory1764300000000 } from "./1764300000000-inventory";
import { Assessments1764400000000 } from "./1764400000000-assessments";
import { ResourceExternalIdLower1764800000000 } from "./1764800000000-resource-external-id-lower";
import { OutboxPosition1764950000000 } from "./1764950000000-outbox-position";
import { ResourceExternalIdKey1765900000000 } from "./1765900000000-resource-external-id-key";
import { PostureMillisecondSortTimes1766000000000 } from "./1766000000000-millisecond-sort-times";
import { AssessmentRawCause1766510000000 } from "./1766510000000-assessment-raw-cause";
import { ExemptionResourceGroup1766800000000 } from "./1766800000000-exemption-resource-group";
import { OutboxRebases1766930000000 } from "./1766930000000-outbox-rebases";
import { OutboxIdentity1767000000000 } from "./1767000000000-outbox-identity";
import { PostureRelayOffsets1767100000000 } from "./1767100000000-relay-offsets";
import { PostureAuditRead1767200000000 } from "./1767200000000-audit-read";
import { BuiltInEvaluations1767210000000 } from "./1767210000000-built-in-evaluations";
import { ResourceNetworkPlacementKeys1767280000000 } from "./1767280000000-resource-network-placement-keys";
import { ResourceNetworkReverseKeys1767290000000 } from "./1767290000000-resource-network-reverse-keys";
import { ResourceNetworkReferenceKeys1767320000000 } from "./1767320000000-resource-network-reference-keys";
import { DefinitionCounters1767360000000 } from "./1767360000000-definition-counters";
import { InventoryVersions1767370000000 } from "./1767370000000-inventory-versions";
import { AssessmentChanges1767380000000 } from "./1767380000000-assessment-changes";
import { ExemptionsPage1767420000000 } from "./1767420000000-exemptions-page";

/** Posture's migrations, oldest first. */
export const postureMigrations = [
  Inventory1764300000000,
  Assessments1764400000000,
  ResourceExternalIdLower1764800000000,
  OutboxPosition1764950000000,
  ResourceExternalIdKey1765900000000,
  PostureMillisecondSortTimes1766000000000,
  AssessmentRawCause1766510000000,
  ExemptionResourceGroup1766800000000,
  OutboxRebases1766930000000,
  OutboxIdentity1767000000000,
  PostureRelayOffsets1767100000000,
  PostureAuditRead1767200000000,
  BuiltInEvaluations1767210000000,
  ResourceNetworkPlacementKeys1767280000000,
  ResourceNetworkReverseKeys1767290000000,
  ResourceNetworkReferenceKeys1767320000000,
  DefinitionCounters1767360000000,
  InventoryVersions1767370000000,
  AssessmentChanges1767380000000,
  ExemptionsPage1767420000000,
];
