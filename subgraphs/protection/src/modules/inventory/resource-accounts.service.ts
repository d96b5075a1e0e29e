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
  checkMirrorSync,
  deleteMirrorRows,
  lockMirrorRows,
  type Identity,
  type RequestDb,
} from "../../../../common/src";
import { planTypeFor } from "../plans/coverage";
import { COVERAGE_REPORT_KINDS, syncPostureReports } from "../reports/sync";
import { SyncInventoryResourcesPayload, type SyncInventoryResourcesInput } from "./resource-accounts.types";

/** Longest resource type accepted, in UTF-8 bytes (provider types are far shorter). */
const MAX_TYPE_BYTES = 256;

export class ResourceAccountsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Records the resources' accounts and forgets the removed ones, in one transaction of the caller's tenant. */
  async sync(input: SyncInventoryResourcesInput): Promise<SyncInventoryResourcesPayload> {
    const sync = checkMirrorSync(
      input,
      "Invalid inventory resources; nothing was changed.",
      { field: "type", maxBytes: MAX_TYPE_BYTES },
      (r, accountId) => ({ accountId, planType: planTypeFor(r.type) }),
    );
    const tenant = this.identity.tenantId;
    return this.db.write(async (m) => {
      await lockMirrorRows(m, "resource_accounts", tenant, sync);
      const upserted: Array<{ resource_id: string }> = sync.ids.length
        ? await m.query(
            `INSERT INTO resource_accounts AS ra (tenant_id, resource_id, account_id, plan_type)
             SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::text[])
             ON CONFLICT (tenant_id, resource_id) DO UPDATE
               SET account_id = excluded.account_id, plan_type = excluded.plan_type, updated_at = now()
               WHERE (ra.account_id, ra.plan_type) IS DISTINCT FROM (excluded.account_id, excluded.plan_type)
             RETURNING ra.resource_id`,
            [tenant, sync.ids, sync.rows.map((r) => r.accountId), sync.rows.map((r) => r.planType)],
          )
        : [];
      const deleted = await deleteMirrorRows(m, "resource_accounts", tenant, sync);
      // Coverage may have changed where the mirror did: those machines' reports follow, in this transaction.
      await syncPostureReports(
        m,
        tenant,
        [...upserted.map((r) => r.resource_id), ...deleted],
        COVERAGE_REPORT_KINDS,
      );
      return Object.assign(new SyncInventoryResourcesPayload(), {
        upsertedCount: upserted.length,
        removedCount: deleted.length,
      });
    });
  }
}
