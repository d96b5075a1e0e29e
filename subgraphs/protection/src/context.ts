import type { BaseContext } from "../../common/src";
import { PlansService } from "./modules/plans/plans.service";
import { VulnerabilitiesService } from "./modules/vulnerabilities/vulnerabilities.service";

/** A protection request: identity, database and services (each holding its per-request DataLoaders). */
export interface ProtectionContext extends BaseContext {
  services: { plans: PlansService; vulnerabilities: VulnerabilitiesService };
}

/** Builds the per-request services. */
export function createProtectionContext(base: BaseContext): ProtectionContext {
  return {
    ...base,
    services: {
      plans: new PlansService(base.db, base.identity),
      vulnerabilities: new VulnerabilitiesService(base.db, base.identity),
    },
  };
}
