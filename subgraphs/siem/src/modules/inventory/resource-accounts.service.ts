/*
 * The SIEM's mirror of posture's inventory, reduced to what the SIEM needs: which account each resource belongs
 * to, under the keys alerts name it by (`resource_accounts`, migration siem 1767230000000). Posture's relay
 * `siem-resource-accounts` sends the current state of resources whose inventory rows changed (or were removed);
 * each call replaces what the mirror holds for them, so a batch sent again, or a later state sent before an
 * earlier one's repeat, leaves the mirror as posture's inventory is: exactly once in effect. No audit entry: it
 * copies posture's inventory, whose changes posture audits.
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
import { resourceEntityKeys } from "../alerts/resource-alerts";
import { SyncResourceAccountsPayload, type SyncResourceAccountsInput } from "./resource-accounts.types";

/** Most resources and removed ids per call (posture's relay sends at most this many). */
export const MAX_SYNC_ITEMS = 1000;
/** Longest provider id accepted, in UTF-8 bytes: posture's limit, which keeps the key within a btree entry. */
const MAX_EXTERNAL_ID_BYTES = 1536;

export class ResourceAccountsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Records the resources' accounts and forgets the removed ones, in one transaction of the caller's tenant. */
  async sync(input: SyncResourceAccountsInput): Promise<SyncResourceAccountsPayload> {
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
    const current = new Map<string, { accountId: string; value: string; armScope: string | null }>();
    input.resources.forEach((r, index) => {
      if (!isUuid(r.resourceId))
        problems.push({ index, field: "resources.resourceId", message: "must be a resource id (UUID)" });
      else if (removed.has(canonicalId(r.resourceId)))
        problems.push({ index, field: "resources.resourceId", message: "is also among removedIds" });
      if (!isUuid(r.accountId))
        problems.push({ index, field: "resources.accountId", message: "must be an account id (UUID)" });
      const externalProblem =
        !r.externalId.trim() || Buffer.byteLength(r.externalId) > MAX_EXTERNAL_ID_BYTES
          ? `must be 1 to ${MAX_EXTERNAL_ID_BYTES} bytes`
          : textProblem(r.externalId);
      if (externalProblem) problems.push({ index, field: "resources.externalId", message: externalProblem });
      if (isUuid(r.resourceId) && isUuid(r.accountId) && !externalProblem)
        current.set(canonicalId(r.resourceId), {
          accountId: canonicalId(r.accountId),
          ...resourceEntityKeys(r.externalId),
        });
    });
    if (problems.length)
      throw new BadUserInputError("Invalid resource accounts; nothing was changed.", problems);
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
      const upserted: unknown[] = ids.length
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
              ids,
              rows.map((r) => r.value),
              rows.map((r) => r.armScope),
              rows.map((r) => r.accountId),
            ],
          )
        : [];
      const deleted: unknown[] = removed.size
        ? await m.query(
            `DELETE FROM resource_accounts WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id`,
            [tenant, [...removed]],
          )
        : [];
      return Object.assign(new SyncResourceAccountsPayload(), {
        upsertedCount: upserted.length,
        removedCount: deleted.length,
      });
    });
  }
}
