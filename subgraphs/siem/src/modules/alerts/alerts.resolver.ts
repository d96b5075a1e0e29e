import { isUuid, JSONObjectScalar, PageArgs, Role } from "../../../../common/src";
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  Directive,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
} from "type-graphql";
import type { SiemContext } from "../../context";
import { ResourceRef } from "../../references";
import { SecurityAlert } from "./alert.entity";
import { AlertConnection } from "./alerts.connections";
import {
  AlertEntity,
  AlertInput,
  AlertListFilter,
  AlertOrder,
  IngestAlertsPayload,
  UpdateAlertsInput,
  UpdateAlertsPayload,
} from "./alerts.inputs";
import { Incident } from "../incidents/incident.entity";
import { AnalyticsRule } from "../rules/rules.types";
import { SecurityEvent } from "../events/events.types";
import { IncidentConnection as IncidentConnectionType } from "../incidents/incidents.connections";

@Resolver(() => SecurityAlert)
export class AlertResolver {
  @Authorized(Role.READER)
  @Query(() => AlertConnection, {
    description:
      "The tenant's alerts, filtered and ordered (default: newest received first), paged by cursor.",
  })
  alerts(
    @Args() page: PageArgs,
    @Ctx() ctx: SiemContext,
    @Arg("orderBy", () => AlertOrder, {
      nullable: true,
      description: "Ordering (default CREATED_AT descending); ties by id.",
    })
    orderBy?: AlertOrder | null,
    @Arg("filter", () => AlertListFilter, { nullable: true, description: "Which alerts to list." })
    filter?: AlertListFilter | null,
  ) {
    return ctx.services.alerts.list(filter, orderBy, page);
  }

  @Authorized(Role.READER)
  @Query(() => SecurityAlert, {
    nullable: true,
    description: "One alert by id; null when the tenant has no such alert.",
  })
  alert(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.byId.load(id);
  }

  @Authorized(Role.INGESTOR, Role.ADMIN)
  @Mutation(() => IngestAlertsPayload, {
    description:
      "Stores alerts from a provider. Idempotent on (provider, sourceId); invalid records are reported in `rejected` and the others kept.",
  })
  ingestAlerts(@Arg("input", () => [AlertInput]) input: AlertInput[], @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.ingest(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => UpdateAlertsPayload, {
    description:
      "Triage: sets the status of alerts of the tenant, all or none (an unknown id is NOT_FOUND and changes nothing). Each alert that changes gets an `alert.updated` event (ALERT_UPDATED automation, `alertUpdated` subscribers), an `alert_updated` entry in the activity log of its incidents and an audit entry.",
  })
  updateAlerts(@Arg("input", () => UpdateAlertsInput) input: UpdateAlertsInput, @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.update(input);
  }

  @FieldResolver(() => Incident, {
    nullable: true,
    description:
      "The incident holding the alert (the one it joined last, when several do); null while it is in none. Merged incidents hand their alerts to the incident they were merged into.",
  })
  incident(@Root() alert: SecurityAlert, @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.incidentOf.load(alert.id);
  }

  @FieldResolver(() => AnalyticsRule, {
    nullable: true,
    description:
      "The analytics rule that raised the alert (ANALYTICS_RULE, and TI_MATCH alerts of a threat-intelligence rule); null for other providers and once the rule is deleted.",
  })
  rule(@Root() alert: SecurityAlert, @Ctx() ctx: SiemContext) {
    return alert.ruleId ? ctx.services.rules.byIds.load(alert.ruleId) : null;
  }

  @FieldResolver(() => JSONObjectScalar, {
    description:
      "What the provider observed: for WORKLOAD_PROTECTION alerts the detection's process and command line, file path and hashes, host, addresses, counts and record ids; for TI_MATCH alerts the indicator and the values it matched; for EXTERNAL alerts what the tool sent. `{}` when there is none (analytics-rule alerts list their events in `evidenceEventIds`).",
  })
  evidence(@Root() alert: SecurityAlert, @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.evidenceOf.load(alert.id);
  }

  @Authorized(Role.READER)
  @FieldResolver(() => [SecurityEvent], {
    description:
      "The events of `evidenceEventIds` that are still stored (retention drops whole days), oldest first, with their normalised fields and raw record: what an analyst reads to judge the alert. Looked up within the alert's time span; empty for alerts without event evidence (external and workload-protection alerts).",
  })
  evidenceEvents(@Root() alert: SecurityAlert, @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.evidenceEventsOf.load(alert);
  }

  @FieldResolver(() => [AlertEntity], {
    description: "Entities the alert involves (accounts, hosts, IPs, resources…).",
  })
  entities(@Root() alert: SecurityAlert): AlertEntity[] {
    return alert.entities.map((e) => Object.assign(new AlertEntity(), e));
  }

  @FieldResolver(() => String, {
    nullable: true,
    description:
      "The provider's id (ARM id / ARN) of the affected resource, from the alert's RESOURCE entity; posture resolves `resource` from it.",
  })
  resourceExternalId(@Root() alert: SecurityAlert): string | null {
    return alert.entities.find((e) => e.type === "RESOURCE" && !isUuid(e.value))?.value ?? null;
  }
}

@Resolver(() => ResourceRef)
export class ResourceAlertsResolver {
  @Directive('@requires(fields: "externalId")')
  @FieldResolver(() => AlertConnection, {
    description:
      "Alerts on this resource, newest first: those stored with its id, and those naming it in a RESOURCE entity (by its ARM id / ARN in any letter case, or by its id).",
  })
  alerts(@Root() resource: ResourceRef, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.forResource(resource, page);
  }

  @Directive('@requires(fields: "externalId")')
  @FieldResolver(() => IncidentConnectionType, {
    description: "Incidents holding an alert on this resource (as `alerts` finds them), newest first.",
  })
  incidents(@Root() resource: ResourceRef, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.incidents.forResource(resource, page);
  }
}
