import { Connection } from "../../../../common/src";
import { SecurityAlert } from "./alert.entity";

/** A page of alerts, newest first. */
export const AlertConnection = Connection(SecurityAlert);
export type AlertConnection = InstanceType<typeof AlertConnection>;
