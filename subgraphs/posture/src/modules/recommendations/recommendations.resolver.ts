import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, Query, Resolver, Root } from "type-graphql";
import type { PostureContext } from "../../context";
import { ResourceConnection } from "../inventory/inventory.connections";
import { Resource } from "../inventory/resource.entity";
import { RecommendationConnection } from "./recommendations.connections";
import { Recommendation, RecommendationFilter, RecommendationOrder } from "./recommendations.types";

@Resolver(() => Recommendation)
export class RecommendationResolver {
  @Authorized(Role.READER)
  @Query(() => RecommendationConnection, {
    description:
      "What to fix first: definitions with unhealthy resources. Default order: potential score increase, descending.",
  })
  recommendations(
    @Arg("filter", () => RecommendationFilter, {
      nullable: true,
      description: "Conditions the recommendations must meet.",
    })
    filter: RecommendationFilter | undefined,
    @Arg("orderBy", () => RecommendationOrder, {
      nullable: true,
      description: "Default: POTENTIAL_SCORE_INCREASE descending.",
    })
    orderBy: RecommendationOrder | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.recommendations.list(filter, orderBy, page);
  }

  @FieldResolver(() => ResourceConnection, {
    description:
      "The unhealthy resources (of the filtered account only, when the list is filtered by account).",
  })
  affectedResources(@Root() r: Recommendation, @Args() page: PageArgs, @Ctx() ctx: PostureContext) {
    return ctx.services.recommendations.affectedResources(r.id, page, r.accountId);
  }
}

@Resolver(() => Resource)
export class ResourceRecommendationsResolver {
  @FieldResolver(() => [Recommendation], { description: "Recommendations this resource fails." })
  recommendations(@Root() resource: Resource, @Ctx() ctx: PostureContext) {
    return ctx.services.recommendations.forResource(resource.id);
  }
}
