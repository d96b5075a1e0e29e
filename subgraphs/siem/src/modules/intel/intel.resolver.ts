import { JSONScalar, PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { SiemContext } from "../../context";
import { ThreatIndicatorConnection } from "./intel.service";
import { ImportStixBundlePayload, ThreatIndicator } from "./intel.types";

@Resolver(() => ThreatIndicator)
export class IntelResolver {
  @Authorized(Role.READER)
  @Query(() => ThreatIndicatorConnection, { description: "Threat-intelligence indicators." })
  threatIndicators(
    @Args() page: PageArgs,
    @Arg("activeOnly", { defaultValue: false, description: "Only valid, unrevoked indicators." })
    activeOnly: boolean,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.intel.list(page, activeOnly);
  }

  @Authorized(Role.READER)
  @Query(() => ThreatIndicator, {
    nullable: true,
    description: "One indicator by id; null when the tenant has no such indicator.",
  })
  threatIndicator(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.intel.byId(id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ThreatIndicator, {
    description:
      "Revokes an indicator (ADMIN), as a STIX revocation by its producer: it stops matching events at once, stays listed as revoked, and later versions of it from a bundle or feed are refused (revocation is permanent). Revoking a revoked indicator changes nothing; NOT_FOUND for an unknown id.",
  })
  revokeThreatIndicator(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.intel.revoke(id);
  }

  @Authorized(Role.ADMIN, Role.INGESTOR)
  @Mutation(() => ImportStixBundlePayload, {
    description:
      "Imports a STIX 2.1 bundle of indicators (IP, domain, URL, file hash, email patterns; compound patterns). Invalid objects are reported, the others kept; re-importing is idempotent.",
  })
  importStixBundle(
    @Arg("bundle", () => JSONScalar, { description: "A STIX 2.1 bundle." }) bundle: unknown,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.intel.importBundle(bundle);
  }
}
