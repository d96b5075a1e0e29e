import type { BaseContext } from "../../common/src";
import { AssessmentsService } from "./modules/assessments/assessments.service";
import { ComplianceService } from "./modules/compliance/compliance.service";
import { createInventoryLoaders, type InventoryLoaders } from "./modules/inventory/inventory.loader";
import { InventoryService } from "./modules/inventory/inventory.service";
import { NetworkService } from "./modules/network/network.service";
import { PoliciesService } from "./modules/policies/policies.service";
import { RecommendationsService } from "./modules/recommendations/recommendations.service";
import { ScoreService } from "./modules/score/score.service";

/** A posture request: identity, database, services and DataLoaders. */
export interface PostureContext extends BaseContext {
  services: {
    inventory: InventoryService;
    policies: PoliciesService;
    assessments: AssessmentsService;
    recommendations: RecommendationsService;
    score: ScoreService;
    compliance: ComplianceService;
    network: NetworkService;
  };
  loaders: InventoryLoaders;
}

/** Builds the per-request services and DataLoaders. */
export function createPostureContext(base: BaseContext): PostureContext {
  const { db, identity } = base;
  const inventory = new InventoryService(db, identity);
  const policies = new PoliciesService(db, identity);
  return {
    ...base,
    services: {
      inventory,
      policies,
      assessments: new AssessmentsService(db, identity, policies),
      recommendations: new RecommendationsService(db, identity, policies, inventory),
      score: new ScoreService(db, identity),
      compliance: new ComplianceService(db, identity, policies),
      network: new NetworkService(db, identity, policies),
    },
    loaders: createInventoryLoaders(inventory),
  };
}
