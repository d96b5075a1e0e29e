/*
 * Which watch list applies to a machine: its application-control group's own list, else the tenant's
 * list, else the built-in defaults (`DEFAULT_WATCH_LIST`). One statement for any number of machines.
 */
import type { EntityManager } from "typeorm";
import { isUuid } from "../../../../common/src";
import { compileWatchList, DEFAULT_WATCH_LIST, type WatchEntry, type WatchMatcher } from "./paths";

/** Where a machine's watch list comes from. */
export type WatchListSource = "GROUP" | "TENANT" | "DEFAULT";

/** The watch list in force on a machine. */
export interface EffectiveWatchList {
  /** The machine's application-control group (null: none). */
  groupId: string | null;
  source: WatchListSource;
  matcher: WatchMatcher;
}

/** The built-in list, for machines of no tenant list and no group list. */
export const DEFAULT_EFFECTIVE: EffectiveWatchList = {
  groupId: null,
  source: "DEFAULT",
  get matcher() {
    return compileWatchList(DEFAULT_WATCH_LIST);
  },
};

/** The watch list in force on each of `resourceIds` (every id gets one; non-UUIDs get the defaults). */
export async function loadWatchLists(
  m: EntityManager,
  tenantId: string,
  resourceIds: readonly string[],
): Promise<Map<string, EffectiveWatchList>> {
  const ids = [...new Set(resourceIds.filter(isUuid))];
  const out = new Map<string, EffectiveWatchList>();
  if (ids.length === 0) return out;
  const rows = (await m.query(
    `SELECT r.id AS resource_id, mem.group_id, g.paths AS group_paths, t.paths AS tenant_paths
     FROM unnest($2::uuid[]) AS r(id)
     LEFT JOIN app_control_members mem ON mem.tenant_id = $1 AND mem.resource_id = r.id
     LEFT JOIN fim_watch_lists g ON g.tenant_id = $1 AND g.group_id = mem.group_id
     LEFT JOIN fim_watch_lists t ON t.tenant_id = $1 AND t.group_id IS NULL`,
    [tenantId, ids],
  )) as Array<{
    resource_id: string;
    group_id: string | null;
    group_paths: WatchEntry[] | null;
    tenant_paths: WatchEntry[] | null;
  }>;
  for (const row of rows) {
    const [source, entries]: [WatchListSource, readonly WatchEntry[]] = row.group_paths
      ? ["GROUP", row.group_paths]
      : row.tenant_paths
        ? ["TENANT", row.tenant_paths]
        : ["DEFAULT", DEFAULT_WATCH_LIST];
    out.set(row.resource_id, { groupId: row.group_id, source, matcher: compileWatchList(entries) });
  }
  return out;
}
