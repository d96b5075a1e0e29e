import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, Directive, Mutation, Resolver } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { SyncInventoryResourcesInput, SyncInventoryResourcesPayload } from "./resource-accounts.types";

/** Protection's copy of which account each resource belongs to (kept by posture's inventory relay). */
@Resolver()
export class ResourceAccountsResolver {
  @Authorized(Role.INGESTOR, Role.ADMIN)
  @Directive("@inaccessible")
  @Mutation(() => SyncInventoryResourcesPayload, {
    description:
      "Internal (posture's relay `protection-resource-accounts`; not part of the gateway's API): records the current account and type of resources and forgets removed ones, so protection can tell which plan covers a machine; reports whose coverage changed are re-sent to posture. Idempotent: sending the same state again changes nothing.",
  })
  syncInventoryResources(
    @Arg("input", () => SyncInventoryResourcesInput, {
      description: "At most 1,000 resources and removed ids together.",
    })
    input: SyncInventoryResourcesInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.resourceAccounts.sync(input);
  }
}
