import { Connection } from "../../../../common/src";
import { Recommendation } from "./recommendations.types";

/** A page of recommendations. */
export const RecommendationConnection = Connection(Recommendation);
export type RecommendationConnection = InstanceType<typeof RecommendationConnection>;
