import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { PostureContext } from "../../context";
import { CloudAccount } from "../inventory/cloud-account.entity";
import { SecureScore, SecureScoreSnapshot } from "./score.types";

@Resolver(() => SecureScore)
export class ScoreResolver {
  @Authorized(Role.READER)
  @Query(() => SecureScore, {
    description: "Secure Score of the tenant (resources summed across accounts) or of one account.",
  })
  secureScore(
    @Arg("accountId", () => ID, { nullable: true, description: "One account; omit for the tenant." })
    accountId: string | undefined,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.score.score(accountId);
  }

  @Authorized(Role.READER)
  @Query(() => [SecureScoreSnapshot], {
    description: "Daily Secure Score snapshots between two dates (inclusive, at most 400 days).",
  })
  secureScoreHistory(
    @Arg("from", () => Date, { description: "First day." }) from: Date,
    @Arg("to", () => Date, { description: "Last day." }) to: Date,
    @Arg("accountId", () => ID, { nullable: true, description: "One account; omit for the tenant." })
    accountId: string | undefined,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.score.history(accountId, from, to);
  }
}

@Resolver(() => CloudAccount)
export class AccountScoreResolver {
  // Not for an INGESTOR, which gets accounts back from `upsertCloudAccounts` but reads nothing else.
  @Authorized(Role.READER)
  @FieldResolver(() => SecureScore, { description: "The account's Secure Score." })
  secureScore(@Root() account: CloudAccount, @Ctx() ctx: PostureContext) {
    return ctx.services.score.score(account.id);
  }
}
