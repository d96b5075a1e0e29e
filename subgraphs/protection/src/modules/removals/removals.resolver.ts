import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, Directive, ID, Mutation, Resolver } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { ForgetRemovedResourcesPayload } from "./removals.types";

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
}
