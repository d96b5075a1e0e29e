import { JSONScalar, MachineBound, PageArgs, Role } from "../../../../common/src";
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  Directive,
  FieldResolver,
  Mutation,
  Query,
  Resolver,
  Root,
  UseMiddleware,
} from "type-graphql";
import type { ProtectionContext } from "../../context";
import { shallowJsonItems } from "../../json-arguments";
import { ResourceRef } from "../../references";
import { VulnerabilityFindingConnection } from "./vulnerabilities.service";
import {
  ImportAdvisoriesPayload,
  IngestPackagesPayload,
  VulnerabilityExposure,
  VulnerabilityFilter,
  VulnerabilityFinding,
  VulnerabilityFindingFilter,
  VulnerabilityFindingOrder,
  VulnerabilityMatchingStatus,
  VulnerabilitySummary,
} from "./vulnerabilities.types";

@Resolver(() => ResourceRef)
export class VulnerabilitiesResolver {
  @Authorized(Role.INGESTOR, Role.ADMIN)
  @UseMiddleware(shallowJsonItems("osv"))
  @Mutation(() => ImportAdvisoriesPayload, {
    description:
      "Imports OSV advisories (npm, PyPI, Maven, Go, crates.io, Debian, Alpine, RPM-based ecosystems; INGESTOR or ADMIN, as every feed; ≤ 1,000 per call), idempotent on id and `modified`. Every machine's packages are then re-matched by a background job a few seconds later (the calls of one feed share one run).",
  })
  importAdvisories(
    @Arg("osv", () => [JSONScalar], { description: "OSV advisories as published." }) osv: unknown[],
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.vulnerabilities.importAdvisories(osv);
  }

  @Authorized(Role.READER)
  @Query(() => VulnerabilityMatchingStatus, {
    description:
      "Whether every machine's findings reflect the tenant's current advisories (after an import, the fleet re-match runs in the background).",
  })
  vulnerabilityMatching(@Ctx() ctx: ProtectionContext) {
    return ctx.services.vulnerabilities.matchingStatus();
  }

  @Authorized(Role.INGESTOR, Role.ADMIN)
  // A machine-bound agent credential pushes its own machine's records only (the others are rejected).
  @MachineBound()
  @UseMiddleware(shallowJsonItems("records"))
  @Mutation(() => IngestPackagesPayload, {
    description:
      "Reports installed-package snapshots (telemetry records of kind `packages`, whose packages are of the ecosystems npm, PyPI, Maven, Go, crates.io, Debian, Alpine or RPM; ≤ 1,000 per call): the newest per machine replaces the previous one and findings are recomputed.",
  })
  ingestPackageInventory(
    @Arg("records", () => [JSONScalar], { description: "`packages` telemetry records." }) records: unknown[],
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.vulnerabilities.ingestPackages(records);
  }

  @Directive('@requires(fields: "type account { id }")')
  @FieldResolver(() => VulnerabilityFindingConnection, {
    description:
      "Vulnerable packages on this resource (OPEN by default). Empty unless workload protection covers the resource.",
  })
  async vulnerabilities(
    @Root() resource: ResourceRef,
    @Arg("filter", () => VulnerabilityFilter, { nullable: true, description: "Severity and status." })
    filter: VulnerabilityFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: ProtectionContext,
  ) {
    const coverage = await ctx.services.plans.coverage(resource.type, resource.account.id);
    if (!coverage.covered)
      return ctx.services.vulnerabilities.forResource("00000000-0000-0000-0000-000000000000", filter, page);
    return ctx.services.vulnerabilities.forResource(resource.id, filter, page);
  }

  @Directive('@requires(fields: "type account { id }")')
  @FieldResolver(() => VulnerabilitySummary, {
    description: "Open findings by severity (zero and `covered: false` when not covered).",
  })
  async vulnerabilitySummary(
    @Root() resource: ResourceRef,
    @Ctx() ctx: ProtectionContext,
  ): Promise<VulnerabilitySummary> {
    const coverage = await ctx.services.plans.coverage(resource.type, resource.account.id);
    const counts = coverage.covered
      ? await ctx.services.vulnerabilities.summary.load(resource.id)
      : { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, total: 0 };
    return Object.assign(new VulnerabilitySummary(), { covered: coverage.covered, ...counts });
  }
}

/** The tenant-wide findings list, the per-CVE rollup, and each finding's machine. */
@Resolver(() => VulnerabilityFinding)
export class VulnerabilityFindingsResolver {
  @Authorized(Role.READER)
  @Query(() => VulnerabilityFindingConnection, {
    description:
      "The tenant's vulnerability findings across machines (OPEN by default), most severe first unless `orderBy` says otherwise. Lists every machine that sent a package inventory, whether a plan covers it or not (`resource { coverage }` tells).",
  })
  vulnerabilityFindings(
    @Arg("filter", () => VulnerabilityFindingFilter, {
      nullable: true,
      description: "CVEs, severities, status, machines, packages.",
    })
    filter: VulnerabilityFindingFilter | undefined,
    @Arg("orderBy", () => VulnerabilityFindingOrder, {
      nullable: true,
      description: "Default: severity descending.",
    })
    orderBy: VulnerabilityFindingOrder | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.vulnerabilities.findings(filter, orderBy, page);
  }

  @Authorized(Role.READER)
  @Query(() => VulnerabilityExposure, {
    description:
      "How many of the tenant's machines one CVE affects (open and fixed findings, highest score).",
  })
  vulnerabilityExposure(
    @Arg("cve", { description: "The CVE id, e.g. CVE-2024-3094 (case ignored)." }) cve: string,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.vulnerabilities.exposure(cve);
  }

  @FieldResolver(() => ResourceRef, {
    nullable: true,
    description:
      "The machine the package is installed on (the inventory's resource, resolved by posture); null only in the moments between its removal from the inventory and protection forgetting its findings.",
  })
  resource(@Root() finding: VulnerabilityFinding): ResourceRef {
    return Object.assign(new ResourceRef(), { id: finding.resourceId });
  }
}
