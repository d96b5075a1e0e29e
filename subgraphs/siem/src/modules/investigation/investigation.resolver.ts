import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, Directive, FieldResolver, Query, Resolver, Root } from "type-graphql";
import type { SiemContext } from "../../context";
import { AlertConnection } from "../alerts/alerts.connections";
import { EntityTypeEnum } from "../alerts/alerts.inputs";
import { SecurityEventConnection } from "../events/events.connections";
import { Incident } from "../incidents/incident.entity";
import { IncidentConnection } from "../incidents/incidents.connections";
import { ResourceRef } from "../../references";
import { SecurityAlert } from "../alerts/alert.entity";
import type { EntityType } from "../alerts/alert-store";
import { ThreatIndicator } from "../intel/intel.types";
import { EntityProfile, GraphNode, IncidentGraph } from "./investigation.types";

@Resolver(() => EntityProfile)
export class EntityResolver {
  @Authorized(Role.READER)
  @Query(() => EntityProfile, {
    description: "An entity's investigation page: its alerts, incidents and event timeline.",
  })
  entity(
    @Arg("type", () => EntityTypeEnum, { description: "Kind." }) type: string,
    @Arg("value", { description: "Value." }) value: string,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.investigation.entity(type, value);
  }

  @FieldResolver(() => [ThreatIndicator], {
    description:
      "Active threat-intelligence indicators an event holding this entity would match now, as ingest-time matching finds them (an IP within an indicator's range, a domain, URL, file hash or e-mail address; an indicator whose pattern needs more than this entity is not listed); at most 100, by id. Empty for hosts, processes and resources.",
  })
  threatIndicators(@Root() entity: EntityProfile, @Ctx() ctx: SiemContext) {
    return ctx.services.intel.matching(entity.type as EntityType, entity.value);
  }

  @FieldResolver(() => AlertConnection, { description: "Alerts involving the entity, newest first." })
  alerts(@Root() entity: EntityProfile, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.investigation.alerts(entity, page);
  }

  @FieldResolver(() => IncidentConnection, {
    description: "Incidents with an alert involving the entity, newest first.",
  })
  incidents(@Root() entity: EntityProfile, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.investigation.incidents(entity, page);
  }

  @FieldResolver(() => SecurityEventConnection, {
    description: "Events in which the entity appears, newest first (default window: the last 7 days).",
  })
  timeline(
    @Root() entity: EntityProfile,
    @Args() page: PageArgs,
    @Arg("from", () => Date, { nullable: true, description: "From (inclusive)." }) from: Date | undefined,
    @Arg("to", () => Date, { nullable: true, description: "Until (exclusive)." }) to: Date | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.investigation.timeline(entity, page, from, to);
  }
}

@Resolver(() => GraphNode)
export class GraphNodeResolver {
  @FieldResolver(() => SecurityAlert, {
    nullable: true,
    description: "For ALERT nodes: the alert (one statement for the graph's alerts); null otherwise.",
  })
  alert(@Root() node: GraphNode, @Ctx() ctx: SiemContext) {
    return node.alertId ? ctx.services.alerts.byId.load(node.alertId) : null;
  }
}

@Resolver(() => Incident)
export class IncidentGraphResolver {
  @FieldResolver(() => IncidentGraph, {
    description: "The incident's alerts, their entities, and related alerts of other incidents.",
  })
  graph(@Root() incident: Incident, @Ctx() ctx: SiemContext) {
    return ctx.services.investigation.graph(incident.id);
  }
}

@Resolver(() => ResourceRef)
export class ResourceEventsResolver {
  @Directive('@requires(fields: "externalId")')
  @FieldResolver(() => SecurityEventConnection, {
    description:
      "Events about this resource, newest first (default window: the 7 days before the request): those whose resource id (ARM id / ARN / GCP name) is this resource's `externalId`, in any letter case. Events naming only a host are not matched.",
  })
  recentEvents(
    @Root() resource: ResourceRef,
    @Args() page: PageArgs,
    @Arg("from", () => Date, { nullable: true, description: "From (inclusive)." }) from: Date | undefined,
    @Arg("to", () => Date, { nullable: true, description: "Until (exclusive)." }) to: Date | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.investigation.resourceEvents(resource, page, from, to);
  }
}
