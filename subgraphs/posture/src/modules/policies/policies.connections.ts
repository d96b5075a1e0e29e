import { Connection } from "../../../../common/src";
import { PolicyDefinition } from "./policies.types";

/** A page of policy definitions. */
export const PolicyDefinitionConnection = Connection(PolicyDefinition);
export type PolicyDefinitionConnection = InstanceType<typeof PolicyDefinitionConnection>;
