import type { BaseContext } from "../../common/src";
import { AgentPolicyService } from "./modules/agentpolicy/agentpolicy.service";
import { AgentCredentialsService } from "./modules/agentpolicy/credentials.service";
import type { PostureMachines } from "./modules/agentpolicy/machines";
import { AppControlService } from "./modules/appcontrol/appcontrol.service";
import { FimService } from "./modules/fim/fim.service";
import { HardeningService } from "./modules/hardening/hardening.service";
import { ResourceAccountsService } from "./modules/inventory/resource-accounts.service";
import { DetectionsService } from "./modules/detections/detections.service";
import { JitService } from "./modules/jit/jit.service";
import type { PostureAccounts } from "./modules/plans/accounts";
import { PlansService } from "./modules/plans/plans.service";
import { RemovalsService } from "./modules/removals/removals.service";
import type { TelemetryIngest } from "./modules/telemetry/telemetry.ingest";
import { TelemetryService } from "./modules/telemetry/telemetry.service";
import { VulnerabilitiesService } from "./modules/vulnerabilities/vulnerabilities.service";

/** A protection request: identity, database and services (each holding its per-request DataLoaders). */
export interface ProtectionContext extends BaseContext {
  services: {
    plans: PlansService;
    vulnerabilities: VulnerabilitiesService;
    jit: JitService;
    telemetry: TelemetryService;
    detections: DetectionsService;
    appControl: AppControlService;
    fim: FimService;
    hardening: HardeningService;
    removals: RemovalsService;
    resourceAccounts: ResourceAccountsService;
    agentPolicy: AgentPolicyService;
    agentCredentials: AgentCredentialsService;
  };
}

/** Builds the per-request services. */
export function createProtectionContext(
  base: BaseContext,
  telemetry: TelemetryIngest,
  accounts: PostureAccounts,
  machines: PostureMachines,
): ProtectionContext {
  return {
    ...base,
    services: {
      plans: new PlansService(base.db, base.identity, accounts),
      vulnerabilities: new VulnerabilitiesService(base.db, base.identity),
      jit: new JitService(base.db, base.identity, machines),
      telemetry: new TelemetryService(base.identity, telemetry),
      detections: new DetectionsService(base.db, base.identity),
      appControl: new AppControlService(base.db, base.identity),
      fim: new FimService(base.db, base.identity),
      hardening: new HardeningService(base.db, base.identity),
      removals: new RemovalsService(base.db, base.identity),
      resourceAccounts: new ResourceAccountsService(base.db, base.identity),
      agentPolicy: new AgentPolicyService(base.db, base.identity, machines),
      agentCredentials: new AgentCredentialsService(base.db, base.identity),
    },
  };
}
