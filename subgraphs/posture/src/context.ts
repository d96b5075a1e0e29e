import type { BaseContext } from "../../common/src";
import { createInventoryLoaders, type InventoryLoaders } from "./modules/inventory/inventory.loader";
import { InventoryService } from "./modules/inventory/inventory.service";

/** A posture request: identity, database, services and DataLoaders. */
export interface PostureContext extends BaseContext {
  services: { inventory: InventoryService };
  loaders: InventoryLoaders;
}

/** Builds the per-request services and DataLoaders. */
export function createPostureContext(base: BaseContext): PostureContext {
  const inventory = new InventoryService(base.db, base.identity);
  return { ...base, services: { inventory }, loaders: createInventoryLoaders(inventory) };
}
