/*
 * What protection does when a resource leaves posture's inventory (`removeResources` writes
 * `inventory.resource.removed`; posture's relay `protection-resource-removals` calls
 * `forgetRemovedResources` here). Per removed machine, in one transaction of its tenant:
 * - JIT: the policy is deleted, active grants are REVOKED and pending requests DENIED (reason "resource
 *   removed from inventory"), each step audited like `removeJitPolicy`; requests and the JIT audit trail
 *   stay (they are history).
 * - Vulnerabilities: findings and the package snapshot are deleted (nothing is left to remediate).
 * - Application control: the machine leaves its group (`app_control_members`); groups and rules stay.
 * - FIM baselines, management-port exposure and the reports sent to posture are deleted (posture already
 *   forgot its assessments of the resource).
 * - Detections (alerts already in the SIEM) and telemetry (aged out by retention) stay: evidence.
 * Everything it does is conditional on rows existing, so a repeated delivery finds nothing and changes
 * nothing (no audit entry either): at least once, exactly once in effect.
 *
 * When an account is off-boarded (`removeCloudAccount`: its resources' removals first, then
 * `inventory.account.removed`, relayed as `forgetRemovedAccounts`), its plans are deleted and the account is
 * marked removed, so that a `setPlan` posture answered for just before the removal cannot bring a plan back.
 */
import {
  BadUserInputError,
  canonicalId,
  isUuid,
  writeAudit,
  writeOutbox,
  type Identity,
  type InputProblem,
  type RequestDb,
} from "../../../../common/src";
import type { JitPortSpec } from "../jit/jit.validation";
import { recordRequestStep, requestFromRow, TTL_SQL, updateRequests } from "../jit/jit.service";
import { lockPlanAccounts } from "../plans/plans.service";
import { ForgetRemovedAccountsPayload, ForgetRemovedResourcesPayload } from "./removals.types";

/** The reason recorded on grants and requests a removal closes. */
export const REMOVAL_REASON = "resource removed from inventory";
/** The reason recorded when an off-boarded account's plans are deleted. */
export const ACCOUNT_REMOVAL_REASON = "account removed from inventory";
/** Most resource ids per call (posture's relay sends at most this many). */
export const MAX_FORGET_IDS = 1000;

const WITH_ARTICLE = { resource: "a resource", account: "an account" } as const;

/** A call's ids, canonical, without repeats and sorted; BAD_USER_INPUT (nothing changed) when any is no UUID. */
function forgettableIds(given: string[], field: string, what: "resource" | "account"): string[] {
  const problems: InputProblem[] = given.flatMap((id, index) =>
    isUuid(id) ? [] : [{ index, field, message: `must be ${WITH_ARTICLE[what]} id (UUID)` }],
  );
  if (given.length > MAX_FORGET_IDS)
    problems.push({ field, message: `at most ${MAX_FORGET_IDS} ids per call` });
  if (problems.length) throw new BadUserInputError(`Invalid ${what} ids; nothing was changed.`, problems);
  return [...new Set(given.map(canonicalId))].sort();
}

