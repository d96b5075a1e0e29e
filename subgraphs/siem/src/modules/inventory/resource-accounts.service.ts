/*
 * The SIEM's mirror of posture's inventory, reduced to what the SIEM needs: which account each resource belongs
 * to, under the keys alerts name it by (`resource_accounts`, migration siem 1767230000000). Posture's relay
 * `siem-resource-accounts` sends the current state of resources whose inventory rows changed (or were removed);
 * each call replaces what the mirror holds for them, so a batch sent again, or a later state sent before an
 * earlier one's repeat, leaves the mirror as posture's inventory is: exactly once in effect. No audit entry: it
 * copies posture's inventory, whose changes posture audits.
 */
import {
  checkMirrorSync,
  deleteMirrorRows,
  lockMirrorRows,
  type Identity,
  type RequestDb,
} from "../../../../common/src";
import { resourceEntityKeys } from "../alerts/resource-alerts";
import { SyncResourceAccountsPayload, type SyncResourceAccountsInput } from "./resource-accounts.types";

/** Longest provider id accepted, in UTF-8 bytes: posture's limit, which keeps the key within a btree entry. */
const MAX_EXTERNAL_ID_BYTES = 1536;

export class ResourceAccountsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Records the resources' accounts and forgets the removed ones, in one transaction of the caller's tenant. */
  async sync(input: SyncResourceAccountsInput): Promise<SyncResourceAccountsPayload> {
    const sync = checkMirrorSync(
      input,
      "Invalid resource accounts; nothing was changed.",
      { field: "externalId", maxBytes: MAX_EXTERNAL_ID_BYTES },
      (r, accountId) => ({ accountId, ...resourceEntityKeys(r.externalId) }),
    );
    const tenant = this.identity.tenantId;
    return this.db.write(async (m) => {
      await lockMirrorRows(m, "resource_accounts", tenant, sync);
      const upserted: unknown[] = sync.ids.length
        ? await m.query(
            `INSERT INTO resource_accounts AS ra (tenant_id, resource_id, external_key, arm_scope, account_id)
             SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[])
             ON CONFLICT (tenant_id, resource_id) DO UPDATE
               SET external_key = excluded.external_key, arm_scope = excluded.arm_scope,
                   account_id = excluded.account_id, updated_at = now()
               WHERE (ra.external_key, ra.arm_scope, ra.account_id)
                     IS DISTINCT FROM (excluded.external_key, excluded.arm_scope, excluded.account_id)
             RETURNING ra.resource_id`,
            [
              tenant,
              sync.ids,
              sync.rows.map((r) => r.value),
              sync.rows.map((r) => r.armScope),
              sync.rows.map((r) => r.accountId),
            ],
          )
        : [];
      const deleted = await deleteMirrorRows(m, "resource_accounts", tenant, sync);
      return Object.assign(new SyncResourceAccountsPayload(), {
        upsertedCount: upserted.length,
        removedCount: deleted.length,
      });
    });
  }
}
