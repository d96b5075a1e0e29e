import type { DataSource } from "typeorm";
import { auditTrailSchema, InternalTokens, type Config, type SubgraphModule } from "../../common/src";
import { protectionMigrations } from "../../../migrations/protection";
import { createProtectionContext, type ProtectionContext } from "./context";
import { PostureAccounts } from "./modules/plans/accounts";
import { Plan } from "./modules/plans/plan.entity";
import { AccountPlansResolver, ResourceCoverageResolver } from "./modules/plans/plans.resolver";
import { CloudAccountRef, protectionReferences, ResourceRef, SecurityAlertRef } from "./references";
import {
  VulnerabilitiesResolver,
  VulnerabilityFindingsResolver,
} from "./modules/vulnerabilities/vulnerabilities.resolver";
import { JitRequestResolver, JitResolver } from "./modules/jit/jit.resolver";
import { JIT_CRONTAB, jitTasks } from "./modules/jit/jit.tasks";
import {
  AlertDetectionResolver,
  DetectionsResolver,
  ResourceDetectionsResolver,
} from "./modules/detections/detections.resolver";
import { startDetectionRelay } from "./modules/detections/relay";
import { startTelemetryRelay } from "./modules/telemetry/siem-relay";
import { TelemetryIngest } from "./modules/telemetry/telemetry.ingest";
import { TelemetryResolver } from "./modules/telemetry/telemetry.resolver";
import { telemetryRoutes } from "./modules/telemetry/telemetry.routes";
import { TELEMETRY_CRONTAB, telemetryTasks } from "./modules/telemetry/telemetry.tasks";
import { vulnerabilitiesTasks } from "./modules/vulnerabilities/vulnerabilities.tasks";
import { AppControlResolver, ResourceAppControlResolver } from "./modules/appcontrol/appcontrol.resolver";
import { FimResolver, GroupFimResolver, ResourceFimResolver } from "./modules/fim/fim.resolver";
import { HardeningResolver } from "./modules/hardening/hardening.resolver";
import { RemovalsResolver } from "./modules/removals/removals.resolver";
import { ResourceAccountsResolver } from "./modules/inventory/resource-accounts.resolver";
import { AgentPolicyResolver } from "./modules/agentpolicy/agentpolicy.resolver";
import { PostureMachines } from "./modules/agentpolicy/machines";
import { startBackgroundWork, startPostureReportRelay } from "./modules/reports/relay";

/** One telemetry ingest per DataSource (process). */
const ingests = new WeakMap<DataSource, TelemetryIngest>();
function telemetryIngestFor(ds: DataSource, config: Config): TelemetryIngest {
  let ingest = ingests.get(ds);
  if (!ingest) {
    ingest = new TelemetryIngest(ds, { retentionDays: config.telemetryRetentionDays });
    ingests.set(ds, ingest);
  }
  return ingest;
}

/** One client of posture's accounts and one of its machines per configuration (process): their token caches outlive a request. */
const postureClients = new WeakMap<Config, { accounts: PostureAccounts; machines: PostureMachines }>();
function postureClientsFor(config: Config): { accounts: PostureAccounts; machines: PostureMachines } {
  let clients = postureClients.get(config);
  if (!clients) {
    const options = {
      // Read at each call: tests start posture on a port chosen at run time.
      postureUrl: () => config.subgraphUrls.posture,
      tokens: new InternalTokens(config.internalTokenSecret),
    };
    clients = { accounts: new PostureAccounts(options), machines: new PostureMachines(options) };
    postureClients.set(config, clients);
  }
  return clients;
}

/** The audit trail's `protection` field. */
const auditTrail = auditTrailSchema("protection");

/**
 * The workload-protection subgraph: plans and coverage, vulnerabilities, just-in-time VM access, telemetry and
 * detections, adaptive application control, file integrity monitoring, network hardening, reports to posture.
 */
export const protectionSubgraph: SubgraphModule<ProtectionContext> = {
  name: "protection",
  schema: {
    resolvers: [
      AccountPlansResolver,
      ResourceCoverageResolver,
      VulnerabilitiesResolver,
      VulnerabilityFindingsResolver,
      JitResolver,
      JitRequestResolver,
      TelemetryResolver,
      DetectionsResolver,
      ResourceDetectionsResolver,
      AlertDetectionResolver,
      AppControlResolver,
      ResourceAppControlResolver,
      FimResolver,
      GroupFimResolver,
      ResourceFimResolver,
      HardeningResolver,
      RemovalsResolver,
      ResourceAccountsResolver,
      AgentPolicyResolver,
      ...auditTrail.resolvers,
    ],
    orphanedTypes: [CloudAccountRef, ResourceRef, SecurityAlertRef, ...auditTrail.types],
    referenceResolvers: { ...protectionReferences, ...auditTrail.references },
  },
  entities: [Plan],
  migrations: protectionMigrations,
  createContext: (base, ds, config) => {
    const { accounts, machines } = postureClientsFor(config);
    return createProtectionContext(base, telemetryIngestFor(ds, config), accounts, machines);
  },
  routes: (app, authenticate, ds, log, config) =>
    telemetryRoutes(app, authenticate, log, config, telemetryIngestFor(ds, config)),
  tasks: (ds, log, config) => ({
    ...jitTasks(ds, log),
    ...telemetryTasks(ds, log, config),
    ...vulnerabilitiesTasks(ds, log),
  }),
  crontab: [JIT_CRONTAB, TELEMETRY_CRONTAB].join("\n"),
  start: (ds, log, config) =>
    startBackgroundWork([
      () => startDetectionRelay(config, log),
      () => startPostureReportRelay(config, log),
      () => startTelemetryRelay(config, log, telemetryIngestFor(ds, config).activity),
    ]),
};
