import { auditTrailSchema, type SubgraphModule } from "../../common/src";
import { postureMigrations } from "../../../migrations/posture";
import { createPostureContext, type PostureContext } from "./context";
import {
  AssessmentResolver,
  ExemptionResolver,
  ResourceAssessmentsResolver,
} from "./modules/assessments/assessments.resolver";
import {
  postureTasks,
  POSTURE_CRONTAB,
  queueBuiltInEvaluation,
} from "./modules/assessments/assessment.tasks";
import { builtInDefinitions } from "./modules/assessments/definition-registry";
import { AccountComplianceResolver, ComplianceResolver } from "./modules/compliance/compliance.resolver";
import { CloudAccount } from "./modules/inventory/cloud-account.entity";
import { CloudAccountResolver, ResourceResolver } from "./modules/inventory/inventory.resolver";
import { AlertResourceResolver, SecurityAlertRef } from "./modules/inventory/alert-resource.resolver";
import { startRemovalRelay } from "./modules/inventory/removal-relay";
import {
  queueResourceAccountsBackfill,
  resourceAccountTasks,
  startResourceAccountRelays,
} from "./modules/inventory/resource-mirror-relay";
import { Resource } from "./modules/inventory/resource.entity";
import {
  NetworkNeighbourResolver,
  NetworkResolver,
  ResourceExposureResolver,
  ResourceNetworkNeighboursResolver,
} from "./modules/network/network.resolver";
import { PoliciesResolver } from "./modules/policies/policies.resolver";
import {
  RecommendationResolver,
  ResourceRecommendationsResolver,
} from "./modules/recommendations/recommendations.resolver";
import { AccountScoreResolver, ScoreResolver } from "./modules/score/score.resolver";
import { topologyCache } from "./modules/network/network-topology-cache";
import { complianceCache } from "./modules/compliance/compliance-cache";
import { postureReferences } from "./references";

/** The audit trail's `posture` field and `Query.auditTrail`, which posture owns. */
const auditTrail = auditTrailSchema("posture", { rootQuery: true });

/** The posture subgraph: inventory, policies, assessments, recommendations, Secure Score, compliance, network. */
export const postureSubgraph: SubgraphModule<PostureContext> = {
  name: "posture",
  schema: {
    resolvers: [
      ResourceResolver,
      CloudAccountResolver,
      PoliciesResolver,
      AssessmentResolver,
      ExemptionResolver,
      ResourceAssessmentsResolver,
      RecommendationResolver,
      ResourceRecommendationsResolver,
      ScoreResolver,
      AccountScoreResolver,
      ComplianceResolver,
      AccountComplianceResolver,
      NetworkResolver,
      ResourceExposureResolver,
      ResourceNetworkNeighboursResolver,
      NetworkNeighbourResolver,
      AlertResourceResolver,
      ...auditTrail.resolvers,
    ],
    orphanedTypes: [SecurityAlertRef, ...auditTrail.types],
    referenceResolvers: { ...postureReferences, ...auditTrail.references },
  },
  entities: [CloudAccount, Resource],
  migrations: postureMigrations,
  createContext: (base) => createPostureContext(base),
  tasks: (ds, log) => ({ ...postureTasks(ds, log), ...resourceAccountTasks(ds, log) }),
  prepare: (config) => {
    builtInDefinitions();
    topologyCache.setLimit(config.networkTopologyCacheSize);
    complianceCache.setLimit(config.complianceCacheSize);
  },
  crontab: POSTURE_CRONTAB,
  start: async (ds, log, config) => {
    await queueBuiltInEvaluation(ds);
    await queueResourceAccountsBackfill(ds);
    const removals = await startRemovalRelay(config, log);
    const accounts = await startResourceAccountRelays(config, log).catch(async (err: unknown) => {
      await removals.stop();
      throw err;
    });
    return {
      stop: async () => {
        await accounts.stop();
        await removals.stop();
      },
    };
  },
};
