import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, Directive, ID, Mutation, Resolver } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { ForgetRemovedAccountsPayload, ForgetRemovedResourcesPayload } from "./removals.types";

/** The end of a removed resource's protection state (called by posture's inventory relay). */
@Resolver()
export class RemovalsResolver {
  @Authorized(Role.ADMIN)
  @Directive("@inaccessible")
  @Mutation(() => ForgetRemovedResourcesPayload, {
    description:
      "Internal (posture's relay of `inventory.resource.removed`; not part of the gateway's API): ends the protection state of resources removed from the inventory — JIT policies deleted with their grants revoked and pending requests denied (audited), vulnerability findings, package snapshots, application-control memberships, FIM baselines and management-port exposure deleted. Idempotent: ids with nothing left change nothing.",
  })
  forgetRemovedResources(
    @Arg("resourceIds", () => [ID], {
      description: "Ids of resources removed from the inventory (at most 1,000).",
    })
    resourceIds: string[],
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.removals.forget(resourceIds);
  }

  @Authorized(Role.ADMIN)
  @Directive("@inaccessible")
  @Mutation(() => ForgetRemovedAccountsPayload, {
    description:
      "Internal (posture's relay of `inventory.account.removed`; not part of the gateway's API): ends the protection state of accounts off-boarded from the inventory — their plans are deleted (audited, with a `plans.plan.changed` event to FREE for each STANDARD one) and `setPlan` refuses them from then on. Their machines' state ends with their own removals, relayed before. Idempotent.",
  })
  forgetRemovedAccounts(
    @Arg("accountIds", () => [ID], {
      description: "Ids of accounts removed from the inventory (at most 1,000).",
    })
    accountIds: string[],
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.removals.forgetAccounts(accountIds);
  }
}
