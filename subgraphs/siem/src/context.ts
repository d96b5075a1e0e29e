import type { DataSource } from "typeorm";
import type { BaseContext } from "../../common/src";
import { liveFeedOf, type LiveFeed } from "./modules/live/live-feed";
import { AlertsService } from "./modules/alerts/alerts.service";
import type { EventIngest } from "./modules/events/event-ingest";
import { EventsService } from "./modules/events/events.service";
import { IntelService } from "./modules/intel/intel.service";
import { InvestigationService } from "./modules/investigation/investigation.service";
import { RulesService } from "./modules/rules/rules.service";
import { SigmaImportService } from "./modules/rules/sigma.service";
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
    sigma: SigmaImportService;
    intel: IntelService;
    investigation: InvestigationService;
  };
  /** The process's live feed (subscriptions). */
  live(): LiveFeed;
}

/** Builds the per-request services. */
export function createSiemContext(base: BaseContext, ingestor: EventIngest, ds: DataSource): SiemContext {
  return {
    ...base,
    live: () => liveFeedOf(ds),
    services: {
      alerts: new AlertsService(base.db, base.identity),
      incidents: new IncidentsService(base.db, base.identity),
      workflow: new IncidentWorkflowService(base.db, base.identity),
      events: new EventsService(base.db, base.identity, ingestor),
      rules: new RulesService(base.db, base.identity),
      sigma: new SigmaImportService(base.db, base.identity),
      intel: new IntelService(base.db, base.identity),
      investigation: new InvestigationService(base.db, base.identity),
    },
  };
}
