import { MachineBound, Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { AgentPolicy } from "./agentpolicy.types";
import { AgentCredentialPolicy } from "./credentials.types";

/** `agentPolicy`: what a machine's agent enforces; `agentCredentialPolicy`: how agents must authenticate. */
@Resolver(() => AgentPolicy)
export class AgentPolicyResolver {
  // Agents are INGESTOR principals, which otherwise read nothing; every reader may see it too, as they see the
  // JIT policies, application-control groups and FIM lists it is made of. A machine-bound agent credential reads
  // its own machine's only (the service answers NOT_FOUND for any other).
  @Authorized(Role.READER, Role.INGESTOR)
  @MachineBound()
  @Query(() => AgentPolicy, {
    description:
      "The effective protection policy of one machine, for its agent (INGESTOR; also every reader): JIT ports and open grants, the application-control mode and allow list, the FIM watch list, an `etag` and when to poll again. NOT_FOUND for a machine the tenant's inventory lacks, and for any machine but its own to a machine-bound agent credential; FORBIDDEN to an unbound INGESTOR token while `agentCredentialPolicy.requireMachineBinding` is on. `covered: false` and nothing to enforce when the SERVERS plan does not cover it.",
  })
  agentPolicy(
    @Arg("resourceId", () => ID, { description: "The machine (Rampart's resource id, as in its telemetry)." })
    resourceId: string,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.agentPolicy.forMachine(resourceId);
  }

  @Authorized(Role.READER)
  @Query(() => AgentCredentialPolicy, {
    description:
      "How the tenant's agents must authenticate: whether only machine-bound agent credentials may read `agentPolicy` and push telemetry (off until an ADMIN turns it on).",
  })
  agentCredentialPolicy(@Ctx() ctx: ProtectionContext) {
    return ctx.services.agentCredentials.get();
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AgentCredentialPolicy, {
    description:
      "Sets whether the tenant's agents must use machine-bound credentials (ADMIN; audited). On: INGESTOR tokens without a machine binding are refused (FORBIDDEN) at `agentPolicy`, `ingestTelemetry`, `ingestPackageInventory` and `POST /ingest/telemetry`. Setting the current value changes nothing.",
  })
  setAgentCredentialPolicy(
    @Arg("requireMachineBinding", {
      description:
        "True: only machine-bound agent credentials may speak for a machine. False: any INGESTOR token of the tenant.",
    })
    requireMachineBinding: boolean,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.agentCredentials.set(requireMachineBinding);
  }
}
