import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { PostureContext } from "../../context";
import { CloudAccount } from "../inventory/cloud-account.entity";
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

@Resolver(() => CloudAccount)
export class AccountComplianceResolver {
  // Not for an INGESTOR, which gets accounts back from `upsertCloudAccounts` but reads nothing else.
  @Authorized(Role.READER)
  @FieldResolver(() => [ComplianceStandard], {
    description:
      "The account's regulatory compliance per standard: like `complianceStandards`, counting only this account's resources. Batched across a list of accounts.",
  })
  compliance(
    @Root() account: CloudAccount,
    @Arg("standard", () => ID, {
      nullable: true,
      description: "Only this standard (its id); omit for every standard. An unknown id gives an empty list.",
    })
    standard: string | undefined,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.compliance.forAccount(account.id, standard);
  }
}