export class RemovalsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Ends the protection state of resources the inventory no longer has (see the module comment). */
  async forget(resourceIds: string[]): Promise<ForgetRemovedResourcesPayload> {
    const ids = forgettableIds(resourceIds, "resourceIds", "resource");
    const tenant = this.identity.tenantId;
    return this.db.write(async (m) => {
      const policies: Array<{ resource_id: string; ports: JitPortSpec[] }> = await m.query(
        `WITH removed AS (DELETE FROM jit_policies WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])
           RETURNING resource_id, ports)
         SELECT resource_id, ports FROM removed ORDER BY resource_id`,
        [tenant, ids],
      );
      const revoked = await updateRequests(
        m,
        `UPDATE jit_requests r SET status = 'REVOKED', revoked_by = $3, revoked_at = now(), revoke_reason = $4
         WHERE r.tenant_id = $1 AND r.resource_id = ANY($2::uuid[]) AND r.status = 'APPROVED' AND r.expires_at > now()`,
        [tenant, ids, this.identity.subject, REMOVAL_REASON],
      );
      const denied = await updateRequests(
        m,
        `UPDATE jit_requests r SET status = 'DENIED', decided_by = $3, decided_at = now(), decision_comment = $4
         WHERE r.tenant_id = $1 AND r.resource_id = ANY($2::uuid[]) AND r.status = 'PENDING'
           AND r.requested_at > now() - ${TTL_SQL}`,
        [tenant, ids, this.identity.subject, REMOVAL_REASON],
      );
      const [counts]: Array<{ findings: number; members: number; other: number }> = await m.query(
        `WITH f AS (DELETE FROM vulnerability_findings WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id),
              s AS (DELETE FROM package_snapshots WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id),
              a AS (DELETE FROM app_control_members WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id),
              b AS (DELETE FROM fim_baselines WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id),
              e AS (DELETE FROM management_port_exposure WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id),
              p AS (DELETE FROM posture_reports WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id)
         SELECT (SELECT count(*) FROM f)::int AS findings, (SELECT count(*) FROM a)::int AS members,
                ((SELECT count(*) FROM s) + (SELECT count(*) FROM b) + (SELECT count(*) FROM e) + (SELECT count(*) FROM p))::int AS other`,
        [tenant, ids],
      );
      for (const policy of policies) {
        const resourceId = policy.resource_id;
        const details = { resourceId, ports: policy.ports.map((p) => p.number) };
        await writeAudit(m, this.identity, [
          {
            action: "jit.policy.removed",
            target: `resource:${resourceId}`,
            details: {
              ...details,
              reason: REMOVAL_REASON,
              revoked: revoked.filter((r) => r.resource_id === resourceId).map((r) => r.id),
              denied: denied.filter((r) => r.resource_id === resourceId).map((r) => r.id),
            },
          },
        ]);
        await writeOutbox(m, [
          {
            tenantId: tenant,
            topic: "jit.policy.removed",
            key: resourceId,
            payload: { ...details, reason: REMOVAL_REASON, actor: this.identity.subject },
          },
        ]);
      }
      await recordRequestStep(m, this.identity, [
        ...revoked.map((r) => ({
          request: requestFromRow(r),
          step: "revoked" as const,
          details: { reason: REMOVAL_REASON },
        })),
        ...denied.map((r) => ({
          request: requestFromRow(r),
          step: "denied" as const,
          details: { reason: REMOVAL_REASON },
        })),
      ]);
      const changed =
        policies.length + revoked.length + denied.length + counts.findings + counts.members + counts.other >
        0;
      if (changed)
        await writeAudit(m, this.identity, [
          {
            action: "protection.resources.forgotten",
            target: "resources",
            details: {
              ids,
              jitPolicies: policies.map((p) => p.resource_id),
              revokedRequestIds: revoked.map((r) => r.id),
              deniedRequestIds: denied.map((r) => r.id),
              findings: counts.findings,
              appControlMemberships: counts.members,
            },
          },
        ]);
      return Object.assign(new ForgetRemovedResourcesPayload(), {
        resourceIds: ids,
        removedJitPolicyCount: policies.length,
        revokedRequestIds: revoked.map((r) => r.id),
        deniedRequestIds: denied.map((r) => r.id),
        removedFindingCount: counts.findings,
        removedAppControlMembershipCount: counts.members,
      });
    });
  }

  /** Deletes the plans of accounts posture off-boarded and marks them removed (see the module comment). */
  async forgetAccounts(accountIds: string[]): Promise<ForgetRemovedAccountsPayload> {
    const ids = forgettableIds(accountIds, "accountIds", "account");
    const tenant = this.identity.tenantId;
    return this.db.write(async (m) => {
      // The lock `setPlan` takes with its check of the mark: a plan it wrote first is deleted here.
      await lockPlanAccounts(m, tenant, ids);
      const marked: Array<{ account_id: string }> = await m.query(
        `INSERT INTO removed_accounts (tenant_id, account_id) SELECT $1, unnest($2::uuid[])
         ON CONFLICT DO NOTHING RETURNING account_id`,
        [tenant, ids],
      );
      const plans: Array<{ account_id: string; plan_type: string; tier: string }> = await m.query(
        `WITH gone AS (DELETE FROM plans WHERE tenant_id = $1 AND account_id = ANY($2::uuid[])
           RETURNING account_id, plan_type, tier)
         SELECT * FROM gone ORDER BY account_id, plan_type`,
        [tenant, ids],
      );
      await m.query(`DELETE FROM resource_accounts WHERE tenant_id = $1 AND account_id = ANY($2::uuid[])`, [
        tenant,
        ids,
      ]);
      const standard = plans.filter((p) => p.tier === "STANDARD");
      await writeOutbox(
        m,
        standard.map((p) => ({
          tenantId: tenant,
          topic: "plans.plan.changed",
          key: p.account_id,
          payload: {
            accountId: p.account_id,
            planType: p.plan_type,
            tier: "FREE",
            reason: ACCOUNT_REMOVAL_REASON,
          },
        })),
      );
      const newlyMarked = new Set(marked.map((r) => r.account_id));
      const audited = ids.filter((id) => newlyMarked.has(id) || plans.some((p) => p.account_id === id));
      await writeAudit(
        m,
        this.identity,
        audited.map((accountId) => ({
          action: "plans.removed",
          target: `account:${accountId}`,
          details: {
            reason: ACCOUNT_REMOVAL_REASON,
            plans: plans
              .filter((p) => p.account_id === accountId)
              .map((p) => ({ planType: p.plan_type, tier: p.tier })),
          },
        })),
      );
      return Object.assign(new ForgetRemovedAccountsPayload(), {
        accountIds: ids,
        removedPlanCount: plans.length,
      });
    });
  }
}
