/*
 * Whether a JIT policy is enforced. The agent locks a machine's JIT ports only while workload protection covers
 * the machine: its account's SERVERS plan on STANDARD (`agentpolicy.service.ts` gives an uncovered machine no
 * JIT policy). Everything else that reads a policy — its port states, requests and approvals, posture's
 * management-ports report, the detections and network hardening — asks the same question, in SQL, of the
 * account the policy recorded when it was set.
 */
import { PlanTier, PlanType } from "../plans/plan.entity";

/**
 * SQL: true when the JIT policy row aliased `p` (with its `tenant_id` and `account_id`) is enforced. A policy
 * stored before policies recorded their account (account_id null) counts as enforced until its agent polls
 * `agentPolicy` (which records the account) or it is next set.
 */
export const jitEnforcedSql = (p: string) =>
  `(${p}.account_id IS NULL OR EXISTS (SELECT 1 FROM plans enf WHERE enf.tenant_id = ${p}.tenant_id
     AND enf.account_id = ${p}.account_id AND enf.plan_type = '${PlanType.SERVERS}' AND enf.tier = '${PlanTier.STANDARD}'))`;

/** Why a policy's ports are not locked when it is not enforced: for error messages and report causes. */
export const NOT_ENFORCED_REASON = `the SERVERS plan of the machine's account is not on the ${PlanTier.STANDARD} tier, so the agent does not lock its ports`;
