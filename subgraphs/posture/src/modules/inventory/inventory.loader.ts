import DataLoader from "dataloader";
import { byIdLoader } from "../../../../common/src";
import type { Resource } from "./resource.entity";
import type { InventoryService } from "./inventory.service";

/** Per-request DataLoaders of the inventory: one SQL statement per batch of ids. */
export function createInventoryLoaders(service: InventoryService) {
  return {
    resource: byIdLoader((ids) => service.resourcesByIds(ids)),
    account: byIdLoader((ids) => service.accountsByIds(ids)),
    /**
     * Resources by provider id (ARM id / ARN): how alerts from logs name them. The id as written wins;
     * otherwise one that differs only in letter case (logs spell ARM ids in several cases), the oldest
     * first, so two ARNs that differ in case each find their own resource and the answer never depends
     * on row order. An ARM id of a child (a diagnostic setting, a subnet, an extension) resolves to its
     * nearest inventoried ancestor, so an alert about a vault's diagnostic setting points at the vault.
     */
    resourceByExternalId: new DataLoader<string, Resource | null>(async (externalIds) => {
      const candidates = externalIds.map(armAncestors);
      const rows = await service.resourcesByExternalIds([...new Set(candidates.flat())]);
      const exact = new Map(rows.map((r) => [r.externalId, r]));
      const byKey = new Map<string, Resource>();
      for (const r of [...rows].sort(oldestFirst)) {
        const key = r.externalId.toLowerCase();
        if (!byKey.has(key)) byKey.set(key, r);
      }
      return externalIds.map(
        (id, i) => exact.get(id) ?? candidates[i].map((c) => byKey.get(c)).find((r) => r) ?? null,
      );
    }),
  };
}

export type InventoryLoaders = ReturnType<typeof createInventoryLoaders>;

function oldestFirst(a: Resource, b: Resource): number {
  return a.firstSeen.getTime() - b.firstSeen.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The id itself, then (for ARM ids) each ancestor path down to the subscription, lower-cased, longest first. */
export function armAncestors(externalId: string): string[] {
  const id = externalId.toLowerCase().replace(/\/+$/, "");
  if (!id.startsWith("/subscriptions/")) return [id];
  const segments = id.split("/");
  const out: string[] = [];
  for (let n = segments.length; n >= 3; n--) out.push(segments.slice(0, n).join("/"));
  return out;
}
