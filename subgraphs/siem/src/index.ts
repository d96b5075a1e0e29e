import type { DataSource } from "typeorm";
import { auditTrailSchema, type Config, type Logger, type SubgraphModule } from "../../common/src";
import { siemMigrations } from "../../../migrations/siem";
import { createSiemContext, type SiemContext } from "./context";
import { SecurityAlert } from "./modules/alerts/alert.entity";
import { AlertResolver, ResourceAlertsResolver } from "./modules/alerts/alerts.resolver";
import { EventIngest } from "./modules/events/event-ingest";
import { DataConnectorResolver, EventsResolver } from "./modules/events/events.resolver";
import { eventRoutes } from "./modules/events/events.routes";
import {
  eventTasks,
  EVENTS_CRONTAB,
  INGEST_QUEUE_CRONTAB,
  ingestQueueTasks,
} from "./modules/events/events.tasks";
import { NatsEventQueue } from "./modules/events/nats-queue";
import { chunkSigningKey, QueuedIngest } from "./modules/events/queued-ingest";
import { Incident } from "./modules/incidents/incident.entity";
import { IncidentResolver } from "./modules/incidents/incidents.resolver";
import { CloudAccountRef, ResourceRef, siemReferences } from "./references";
import { IntelResolver } from "./modules/intel/intel.resolver";
import { FeedsResolver, IndicatorFeedResolver } from "./modules/intel/feeds.resolver";
import { intelTasks } from "./modules/intel/intel.tasks";
import {
  EntityResolver,
  GraphNodeResolver,
  IncidentGraphResolver,
  ResourceEventsResolver,
} from "./modules/investigation/investigation.resolver";
import { AccountIncidentsResolver } from "./modules/incidents/account-incidents";
import { ResourceAccountsResolver } from "./modules/inventory/resource-accounts.resolver";
import { detectOnIngest } from "./modules/rules/detections";
import { RulesResolver } from "./modules/rules/rules.resolver";
import { SigmaResolver } from "./modules/rules/sigma.resolver";
import { ruleTasks } from "./modules/rules/rules.tasks";
import { loadRuleTemplates } from "./modules/rules/templates";
import { startLiveFeed } from "./modules/live/live-feed";
import { LiveResolver } from "./modules/live/live.resolver";
import {
  AutomationActionResolver,
  AutomationRuleResolver,
  AutomationRunResolver,
} from "./modules/automation/automation.resolver";
import {
  AlertPlaybookRunsResolver,
  PlaybookResolver,
  PlaybookRunResolver,
} from "./modules/automation/playbooks.resolver";
import { startAutomationRelay } from "./modules/automation/automation.relay";
import {
  automationTasks,
  AUTOMATION_CRONTAB,
  queuePlaybookSecretsRekey,
} from "./modules/automation/automation.tasks";
import { derivedKey, SecretBox } from "./modules/automation/secret-box";
import { SecretKeyWatch } from "./modules/automation/secret-keys";
import {
  BookmarksResolver,
  HuntingResolver,
  IncidentBookmarksResolver,
  WatchlistsResolver,
} from "./modules/hunting/hunting.resolver";

/** One ingest pipeline per DataSource (process): it holds the in-memory rule and indicator state. */
const ingestors = new WeakMap<DataSource, EventIngest>();
function ingestorFor(ds: DataSource, config: Config): EventIngest {
  let ingestor = ingestors.get(ds);
  if (!ingestor) {
    ingestor = new EventIngest(ds, { retentionDays: config.eventRetentionDays, onInserted: detectOnIngest });
    ingestors.set(ds, ingestor);
  }
  return ingestor;
}

/** The queued ingest of a process (EVENT_INGEST_QUEUE=nats): its NATS connection, publisher and worker. */
const queuedIngests = new WeakMap<DataSource, QueuedIngest>();
function queuedIngestFor(ds: DataSource, log: Logger, config: Config): QueuedIngest | null {
  if (config.eventQueue.mode !== "nats") return null;
  let queued = queuedIngests.get(ds);
  if (!queued) {
    const queue = new NatsEventQueue(config.eventQueue, log.child({ component: "event-queue" }));
    queued = new QueuedIngest(ds, ingestorFor(ds, config), queue, {
      maxDeliver: config.eventQueue.maxDeliver,
      log: log.child({ component: "event-queue" }),
      signingKeys: {
        current: chunkSigningKey(config.internalTokenSecret),
        previous: config.internalTokenPreviousSecret
          ? chunkSigningKey(config.internalTokenPreviousSecret)
          : undefined,
      },
    });
    queuedIngests.set(ds, queued);
  }
  return queued;
}

