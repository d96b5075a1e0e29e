import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { PostureContext } from "../../context";
import { Resource } from "../inventory/resource.entity";
import { PolicySeverity } from "../policies/policies.types";
import { Exposure, NetworkMap } from "./network.types";

@Resolver(() => NetworkMap)
export class NetworkResolver {
  @Authorized(Role.READER)
  @Query(() => NetworkMap, {
    description:
      "Network topology with allowed traffic and internet exposure, showing resources with recommendations of at least `minSeverity`.",
  })
  networkMap(
    @Arg("accountId", () => ID, { nullable: true, description: "One account; omit for every account." })
    accountId: string | undefined,
    @Arg("minSeverity", () => PolicySeverity, {
      defaultValue: PolicySeverity.MEDIUM,
      description: "Lowest recommendation severity shown (default MEDIUM: high and medium).",
    })
    minSeverity: PolicySeverity,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.network.map(accountId, minSeverity);
  }
}

@Resolver(() => Resource)
export class ResourceExposureResolver {
  @FieldResolver(() => Exposure, {
    description: "Whether the resource is reachable from the internet, and on which ports.",
  })
  exposure(@Root() resource: Resource, @Ctx() ctx: PostureContext) {
    return ctx.services.network.exposure(resource.id, resource.accountId);
  }
}
