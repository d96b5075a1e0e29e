import type { SubgraphModule } from "../../common/src";
import { postureMigrations } from "../../../migrations/posture";
import { createPostureContext, type PostureContext } from "./context";
import { CloudAccount } from "./modules/inventory/cloud-account.entity";
import { CloudAccountResolver, ResourceResolver } from "./modules/inventory/inventory.resolver";
import { Resource } from "./modules/inventory/resource.entity";
import { postureReferences } from "./references";

/** The posture subgraph: inventory (and, later, policies, assessments, score, compliance, network). */
export const postureSubgraph: SubgraphModule<PostureContext> = {
  name: "posture",
  schema: { resolvers: [ResourceResolver, CloudAccountResolver], referenceResolvers: postureReferences },
  entities: [CloudAccount, Resource],
  migrations: postureMigrations,
  createContext: (base) => createPostureContext(base),
};
