import type { BaseContext } from "../../common/src";
import { AlertsService } from "./modules/alerts/alerts.service";
import type { EventIngest } from "./modules/events/event-ingest";
import { EventsService } from "./modules/events/events.service";
import { IntelService } from "./modules/intel/intel.service";
import { InvestigationService } from "./modules/investigation/investigation.service";
import { RulesService } from "./modules/rules/rules.service";
import { IncidentsService } from "./modules/incidents/incidents.service";
import { IncidentWorkflowService } from "./modules/incidents/incident-workflow.service";

/** A SIEM request: identity, database and services (each holding its per-request DataLoaders). */
export interface SiemContext extends BaseContext {
  services: {
    alerts: AlertsService;
    incidents: IncidentsService;
    workflow: IncidentWorkflowService;
    events: EventsService;
    rules: RulesService;
    intel: IntelService;
    investigation: InvestigationService;
  };
}

/** Builds the per-request services. */
export function createSiemContext(base: BaseContext, ingestor: EventIngest): SiemContext {
  return {
    ...base,
    services: {
      alerts: new AlertsService(base.db, base.identity),
      incidents: new IncidentsService(base.db, base.identity),
      workflow: new IncidentWorkflowService(base.db, base.identity),
      events: new EventsService(base.db, base.identity, ingestor),
      rules: new RulesService(base.db, base.identity),
      intel: new IntelService(base.db, base.identity),
      investigation: new InvestigationService(base.db, base.identity),
    },
  };
}
