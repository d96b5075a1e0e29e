import { JSONScalar, PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, Mutation, Query, Resolver } from "type-graphql";
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
