import type { BaseContext } from "../../common/src";
import { AlertsService } from "./modules/alerts/alerts.service";
import { IncidentsService } from "./modules/incidents/incidents.service";

/** A SIEM request: identity, database and services (each holding its per-request DataLoaders). */
export interface SiemContext extends BaseContext {
  services: { alerts: AlertsService; incidents: IncidentsService };
}

/** Builds the per-request services. */
export function createSiemContext(base: BaseContext): SiemContext {
  return {
    ...base,
    services: {
      alerts: new AlertsService(base.db, base.identity),
      incidents: new IncidentsService(base.db, base.identity),
    },
  };
}
