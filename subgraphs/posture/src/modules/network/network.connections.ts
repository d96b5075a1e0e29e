import { Connection } from "../../../../common/src";
import { NetworkNeighbour } from "./network.types";

/** A page of a resource's network neighbours. */
export const NetworkNeighbourConnection = Connection(NetworkNeighbour);
export type NetworkNeighbourConnection = InstanceType<typeof NetworkNeighbourConnection>;
