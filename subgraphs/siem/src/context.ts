import type { DataSource } from "typeorm";
import type { BaseContext, Config } from "../../common/src";
import { liveFeedOf, type LiveFeed } from "./modules/live/live-feed";
import { AlertsService } from "./modules/alerts/alerts.service";
import { AutomationService } from "./modules/automation/automation.service";
import { PlaybooksService } from "./modules/automation/playbooks.service";
import { SecretBox } from "./modules/automation/secret-box";
import type { EventIngest } from "./modules/events/event-ingest";
import { EventRetentionService } from "./modules/events/event-retention.service";
import { EventsService } from "./modules/events/events.service";
import { IngestReceiptsService } from "./modules/events/ingest-receipts.service";
import { FeedsService } from "./modules/intel/feeds.service";
import { IntelService } from "./modules/intel/intel.service";
import { InvestigationService } from "./modules/investigation/investigation.service";
import { RulesService } from "./modules/rules/rules.service";
import { SigmaImportService } from "./modules/rules/sigma.service";
import { IncidentsService } from "./modules/incidents/incidents.service";
import { IncidentWorkflowService } from "./modules/incidents/incident-workflow.service";
import { IncidentMetricsService } from "./modules/incidents/incident-metrics.service";
import { BookmarksService } from "./modules/hunting/bookmarks.service";
import { HuntingService } from "./modules/hunting/hunting.service";
import { WatchlistsService } from "./modules/hunting/watchlists.service";
import { ResourceAccountsService } from "./modules/inventory/resource-accounts.service";

/** A SIEM request: identity, database and services (each holding its per-request DataLoaders). */
export interface SiemContext extends BaseContext {
  services: {
    alerts: AlertsService;
    incidents: IncidentsService;
    workflow: IncidentWorkflowService;
    metrics: IncidentMetricsService;
    events: EventsService;
    receipts: IngestReceiptsService;
    retention: EventRetentionService;
    rules: RulesService;
    sigma: SigmaImportService;
    intel: IntelService;
    feeds: FeedsService;
    investigation: InvestigationService;
    automation: AutomationService;
    playbooks: PlaybooksService;
    hunting: HuntingService;
    bookmarks: BookmarksService;
    watchlists: WatchlistsService;
    resourceAccounts: ResourceAccountsService;
  };
  /** The process's live feed (subscriptions). */
  live(): LiveFeed;
}

/** The key ring of playbook secrets: one box per configured ring, not per request (keys are derived once). */
const boxes = new WeakMap<
  Config["playbookSecretKeys"],
  { secret: string; previous: string | undefined; box: SecretBox }
>();
function secretBoxFor(config: Config): SecretBox {
  const cached = boxes.get(config.playbookSecretKeys);
  if (cached?.secret === config.internalTokenSecret && cached.previous === config.internalTokenPreviousSecret)
    return cached.box;
  const box = SecretBox.fromConfig(config);
  boxes.set(config.playbookSecretKeys, {
    secret: config.internalTokenSecret,
    previous: config.internalTokenPreviousSecret,
    box,
  });
  return box;
}

/** Builds the per-request services. */
export function createSiemContext(
  base: BaseContext,
  ingestor: EventIngest,
  ds: DataSource,
  config: Config,
): SiemContext {
  return {
    ...base,
    live: () => liveFeedOf(ds),
    services: {
      alerts: new AlertsService(base.db, base.identity),
      incidents: new IncidentsService(base.db, base.identity),
      workflow: new IncidentWorkflowService(base.db, base.identity),
      metrics: new IncidentMetricsService(base.db, base.identity),
      events: new EventsService(base.db, base.identity, ingestor),
      receipts: new IngestReceiptsService(base.db, base.identity),
      retention: new EventRetentionService(base.db, base.identity, config.eventRetentionDays),
      rules: new RulesService(base.db, base.identity),
      sigma: new SigmaImportService(base.db, base.identity),
      intel: new IntelService(base.db, base.identity),
      feeds: new FeedsService(base.db, base.identity, {
        secrets: secretBoxFor(config),
        requireHttps: config.env === "production",
        allowPrivateTargets: config.intelFeedAllowPrivateTargets,
      }),
      investigation: new InvestigationService(base.db, base.identity),
      automation: new AutomationService(base.db, base.identity),
      playbooks: new PlaybooksService(base.db, base.identity, {
        secrets: secretBoxFor(config),
        requireHttps: config.env === "production",
        allowPrivateTargets: config.playbookAllowPrivateTargets,
      }),
      hunting: new HuntingService(base.db, base.identity, { retentionDays: config.eventRetentionDays }),
      bookmarks: new BookmarksService(base.db, base.identity),
      watchlists: new WatchlistsService(base.db, base.identity),
      resourceAccounts: new ResourceAccountsService(base.db, base.identity),
    },
  };
}
