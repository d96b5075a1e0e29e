import { OrderDirection, RecordRejection } from "../../../../common/src";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";

/** Severity of a vulnerability (from its CVSS score or the advisory's wording). */
export enum VulnerabilitySeverity {
  CRITICAL = "CRITICAL",
  HIGH = "HIGH",
  MEDIUM = "MEDIUM",
  LOW = "LOW",
  UNKNOWN = "UNKNOWN",
}

/** Whether a finding still applies. */
export enum FindingStatus {
  OPEN = "OPEN",
  FIXED = "FIXED",
}

registerEnumType(VulnerabilitySeverity, {
  name: "VulnerabilitySeverity",
  description: "CRITICAL (CVSS ≥ 9), HIGH (≥ 7), MEDIUM (≥ 4), LOW, or UNKNOWN.",
});
registerEnumType(FindingStatus, {
  name: "FindingStatus",
  description: "OPEN, or FIXED once a newer package inventory no longer matches.",
});

/** A vulnerable package on a machine. */
@ObjectType({ description: "A vulnerable package installed on a machine, from an OSV advisory." })
export class VulnerabilityFinding {
  @Field(() => ID, { description: "Id of the finding." })
  id: string;

  @Field(() => ID, { description: "Id of the machine (inventory resource) the package is installed on." })
  resourceId: string;

  @Field({
    description:
      "The advisory (OSV id, e.g. DSA-…, GHSA-…). A vulnerability published under several ids is shown once, " +
      "under the advisory of the group with the highest score (the others in `aliases`); when another advisory " +
      "of the group takes that place, the finding keeps its id and first-seen time and shows the new advisory.",
  })
  advisoryId: string;

  @Field(() => String, {
    nullable: true,
    description: "The CVE, when the advisory has one among its id and aliases.",
  })
  cve: string | null;

  @Field(() => [String], { description: "Aliases of the advisory (CVE, GHSA…)." })
  aliases: string[];

  @Field(() => String, { nullable: true, description: "Summary of the advisory." })
  summary: string | null;

  @Field(() => Float, { nullable: true, description: "CVSS base score." })
  cvssScore: number | null;

  @Field(() => VulnerabilitySeverity, { description: "Severity." })
  severity: VulnerabilitySeverity;

  @Field({ description: "Ecosystem of the package (npm, PyPI, Maven, Go, crates.io, Debian, Alpine, RPM)." })
  ecosystem: string;

  @Field({ description: "The package." })
  package: string;

  @Field({ description: "The installed version." })
  installedVersion: string;

  @Field(() => String, { nullable: true, description: "The lowest version that fixes it, when known." })
  fixedVersion: string | null;

  @Field(() => FindingStatus, { description: "OPEN or FIXED." })
  status: FindingStatus;

  @Field({ description: "When the package was first seen vulnerable." })
  firstSeen: Date;

  @Field({ description: "When a package inventory last showed it." })
  lastSeen: Date;

  @Field(() => Date, { nullable: true, description: "When a newer inventory no longer matched." })
  fixedAt: Date | null;
}

/** Open findings of a resource by severity. */
@ObjectType({ description: "Open vulnerability findings of a resource by severity." })
export class VulnerabilitySummary {
  @Field({
    description: "False when workload protection does not cover the resource (findings are then not shown).",
  })
  covered: boolean;

  @Field(() => Int, { description: "Open CRITICAL findings." })
  critical: number;

  @Field(() => Int, { description: "Open HIGH findings." })
  high: number;

  @Field(() => Int, { description: "Open MEDIUM findings." })
  medium: number;

  @Field(() => Int, { description: "Open LOW findings." })
  low: number;

  @Field(() => Int, { description: "Open findings of unknown severity." })
  unknown: number;

  @Field(() => Int, { description: "All open findings." })
  total: number;
}

/** Filter over findings. */
@InputType({ description: "Filters vulnerability findings." })
export class VulnerabilityFilter {
  @Field(() => [VulnerabilitySeverity], { nullable: true, description: "Only these severities." })
  severities?: VulnerabilitySeverity[] | null;

  @Field(() => FindingStatus, {
    nullable: true,
    defaultValue: FindingStatus.OPEN,
    description: "Only this status (default OPEN).",
  })
  status?: FindingStatus | null;
}

/** What an advisory import did. */
@ObjectType({ description: "The outcome of importing OSV advisories: good ones stored, bad ones reported." })
export class ImportAdvisoriesPayload {
  @Field(() => Int, { description: "Advisories stored (new or newer)." })
  importedCount: number;

  @Field(() => Int, { description: "Advisories already stored with the same or a newer `modified`." })
  unchangedCount: number;

  @Field(() => [RecordRejection], { description: "Rejected advisories (index, field path, reason)." })
  rejected: RecordRejection[];

