import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { SiemContext } from "../../context";
import { AlertConnection } from "../alerts/alerts.connections";
import { Incident } from "./incident.entity";
import { IncidentConnection } from "./incidents.connections";
import { CreateIncidentInput } from "./incidents.inputs";

@Resolver(() => Incident)
export class IncidentResolver {
  @Authorized(Role.READER)
  @Query(() => IncidentConnection, { description: "The tenant's incidents, newest first." })
  incidents(@Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.incidents.list(page);
  }

  @Authorized(Role.READER)
  @Query(() => Incident, {
    nullable: true,
    description: "One incident by id; null when the tenant has no such incident.",
  })
  incident(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.incidents.byId.load(id);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Incident, { description: "Creates an incident by hand from existing alerts (ANALYST)." })
  createIncident(
    @Arg("input", () => CreateIncidentInput) input: CreateIncidentInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.incidents.create(input);
  }

  @FieldResolver(() => AlertConnection, { description: "The incident's alerts, newest first." })
  alerts(@Root() incident: Incident, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.forIncident(incident.id, page);
  }
}
