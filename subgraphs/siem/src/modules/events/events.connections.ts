import { Connection } from "../../../../common/src";
import { SecurityEvent } from "./events.types";

/** A page of events, newest first. */
export const SecurityEventConnection = Connection(SecurityEvent);
export type SecurityEventConnection = InstanceType<typeof SecurityEventConnection>;
