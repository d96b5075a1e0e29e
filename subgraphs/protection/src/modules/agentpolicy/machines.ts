import { Role, UnavailableError } from "../../../../common/src";
import { askPosture, PostureUnreachableError, type PostureAccountsOptions } from "../plans/accounts";

const MACHINE_QUERY = `query AgentPolicyMachine($id: ID!) { resource(id: $id) { id type account { id } } }`;

/** Who asks posture about a machine on an agent's behalf. */
export const AGENT_POLICY_SUBJECT = "service:protection";

/** What protection needs to know of a machine from the inventory. */
export interface InventoryMachine {
  type: string;
  accountId: string;
}

/**
 * A machine of the inventory, as posture (its owner) answers. Agents call as INGESTOR, which may read nothing of
 * the inventory, so protection asks as itself: READER in the caller's tenant, for that one resource. The agent
 * learns no more than `agentPolicy` tells it (whether its tenant has the machine, and whether it is covered), and
 * another tenant's machine is as absent as one that never existed.
 */
export class PostureMachines {
  constructor(private readonly options: PostureAccountsOptions) {}

  /** The machine's type and account; null when the tenant has no such resource. */
  async find(tenantId: string, resourceId: string): Promise<InventoryMachine | null> {
    const token = await this.options.tokens.sign({
      tenantId,
      subject: AGENT_POLICY_SUBJECT,
      roles: [Role.READER],
    });
    const data = await askPosture<{ resource?: { type: string; account: { id: string } } | null }>(
      this.options,
      token,
      MACHINE_QUERY,
      { id: resourceId },
    );
    return data.resource ? { type: data.resource.type, accountId: data.resource.account.id } : null;
  }

  /**
   * `find` for a request: when posture gives no answer, UNAVAILABLE to the caller, saying that nothing was done
   * (`done`: what the request would have done, "read" or "changed").
   */
  async findOrUnavailable(
    tenantId: string,
    resourceId: string,
    done: "read" | "changed",
  ): Promise<InventoryMachine | null> {
    try {
      return await this.find(tenantId, resourceId);
    } catch (err) {
      if (err instanceof PostureUnreachableError)
        throw new UnavailableError(`The inventory did not answer; nothing was ${done}. Try again shortly.`);
      throw err;
    }
  }
}
