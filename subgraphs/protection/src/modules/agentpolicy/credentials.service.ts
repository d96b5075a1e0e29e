import type { EntityManager } from "typeorm";
import {
  ForbiddenError,
  hasAnyRole,
  Role,
  writeAudit,
  type Identity,
  type RequestDb,
} from "../../../../common/src";
import { AgentCredentialPolicy } from "./credentials.types";

/** What an unbound INGESTOR token hears while its tenant requires machine-bound agent credentials. */
export const MACHINE_BINDING_REQUIRED =
  "This tenant requires machine-bound agent credentials: use a token bound to the machine (the `rampart:resource` claim; `npm run token -- --resource ID` in development).";

/** Why a machine-bound credential's record of another machine is not kept. */
export const otherMachineMessage = (bound: string): string =>
  `this credential is bound to machine ${bound} and pushes only that machine's records`;

/**
 * Whether the tenant's policy applies to the caller: an INGESTOR token without a machine binding that has no
 * other way in (`otherwise`: the roles that may call the field besides INGESTOR, READER for `agentPolicy`, ADMIN
 * for ingest). A bound caller is held to its machine by the field itself.
 */
export const unboundAgent = (identity: Identity, otherwise: Role): boolean =>
  identity.resourceId === undefined &&
  hasAnyRole(identity, [Role.INGESTOR]) &&
  !hasAnyRole(identity, [otherwise]);

/** The tenant's setting, in the caller's tenant transaction (false without a row). */
export async function machineBindingRequired(m: EntityManager, tenantId: string): Promise<boolean> {
  const [row]: Array<{ required: boolean }> = await m.query(
    `SELECT require_machine_binding AS required FROM tenant_settings WHERE tenant_id = $1`,
    [tenantId],
  );
  return row?.required ?? false;
}

/** FORBIDDEN for an unbound agent (`unboundAgent`) while its tenant requires bound ones; reads nothing for others. */
export async function checkAgentCredential(
  m: EntityManager,
  identity: Identity,
  otherwise: Role,
): Promise<void> {
  if (unboundAgent(identity, otherwise) && (await machineBindingRequired(m, identity.tenantId)))
    throw new ForbiddenError(MACHINE_BINDING_REQUIRED);
}

function policyOf(row: Record<string, unknown> | undefined): AgentCredentialPolicy {
  return Object.assign(new AgentCredentialPolicy(), {
    requireMachineBinding: (row?.require_machine_binding as boolean | undefined) ?? false,
    updatedAt: (row?.updated_at as Date | undefined) ?? null,
    updatedBy: (row?.updated_by as string | undefined) ?? null,
  });
}

/** The tenant's agent credential policy: read by anyone in the tenant, set by its administrators (audited). */
export class AgentCredentialsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  async get(): Promise<AgentCredentialPolicy> {
    const [row] = await this.db.read((m) =>
      m.query(`SELECT * FROM tenant_settings WHERE tenant_id = $1`, [this.identity.tenantId]),
    );
    return policyOf(row);
  }

  /** Sets the policy; setting the current value writes nothing (no audit entry either). */
  async set(requireMachineBinding: boolean): Promise<AgentCredentialPolicy> {
    const tenantId = this.identity.tenantId;
    return this.db.write(async (m) => {
      const [current]: Array<Record<string, unknown>> = await m.query(
        `SELECT * FROM tenant_settings WHERE tenant_id = $1 FOR UPDATE`,
        [tenantId],
      );
      const before = policyOf(current).requireMachineBinding;
      if (before === requireMachineBinding) return policyOf(current);
      const [row]: Array<Record<string, unknown>> = await m.query(
        `INSERT INTO tenant_settings (tenant_id, require_machine_binding, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET require_machine_binding = excluded.require_machine_binding,
           updated_at = now(), updated_by = excluded.updated_by
         RETURNING *`,
        [tenantId, requireMachineBinding, this.identity.subject],
      );
      await writeAudit(m, this.identity, [
        {
          action: "agent_credentials.policy_set",
          target: `tenant:${tenantId}`,
          details: { requireMachineBinding: [before, requireMachineBinding] },
        },
      ]);
      return policyOf(row);
    });
  }
}
