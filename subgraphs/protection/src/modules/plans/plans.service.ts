import DataLoader from "dataloader";
import type { EntityManager } from "typeorm";
import {
  BadUserInputError,
  isUuid,
  newId,
  NotFoundError,
  writeAudit,
  writeOutbox,
  type Identity,
  type RequestDb,
} from "../../../../common/src";
import { COVERAGE_REPORT_KINDS, syncPostureReports } from "../reports/sync";
import type { PostureAccounts } from "./accounts";
import { planTypeFor, Coverage } from "./coverage";
import { Plan, PlanTier, PlanType } from "./plan.entity";
import type { SetPlanInput } from "./plans.inputs";

/** Plans per account: which workloads are protected. */
export class PlansService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly accounts: PostureAccounts,
  ) {}

  /** Per-request loader: every plan type of each account (FREE when never set), one statement per batch. */
  readonly byAccount = new DataLoader<string, Plan[]>(async (accountIds) => {
    const valid = accountIds.filter(isUuid);
    const rows = valid.length
      ? await this.db.read((m) =>
          m
            .getRepository(Plan)
            .createQueryBuilder("p")
            .where("p.tenant_id = :tenant AND p.account_id = ANY(:ids)", {
              tenant: this.identity.tenantId,
              ids: valid,
            })
            .getMany(),
        )
      : [];
    return accountIds.map((accountId) =>
      this.withDefaults(
        accountId,
        rows.filter((r) => r.accountId === accountId),
      ),
    );
  });

  /** Coverage of a resource from its (federated) type and account. */
  async coverage(resourceType: string, accountId: string): Promise<Coverage> {
    const plan = planTypeFor(resourceType);
    const tier = plan
      ? ((await this.byAccount.load(accountId)).find((p) => p.planType === plan)?.tier ?? PlanTier.FREE)
      : PlanTier.FREE;
    return Object.assign(new Coverage(), { plan, tier, covered: tier === PlanTier.STANDARD });
  }

  /**
   * Sets a plan's tier, audited, with an outbox event for consumers (coverage changes). The account must be one
   * of the caller's tenant in the inventory (NOT_FOUND otherwise, nothing written): a plan for an id that names
   * no account would protect nothing, and one for another tenant's account would be a row about it. Posture owns
   * the inventory and is asked before the transaction opens, so no transaction waits on it; an account posture
   * removed meanwhile is caught in the transaction by its removal mark (`isRemovedAccount`).
   */
  async setPlan(input: SetPlanInput): Promise<Plan> {
    if (!isUuid(input.accountId)) {
      throw new BadUserInputError("Invalid plan.", [
        { field: "accountId", message: "must be an account id (UUID)" },
      ]);
    }
    if (!(await this.accounts.exists(this.identity, input.accountId)))
      throw new NotFoundError("Cloud account", input.accountId);
    return this.db.write(async (m) => {
      // Posture answered before an off-boarding it relays may have arrived: the account's removal mark decides.
      if (await isRemovedAccount(m, this.identity.tenantId, input.accountId))
        throw new NotFoundError("Cloud account", input.accountId);
      const [row]: Array<Record<string, unknown>> = await m.query(
        `INSERT INTO plans (id, tenant_id, account_id, plan_type, tier, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (tenant_id, account_id, plan_type) DO UPDATE
           SET tier = excluded.tier, updated_by = excluded.updated_by, updated_at = excluded.updated_at
         RETURNING id, tenant_id, account_id, plan_type, tier, updated_by, updated_at`,
        [newId(), this.identity.tenantId, input.accountId, input.planType, input.tier, this.identity.subject],
      );
      const plan = m.create(Plan, {
        id: row.id as string,
        tenantId: row.tenant_id as string,
        accountId: row.account_id as string,
        planType: row.plan_type as PlanType,
        tier: row.tier as PlanTier,
        updatedBy: row.updated_by as string,
        updatedAt: row.updated_at as Date,
      });
      await writeAudit(m, this.identity, [
        {
          action: "plans.set",
          target: `account:${plan.accountId}`,
          details: { planType: plan.planType, tier: plan.tier },
        },
      ]);
      await writeOutbox(m, [
        {
          tenantId: this.identity.tenantId,
          topic: "plans.plan.changed",
          key: plan.accountId,
          payload: { accountId: plan.accountId, planType: plan.planType, tier: plan.tier },
        },
      ]);
      // A plan decides whether the account's resources of its kinds are covered: for machines (SERVERS), whether
      // their JIT policies are enforced and their application-control allow lists applied, and for any covered
      // kind whether its vulnerability assessment is reported. Those reports change with it, in this transaction:
      // the resources of the account and plan (protection's mirror of the inventory) with a policy, in a group or
      // with a package inventory, and the policies that recorded the account.
      const machines: Array<{ resource_id: string }> = await m.query(
        `SELECT ra.resource_id FROM resource_accounts ra
         WHERE ra.tenant_id = $1 AND ra.account_id = $2 AND ra.plan_type = $3
           AND (EXISTS (SELECT 1 FROM jit_policies jp WHERE jp.tenant_id = $1 AND jp.resource_id = ra.resource_id)
             OR EXISTS (SELECT 1 FROM app_control_members mem
                        WHERE mem.tenant_id = $1 AND mem.resource_id = ra.resource_id)
             OR EXISTS (SELECT 1 FROM package_snapshots ps WHERE ps.tenant_id = $1 AND ps.resource_id = ra.resource_id))
         UNION
         SELECT resource_id FROM jit_policies WHERE tenant_id = $1 AND account_id = $2 AND $3 = '${PlanType.SERVERS}'`,
        [this.identity.tenantId, plan.accountId, plan.planType],
      );
      await syncPostureReports(
        m,
        this.identity.tenantId,
        machines.map((r) => r.resource_id),
        COVERAGE_REPORT_KINDS,
      );
      return plan;
    });
  }

  private withDefaults(accountId: string, rows: Plan[]): Plan[] {
    return Object.values(PlanType).map(
      (planType) =>
        rows.find((r) => r.planType === planType) ??
        Object.assign(new Plan(), {
          accountId,
          planType,
          tier: PlanTier.FREE,
          updatedBy: null,
          updatedAt: null,
        }),
    );
  }
}

/**
 * Whether posture off-boarded the account (`forgetRemovedAccounts` marked it), under a per-account transaction lock
 * that the removal takes too: a plan written before the removal is deleted by it, one written after finds the mark.
 */
export async function isRemovedAccount(
  m: EntityManager,
  tenantId: string,
  accountId: string,
): Promise<boolean> {
  await lockPlanAccounts(m, tenantId, [accountId]);
  const rows: unknown[] = await m.query(
    `SELECT 1 FROM removed_accounts WHERE tenant_id = $1 AND account_id = $2`,
    [tenantId, accountId],
  );
  return rows.length > 0;
}

/** The per-account transaction locks of `isRemovedAccount`, in one order (account id) whatever the input's. */
export async function lockPlanAccounts(
  m: EntityManager,
  tenantId: string,
  accountIds: string[],
): Promise<void> {
  await m.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || a, 0)) FROM unnest($2::text[]) AS a`, [
    `protection.plan-account|${tenantId}|`,
    [...new Set(accountIds)].sort(),
  ]);
}