  @Field(() => Int, {
    description:
      "The tenant's advisory revision after this call (it moves with every call that stores something). Every machine's findings reflect this import once `vulnerabilityMatching.matchedRevision` reaches it.",
  })
  advisoryRevision: number;
}

/** How far the fleet re-match has come. */
@ObjectType({
  description:
    "Whether every machine's findings reflect the tenant's current advisories. Each advisory import that stores something moves `advisoryRevision` and queues a re-match of the whole fleet; when a run completes, `matchedRevision` catches up.",
})
export class VulnerabilityMatchingStatus {
  @Field(() => Int, { description: "Revision of the tenant's advisories (0 before the first import)." })
  advisoryRevision: number;

  @Field(() => Int, { description: "The revision the last complete fleet re-match used (0 before any)." })
  matchedRevision: number;

  @Field({ description: "Whether the last complete re-match used the current advisories." })
  upToDate: boolean;

  @Field(() => Date, { nullable: true, description: "When the last complete fleet re-match finished." })
  matchedAt: Date | null;
}

/** What a package-inventory ingest did. */
@ObjectType({ description: "The outcome of reporting package inventories." })
export class IngestPackagesPayload {
  @Field(() => Int, { description: "Snapshots stored." })
  acceptedCount: number;

  @Field(() => Int, { description: "Snapshots older than the stored one for the machine, ignored." })
  staleCount: number;

  @Field(() => Int, { description: "Findings opened by these snapshots." })
  openedCount: number;

  @Field(() => Int, { description: "Findings fixed by these snapshots." })
  fixedCount: number;

  @Field(() => [RecordRejection], { description: "Rejected records (index, field, reason)." })
  rejected: RecordRejection[];
}

/** Filter of the tenant-wide findings list. */
@InputType({ description: "Filters the tenant's vulnerability findings (every condition given must hold)." })
export class VulnerabilityFindingFilter {
  @Field(() => [String], {
    nullable: true,
    description: "Only findings of these CVEs (`CVE-2024-3094`; case ignored; at most 100).",
  })
  cves?: string[] | null;

  @Field(() => [VulnerabilitySeverity], { nullable: true, description: "Only these severities." })
  severities?: VulnerabilitySeverity[] | null;

  @Field(() => FindingStatus, {
    nullable: true,
    defaultValue: FindingStatus.OPEN,
    description: "Only this status (default OPEN; `null` for both).",
  })
  status?: FindingStatus | null;

  @Field(() => [ID], { nullable: true, description: "Only findings on these machines (at most 100)." })
  resourceIds?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description: "Only findings of these packages (exact names; at most 100).",
  })
  packages?: string[] | null;
}

/** Fields the tenant-wide findings list can be ordered by. */
export enum VulnerabilityFindingOrderField {
  SEVERITY = "SEVERITY",
  CVSS_SCORE = "CVSS_SCORE",
  FIRST_SEEN = "FIRST_SEEN",
  LAST_SEEN = "LAST_SEEN",
}

registerEnumType(VulnerabilityFindingOrderField, {
  name: "VulnerabilityFindingOrderField",
  description:
    "SEVERITY (CRITICAL > HIGH > MEDIUM > LOW > UNKNOWN), CVSS_SCORE (findings without a score last in DESC), FIRST_SEEN, LAST_SEEN; ties by finding id.",
});

/** Ordering of the tenant-wide findings list. */
@InputType({ description: "Ordering of a vulnerability finding list." })
export class VulnerabilityFindingOrder {
  @Field(() => VulnerabilityFindingOrderField, { description: "The field to order by." })
  field: VulnerabilityFindingOrderField;

  @Field(() => OrderDirection, {
    defaultValue: OrderDirection.DESC,
    description: "Direction (default DESC).",
  })
  direction: OrderDirection;
}

/** Exposure of the tenant to one CVE. */
@ObjectType({ description: "How far one CVE reaches into the tenant's machines." })
export class VulnerabilityExposure {
  @Field({ description: "The CVE, upper case." })
  cve: string;

  @Field(() => Int, { description: "Machines with at least one OPEN finding of the CVE." })
  affectedMachineCount: number;

  @Field(() => Int, {
    description: "OPEN findings of the CVE (a machine may have several vulnerable packages).",
  })
  openFindingCount: number;

  @Field(() => Int, { description: "FIXED findings of the CVE." })
  fixedFindingCount: number;

  @Field(() => Float, { nullable: true, description: "The highest CVSS base score among its open findings." })
  highestCvssScore: number | null;

  @Field(() => VulnerabilitySeverity, {
    nullable: true,
    description: "The highest severity among its open findings; null when none is open.",
  })
  severity: VulnerabilitySeverity | null;

  @Field(() => Date, { nullable: true, description: "When the first of its open findings was first seen." })
  firstSeen: Date | null;
}
