import { byIdLoader } from "../../../../common/src";
import type { InventoryService } from "./inventory.service";

/** Per-request DataLoaders of the inventory: one SQL statement per batch of ids. */
export function createInventoryLoaders(service: InventoryService) {
  return {
    resource: byIdLoader((ids) => service.resourcesByIds(ids)),
    account: byIdLoader((ids) => service.accountsByIds(ids)),
  };
}

export type InventoryLoaders = ReturnType<typeof createInventoryLoaders>;
