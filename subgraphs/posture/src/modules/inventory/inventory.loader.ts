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
     * Resources by provider id (ARM id / ARN), case-insensitively: how alerts from logs name them.
     * An ARM id of a child (a diagnostic setting, a subnet, an extension) resolves to its nearest
     * inventoried ancestor, so an alert about a vault's diagnostic setting points at the vault.
     */
    resourceByExternalId: new DataLoader<string, Resource | null>(async (externalIds) => {
      const candidates = externalIds.map(armAncestors);
      const rows = await service.resourcesByExternalIds([...new Set(candidates.flat())]);
      const byKey = new Map(rows.map((r) => [r.externalId.toLowerCase(), r]));
      return candidates.map((list) => list.map((c) => byKey.get(c)).find((r) => r) ?? null);
    }),
  };
}

export type InventoryLoaders = ReturnType<typeof createInventoryLoaders>;

/** The id itself, then (for ARM ids) each ancestor path down to the subscription, lower-cased, longest first. */
export function armAncestors(externalId: string): string[] {
  const id = externalId.toLowerCase().replace(/\/+$/, "");
  if (!id.startsWith("/subscriptions/")) return [id];
  const segments = id.split("/");
  const out: string[] = [];
  for (let n = segments.length; n >= 3; n--) out.push(segments.slice(0, n).join("/"));
  return out;
}
