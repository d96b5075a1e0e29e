import { Connection } from "../../../../common/src";
import { CloudAccount } from "./cloud-account.entity";
import { Resource } from "./resource.entity";

/** A page of resources. */
export const ResourceConnection = Connection(Resource);
export type ResourceConnection = InstanceType<typeof ResourceConnection>;

/** A page of accounts. */
export const CloudAccountConnection = Connection(CloudAccount);
export type CloudAccountConnection = InstanceType<typeof CloudAccountConnection>;
