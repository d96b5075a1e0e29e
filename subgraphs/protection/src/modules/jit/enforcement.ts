/*
 * Whether a JIT policy is enforced. The agent locks a machine's JIT ports only while workload protection covers
 * the machine: its account's SERVERS plan on STANDARD (`agentpolicy.service.ts` gives an uncovered machine no
 * JIT policy). Everything else that reads a policy — its port states, requests and approvals, posture's
 * management-ports report, the detections and network hardening — asks the same question, in SQL, of the
 * account the policy recorded when it was set.
 */
import { PlanTier, PlanType } from "../plans/plan.entity";

/**
 * SQL: true when the JIT policy row aliased `p` (with its `tenant_id`, `resource_id` and `account_id`) is
 * enforced. A policy stored before policies recorded their account (account_id null) is judged by the account
 * protection's mirror of the inventory gives its machine (`resource_accounts`, kept by posture's relay); only
 * when neither knows the account does it count as enforced, as it did, until its agent polls `agentPolicy`
 * (which records the account) or it is next set.
 */
export const jitEnforcedSql = (p: string) =>
  `(SELECT enf_acc.id IS NULL OR EXISTS (SELECT 1 FROM plans enf WHERE enf.tenant_id = ${p}.tenant_id
     AND enf.account_id = enf_acc.id AND enf.plan_type = '${PlanType.SERVERS}' AND enf.tier = '${PlanTier.STANDARD}')
   FROM (SELECT coalesce(${p}.account_id, (SELECT ra.account_id FROM resource_accounts ra
     WHERE ra.tenant_id = ${p}.tenant_id AND ra.resource_id = ${p}.resource_id)) AS id) enf_acc)`;

/** Why a policy's ports are not locked when it is not enforced: for error messages and report causes. */
export const NOT_ENFORCED_REASON = `the SERVERS plan of the machine's account is not on the ${PlanTier.STANDARD} tier, so the agent does not lock its ports`;
