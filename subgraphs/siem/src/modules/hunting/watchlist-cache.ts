import type { EntityManager } from "typeorm";
import { BadUserInputError } from "../../../../common/src";
import type { WatchlistLookup } from "../rules/rule-filter";

/** One watchlist's folded search keys as of a version. */
interface Entry {
  id: string;
  version: number;
  keys: ReadonlySet<string>;
}

/** Watchlists the near-real-time rules of this process use, by tenant and lower-case alias. */
const cache = new Map<string, Entry>();
/** Watchlists kept at most; past it the cache starts over (they reload on their next use). */
const MAX_CACHED = 1000;

const keyOf = (tenantId: string, aliasKey: string) => `${tenantId}\u0000${aliasKey}`;

/**
 * Brings this process's copy of the tenant's watchlists named by `aliasKeys` up to date, in the caller's
 * transaction: one statement reads their versions, and only a watchlist that changed since (or is new here, or
 * was replaced under the same alias) is read again. Near-real-time rules call it once per ingest batch, so a
 * watchlist change reaches every replica's rules from the next batch on, without any message between them.
 */
export async function refreshWatchlistKeys(
  m: EntityManager,
  tenantId: string,
  aliasKeys: readonly string[],
): Promise<void> {
  if (aliasKeys.length === 0) return;
  if (cache.size > MAX_CACHED) cache.clear();
  const rows: Array<{ id: string; alias_key: string; version: number }> = await m.query(
    `SELECT id, alias_key, version FROM watchlists WHERE tenant_id = $1 AND alias_key = ANY($2::text[])`,
    [tenantId, aliasKeys],
  );
  const present = new Set(rows.map((r) => r.alias_key));
  for (const alias of aliasKeys) if (!present.has(alias)) cache.delete(keyOf(tenantId, alias));
  const stale = rows.filter((r) => {
    const entry = cache.get(keyOf(tenantId, r.alias_key));
    return !entry || entry.id !== r.id || entry.version !== r.version;
  });
  if (stale.length === 0) return;
  const items: Array<{ watchlist_id: string; key_folded: string }> = await m.query(
    `SELECT watchlist_id, key_folded FROM watchlist_items WHERE tenant_id = $1 AND watchlist_id = ANY($2::uuid[])`,
    [tenantId, stale.map((r) => r.id)],
  );
  const keys = new Map<string, Set<string>>(stale.map((r) => [r.id, new Set<string>()]));
  for (const item of items) keys.get(item.watchlist_id)?.add(item.key_folded);
  for (const r of stale)
    cache.set(keyOf(tenantId, r.alias_key), { id: r.id, version: r.version, keys: keys.get(r.id)! });
}

/** The tenant's cached watchlists as rule predicates read them (refreshWatchlistKeys first). */
export function watchlistKeys(tenantId: string): WatchlistLookup {
  return (aliasKey) => cache.get(keyOf(tenantId, aliasKey))?.keys;
}

/** The watchlist aliases (lower case) one filter of a rule names, and the path of that filter in the rule. */
export interface WatchlistUse {
  field: string;
  aliasKeys: readonly string[];
}

/**
 * Checks, in the caller's transaction, that the tenant has the watchlists a rule's filters name, and holds them
 * (FOR SHARE) until it commits, so a concurrent deleteWatchlist waits and then sees the rule that uses them.
 * A missing one is a problem of the filter that names it (`filter`, `summarize.filters[1].filter`).
 */
export async function requireWatchlists(
  m: EntityManager,
  tenantId: string,
  uses: readonly WatchlistUse[],
): Promise<void> {
  const aliasKeys = [...new Set(uses.flatMap((u) => u.aliasKeys))];
  if (aliasKeys.length === 0) return;
  const rows: Array<{ alias_key: string }> = await m.query(
    `SELECT alias_key FROM watchlists WHERE tenant_id = $1 AND alias_key = ANY($2::text[]) FOR SHARE`,
    [tenantId, aliasKeys],
  );
  const problems = uses.flatMap((u) =>
    u.aliasKeys
      .filter((a) => !rows.some((r) => r.alias_key === a))
      .map((alias) => ({ field: u.field, message: `no watchlist with the alias "${alias}"` })),
  );
  if (problems.length) throw new BadUserInputError("Invalid analytics rule; nothing was stored.", problems);
}
