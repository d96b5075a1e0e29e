import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { SiemContext } from "../../context";
import {
  CreateThreatIntelFeedInput,
  DeleteThreatIntelFeedInput,
  ThreatIntelFeed,
  ThreatIntelFeedConnection,
  UpdateThreatIntelFeedInput,
} from "./feed.types";
import { ThreatIndicator } from "./intel.types";

@Resolver(() => ThreatIntelFeed)
export class FeedsResolver {
  @Authorized(Role.READER)
  @Query(() => ThreatIntelFeedConnection, {
    description: "The tenant's TAXII threat-intelligence feeds, by name, with what their polls did.",
  })
  threatIntelFeeds(@Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.feeds.list(page);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ThreatIntelFeed, {
    description:
      "Adds a TAXII 2.1 feed (ADMIN); an enabled one is polled at once, then every `pollInterval`. Invalid input is BAD_USER_INPUT listing every fault; nothing is stored. The password or key is never returned.",
  })
  createThreatIntelFeed(
    @Arg("input", () => CreateThreatIntelFeedInput) input: CreateThreatIntelFeedInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.feeds.create(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ThreatIntelFeed, {
    description:
      "Changes a feed (ADMIN): the fields given replace the feed's; invalid input changes nothing, an unknown id is NOT_FOUND.",
  })
  updateThreatIntelFeed(
    @Arg("input", () => UpdateThreatIntelFeedInput) input: UpdateThreatIntelFeedInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.feeds.update(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ThreatIntelFeed, {
    description:
      "Deletes a feed (ADMIN); its indicators are kept unless `revokeIndicators`. Returns the feed as it was.",
  })
  deleteThreatIntelFeed(
    @Arg("input", () => DeleteThreatIntelFeedInput) input: DeleteThreatIntelFeedInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.feeds.delete(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ThreatIntelFeed, {
    description:
      "Polls a feed now (ADMIN): the poll is queued (after one in progress) and its outcome shows in `status`. CONFLICT when the feed is disabled.",
  })
  pollThreatIntelFeed(
    @Arg("id", () => ID, { description: "The feed." }) id: string,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.feeds.pollNow(id);
  }
}

@Resolver(() => ThreatIndicator)
export class IndicatorFeedResolver {
  @FieldResolver(() => ThreatIntelFeed, {
    nullable: true,
    description:
      "The TAXII feed that stored this version; null for `importStixBundle` and for a deleted feed.",
  })
  feed(@Root() indicator: ThreatIndicator, @Ctx() ctx: SiemContext) {
    return indicator.feedId ? ctx.services.feeds.byId.load(indicator.feedId) : null;
  }
}
