/*
 * Protection's mirror of posture's inventory, reduced to what coverage needs: each resource's account and the plan
 * that covers its kind (`resource_accounts`, migration protection 1767430000000). Posture's relay
 * `protection-resource-accounts` sends the current state of resources whose inventory rows changed (or were
 * removed); each call replaces what the mirror holds for them, so a batch sent again, or a later state sent before
 * an earlier one's repeat, leaves the mirror as posture's inventory is: exactly once in effect. A resource whose
 * account or kind changed (or that appeared or went) may have changed coverage, so its reports are recomputed in
 * the same transaction. No audit entry: it copies posture's inventory, whose changes posture audits.
 */
import {
  BadUserInputError,
  canonicalId,
  isUuid,
  textProblem,
  type Identity,
  type InputProblem,
  type RequestDb,
} from "../../../../common/src";
import { planTypeFor } from "../plans/coverage";
import type { PlanType } from "../plans/plan.entity";
import { COVERAGE_REPORT_KINDS, syncPostureReports } from "../reports/sync";
import { SyncInventoryResourcesPayload, type SyncInventoryResourcesInput } from "./resource-accounts.types";

/** Most resources and removed ids per call (posture's relay sends at most this many). */
export const MAX_SYNC_ITEMS = 1000;
/** Longest resource type accepted, in UTF-8 bytes (provider types are far shorter). */
const MAX_TYPE_BYTES = 256;

export class ResourceAccountsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Records the resources' accounts and forgets the removed ones, in one transaction of the caller's tenant. */
  async sync(input: SyncInventoryResourcesInput): Promise<SyncInventoryResourcesPayload> {
    const problems: InputProblem[] = [];
    if (input.resources.length + input.removedIds.length > MAX_SYNC_ITEMS)
      problems.push({
        field: "input",
        message: `at most ${MAX_SYNC_ITEMS} resources and removed ids together`,
      });
    const removed = new Set<string>();
    input.removedIds.forEach((id, index) => {
      if (isUuid(id)) removed.add(canonicalId(id));
      else problems.push({ index, field: "removedIds", message: "must be a resource id (UUID)" });
    });
    // The last state given for a resource wins, as it would over two calls.
    const current = new Map<string, { accountId: string; planType: PlanType | null }>();
    input.resources.forEach((r, index) => {
      if (!isUuid(r.resourceId))
        problems.push({ index, field: "resources.resourceId", message: "must be a resource id (UUID)" });
      else if (removed.has(canonicalId(r.resourceId)))
        problems.push({ index, field: "resources.resourceId", message: "is also among removedIds" });
      if (!isUuid(r.accountId))
        problems.push({ index, field: "resources.accountId", message: "must be an account id (UUID)" });
      const typeProblem =
        !r.type.trim() || Buffer.byteLength(r.type) > MAX_TYPE_BYTES
          ? `must be 1 to ${MAX_TYPE_BYTES} bytes`
          : textProblem(r.type);
      if (typeProblem) problems.push({ index, field: "resources.type", message: typeProblem });
      if (isUuid(r.resourceId) && isUuid(r.accountId) && !typeProblem)
        current.set(canonicalId(r.resourceId), {
          accountId: canonicalId(r.accountId),
          planType: planTypeFor(r.type),
        });
    });
    if (problems.length)
      throw new BadUserInputError("Invalid inventory resources; nothing was changed.", problems);
    const tenant = this.identity.tenantId;
    // In id order (canonical ids sort as the uuids do), so two syncs of the same resources wait for each other
    // instead of deadlocking: the existing rows they upsert or delete are locked first, then new ones inserted.
    const ids = [...current.keys()].sort();
    const rows = ids.map((id) => current.get(id)!);
    return this.db.write(async (m) => {
      await m.query(
        `SELECT 1 FROM resource_accounts WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) ORDER BY resource_id FOR UPDATE`,
        [tenant, [...ids, ...removed]],
      );
      const upserted: Array<{ resource_id: string }> = ids.length
        ? await m.query(
            `INSERT INTO resource_accounts AS ra (tenant_id, resource_id, account_id, plan_type)
             SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::text[])
             ON CONFLICT (tenant_id, resource_id) DO UPDATE
               SET account_id = excluded.account_id, plan_type = excluded.plan_type, updated_at = now()
               WHERE (ra.account_id, ra.plan_type) IS DISTINCT FROM (excluded.account_id, excluded.plan_type)
             RETURNING ra.resource_id`,
            [tenant, ids, rows.map((r) => r.accountId), rows.map((r) => r.planType)],
          )
        : [];
      const deleted: Array<{ resource_id: string }> = removed.size
        ? await m.query(
            `DELETE FROM resource_accounts WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id`,
            [tenant, [...removed]],
          )
        : [];
      // Coverage may have changed where the mirror did: those machines' reports follow, in this transaction.
      await syncPostureReports(
        m,
        tenant,
        [...upserted, ...deleted].map((r) => r.resource_id),
        COVERAGE_REPORT_KINDS,
      );
      return Object.assign(new SyncInventoryResourcesPayload(), {
        upsertedCount: upserted.length,
        removedCount: deleted.length,
      });
    });
  }
}
