/*
 * Whether a JIT policy is enforced. The agent locks a machine's JIT ports only while workload protection covers
 * the machine: its account's SERVERS plan on STANDARD (`agentpolicy.service.ts` gives an uncovered machine no
 * JIT policy). Everything else that reads a policy — its port states, requests and approvals, posture's
 * management-ports report, the detections and network hardening — asks the same question, in SQL, of the
 * machine's account (`jitEnforcedSql`).
 */
import { PlanTier, PlanType } from "../plans/plan.entity";

/**
 * SQL: true when the JIT policy row aliased `p` (with its `tenant_id`, `resource_id` and `account_id`) is
 * enforced: the SERVERS plan is STANDARD in the machine's account. That account is the one protection's mirror of
 * the inventory gives the machine now (`resource_accounts`, kept by posture's relay, as `coveredSql` reads it), else
 * the one the policy recorded when it was set. A policy stored before policies recorded their account, on a
 * machine the mirror lacks too, counts as enforced, as it did, until its agent polls `agentPolicy` (which records
 * the account) or it is next set.
 */
export const jitEnforcedSql = (p: string) =>
  `(SELECT enf_acc.id IS NULL OR EXISTS (SELECT 1 FROM plans enf WHERE enf.tenant_id = ${p}.tenant_id
     AND enf.account_id = enf_acc.id AND enf.plan_type = '${PlanType.SERVERS}' AND enf.tier = '${PlanTier.STANDARD}')
   FROM (SELECT coalesce((SELECT ra.account_id FROM resource_accounts ra
     WHERE ra.tenant_id = ${p}.tenant_id AND ra.resource_id = ${p}.resource_id), ${p}.account_id) AS id) enf_acc)`;

/** Why a policy's ports are not locked when it is not enforced: for error messages and report causes. */
export const NOT_ENFORCED_REASON = `the SERVERS plan of the machine's account is not on the ${PlanTier.STANDARD} tier, so the agent does not lock its ports`;
