/*
 * What the subgraphs' mirrors of posture's inventory share (the SIEM's and protection's `resource_accounts`, kept by
 * posture's relays): one call's input checked whole, and the row locks that let two calls on the same resources wait
 * for each other instead of deadlocking. Each mirror stores its own columns.
 */
import type { EntityManager } from "typeorm";
import { canonicalId, isUuid, textProblem, utf8LongerThan } from "../validation";
import { assertNoProblems, type InputProblem } from "../errors";

/** Most resources and removed ids per call (posture's relays send at most this many). */
export const MAX_MIRROR_SYNC_ITEMS = 1000;

/** One resource of a sync call: its id and account, and whatever else the mirror keeps. */
export interface MirrorSyncItem {
  resourceId: string;
  accountId: string;
}

/** A sync call checked: the rows to store in resource id order (the last given for a resource wins), the removed ids. */
export interface MirrorSync<T> {
  ids: string[];
  rows: T[];
  removed: string[];
}

/**
 * Checks a sync call whole: at most MAX_MIRROR_SYNC_ITEMS resources and removed ids together, UUIDs, no resource also
 * removed, and the mirror's own text field of each item (`text`: 1 to `maxBytes` UTF-8 bytes, storable). Throws
 * BAD_USER_INPUT with every problem and `message` when any, so nothing is changed; otherwise each item becomes its
 * row (`row`, given the canonical account id).
 */
export function checkMirrorSync<I extends MirrorSyncItem, T>(
  input: { resources: readonly I[]; removedIds: readonly string[] },
  message: string,
  text: { field: keyof I & string; maxBytes: number },
  row: (item: I, accountId: string) => T,
): MirrorSync<T> {
  const problem = (item: I): string | null => {
    const value = item[text.field] as unknown as string;
    return !value.trim() || utf8LongerThan(value, text.maxBytes)
      ? `must be 1 to ${text.maxBytes} bytes`
      : textProblem(value);
  };
  const problems: InputProblem[] = [];
  if (input.resources.length + input.removedIds.length > MAX_MIRROR_SYNC_ITEMS)
    problems.push({
      field: "input",
      message: `at most ${MAX_MIRROR_SYNC_ITEMS} resources and removed ids together`,
    });
  const removed = new Set<string>();
  input.removedIds.forEach((id, index) => {
    if (isUuid(id)) removed.add(canonicalId(id));
    else problems.push({ index, field: "removedIds", message: "must be a resource id (UUID)" });
  });
  // The last state given for a resource wins, as it would over two calls.
  const current = new Map<string, T>();
  input.resources.forEach((r, index) => {
    const idOk = isUuid(r.resourceId);
    if (!idOk)
      problems.push({ index, field: "resources.resourceId", message: "must be a resource id (UUID)" });
    else if (removed.has(canonicalId(r.resourceId)))
      problems.push({ index, field: "resources.resourceId", message: "is also among removedIds" });
    const accountOk = isUuid(r.accountId);
    if (!accountOk)
      problems.push({ index, field: "resources.accountId", message: "must be an account id (UUID)" });
    const own = problem(r);
    if (own) problems.push({ index, field: `resources.${text.field}`, message: own });
    else if (idOk && accountOk) current.set(canonicalId(r.resourceId), row(r, canonicalId(r.accountId)));
  });
  assertNoProblems(message, problems);
  // Canonical ids sort as the uuids do: the order the rows are locked and inserted in.
  const ids = [...current.keys()].sort();
  return { ids, rows: ids.map((id) => current.get(id)!), removed: [...removed] };
}

/**
 * Locks a call's existing rows of `table` in resource id order, so two syncs of the same resources wait for each
 * other instead of deadlocking (new rows are then inserted in that order too).
 */
export async function lockMirrorRows(
  m: EntityManager,
  table: string,
  tenantId: string,
  sync: MirrorSync<unknown>,
): Promise<void> {
  await m.query(
    `SELECT 1 FROM ${table} WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) ORDER BY resource_id FOR UPDATE`,
    [tenantId, [...sync.ids, ...sync.removed]],
  );
}

/** Deletes the removed resources' rows of `table`; returns the ids it held. */
export async function deleteMirrorRows(
  m: EntityManager,
  table: string,
  tenantId: string,
  sync: MirrorSync<unknown>,
): Promise<string[]> {
  if (sync.removed.length === 0) return [];
  const rows: Array<{ resource_id: string }> = await m.query(
    `DELETE FROM ${table} WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) RETURNING resource_id`,
    [tenantId, sync.removed],
  );
  return rows.map((r) => r.resource_id);
}
