import { Field, Int, ObjectType, FieldResolver, Resolver, Root, Ctx } from "type-graphql";
import type { SiemContext } from "../../context";
import { CloudAccountRef } from "../../references";

/** Open incidents on a cloud account's resources, counted by severity. */
@ObjectType({
  description:
    "The account's open incidents (NEW or ACTIVE, merged ones excluded): those holding an alert on one of the account's resources, counted once each.",
})
export class AccountIncidentSummary {
  @Field(() => Int, { description: "Open incidents of any severity." })
  total: number;

  @Field(() => Int, { description: "Open HIGH incidents." })
  high: number;

  @Field(() => Int, { description: "Open MEDIUM incidents." })
  medium: number;

  @Field(() => Int, { description: "Open LOW incidents." })
  low: number;

  @Field(() => Int, { description: "Open INFORMATIONAL incidents." })
  informational: number;

  @Field(() => Date, {
    nullable: true,
    description: "When the newest of these open incidents was created; null when there is none.",
  })
  newestIncidentAt: Date | null;
}

/** The empty summary: no open incident. */
export const emptySummary = (): AccountIncidentSummary =>
  Object.assign(new AccountIncidentSummary(), {
    total: 0,
    high: 0,
    medium: 0,
    low: 0,
    informational: 0,
    newestIncidentAt: null,
  });

@Resolver(() => CloudAccountRef)
export class AccountIncidentsResolver {
  @FieldResolver(() => AccountIncidentSummary, {
    description:
      "Open incidents (NEW or ACTIVE) holding an alert on one of the account's resources — the alerts `Resource.alerts` lists for each of them — by severity, with the newest one's time.",
  })
  incidentSummary(@Root() account: CloudAccountRef, @Ctx() ctx: SiemContext) {
    return ctx.services.incidents.summaryByAccount.load(account.id);
  }
}
