import type { SubgraphModule } from "../../common/src";
import { protectionMigrations } from "../../../migrations/protection";
import { createProtectionContext, type ProtectionContext } from "./context";
import { Plan } from "./modules/plans/plan.entity";
import { AccountPlansResolver, ResourceCoverageResolver } from "./modules/plans/plans.resolver";
import { CloudAccountRef, protectionReferences, ResourceRef } from "./references";
import { VulnerabilitiesResolver } from "./modules/vulnerabilities/vulnerabilities.resolver";

/** The workload-protection subgraph: plans and coverage (more modules follow). */
export const protectionSubgraph: SubgraphModule<ProtectionContext> = {
  name: "protection",
  schema: {
    resolvers: [AccountPlansResolver, ResourceCoverageResolver, VulnerabilitiesResolver],
    orphanedTypes: [CloudAccountRef, ResourceRef],
    referenceResolvers: protectionReferences,
  },
  entities: [Plan],
  migrations: protectionMigrations,
  createContext: (base) => createProtectionContext(base),
};