/** What a process's SIEM knows of the stored playbook secrets' keys (for `/ready` and `/metrics`). */
const secretKeyWatches = new WeakMap<DataSource, SecretKeyWatch>();
function secretKeyWatchFor(ds: DataSource, log: Logger, config: Config): SecretKeyWatch {
  let watch = secretKeyWatches.get(ds);
  if (!watch) {
    watch = new SecretKeyWatch(
      ds,
      SecretBox.fromConfig(config),
      config.playbookSecretLostKeyIds,
      log.child({ component: "playbooks" }),
    );
    secretKeyWatches.set(ds, watch);
  }
  return watch;
}

/** The audit trail's `siem` field. */
const auditTrail = auditTrailSchema("siem");

/** The SIEM subgraph: connectors, event store, rules, intel, alerts, incidents, automation and hunting. */
export const siemSubgraph: SubgraphModule<SiemContext> = {
  name: "siem",
  schema: {
    resolvers: [
      AlertResolver,
      ResourceAlertsResolver,
      IncidentResolver,
      EventsResolver,
      DataConnectorResolver,
      RulesResolver,
      SigmaResolver,
      IntelResolver,
      FeedsResolver,
      IndicatorFeedResolver,
      EntityResolver,
      GraphNodeResolver,
      IncidentGraphResolver,
      ResourceEventsResolver,
      AccountIncidentsResolver,
      ResourceAccountsResolver,
      LiveResolver,
      AutomationRuleResolver,
      AutomationActionResolver,
      AutomationRunResolver,
      PlaybookResolver,
      PlaybookRunResolver,
      AlertPlaybookRunsResolver,
      HuntingResolver,
      BookmarksResolver,
      IncidentBookmarksResolver,
      WatchlistsResolver,
      ...auditTrail.resolvers,
    ],
    orphanedTypes: [ResourceRef, CloudAccountRef, ...auditTrail.types],
    referenceResolvers: { ...siemReferences, ...auditTrail.references },
  },
  entities: [SecurityAlert, Incident],
  migrations: siemMigrations,
  createContext: (base, ds, config) => createSiemContext(base, ingestorFor(ds, config), ds, config),
  start: async (ds, log, config) => {
    // A new key ring takes effect as the replicas restart: secrets under older keys move to the current one.
    await queuePlaybookSecretsRekey(ds, SecretBox.fromConfig(config));
    if (config.env === "production" && config.playbookSecretKeys.length === 0)
      log.warn(
        "PLAYBOOK_SECRET_KEYS is not set: playbook secrets are encrypted with a key derived from INTERNAL_TOKEN_SECRET; rotate that secret only with INTERNAL_TOKEN_SECRET_PREVIOUS (docs/operations.md)",
      );
    if (config.internalTokenPreviousSecret)
      // The ids the rotation procedure looks for in playbook_secrets.key_id (they name the keys, never reveal them).
      log.info(
        {
          derivedKeyIds: {
            current: derivedKey(config.internalTokenSecret).id,
            previous: derivedKey(config.internalTokenPreviousSecret).id,
          },
        },
        "INTERNAL_TOKEN_SECRET_PREVIOUS is set: what it signed is accepted, and the playbook-secret key derived from it opens only",
      );
    // A secret this SIEM cannot open is reported now (error log, `/ready` 503), not when its webhook fails.
    const secretKeys = secretKeyWatchFor(ds, log, config);
    await secretKeys.read();
    const keyWatch = secretKeys.start();
    const live = startLiveFeed(ds, log, config);
    const automation = await startAutomationRelay(config, log).catch(async (err: unknown) => {
      await live.stop();
      await keyWatch.stop();
      throw err;
    });
    // The ingest workers: they connect in the background, so a NATS outage delays the queue, not the SIEM.
    const workers = queuedIngestFor(ds, log, config)?.start();
    return {
      stop: async () => {
        await workers?.stop();
        await automation.stop();
        await live.stop();
        await keyWatch.stop();
      },
    };
  },
  // A stored playbook secret under a key this SIEM lacks answers 503 (the key was removed too early; named
  // first, since it does not heal by itself). With the queue on, ingest answers 503 while NATS is down: a load
  // balancer should send it elsewhere.
  notReady: (ds, log, config) =>
    secretKeyWatchFor(ds, log, config).notReady() ?? queuedIngestFor(ds, log, config)?.notReady() ?? null,
  routes: (app, authenticate, ds, log, config) =>
    eventRoutes(app, authenticate, log, config, ingestorFor(ds, config), queuedIngestFor(ds, log, config)),
  tasks: (ds, log, config) => ({
    ...eventTasks(ds, log, config),
    ...ingestQueueTasks(ds, log, config, queuedIngestFor(ds, log, config)),
    ...ruleTasks(ds, log, config),
    ...automationTasks(ds, log, config),
    ...intelTasks(ds, log, config),
  }),
  prepare: () => void loadRuleTemplates(),
  crontab: [EVENTS_CRONTAB, INGEST_QUEUE_CRONTAB, AUTOMATION_CRONTAB].join("\n"),
};
