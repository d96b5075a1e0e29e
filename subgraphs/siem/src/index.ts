import type { SubgraphModule } from "../../common/src";
import { siemMigrations } from "../../../migrations/siem";
import { createSiemContext, type SiemContext } from "./context";
import { SecurityAlert } from "./modules/alerts/alert.entity";
import { AlertResolver, ResourceAlertsResolver } from "./modules/alerts/alerts.resolver";
import { Incident } from "./modules/incidents/incident.entity";
import { IncidentResolver } from "./modules/incidents/incidents.resolver";
import { ResourceRef, siemReferences } from "./references";

/** The SIEM subgraph: alerts and incidents (connectors, rules, intel, hunting and automation follow). */
export const siemSubgraph: SubgraphModule<SiemContext> = {
  name: "siem",
  schema: {
    resolvers: [AlertResolver, ResourceAlertsResolver, IncidentResolver],
    orphanedTypes: [ResourceRef],
    referenceResolvers: siemReferences,
  },
  entities: [SecurityAlert, Incident],
  migrations: siemMigrations,
  createContext: (base) => createSiemContext(base),
};
