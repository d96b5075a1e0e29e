import { Connection } from "../../../../common/src";
import { Incident } from "./incident.entity";

/** A page of incidents, newest first. */
export const IncidentConnection = Connection(Incident);
export type IncidentConnection = InstanceType<typeof IncidentConnection>;
