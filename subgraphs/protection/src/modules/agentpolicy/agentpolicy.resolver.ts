import { Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, ID, Query, Resolver } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { AgentPolicy } from "./agentpolicy.types";

/** `agentPolicy`: what a machine's agent enforces. */
@Resolver(() => AgentPolicy)
export class AgentPolicyResolver {
  // Agents are INGESTOR principals, which otherwise read nothing; every reader may see it too, as they see the
  // JIT policies, application-control groups and FIM lists it is made of.
  @Authorized(Role.READER, Role.INGESTOR)
  @Query(() => AgentPolicy, {
    description:
      "The effective protection policy of one machine, for its agent (INGESTOR; also every reader): JIT ports and open grants, the application-control mode and allow list, the FIM watch list, an `etag` and when to poll again. NOT_FOUND for a machine the tenant's inventory lacks; `covered: false` and nothing to enforce when the SERVERS plan does not cover it.",
  })
  agentPolicy(
    @Arg("resourceId", () => ID, { description: "The machine (Rampart's resource id, as in its telemetry)." })
    resourceId: string,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.agentPolicy.forMachine(resourceId);
  }
}
