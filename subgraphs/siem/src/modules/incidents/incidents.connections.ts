import { Connection } from "../../../../common/src";
import { Incident } from "./incident.entity";
import { IncidentActivity } from "./incident-workflow.types";

/** A page of incidents, newest first. */
export const IncidentConnection = Connection(Incident);
export type IncidentConnection = InstanceType<typeof IncidentConnection>;

/** A page of an incident's activity log, newest first. */
export const IncidentActivityConnection = Connection(IncidentActivity);
export type IncidentActivityConnection = InstanceType<typeof IncidentActivityConnection>;
