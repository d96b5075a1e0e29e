import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, Directive, Mutation, Resolver } from "type-graphql";
import type { SiemContext } from "../../context";
import { SyncResourceAccountsInput, SyncResourceAccountsPayload } from "./resource-accounts.types";

/** The SIEM's copy of which account each resource belongs to (kept by posture's inventory relay). */
@Resolver()
export class ResourceAccountsResolver {
  @Authorized(Role.INGESTOR, Role.ADMIN)
  @Directive("@inaccessible")
  @Mutation(() => SyncResourceAccountsPayload, {
    description:
      "Internal (posture's relay `siem-resource-accounts`; not part of the gateway's API): records the current account of resources and forgets removed ones, for `CloudAccount.incidentSummary`. Idempotent: sending the same state again changes nothing.",
  })
  syncResourceAccounts(
    @Arg("input", () => SyncResourceAccountsInput, {
      description: "At most 1,000 resources and removed ids together.",
    })
    input: SyncResourceAccountsInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.resourceAccounts.sync(input);
  }
}
