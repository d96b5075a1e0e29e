import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, ID, Query, Resolver } from "type-graphql";
import type { PostureContext } from "../../context";
import { ComplianceStandard } from "./compliance.types";

@Resolver(() => ComplianceStandard)
export class ComplianceResolver {
  @Authorized(Role.READER)
  @Query(() => [ComplianceStandard], {
    description: "Regulatory standards with each control PASSED, FAILED or SKIPPED.",
  })
  complianceStandards(
    @Arg("accountId", () => ID, { nullable: true, description: "One account; omit for the tenant." })
    accountId: string | undefined,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.compliance.standards(accountId);
  }
}
