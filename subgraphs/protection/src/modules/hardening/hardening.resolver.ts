import { Arg, Ctx, Directive, FieldResolver, Resolver, Root } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { ResourceRef } from "../../references";
import { DEFAULT_HARDENING_WINDOW } from "./hardening.service";
import { HardeningRecommendation } from "./hardening.types";

/** `Resource.hardeningRecommendations`: posture's exposure (through `@requires`) against observed traffic. */
@Resolver(() => ResourceRef)
export class HardeningResolver {
  @Directive('@requires(fields: "exposure { openPorts { protocol fromPort toPort sources } }")')
  @FieldResolver(() => [HardeningRecommendation], {
    description:
      "Adaptive network hardening: for each port range the NSG rules open to the whole internet, the sources actually seen over the window (allow only those) or CLOSE when no legitimate traffic came. Empty when nothing is internet-open.",
  })
  hardeningRecommendations(
    @Root() resource: ResourceRef,
    @Arg("window", () => String, {
      defaultValue: DEFAULT_HARDENING_WINDOW,
      description: "Traffic window before now: ISO 8601 duration from PT1H to P90D (default P30D).",
    })
    window: string,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.hardening.forResource(resource, window);
  }
}
